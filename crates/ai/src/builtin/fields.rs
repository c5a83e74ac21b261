//! Small readers for single fields: "none"-like answers, confusion ("no entiendo"),
//! allergy and medication statements, health complaints, the clinic's locations, and the
//! language of a first message.

use std::{ops::Range, sync::LazyLock};

use prm_domain::Locale;

use super::{
    lexicon::{LEXICON, Phrase, WordId, within_one_edit},
    text::{Kind, Text, fold_str},
    triage, urgency,
};
use crate::intake::{ClinicContext, LocationChoice, NONE, UNKNOWN};

const NEGATIVE: &[&str] = &[
    "no", "ninguna", "ninguno", "ningun", "nada", "none", "nothing", "nope", "nah", "sin",
    "negativo", "tampoco", "not", "don't", "dont", "nop", "nel", "ni",
];

/// Words a "none" answer may also hold ("no tengo ninguna alergia", "I don't take any").
const NONE_FILLERS: &[&str] = &[
    "tengo",
    "tomo",
    "estoy",
    "tomando",
    "soy",
    "have",
    "take",
    "taking",
    "i",
    "i'm",
    "im",
    "am",
    "any",
    "por",
    "ahora",
    "el",
    "momento",
    "gracias",
    "thanks",
    "thank",
    "you",
    "de",
    "que",
    "sepa",
    "conocida",
    "conocidas",
    "known",
    "otro",
    "otros",
    "otra",
    "otras",
    "other",
    "others",
    "mas",
    "more",
    "else",
    "eso",
    "es",
    "todo",
    "that",
    "all",
    "alergia",
    "alergias",
    "alergico",
    "alergica",
    "allergies",
    "allergy",
    "allergic",
    "medicamento",
    "medicamentos",
    "medicina",
    "medicinas",
    "medication",
    "medications",
    "medicine",
    "medicines",
    "meds",
    "sintoma",
    "sintomas",
    "symptom",
    "symptoms",
    "a",
    "to",
    "senor",
    "senora",
    "doctor",
    "realmente",
    "really",
    "so",
    "far",
    "hasta",
    "ahorita",
    "la",
    "verdad",
    "mi",
    "my",
    "una",
    "un",
    "yo",
];

const UNKNOWN_PHRASES: &[&str] = &[
    "no se",
    "no sabria",
    "ni idea",
    "no recuerdo",
    "no me acuerdo",
    "no estoy segur*",
    "don't know",
    "dont know",
    "do not know",
    "not sure",
    "idk",
    "no idea",
    "can't remember",
    "cant remember",
    "don't remember",
];

/// A whole message that says the patient did not understand the question.
const CONFUSED: &[&str] = &[
    "no entiendo",
    "no entendi",
    "no comprendo",
    "no le entiendo",
    "no te entiendo",
    "como asi",
    "como",
    "que",
    "que cosa",
    "que quieres decir",
    "a que te refieres",
    "perdon",
    "disculpa",
    "repite",
    "repitelo",
    "otra vez",
    "what",
    "huh",
    "sorry",
    "pardon",
    "i don't understand",
    "i dont understand",
    "don't understand",
    "dont understand",
    "what do you mean",
    "i don't get it",
    "come again",
];

const ALLERGY: &[&str] = &["alerg*", "allerg*", "alegi*"];

/// Singular "medicina"/"medicine" is left out: it is more often a department
/// ("medicina general", "family medicine") than a drug.
const MEDICATION_NOUNS: &[&str] = &[
    "medicament*",
    "medicinas",
    "medicines",
    "medicaci*",
    "medication*",
    "meds",
    "pastilla*",
    "pildora*",
    "pills",
    "tratamiento",
    "treatment",
];

const MEDICATION_VERBS: &[&str] = &["tomo", "tomando", "tomar", "take", "taking", "uso", "use"];

/// Words of a complaint that the triage table has no specialty for.
const SYMPTOMS: &[&str] = &[
    "duel*",
    "dolor*",
    "molest*",
    "fiebre",
    "tos",
    "mareo*",
    "nausea*",
    "vomit*",
    "diarrea",
    "ardor",
    "picazon",
    "inflamad*",
    "hinchad*",
    "hinchazon",
    "me siento mal",
    "cansancio",
    "canso",
    "cansa*",
    "agotad*",
    "debilidad",
    "ahogo",
    "gripa",
    "gripe",
    "pain*",
    "hurt*",
    "ache*",
    "fever",
    "cough*",
    "dizz*",
    "swell*",
    "sore",
    "sick",
    "feel bad",
    "feeling bad",
    "tired",
];

/// Words that never belong to a location name.
const GENERIC_PLACE: &[&str] = &[
    "sede",
    "clinica",
    "clinic",
    "branch",
    "location",
    "consultorio",
    "consultorios",
    "de",
    "del",
    "la",
    "el",
    "los",
    "las",
    "the",
    "hospital",
    "medical",
    "medico",
    "medica",
    "ips",
    "unidad",
    "oficina",
    "office",
    "sucursal",
    "one",
];

/// Place words English speakers translate ("the south one" for Sede Sur).
const PLACE_TRANSLATIONS: &[(&str, &str)] = &[
    ("norte", "north"),
    ("sur", "south"),
    ("oriente", "east"),
    ("este", "east"),
    ("occidente", "west"),
    ("oeste", "west"),
    ("centro", "center"),
    ("centro", "centre"),
    ("centro", "downtown"),
];

/// "Any location" said outright.
const ANY_PLACE: &[&str] = &[
    "cualquier sede",
    "cualquier lugar",
    "cualquier clinica",
    "cualquier sucursal",
    "donde sea",
    "any location",
    "any branch",
    "any clinic",
    "anywhere",
];

/// "Any location" when the location was asked.
const ANY_PLACE_ASKED: &[&str] = &[
    "cualquiera",
    "cualkiera",
    "qualquiera",
    "la que sea",
    "any",
    "either",
    "whichever",
    "me da igual",
    "da igual",
    "no importa",
    "indiferente",
    "sin preferencia",
    "no preference",
    "doesn't matter",
    "doesnt matter",
    "don't mind",
    "dont mind",
    "don't care",
];

const SPANISH: &[&str] = &[
    "hola", "buenas", "buenos", "dias", "tardes", "noches", "necesito", "quiero", "quisiera",
    "cita", "por", "favor", "gracias", "tengo", "soy", "llamo", "nombre", "una", "con", "el", "la",
    "de", "que", "me", "mi", "para", "dolor", "estoy", "agendar", "consulta", "duele", "si",
    "usted", "senor", "senora", "tarde", "manana", "y", "es", "del", "los", "las", "un",
];

const ENGLISH: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "good",
    "morning",
    "need",
    "want",
    "would",
    "like",
    "appointment",
    "please",
    "thanks",
    "thank",
    "have",
    "i",
    "i'm",
    "im",
    "my",
    "name",
    "is",
    "the",
    "with",
    "for",
    "to",
    "pain",
    "book",
    "yes",
    "and",
    "of",
    "an",
    "can",
    "could",
    "you",
    "am",
    "it",
    "afternoon",
    "evening",
    "doctor's",
    "schedule",
    "see",
];

pub fn words(out: &mut Vec<&'static str>) {
    for list in [
        NEGATIVE,
        NONE_FILLERS,
        UNKNOWN_PHRASES,
        CONFUSED,
        ALLERGY,
        MEDICATION_NOUNS,
        MEDICATION_VERBS,
        SYMPTOMS,
        GENERIC_PLACE,
        ANY_PLACE,
        ANY_PLACE_ASKED,
        SPANISH,
        ENGLISH,
        REASON,
    ] {
        out.extend_from_slice(list);
    }
}

struct Tables {
    negative: Vec<WordId>,
    none_words: Vec<WordId>,
    unknown: Vec<Phrase>,
    confused: Vec<Phrase>,
    allergy: Vec<Phrase>,
    medication_nouns: Vec<Phrase>,
    medication_verbs: Vec<Phrase>,
    symptoms: Vec<Phrase>,
    any_place: Vec<Phrase>,
    any_place_asked: Vec<Phrase>,
    spanish: Vec<WordId>,
    english: Vec<WordId>,
    reason: Vec<Phrase>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let lex = &*LEXICON;
    let mut none_words = lex.ids(NEGATIVE);
    none_words.extend(lex.ids(NONE_FILLERS));
    Tables {
        negative: lex.ids(NEGATIVE),
        none_words,
        unknown: lex.phrases(UNKNOWN_PHRASES),
        confused: lex.phrases(CONFUSED),
        allergy: lex.phrases(ALLERGY),
        medication_nouns: lex.phrases(MEDICATION_NOUNS),
        medication_verbs: lex.phrases(MEDICATION_VERBS),
        symptoms: lex.phrases(SYMPTOMS),
        any_place: lex.phrases(ANY_PLACE),
        any_place_asked: lex.phrases(ANY_PLACE_ASKED),
        spanish: lex.ids(SPANISH),
        english: lex.ids(ENGLISH),
        reason: lex.phrases(REASON),
    }
});

/// [`NONE`] for "ninguna", "no tengo", "nada", "none", "I don't take any";
/// [`UNKNOWN`] for "no sé", "ni idea", "I don't know". The whole `range` must say it.
pub fn none_answer(text: &Text, range: Range<usize>) -> Option<&'static str> {
    let t = &*TABLES;
    if text.word_count(range.clone()) == 0 {
        return None;
    }
    if let Some(found) = text.find_any(range.clone(), &t.unknown, 1) {
        // "No sé" with at most a filler around it.
        let rest =
            text.word_count(range.start..found.start) + text.word_count(found.end..range.end);
        if rest <= 3 {
            return Some(UNKNOWN);
        }
    }
    let every_word_fits = (range.start..range.end)
        .all(|i| !text.is_wordlike(i) || text.id(i).is_some_and(|id| t.none_words.contains(&id)));
    (every_word_fits && text.has_any(range, &t.negative)).then_some(NONE)
}

/// Whether the whole message says "I don't understand" ("no entiendo", "¿qué?", "?").
pub fn is_confused(text: &Text) -> bool {
    let t = &*TABLES;
    if text.len() == 0 {
        return false;
    }
    let words = text.word_count(text.all());
    if words == 0 {
        // Only punctuation: "?", "¿?", "??".
        return (0..text.len()).any(|i| text.kind(i) == Kind::Punct('?'));
    }
    if words > 7 {
        return false;
    }
    // Single words ("¿qué?", "sorry?") only when they are nearly all that was said.
    let mut covered = vec![false; text.len()];
    let mut single = false;
    for phrase in &t.confused {
        let mut from = 0;
        while let Some(found) = text.find(from..text.len(), phrase, 1) {
            if phrase.len() == 1 {
                single = true;
            } else {
                covered[found.clone()].iter_mut().for_each(|c| *c = true);
            }
            from = found.start + 1;
        }
    }
    if covered.iter().any(|c| *c) {
        // Little else: "perdón, no entendí la pregunta", "no entiendo nada de esto".
        let uncovered = (0..text.len())
            .filter(|&i| !covered[i] && text.is_wordlike(i))
            .count();
        return uncovered <= 3;
    }
    single && words <= 2
}

/// What a clause says about allergies: `Some(None)` none, `Some(Unknown)`, or the text.
pub fn mentions_allergy(text: &Text, clause: Range<usize>) -> bool {
    text.find_any(clause, &TABLES.allergy, 0).is_some()
}

/// Whether a clause talks about medications; verbs ("tomo", "take") count only when the
/// question was about allergies or medications.
pub fn mentions_medication(text: &Text, clause: Range<usize>, verbs_too: bool) -> bool {
    let t = &*TABLES;
    text.find_any(clause.clone(), &t.medication_nouns, 0)
        .is_some()
        || (verbs_too && text.find_any(clause, &t.medication_verbs, 0).is_some())
}

/// The value of an allergy or medication statement: none/unknown, or the patient's words.
pub fn statement_value(text: &Text, clause: Range<usize>) -> String {
    if let Some(v) = none_answer(text, clause.clone()) {
        return v.to_owned();
    }
    if urgency::has_negation(text, clause.clone()) && text.word_count(clause.clone()) <= 6 {
        return NONE.to_owned();
    }
    clean(text.original(clause)).to_owned()
}

/// Whether a clause is about the patient's health (a symptom, a red flag, or a triage
/// keyword).
pub fn mentions_health(text: &Text, clause: Range<usize>) -> bool {
    text.find_any(clause.clone(), &TABLES.symptoms, 1).is_some()
        || urgency::mentions_sign(text, clause.clone())
        || triage::mentions_keyword(text, clause)
}

/// Words that introduce the reason for a visit ("una cita porque me duele…").
const REASON: &[&str] = &[
    "porque", "por", "para", "ya que", "debido a", "because", "for", "due to", "about", "since",
];

/// The reason inside a request: "necesito una cita porque me duele la cabeza" → "me
/// duele la cabeza"; the whole clause when no part after a reason word is about health.
pub fn reason_part(text: &Text, clause: Range<usize>) -> Range<usize> {
    let mut from = clause.start;
    while let Some(found) = text.find_any(from..clause.end, &TABLES.reason, 0) {
        let rest = found.end..clause.end;
        if !rest.is_empty() && mentions_health(text, rest.clone()) {
            return rest;
        }
        from = found.end;
    }
    clause
}

/// The patient's words without the connector that opened the clause ("y me falta el
/// aire" → "me falta el aire") or trailing punctuation.
pub fn clean(original: &str) -> &str {
    const LEADING: &[&str] = &[
        "y ",
        "e ",
        "pero ",
        "ni ",
        "ademas ",
        "además ",
        "también ",
        "tambien ",
        "and ",
        "but ",
        "also ",
        "plus ",
        "porque ",
        "because ",
        "pues ",
        "bueno ",
    ];
    let mut s = original.trim();
    loop {
        let lower = s.to_lowercase();
        match LEADING.iter().find(|l| lower.starts_with(*l)) {
            Some(l) => s = s[l.len()..].trim_start(),
            // A lower-case "i" is a "y" typed on a phone ("i tengo fiebre"); "I" is English.
            None if s.starts_with("i ") => s = s[2..].trim_start(),
            None => break,
        }
    }
    s.trim_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '.' | ':' | '-'))
}

/// What a message says about where to be seen.
#[derive(Debug, Clone, PartialEq)]
pub enum Place<'c> {
    One(&'c LocationChoice, Range<usize>),
    Any(Range<usize>),
    /// More than one location fits equally ("sede" when there are two sedes).
    Ambiguous,
}

/// The clinic location named in `range`: its distinctive words ("norte" for "Sede
/// Norte"; one typo allowed in long words; "north" for "norte"), the location with most
/// of them said winning, then the one with most of all its words said; or "any".
/// `asked`: the location was the question, so "no importa" counts.
pub fn place<'c>(
    text: &Text,
    range: Range<usize>,
    clinic: &'c ClinicContext,
    asked: bool,
) -> Option<Place<'c>> {
    let t = &*TABLES;
    let end = range.end.min(text.len());
    let said_at = |word: &str| (range.start..end).find(|&i| same_word(text.word(i), word));
    let mut best: Option<((usize, usize), &LocationChoice, Range<usize>)> = None;
    let mut tie = false;
    for location in &clinic.locations {
        let folded = fold_str(&location.name);
        let all_words: Vec<&str> = folded
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let mut span: Option<Range<usize>> = None;
        let (mut distinctive, mut distinctive_said, mut said) = (0, 0, 0);
        for word in &all_words {
            let generic = GENERIC_PLACE.contains(word);
            distinctive += usize::from(!generic);
            let Some(i) = said_at(word) else { continue };
            said += 1;
            distinctive_said += usize::from(!generic);
            span = Some(match span.take() {
                Some(s) => s.start.min(i)..s.end.max(i + 1),
                None => i..i + 1,
            });
        }
        // A name of generic words only ("Sede Clínica") must be said whole.
        let named = if distinctive == 0 {
            said == all_words.len() && said > 0
        } else {
            distinctive_said > 0
        };
        let Some(span) = span.filter(|_| named) else {
            continue;
        };
        let score = (distinctive_said, said);
        match &best {
            Some((b, _, _)) if *b > score => {}
            Some((b, _, _)) if *b == score => tie = true,
            _ => {
                tie = false;
                best = Some((score, location, span));
            }
        }
    }
    if let Some((_, location, span)) = best {
        return Some(if tie {
            Place::Ambiguous
        } else {
            Place::One(location, span)
        });
    }
    let any = text.find_any(range.clone(), &t.any_place, 0).or_else(|| {
        asked
            .then(|| text.find_any(range, &t.any_place_asked, 0))
            .flatten()
    });
    any.map(Place::Any)
}

fn same_word(token: &str, word: &str) -> bool {
    token == word
        || (word.len() >= 5
            && token.is_ascii()
            && word.is_ascii()
            && within_one_edit(token.as_bytes(), word.as_bytes()))
        || PLACE_TRANSLATIONS
            .iter()
            .any(|(es, en)| *es == word && *en == token)
}

/// The language of a message, when its words say it clearly.
pub fn detect_locale(text: &Text) -> Option<Locale> {
    let t = &*TABLES;
    let (mut es, mut en) = (0, 0);
    for i in text.all() {
        let Some(id) = text.id(i) else { continue };
        es += usize::from(t.spanish.contains(&id));
        en += usize::from(t.english.contains(&id));
    }
    // Spanish marks settle it: "¿", "¡", "ñ" or an accent.
    let marks = text
        .whole()
        .chars()
        .any(|c| matches!(c, '¿' | '¡' | 'ñ' | 'á' | 'é' | 'í' | 'ó' | 'ú'));
    if marks {
        es += 2;
    }
    match es.cmp(&en) {
        std::cmp::Ordering::Greater => Some(Locale::Es),
        std::cmp::Ordering::Less => Some(Locale::En),
        std::cmp::Ordering::Equal => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn none_in(message: &str) -> Option<&'static str> {
        let text = Text::new(message);
        none_answer(&text, text.all())
    }

    #[test]
    fn none_and_unknown_answers() {
        for message in [
            "ninguna",
            "Ninguno",
            "no",
            "No.",
            "nada",
            "none",
            "nothing",
            "nope",
            "no tengo",
            "no tengo ninguna alergia",
            "no tomo nada",
            "no, ninguno por ahora",
            "I don't take any",
            "no allergies",
            "ninguna que yo sepa",
            "no, gracias",
        ] {
            assert_eq!(none_in(message), Some(NONE), "{message}");
        }
        for message in [
            "no sé",
            "No se",
            "ni idea",
            "I don't know",
            "not sure",
            "no me acuerdo",
        ] {
            assert_eq!(none_in(message), Some(UNKNOWN), "{message}");
        }
        for message in [
            "penicilina",
            "losartán 50 mg",
            "no puedo dormir",
            "sí, a la penicilina",
            "",
        ] {
            assert_eq!(none_in(message), None, "{message}");
        }
    }

    #[test]
    fn confusion_is_a_short_message_saying_so() {
        for message in [
            "no entiendo",
            "¿Qué?",
            "?",
            "¿?",
            "what?",
            "I don't understand",
            "perdón, no entendí la pregunta",
            "cómo así",
            "no entiendo nada de esto",
            "sorry what?",
        ] {
            assert!(is_confused(&Text::new(message)), "{message}");
        }
        for message in [
            "Ana Ruiz",
            "que me duele la cabeza desde ayer en la noche",
            "no",
            "ninguna",
            "",
            "no entiendo por qué me duele tanto",
            "qué dolor de cabeza",
        ] {
            assert!(!is_confused(&Text::new(message)), "{message}");
        }
    }

    fn clinic() -> ClinicContext {
        let loc = |n: u128, name: &str| LocationChoice {
            id: Uuid::from_u128(n),
            name: name.into(),
        };
        ClinicContext {
            departments: vec![],
            locations: vec![
                loc(1, "Sede Norte"),
                loc(2, "Sede Sur"),
                loc(3, "Clínica Chapinero"),
            ],
        }
    }

    fn place_in(message: &str, asked: bool) -> Option<String> {
        let clinic = clinic();
        let text = Text::new(message);
        place(&text, text.all(), &clinic, asked).map(|p| match p {
            Place::One(l, _) => l.name.clone(),
            Place::Any(_) => "any".into(),
            Place::Ambiguous => "ambiguous".into(),
        })
    }

    #[test]
    fn locations_by_name_part_accent_or_any() {
        for (message, expected) in [
            ("Sede Norte", Some("Sede Norte")),
            ("en la del norte", Some("Sede Norte")),
            ("la sede sur por favor", Some("Sede Sur")),
            ("chapinero", Some("Clínica Chapinero")),
            ("CHAPINERRO", Some("Clínica Chapinero")),
            ("cualquiera", Some("any")),
            ("la que sea", Some("any")),
            ("anywhere", Some("any")),
            ("no importa", Some("any")),
            ("en una sede", None),
            ("sede", None),
            ("en el centro", None),
            ("cualquier sede", Some("any")),
            ("the south one", Some("Sede Sur")),
            ("cualkiera", Some("any")),
        ] {
            assert_eq!(place_in(message, true).as_deref(), expected, "{message}");
        }
        assert_eq!(
            place_in("no importa", false),
            None,
            "only an answer to the question"
        );
        assert_eq!(
            place_in("cualquiera", false),
            None,
            "only an answer to the question"
        );
        assert_eq!(place_in("en cualquier sede", false).as_deref(), Some("any"));
        let twins = ClinicContext {
            departments: vec![],
            locations: vec![
                LocationChoice {
                    id: Uuid::from_u128(1),
                    name: "Sede Norte".into(),
                },
                LocationChoice {
                    id: Uuid::from_u128(2),
                    name: "Clínica Norte".into(),
                },
            ],
        };
        let text = Text::new("norte");
        assert_eq!(
            place(&text, text.all(), &twins, true),
            Some(Place::Ambiguous)
        );
        let text = Text::new("clinica norte");
        assert!(
            matches!(place(&text, text.all(), &twins, true), Some(Place::One(l, _)) if l.name == "Clínica Norte"),
            "every word said decides a tie"
        );
    }

    #[test]
    fn the_language_of_a_first_message() {
        for (message, locale) in [
            (
                "Hola, necesito una cita con el cardiólogo",
                Some(Locale::Es),
            ),
            ("buenas tardes", Some(Locale::Es)),
            ("¿tienen citas?", Some(Locale::Es)),
            ("Hi, I need an appointment", Some(Locale::En)),
            ("hello", Some(Locale::En)),
            (
                "I'd like to book with a cardiologist please",
                Some(Locale::En),
            ),
            ("ok", None),
            ("👍", None),
        ] {
            assert_eq!(detect_locale(&Text::new(message)), locale, "{message}");
        }
    }

    #[test]
    fn statements_about_allergies_and_medications() {
        let text = Text::new("no tengo alergias ni tomo medicamentos");
        let clauses = text.clauses();
        assert!(mentions_allergy(&text, clauses[0].clone()));
        assert_eq!(statement_value(&text, clauses[0].clone()), NONE);
        assert!(mentions_medication(&text, clauses[1].clone(), false));
        assert_eq!(statement_value(&text, clauses[1].clone()), NONE);
        let text = Text::new("soy alérgica a la penicilina");
        assert_eq!(
            statement_value(&text, text.all()),
            "soy alérgica a la penicilina"
        );
        assert_eq!(clean(" y me falta el aire. "), "me falta el aire");
        assert_eq!(clean("i tengo fiebre"), "tengo fiebre");
        assert_eq!(clean("I have a fever"), "I have a fever");
    }
}
