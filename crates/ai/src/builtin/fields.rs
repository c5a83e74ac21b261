//! Small readers for single fields: "none"-like answers, confusion ("no entiendo"),
//! allergy and medication statements, health complaints, the clinic's locations, and the
//! language of a first message.

use std::{ops::Range, sync::LazyLock};

use prm_domain::Locale;

use super::{
    lexicon::{LEXICON, Phrase, WordId},
    text::{Kind, Text},
    triage, urgency,
};
use crate::intake::{NONE, UNKNOWN};

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
