//! Keyword triage: which of the clinic's departments the patient should see.
//!
//! Each specialty has the names clinics give the department (in Spanish or English:
//! "Cardiología", "Cardiology"), the words a patient uses to ask for it by name
//! ("cardiólogo", "pediatra", "dentist") and weighted complaint keywords ("pecho",
//! "palpitaciones", "heart"…). Only the clinic's own departments are candidates, and the
//! answer is always spelled as the clinic spells it.
//!
//! 1. A department the patient names wins (the most recent one named).
//! 2. Else a child (by birth date, under 15) goes to pediatrics when the clinic has it.
//! 3. Else the highest keyword score; denied complaints ("no tengo fiebre") do not count.
//! 4. Else general medicine when the clinic has it, else its first department.
//!
//! Confidence says which rule decided: 0.95 named, 0.85 child, 0.5–0.9 by how clearly the
//! keywords point one way, 0.4 general medicine by default, 0.2 first department.

use std::{ops::Range, sync::LazyLock};

use chrono::NaiveDate;

use super::{
    lexicon::{LEXICON, Phrase},
    specialties::{GENERAL, PEDIATRICS, SPECIALTIES},
    text::Text,
    urgency,
};
use prm_domain::events::Urgency;

use crate::{
    intake::{IntakeData, IntakeField},
    triage::{TriageDecision, TriageInput},
};

/// Under this age, a patient is a child for triage.
const CHILD_AGE: u32 = 15;

pub fn words(out: &mut Vec<&'static str>) {
    for s in SPECIALTIES {
        out.extend_from_slice(s.names);
        out.extend_from_slice(s.named);
        out.extend(s.keywords.iter().map(|(k, _)| *k));
    }
}

struct Specialty {
    /// The folded names, as token sequences (exact words).
    names: Vec<Phrase>,
    named: Vec<Phrase>,
    keywords: Vec<(Phrase, u8)>,
}

static TABLES: LazyLock<Vec<Specialty>> = LazyLock::new(|| {
    let lex = &*LEXICON;
    SPECIALTIES
        .iter()
        .map(|s| Specialty {
            names: lex.phrases(s.names),
            named: lex.phrases(s.named),
            keywords: s
                .keywords
                .iter()
                .map(|(k, w)| (lex.phrase(k), *w))
                .collect(),
        })
        .collect()
});

/// A clinic department and what the rules know of it.
struct Department<'a> {
    /// As the clinic wrote it.
    name: &'a str,
    /// Index into [`SPECIALTIES`], when it is one of them.
    specialty: Option<usize>,
    /// Its own folded words, for departments the table does not know.
    own: Text<'a>,
}

/// Which specialty a department of the clinic is, from its name: the whole name
/// ("Cardiología"), else the name it starts with ("Medicina General y Familiar").
fn specialty_of(department: &Text) -> Option<usize> {
    let whole = department.all();
    let names_it = |exact: bool| {
        TABLES.iter().position(|s| {
            s.names.iter().any(|name| {
                department
                    .find(whole.clone(), name, 0)
                    .is_some_and(|r| r.start == 0 && (!exact || r.end == whole.end))
            })
        })
    };
    names_it(true).or_else(|| names_it(false))
}

/// A patient text with its clauses, read once.
struct Said<'a> {
    text: Text<'a>,
    clauses: Vec<Range<usize>>,
}

impl Said<'_> {
    /// Where `phrase` is first said without a negation before it in its clause.
    fn at(&self, phrase: &Phrase) -> Option<usize> {
        self.clauses
            .iter()
            .find_map(|c| urgency::affirmed_at(&self.text, c.clone(), phrase, 1))
    }
}

pub fn triage(input: &TriageInput<'_>) -> Option<TriageDecision> {
    let departments: Vec<Department> = input
        .clinic
        .departments
        .iter()
        .map(|name| {
            let own = Text::new(name);
            Department {
                name,
                specialty: specialty_of(&own),
                own,
            }
        })
        .collect();
    let first = departments.first()?;
    let said: Vec<Said> = complaint_texts(input.data, input.patient_texts)
        .map(|t| {
            let text = Text::new(t);
            let clauses = text.clauses();
            Said { text, clauses }
        })
        .collect();
    let urgency = said
        .iter()
        .map(|s| urgency::assess_text(&s.text))
        .fold(Urgency::Routine, urgency::most_urgent);
    let decide = |department: &str, confidence: f64, why: &str| TriageDecision {
        department: department.to_owned(),
        urgency,
        confidence,
        reasoning: Some(why.to_owned()),
    };

    // 1. Named by the patient: the latest message that names one.
    for s in said.iter().rev() {
        if let Some(dep) = named_department(s, &departments) {
            return Some(decide(
                dep.name,
                0.95,
                "The patient asked for this department",
            ));
        }
    }
    // 2. A child.
    if let Some(age) = age(input.data, input.today)
        && age < CHILD_AGE
        && let Some(dep) = departments.iter().find(|d| d.specialty == Some(PEDIATRICS))
    {
        return Some(decide(dep.name, 0.85, "The patient is a child"));
    }
    // 3. Keywords.
    let scores: Vec<u32> = departments
        .iter()
        .map(|dep| {
            dep.specialty.map_or(0, |s| {
                TABLES[s]
                    .keywords
                    .iter()
                    .filter(|(phrase, _)| said.iter().any(|t| t.at(phrase).is_some()))
                    .map(|(_, weight)| u32::from(*weight))
                    .sum()
            })
        })
        .collect();
    // The highest score; on a tie, the department the clinic lists first.
    let best = (0..departments.len()).max_by(|&a, &b| scores[a].cmp(&scores[b]).then(b.cmp(&a)));
    if let Some(best) = best.filter(|b| scores[*b] > 0) {
        let runner_up = (0..departments.len())
            .filter(|d| *d != best)
            .map(|d| scores[d])
            .max()
            .unwrap_or(0);
        let margin = f64::from(scores[best]) - f64::from(runner_up);
        return Some(decide(
            departments[best].name,
            (0.5 + 0.08 * margin).clamp(0.5, 0.9),
            "Complaint keywords point to this department",
        ));
    }
    // 4. Defaults.
    if let Some(dep) = departments.iter().find(|d| d.specialty == Some(GENERAL)) {
        return Some(decide(
            dep.name,
            0.4,
            "No specialty keywords; general medicine first",
        ));
    }
    Some(decide(
        first.name,
        0.2,
        "No specialty keywords; the clinic's first department",
    ))
}

/// What the patient said about their health: the intake's complaint and symptoms
/// (which n8n or OpenAI may have worded), then every message.
fn complaint_texts<'a>(
    data: &'a IntakeData,
    messages: &'a [String],
) -> impl Iterator<Item = &'a str> {
    [IntakeField::ChiefComplaint, IntakeField::Symptoms]
        .into_iter()
        .filter_map(|f| data.get(f).and_then(|v| v.as_str()))
        .chain(messages.iter().map(String::as_str))
}

/// The department named last in `said` ("quiero ir al pediatra").
fn named_department<'d, 'a>(
    said: &Said,
    departments: &'d [Department<'a>],
) -> Option<&'d Department<'a>> {
    let mut latest: Option<(usize, &Department)> = None;
    for dep in departments {
        let at = match dep.specialty {
            Some(s) => TABLES[s]
                .named
                .iter()
                .chain(&TABLES[s].names)
                .filter_map(|p| said.at(p))
                .max(),
            None => own_name_in(&said.text, &dep.own),
        };
        if let Some(at) = at
            && latest.is_none_or(|(l, _)| at > l)
        {
            latest = Some((at, dep));
        }
    }
    latest.map(|(_, d)| d)
}

/// Where a department's own name (one the table does not know) is said in `text`.
fn own_name_in(text: &Text, own: &Text) -> Option<usize> {
    let words: Vec<&str> = (0..own.len())
        .filter(|&i| own.is_wordlike(i))
        .map(|i| own.word(i))
        .collect();
    if words.is_empty() {
        return None;
    }
    (0..text.len()).find(|&i| {
        words
            .iter()
            .enumerate()
            .all(|(k, w)| text.word(i + k) == *w)
    })
}

/// Whether `clause` holds a complaint keyword of any specialty ("pecho", "acné"…).
/// Pediatrics' keywords say who the patient is ("mi hijo"), not what is wrong.
pub fn mentions_keyword(text: &Text, clause: Range<usize>) -> bool {
    TABLES.iter().enumerate().any(|(i, s)| {
        i != PEDIATRICS
            && s.keywords
                .iter()
                .any(|(phrase, _)| text.find(clause.clone(), phrase, 1).is_some())
    })
}

fn age(data: &IntakeData, today: NaiveDate) -> Option<u32> {
    today.years_since(data.birth_date()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::{ClinicContext, IntakeData};
    use prm_domain::Locale;
    use uuid::Uuid;

    fn clinic(departments: &[&str]) -> ClinicContext {
        ClinicContext {
            departments: departments.iter().map(|d| (*d).to_owned()).collect(),
            locations: vec![],
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 15).unwrap()
    }

    fn run(clinic: &ClinicContext, messages: &[&str], data: &IntakeData) -> TriageDecision {
        let texts: Vec<String> = messages.iter().map(|m| (*m).to_owned()).collect();
        triage(&TriageInput {
            conversation_id: Uuid::nil(),
            locale: Locale::Es,
            data,
            patient_texts: &texts,
            clinic,
            today: today(),
        })
        .unwrap()
    }

    const DEMO: &[&str] = &[
        "Cardiology",
        "Dermatology",
        "General Medicine",
        "Pediatrics",
    ];
    const SPANISH: &[&str] = &[
        "Cardiología",
        "Dermatología",
        "Medicina General",
        "Pediatría",
    ];

    #[test]
    fn complaints_go_to_the_clinics_own_department_names() {
        let empty = IntakeData::default();
        for (message, english, spanish) in [
            (
                "necesito una cita con el cardiólogo",
                "Cardiology",
                "Cardiología",
            ),
            ("quiero ver al cardilogo", "Cardiology", "Cardiología"),
            (
                "tengo palpitaciones y la presión alta",
                "Cardiology",
                "Cardiología",
            ),
            (
                "me salieron granos en la cara",
                "Dermatology",
                "Dermatología",
            ),
            ("tengo un lunar raro", "Dermatology", "Dermatología"),
            ("I have a rash on my arm", "Dermatology", "Dermatología"),
            ("mi hijo tiene tos", "Pediatrics", "Pediatría"),
            ("my baby won't eat", "Pediatrics", "Pediatría"),
            (
                "tengo gripa y fiebre",
                "General Medicine",
                "Medicina General",
            ),
            ("I need a checkup", "General Medicine", "Medicina General"),
            (
                "me duele la rodilla",
                "General Medicine",
                "Medicina General",
            ),
            ("hola", "General Medicine", "Medicina General"),
            ("my heart races at night", "Cardiology", "Cardiología"),
            (
                "quiero una cita con dermatología",
                "Dermatology",
                "Dermatología",
            ),
        ] {
            assert_eq!(
                run(&clinic(DEMO), &[message], &empty).department,
                english,
                "{message}"
            );
            assert_eq!(
                run(&clinic(SPANISH), &[message], &empty).department,
                spanish,
                "{message}"
            );
        }
    }

    #[test]
    fn a_department_the_patient_names_wins_over_keywords() {
        let empty = IntakeData::default();
        let d = run(
            &clinic(DEMO),
            &["tengo granos en la piel", "pero quiero ir al pediatra"],
            &empty,
        );
        assert_eq!(d.department, "Pediatrics");
        assert!(d.confidence > 0.9);
        let d = run(&clinic(DEMO), &["hola", "me duele el pecho"], &empty);
        assert_eq!(d.department, "Cardiology");
        assert!(d.confidence < 0.9 && d.confidence >= 0.5);
    }

    #[test]
    fn denied_complaints_do_not_count() {
        let empty = IntakeData::default();
        let d = run(
            &clinic(DEMO),
            &["no tengo problemas del corazón, tengo acné"],
            &empty,
        );
        assert_eq!(d.department, "Dermatology");
    }

    #[test]
    fn only_departments_the_clinic_has_are_named() {
        let empty = IntakeData::default();
        let d = run(
            &clinic(&["Dermatology", "Orthopedics"]),
            &["me duele el pecho"],
            &empty,
        );
        assert_eq!(
            d.department, "Dermatology",
            "no cardiology, no general medicine: the first"
        );
        assert!(d.confidence <= 0.2);
        let d = run(
            &clinic(&["Ortopedia y Traumatología", "Odontología"]),
            &["me duele una muela"],
            &empty,
        );
        assert_eq!(d.department, "Odontología");
        let d = run(
            &clinic(&["Fisioterapia", "Medicina General"]),
            &["necesito fisioterapia"],
            &empty,
        );
        assert_eq!(d.department, "Fisioterapia");
    }

    #[test]
    fn more_specialties_in_both_languages() {
        let all = clinic(&[
            "Medicina General",
            "Ginecología",
            "Ortopedia",
            "Oftalmología",
            "Otorrinolaringología",
            "Neurología",
            "Psicología",
            "Gastroenterología",
            "Odontología",
        ]);
        let empty = IntakeData::default();
        for (message, department) in [
            ("estoy embarazada y quiero control", "Ginecología"),
            ("I think I'm pregnant", "Ginecología"),
            ("me torcí el tobillo", "Ortopedia"),
            ("veo borroso, necesito gafas", "Oftalmología"),
            ("me duele el oído", "Otorrinolaringología"),
            ("tengo migrañas muy seguidas", "Neurología"),
            ("tengo mucha ansiedad", "Psicología"),
            ("I've had heartburn and reflux", "Gastroenterología"),
            ("me duele una muela", "Odontología"),
            ("toothache", "Odontología"),
        ] {
            assert_eq!(
                run(&all, &[message], &empty).department,
                department,
                "{message}"
            );
        }
    }

    #[test]
    fn a_child_goes_to_pediatrics() {
        let mut data = IntakeData::default();
        data.insert(IntakeField::DateOfBirth, "2020-01-01".into());
        let d = run(&clinic(DEMO), &["tiene fiebre"], &data);
        assert_eq!(d.department, "Pediatrics");
    }

    #[test]
    fn urgency_comes_with_the_decision() {
        let empty = IntakeData::default();
        assert_eq!(
            run(&clinic(DEMO), &["mi bebé tiene fiebre"], &empty).urgency,
            Urgency::Urgent
        );
        assert_eq!(
            run(
                &clinic(DEMO),
                &["me duele el pecho y no puedo respirar"],
                &empty
            )
            .urgency,
            Urgency::Emergency
        );
        assert_eq!(
            run(&clinic(DEMO), &["tengo un lunar"], &empty).urgency,
            Urgency::Routine
        );
    }
}
