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

struct SpecialtyDef {
    /// How clinics name the department (folded: lower case, no accents).
    names: &'static [&'static str],
    /// How patients ask for it by name.
    named: &'static [&'static str],
    keywords: &'static [(&'static str, u8)],
}

const GENERAL: usize = 3;
const PEDIATRICS: usize = 2;

const SPECIALTIES: &[SpecialtyDef] = &[
    SpecialtyDef {
        names: &["cardiologia", "cardiology", "cardio"],
        named: &[
            "cardiolog*",
            "cardio",
            "kardiolog*",
            "cardiologo",
            "cardiologa",
            "cardiologist",
        ],
        keywords: &[
            ("corazon", 3),
            ("pecho", 2),
            ("palpitaci*", 3),
            ("presion alta", 3),
            ("tension alta", 3),
            ("hipertens*", 3),
            ("arritmia", 3),
            ("taquicardia", 3),
            ("soplo", 2),
            ("colesterol", 1),
            ("presion", 1),
            ("infarto", 2),
            ("heart", 3),
            ("chest", 2),
            ("palpitation*", 3),
            ("high blood pressure", 3),
            ("blood pressure", 2),
            ("hypertens*", 3),
            ("arrhythmia", 3),
            ("cholesterol", 1),
            ("murmur", 2),
        ],
    },
    SpecialtyDef {
        names: &["dermatologia", "dermatology"],
        named: &[
            "dermatolog*",
            "dermatolg*",
            "derma",
            "dermatologo",
            "dermatologa",
            "dermatologist",
        ],
        keywords: &[
            ("piel", 3),
            ("granos", 3),
            ("grano", 2),
            ("acne", 3),
            ("lunar", 3),
            ("lunares", 3),
            ("mancha", 2),
            ("manchas", 2),
            ("sarpullido", 3),
            ("brote", 2),
            ("ronchas", 3),
            ("erupcion", 2),
            ("picazon", 2),
            ("rasquina", 2),
            ("comezon", 2),
            ("eczema", 3),
            ("dermatitis", 3),
            ("psoriasis", 3),
            ("verruga*", 3),
            ("caspa", 2),
            ("caida del cabello", 2),
            ("hongos", 2),
            ("rash", 3),
            ("skin", 3),
            ("mole", 3),
            ("moles", 3),
            ("pimple*", 3),
            ("itch*", 2),
            ("wart*", 3),
            ("hives", 3),
            ("hair loss", 2),
        ],
    },
    SpecialtyDef {
        names: &[
            "pediatria",
            "pediatrics",
            "paediatrics",
            "pediatria general",
        ],
        named: &[
            "pediatr*",
            "paediatr*",
            "pedriatr*",
            "pediatra",
            "pediatrician",
        ],
        keywords: &[
            ("mi hijo", 3),
            ("mi hija", 3),
            ("mi bebe", 4),
            ("bebe", 3),
            ("nino", 3),
            ("nina", 3),
            ("recien nacido", 4),
            ("mi nino", 3),
            ("mi nina", 3),
            ("my son", 3),
            ("my daughter", 3),
            ("my baby", 4),
            ("baby", 3),
            ("child", 3),
            ("kid", 3),
            ("toddler", 3),
            ("infant", 3),
            ("newborn", 4),
            ("vacunas", 1),
            ("vaccines", 1),
        ],
    },
    SpecialtyDef {
        names: &[
            "medicina general",
            "general medicine",
            "medicina familiar",
            "family medicine",
            "general practice",
            "medico general",
            "consulta general",
            "primary care",
            "medicina general y familiar",
        ],
        named: &[
            "medico general",
            "medicina general",
            "general practitioner",
            "gp",
            "family doctor",
            "medico familiar",
            "general medicine",
        ],
        keywords: &[
            ("fiebre", 2),
            ("gripa", 3),
            ("gripe", 3),
            ("resfriado", 3),
            ("tos", 2),
            ("dolor de cabeza", 2),
            ("chequeo", 3),
            ("control", 1),
            ("examen general", 2),
            ("examenes", 1),
            ("malestar", 2),
            ("cansancio", 1),
            ("mocos", 2),
            ("certificado", 2),
            ("fever", 2),
            ("flu", 3),
            ("cold", 2),
            ("cough", 2),
            ("headache", 2),
            ("checkup", 3),
            ("check", 2),
            ("physical", 2),
            ("tired", 1),
        ],
    },
    SpecialtyDef {
        names: &[
            "ginecologia",
            "gynecology",
            "gynaecology",
            "ginecologia y obstetricia",
            "obstetricia",
            "obstetrics",
            "obstetrics and gynecology",
        ],
        named: &[
            "ginecolog*",
            "ginecolg*",
            "gynecolog*",
            "gynaecolog*",
            "obgyn",
            "obstetra",
            "ginecologo",
            "ginecologa",
            "gynecologist",
        ],
        keywords: &[
            ("embaraz*", 3),
            ("menstrua*", 3),
            ("regla", 2),
            ("citologia", 3),
            ("flujo vaginal", 3),
            ("vaginal", 3),
            ("ovario*", 3),
            ("utero", 3),
            ("anticoncep*", 3),
            ("planificacion", 2),
            ("mamografia", 2),
            ("pregnan*", 3),
            ("period", 1),
            ("menstrual", 3),
            ("pap smear", 3),
            ("contracept*", 3),
            ("birth control", 3),
        ],
    },
    SpecialtyDef {
        names: &[
            "ortopedia",
            "orthopedics",
            "orthopaedics",
            "traumatologia",
            "ortopedia y traumatologia",
            "traumatology",
        ],
        named: &[
            "ortoped*",
            "traumatolog*",
            "orthoped*",
            "orthopaed*",
            "ortopedista",
            "traumatologo",
            "orthopedist",
        ],
        keywords: &[
            ("rodilla", 3),
            ("hueso", 3),
            ("huesos", 3),
            ("fractur*", 3),
            ("esguince", 3),
            ("tobillo", 3),
            ("espalda", 2),
            ("columna", 2),
            ("hombro", 3),
            ("cadera", 3),
            ("articulaci*", 3),
            ("lumbar", 2),
            ("codo", 2),
            ("knee", 3),
            ("bone", 3),
            ("bones", 3),
            ("sprain*", 3),
            ("ankle", 3),
            ("back pain", 3),
            ("spine", 2),
            ("shoulder", 3),
            ("hip", 3),
            ("joint", 3),
            ("joints", 3),
            ("wrist", 2),
            ("elbow", 2),
        ],
    },
    SpecialtyDef {
        names: &["oftalmologia", "ophthalmology", "optometria", "optometry"],
        named: &[
            "oftalmolog*",
            "oftamolog*",
            "ophthalmolog*",
            "optometr*",
            "eye doctor",
            "oftalmologo",
            "ophthalmologist",
            "optometra",
        ],
        keywords: &[
            ("ojo", 3),
            ("ojos", 3),
            ("vista", 3),
            ("vision", 2),
            ("vision borrosa", 3),
            ("gafas", 3),
            ("lentes", 2),
            ("anteojos", 3),
            ("conjuntivitis", 3),
            ("eye", 3),
            ("eyes", 3),
            ("sight", 3),
            ("blurry", 3),
            ("glasses", 3),
            ("conjunctivitis", 3),
        ],
    },
    SpecialtyDef {
        names: &[
            "otorrinolaringologia",
            "otorrino",
            "ent",
            "otolaryngology",
            "otorhinolaryngology",
        ],
        named: &[
            "otorrino*",
            "otolaryngolog*",
            "ent doctor",
            "otorrinolaringologo",
        ],
        keywords: &[
            ("oido", 3),
            ("oidos", 3),
            ("sordera", 3),
            ("garganta", 2),
            ("amigdala*", 3),
            ("nariz", 2),
            ("sinusitis", 3),
            ("ronquido*", 2),
            ("zumbido", 3),
            ("vertigo", 2),
            ("ear", 3),
            ("ears", 3),
            ("hearing", 3),
            ("throat", 2),
            ("tonsil*", 3),
            ("nose", 2),
            ("sinus", 3),
            ("snoring", 2),
            ("tinnitus", 3),
        ],
    },
    SpecialtyDef {
        names: &["neurologia", "neurology"],
        named: &[
            "neurolog*",
            "neurolg*",
            "neurologo",
            "neurologa",
            "neurologist",
        ],
        keywords: &[
            ("migrana*", 3),
            ("convulsiones", 3),
            ("epilep*", 3),
            ("hormigueo", 2),
            ("adormecimiento", 2),
            ("entumecimiento", 2),
            ("temblor", 3),
            ("temblores", 3),
            ("memoria", 2),
            ("mareo", 1),
            ("mareos", 1),
            ("dolor de cabeza", 1),
            ("migraine*", 3),
            ("seizures", 3),
            ("numbness", 2),
            ("tingling", 2),
            ("tremor*", 3),
            ("memory", 2),
            ("dizz*", 1),
        ],
    },
    SpecialtyDef {
        names: &["psicologia", "psychology", "salud mental", "mental health"],
        named: &[
            "psicolog*",
            "sicolog*",
            "psycholog*",
            "terapeuta",
            "therapist",
            "psicologo",
            "psicologa",
            "psychologist",
        ],
        keywords: &[
            ("ansiedad", 3),
            ("depresion", 3),
            ("deprimid*", 3),
            ("estres", 2),
            ("panico", 3),
            ("tristeza", 2),
            ("triste", 2),
            ("terapia", 2),
            ("anxiety", 3),
            ("depress*", 3),
            ("stress", 2),
            ("panic", 3),
            ("sad", 2),
            ("therapy", 2),
        ],
    },
    SpecialtyDef {
        names: &["psiquiatria", "psychiatry"],
        named: &[
            "psiquiatr*",
            "siquiatr*",
            "psychiatr*",
            "psiquiatra",
            "psychiatrist",
        ],
        keywords: &[
            ("ansiedad", 2),
            ("depresion", 2),
            ("deprimid*", 2),
            ("panico", 2),
            ("insomnio", 2),
            ("no puedo dormir", 2),
            ("anxiety", 2),
            ("depress*", 2),
            ("panic", 2),
            ("insomnia", 2),
            ("can't sleep", 2),
        ],
    },
    SpecialtyDef {
        names: &["gastroenterologia", "gastroenterology", "gastro"],
        named: &[
            "gastroenterolog*",
            "gastroentereolog*",
            "gastro",
            "gastroenterologo",
            "gastroenterologist",
        ],
        keywords: &[
            ("estomago", 3),
            ("gastritis", 3),
            ("reflujo", 3),
            ("acidez", 3),
            ("agrieras", 3),
            ("colon", 3),
            ("diarrea", 2),
            ("estrenimiento", 3),
            ("nauseas", 2),
            ("vomito", 2),
            ("abdomen", 2),
            ("abdominal", 2),
            ("barriga", 2),
            ("higado", 2),
            ("hemorroides", 2),
            ("stomach", 3),
            ("reflux", 3),
            ("heartburn", 3),
            ("constipat*", 3),
            ("diarrh*", 2),
            ("nausea", 2),
            ("vomiting", 2),
            ("bloating", 2),
            ("belly", 2),
        ],
    },
    SpecialtyDef {
        names: &[
            "odontologia",
            "dentistry",
            "odontologia general",
            "dental",
            "dentist",
        ],
        named: &[
            "odontolog*",
            "dentist*",
            "dental",
            "odontologo",
            "odontologa",
            "dentista",
            "dentist",
        ],
        keywords: &[
            ("diente", 3),
            ("dientes", 3),
            ("muela", 3),
            ("muelas", 3),
            ("encia", 3),
            ("encias", 3),
            ("caries", 3),
            ("limpieza dental", 3),
            ("ortodoncia", 3),
            ("brackets", 3),
            ("tooth", 3),
            ("teeth", 3),
            ("toothache", 3),
            ("gums", 3),
            ("cavity", 3),
            ("braces", 3),
            ("molar", 3),
        ],
    },
    SpecialtyDef {
        names: &["urologia", "urology"],
        named: &["urolog*", "urologo", "urologist"],
        keywords: &[
            ("orina*", 3),
            ("orinar", 3),
            ("prostata", 3),
            ("rinon", 2),
            ("rinones", 2),
            ("urine", 3),
            ("urinat*", 3),
            ("prostate", 3),
            ("kidney", 2),
        ],
    },
    SpecialtyDef {
        names: &["endocrinologia", "endocrinology"],
        named: &[
            "endocrinolog*",
            "endocrino",
            "endocrinologo",
            "endocrinologist",
        ],
        keywords: &[
            ("diabetes", 3),
            ("azucar", 2),
            ("tiroides", 3),
            ("hormona*", 2),
            ("thyroid", 3),
            ("sugar", 2),
            ("hormone*", 2),
        ],
    },
];

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
