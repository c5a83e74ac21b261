//! Names: "soy Ana Ruiz", "me llamo Ana", "mi nombre es…", "my name is…", "I'm…", or a
//! bare "ana ruiz" when the name was asked, stored capitalised ("Ana Ruiz",
//! "María de los Ángeles Pérez", "O'Brien"; "McDonald" as written).
//!
//! A word is part of a name unless the rules know it as something else ("alérgico",
//! "necesito", "dolor", a weekday…), exactly as written: typo tolerance would turn
//! "Mario" into "marzo". Words that are also common names (Dolores, Rosa, Julio, Luz,
//! Domingo…) are allowed. Digits, dates and "no sé" are never names.

use std::{ops::Range, sync::LazyLock};

use super::{
    lexicon::{LEXICON, Phrase, WordId},
    text::{Kind, Text},
};

/// Most words a name takes ("María de los Ángeles Pérez Gómez" is 6).
const MAX_WORDS: usize = 7;

const MARKERS: &[&str] = &[
    "me llamo",
    "me yamo",
    "mi nombre es",
    "mi nombre",
    "nombre completo es",
    "nombre",
    "yo soy",
    "soy",
    "habla",
    "my name is",
    "my name's",
    "name is",
    "name",
    "i'm",
    "im",
    "i am",
    "this is",
    "it's",
];

const PARTICLES: &[&str] = &[
    "de", "del", "la", "las", "los", "y", "van", "von", "da", "di", "do", "dos", "das", "du", "le",
    "der", "den", "st",
];

/// Words the rules know for something else that are also people's names.
const ALSO_NAMES: &[&str] = &[
    "julio",
    "domingo",
    "dolores",
    "rosa",
    "luz",
    "paz",
    "cruz",
    "pilar",
    "tomas",
    "santos",
    "leon",
    "angel",
    "blanca",
    "clara",
    "esperanza",
    "abril",
    "april",
    "june",
    "may",
    "mayo",
    "august",
    "sol",
    "mar",
    "reyes",
    "rosario",
    "jesus",
    "maria",
    "consuelo",
    "amparo",
    "socorro",
    "soledad",
    "cielo",
    "alegria",
    "mercedes",
    "victoria",
    "patricia",
    "grace",
    "faith",
    "hope",
];

/// Words that are not names and the other rules do not know.
const NOT_NAMES: &[&str] = &[
    // Spanish
    "hola",
    "buenas",
    "buenos",
    "dias",
    "tardes",
    "noches",
    "gracias",
    "por",
    "favor",
    "si",
    "no",
    "claro",
    "ok",
    "okay",
    "vale",
    "bueno",
    "pues",
    "es",
    "yo",
    "el",
    "ella",
    "un",
    "una",
    "uno",
    "muy",
    "bien",
    "mal",
    "aqui",
    "quien",
    "que",
    "como",
    "para",
    "con",
    "sin",
    "nuevo",
    "nueva",
    "paciente",
    "mama",
    "madre",
    "papa",
    "padre",
    "hijo",
    "hija",
    "esposo",
    "esposa",
    "familiar",
    "abuelo",
    "abuela",
    "alergico",
    "alergica",
    "diabetico",
    "diabetica",
    "hipertenso",
    "hipertensa",
    "asmatico",
    "asmatica",
    "epileptico",
    "epileptica",
    "celiaco",
    "celiaca",
    "operado",
    "operada",
    "embarazada",
    "medico",
    "doctor",
    "doctora",
    "enfermera",
    "enfermero",
    "estudiante",
    "mayor",
    "menor",
    "adulto",
    "adulta",
    "persona",
    "senor",
    "senora",
    "senorita",
    "sr",
    "sra",
    "srta",
    "don",
    "dona",
    "usuario",
    "usuaria",
    "cliente",
    "afiliado",
    "afiliada",
    "quisiera",
    "queria",
    "busco",
    "deseo",
    "puedo",
    "puede",
    "tengo",
    "tiene",
    "estoy",
    "esta",
    "era",
    "fue",
    "ya",
    "solo",
    "tambien",
    "mismo",
    "misma",
    "todo",
    "nada",
    "nadie",
    "alguien",
    "se",
    "sabe",
    "sabes",
    "prefiero",
    "decir",
    "dar",
    "mi",
    "tu",
    "su",
    "le",
    "lo",
    "me",
    "te",
    "a",
    "al",
    "en",
    "desde",
    "hasta",
    "cita",
    "citas",
    "consulta",
    "turno",
    "agendar",
    "pedir",
    "sacar",
    "reservar",
    "nombre",
    "apellido",
    "apellidos",
    "llamo",
    "soy",
    "ahora",
    "hoy",
    "ayer",
    "porque",
    "pero",
    "entonces",
    "otra",
    "otro",
    "vez",
    "quiero",
    "necesito",
    "necesita",
    "gusto",
    "llamaba",
    "escribo",
    "escribe",
    "llamada",
    // English
    "hi",
    "hello",
    "hey",
    "good",
    "morning",
    "afternoon",
    "evening",
    "thanks",
    "thank",
    "you",
    "please",
    "yes",
    "yeah",
    "yep",
    "sure",
    "fine",
    "well",
    "sick",
    "ill",
    "pregnant",
    "not",
    "sorry",
    "here",
    "just",
    "so",
    "very",
    "still",
    "also",
    "new",
    "patient",
    "allergic",
    "diabetic",
    "asthmatic",
    "the",
    "a",
    "an",
    "his",
    "her",
    "my",
    "your",
    "their",
    "mother",
    "father",
    "mom",
    "dad",
    "son",
    "daughter",
    "wife",
    "husband",
    "worried",
    "interested",
    "tired",
    "scared",
    "married",
    "injured",
    "concerned",
    "confused",
    "retired",
    "in",
    "on",
    "at",
    "with",
    "from",
    "to",
    "for",
    "of",
    "is",
    "am",
    "are",
    "was",
    "it",
    "this",
    "that",
    "i",
    "me",
    "name",
    "need",
    "want",
    "would",
    "like",
    "appointment",
    "book",
    "booking",
    "doctor",
    "back",
    "again",
    "already",
    "a",
    "bit",
    "kind",
    "called",
    "about",
    "going",
    "ready",
];

/// Fillers a bare answer may start with ("Sí, Ana Ruiz", "Claro: Ana").
const LEADING_FILLERS: &[&str] = &[
    "hola", "si", "claro", "ok", "okay", "vale", "bueno", "pues", "es", "buenas", "buenos", "dias",
    "tardes", "noches", "hi", "hello", "hey", "yes", "yeah", "sure", "it's", "its", "sr", "sra",
    "srta", "senor", "senora", "mr", "mrs", "ms", "miss",
];

pub fn words(out: &mut Vec<&'static str>) {
    for list in [MARKERS, PARTICLES, ALSO_NAMES, NOT_NAMES, LEADING_FILLERS] {
        out.extend_from_slice(list);
    }
}

struct Tables {
    markers: Vec<Phrase>,
    particles: Vec<WordId>,
    also_names: Vec<WordId>,
    fillers: Vec<WordId>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let lex = &*LEXICON;
    Tables {
        markers: lex.phrases(MARKERS),
        particles: lex.ids(PARTICLES),
        also_names: lex.ids(ALSO_NAMES),
        fillers: lex.ids(LEADING_FILLERS),
    }
});

/// A name introduced by "soy", "me llamo", "my name is"… in `range`.
pub fn marked(text: &Text, range: Range<usize>) -> Option<(String, Range<usize>)> {
    let t = &*TABLES;
    let mut from = range.start;
    while let Some(marker) = text.find_any(from..range.end, &t.markers, 0) {
        let mut start = marker.end;
        while text.is_punct(start, ':') || text.is_punct(start, '-') {
            start += 1;
        }
        if let Some(name) = name_at(text, start, range.end) {
            return Some((
                capitalise(text.original(name.clone())),
                marker.start..name.end,
            ));
        }
        from = marker.end;
    }
    None
}

/// The answer to "what is your name?": a name, after a greeting or "sí" at most.
pub fn bare(text: &Text, range: Range<usize>) -> Option<(String, Range<usize>)> {
    let t = &*TABLES;
    if let Some(found) = marked(text, range.clone()) {
        return Some(found);
    }
    let mut start = range.start;
    while start < range.end
        && (text.id(start).is_some_and(|id| t.fillers.contains(&id))
            || matches!(text.kind(start), Kind::Punct(_)))
    {
        start += 1;
    }
    let name = name_at(text, start, range.end)?;
    Some((capitalise(text.original(name.clone())), name))
}

/// The name words starting at token `start`: at least one, particles only inside.
fn name_at(text: &Text, start: usize, end: usize) -> Option<Range<usize>> {
    let t = &*TABLES;
    let mut last_name_word = None;
    let mut words = 0;
    let mut i = start;
    while i < end && words < MAX_WORDS {
        let kind = text.kind(i);
        let exact = LEXICON.exact(text.word(i));
        let particle = exact.is_some_and(|id| t.particles.contains(&id));
        if kind == Kind::Word && particle && last_name_word.is_some() {
            words += 1;
            i += 1;
            continue;
        }
        let joined = kind == Kind::Punct('-')
            && last_name_word == Some(i)
            && is_name_word(text, i + 1, LEXICON.exact(text.word(i + 1)));
        if joined {
            i += 1;
            continue;
        }
        let initial = kind == Kind::Word
            && text.word(i).chars().count() == 1
            && text.is_punct(i + 1, '.')
            && last_name_word.is_some();
        if initial {
            last_name_word = Some(i + 2);
            words += 1;
            i += 2;
            continue;
        }
        if !is_name_word(text, i, exact) {
            break;
        }
        last_name_word = Some(i + 1);
        words += 1;
        i += 1;
    }
    let end = last_name_word?;
    Some(start..end)
}

fn is_name_word(text: &Text, i: usize, exact: Option<WordId>) -> bool {
    if text.kind(i) != Kind::Word {
        return false;
    }
    let word = text.word(i);
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    if letters < 2 || word.len() > 40 {
        return false;
    }
    if let Some(id) = exact {
        return TABLES.also_names.contains(&id);
    }
    // "I'm calling", "I'm looking": English gerunds are no names.
    !(word.len() >= 6 && word.ends_with("ing"))
}

/// "ana ruiz" → "Ana Ruiz", "MARÍA DE LOS ÁNGELES" → "María de los Ángeles",
/// "o'brien" → "O'Brien"; a word written in mixed case ("McDonald") is kept.
pub fn capitalise(original: &str) -> String {
    let t = &*TABLES;
    let mut out = String::with_capacity(original.len());
    for (n, word) in original.split_whitespace().enumerate() {
        if n > 0 {
            out.push(' ');
        }
        let lower = word.to_lowercase();
        let is_particle = n > 0
            && LEXICON
                .exact(&lower)
                .is_some_and(|id| t.particles.contains(&id));
        let has_upper = word.chars().any(char::is_uppercase);
        let has_lower = word.chars().any(char::is_lowercase);
        let mixed = has_upper && has_lower && !starts_upper_rest_lower(word);
        if is_particle {
            out.push_str(&lower);
        } else if mixed {
            out.push_str(word);
        } else {
            let mut capital = true;
            for c in lower.chars() {
                if capital && c.is_alphabetic() {
                    out.extend(c.to_uppercase());
                    capital = false;
                } else {
                    out.push(c);
                }
                if c == '-' || c == '\'' || c == '\u{2019}' {
                    capital = true;
                }
            }
        }
    }
    out
}

fn starts_upper_rest_lower(word: &str) -> bool {
    let mut chars = word.chars().filter(|c| c.is_alphabetic());
    chars.next().is_some_and(char::is_uppercase) && chars.all(char::is_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked_in(message: &str) -> Option<String> {
        let text = Text::new(message);
        marked(&text, text.all()).map(|(n, _)| n)
    }

    fn bare_in(message: &str) -> Option<String> {
        let text = Text::new(message);
        bare(&text, text.all()).map(|(n, _)| n)
    }

    #[test]
    fn names_introduced_the_ways_patients_do() {
        for (message, name) in [
            ("soy Ana Ruiz", "Ana Ruiz"),
            ("Hola, soy ana ruiz, nací el 3 de mayo", "Ana Ruiz"),
            (
                "me llamo María de los Ángeles Pérez",
                "María de los Ángeles Pérez",
            ),
            ("mi nombre es JUAN CARLOS GÓMEZ", "Juan Carlos Gómez"),
            ("Mi nombre: Luz Dary Castaño", "Luz Dary Castaño"),
            ("my name is John O'Brien", "John O'Brien"),
            (
                "I'm Mary McDonald and I need an appointment",
                "Mary McDonald",
            ),
            ("i am peter smith", "Peter Smith"),
            ("yo soy Dolores Fuentes", "Dolores Fuentes"),
            ("soy Mario Ruiz", "Mario Ruiz"),
            ("soy Ana M. Ruiz", "Ana M. Ruiz"),
            ("me llamo josé-maría lópez", "José-María López"),
        ] {
            assert_eq!(marked_in(message).as_deref(), Some(name), "{message}");
        }
    }

    #[test]
    fn soy_and_im_before_something_else_are_no_names() {
        for message in [
            "soy alérgico a la penicilina",
            "soy diabética",
            "soy nueva paciente",
            "soy la mamá de Pedro",
            "soy de Medellín",
            "I'm allergic to penicillin",
            "I'm looking for an appointment",
            "I'm not sure",
            "im 35",
            "i am fine",
        ] {
            assert_eq!(marked_in(message), None, "{message}");
        }
    }

    #[test]
    fn a_bare_answer_is_a_name_when_it_looks_like_one() {
        for (message, name) in [
            ("Ana Ruiz", Some("Ana Ruiz")),
            ("ana", Some("Ana")),
            ("Sí, Ana Ruiz", Some("Ana Ruiz")),
            ("Carlos Pérez, 45 años", Some("Carlos Pérez")),
            ("Peter Smith", Some("Peter Smith")),
            ("no sé", None),
            ("hola", None),
            ("03/05/1985", None),
            ("quiero una cita", None),
            ("12345", None),
            ("?", None),
            ("dolor de cabeza", None),
        ] {
            assert_eq!(bare_in(message).as_deref(), name, "{message}");
        }
    }
}
