//! The words the selection parser knows, and the typos it forgives.
//!
//! Every list here is an allow-list or a veto list: a word in none of them is a
//! stranger, and a stranger next to a number means the answer is not plainly a choice.

/// Words that mean "none of these" whatever else the message says.
#[rustfmt::skip]
pub(super) const FIRM_REJECTIONS: &[&str] = &[
    "none", "neither", "nope", "nah", "nothing", "ninguno", "ninguna", "ningun", "nada",
];

/// Negations and "something else": with a number, date or time the answer is ambiguous;
/// on their own they turn the list down.
#[rustfmt::skip]
pub(super) const NEGATIONS: &[&str] = &[
    // English
    "no", "not", "never", "nor", "dont", "cant", "cannot", "wont", "isnt", "arent", "doesnt",
    "didnt", "couldnt", "wouldnt", "shouldnt", "wasnt", "werent", "havent", "hasnt", "aint",
    "except", "without", "but", "instead", "other", "others", "another", "different", "else",
    "more", "later", "skip", "nevermind", "nvm",
    // Spanish
    "nunca", "jamas", "tampoco", "ni", "excepto", "menos", "salvo", "sin", "pero", "otro",
    "otra", "otros", "otras", "diferente", "diferentes", "distinto", "distinta", "distintos",
    "distintas", "mas",
];

/// Cancelling or changing: they veto a choice like negations, but alone they are no
/// request for other times either, so they ask again.
#[rustfmt::skip]
pub(super) const CANCELLATIONS: &[&str] = &[
    "cancel", "cancels", "cancelled", "canceled", "change", "cancelar", "cancela", "cancelo",
    "cancele", "cancelame", "cancelen", "anula", "anular", "anulo", "cambiar", "cambia",
    "cambio",
];

/// Doubt, alternatives and questions: never part of a plain choice, and no rejection either.
#[rustfmt::skip]
pub(super) const DOUBTS: &[&str] = &[
    "maybe", "perhaps", "possibly", "probably", "or", "either", "if", "whether", "what",
    "which", "when", "where", "who", "why", "how", "could", "might", "think", "guess",
    "depends", "unsure", "quizas", "quiza", "talvez", "tal", "vez", "acaso", "igual", "o", "u",
    "que", "cual", "cuando", "donde", "quien", "como", "porque", "puede", "podria", "creo",
    "supongo", "depende",
];

/// "Yes" on its own picks the only option when there is exactly one.
#[rustfmt::skip]
pub(super) const AFFIRMATIONS: &[&str] = &[
    "yes", "yeah", "yep", "yup", "ok", "okay", "okey", "oki", "k", "kk", "sure", "confirm",
    "si", "sip", "vale", "dale", "claro", "perfecto", "perfecta", "listo", "lista", "confirmo",
];

/// Words that may stand around a plain choice: articles, "option", "I'll take", "por
/// favor", "thanks", greetings. Deliberately short: anything else asks again.
#[rustfmt::skip]
pub(super) const CHOICE_WORDS: &[&str] = &[
    // English
    "the", "a", "an", "i", "ill", "id", "im", "want", "like", "love", "take", "choose", "pick",
    "prefer", "go", "with", "for", "book", "it", "please", "pls", "plz", "thanks", "thank",
    "thx", "ty", "you", "great", "perfect", "good", "fine", "cool", "nice", "awesome", "works",
    "that", "this", "at", "on", "in", "of", "me", "my", "then", "so", "well", "just", "lets",
    "let", "will", "hi", "hello", "hey", "option", "number", "choice", "slot", "appointment",
    "time",
    // Spanish
    "el", "la", "lo", "los", "las", "un", "una", "de", "del", "al", "en", "con", "para", "por",
    "favor", "porfa", "porfavor", "pf", "xfa", "xfavor", "quiero", "quisiera", "queria",
    "deseo", "necesito", "prefiero", "elijo", "escojo", "tomo", "tomare", "voy", "opto",
    "seria", "mi", "yo", "quedo", "sirve", "va", "viene", "queda", "gusta", "gustaria", "bien",
    "genial", "excelente", "mejor", "gracias", "mil", "muchas", "opcion", "numero", "nro",
    "num", "turno", "cita", "horario", "hora", "esa", "ese", "este", "mismo", "misma", "solo",
    "entonces", "pues", "bueno", "buena", "buenas", "buenos", "buen", "hola", "ya", "agenda",
    "agendame", "agendar", "agendeme", "reserva", "reservame", "reservar", "aparta", "apartame",
    "separa", "separame", "confirma", "confirmar",
    // Clock words after a number ("14 h", "3 o'clock").
    "h", "hs", "hr", "hrs", "horas", "oclock",
];

/// Words only a rejection may contain: "otro horario", "other times please", "no me sirve".
/// Around a number they are strangers ("in 2 days", "2 weeks").
#[rustfmt::skip]
pub(super) const REJECTION_WORDS: &[&str] = &[
    "times", "dates", "date", "day", "days", "week", "weeks", "options", "slots", "ones",
    "those", "these", "them", "any", "have", "has", "give", "show", "send", "see", "next",
    "tomorrow", "earlier", "early", "late", "better", "can", "work", "available", "sorry",
    "unfortunately", "fechas", "fecha", "dia", "dias", "semana", "semanas", "opciones",
    "horarios", "esos", "esas", "estos", "estas", "eso", "esto", "algun", "alguna", "alguno",
    "hay", "tienen", "tiene", "tienes", "dame", "denme", "muestrame", "mandame", "manda",
    "enviame", "ver", "proxima", "proximo", "proximas", "proximos", "siguiente", "siguientes",
    "manana", "tarde", "temprano", "puedo", "podemos", "sirven", "disponible", "disponibles",
    "siento", "lamentablemente", "ahora",
];

/// Words that count only with the next word: "is"/"es" before "fine"/"bien" ("2 is fine"),
/// never in "is 1 in the morning".
#[rustfmt::skip]
pub(super) const VERDICT_VERBS: &[&str] = &[
    "is", "es", "esta", "sounds", "looks", "seems", "suena", "parece",
];
#[rustfmt::skip]
pub(super) const VERDICTS: &[&str] = &[
    "fine", "good", "great", "perfect", "ok", "okay", "bien", "perfecto", "perfecta", "genial",
    "excelente",
];

/// Greetings whose second word would otherwise read as a period or a day ("good morning").
pub(super) fn greeting(word: &str, next: Option<&str>) -> bool {
    matches!(
        (word, next),
        ("good", Some("morning" | "afternoon" | "evening" | "day"))
            | ("buenos" | "buen", Some("dias" | "dia"))
            | ("buenas", Some("tardes" | "noches" | "dias"))
    )
}

#[rustfmt::skip]
pub(super) const ORDINALS: &[(&str, u32)] = &[
    ("first", 1), ("primero", 1), ("primera", 1), ("primer", 1), ("second", 2), ("segundo", 2),
    ("segunda", 2), ("third", 3), ("tercero", 3), ("tercera", 3), ("tercer", 3), ("fourth", 4),
    ("cuarto", 4), ("cuarta", 4), ("fifth", 5), ("quinto", 5), ("quinta", 5), ("sixth", 6),
    ("sexto", 6), ("sexta", 6), ("seventh", 7), ("septimo", 7), ("septima", 7), ("setimo", 7),
    ("setima", 7), ("eighth", 8), ("octavo", 8), ("octava", 8), ("ninth", 9), ("noveno", 9),
    ("novena", 9), ("tenth", 10), ("decimo", 10), ("decima", 10),
];

/// Cardinal number words. "once" (Spanish 11) and "un"/"una" (also articles) only count
/// where a time is clearly meant.
#[rustfmt::skip]
pub(super) const NUMBER_WORDS: &[(&str, u32)] = &[
    ("one", 1), ("uno", 1), ("una", 1), ("un", 1), ("two", 2), ("dos", 2), ("three", 3),
    ("tres", 3), ("four", 4), ("cuatro", 4), ("five", 5), ("cinco", 5), ("six", 6), ("seis", 6),
    ("seven", 7), ("siete", 7), ("eight", 8), ("ocho", 8), ("nine", 9), ("nueve", 9),
    ("ten", 10), ("diez", 10), ("eleven", 11), ("once", 11), ("twelve", 12), ("doce", 12),
];

/// 0 = Monday.
#[rustfmt::skip]
pub(super) const WEEKDAYS: &[(&str, u32)] = &[
    ("monday", 0), ("mon", 0), ("lunes", 0), ("tuesday", 1), ("tue", 1), ("tues", 1),
    ("martes", 1), ("wednesday", 2), ("wed", 2), ("miercoles", 2), ("thursday", 3), ("thu", 3),
    ("thur", 3), ("thurs", 3), ("jueves", 3), ("friday", 4), ("fri", 4), ("viernes", 4),
    ("saturday", 5), ("sat", 5), ("sabado", 5), ("sunday", 6), ("sun", 6), ("domingo", 6),
];

#[rustfmt::skip]
pub(super) const MONTHS: &[(&str, u32)] = &[
    ("january", 1), ("jan", 1), ("enero", 1), ("ene", 1), ("february", 2), ("feb", 2),
    ("febrero", 2), ("march", 3), ("mar", 3), ("marzo", 3), ("april", 4), ("apr", 4),
    ("abril", 4), ("abr", 4), ("may", 5), ("mayo", 5), ("june", 6), ("jun", 6), ("junio", 6),
    ("july", 7), ("jul", 7), ("julio", 7), ("august", 8), ("aug", 8), ("agosto", 8), ("ago", 8),
    ("september", 9), ("sep", 9), ("sept", 9), ("septiembre", 9), ("setiembre", 9),
    ("october", 10), ("oct", 10), ("octubre", 10), ("november", 11), ("nov", 11),
    ("noviembre", 11), ("december", 12), ("dec", 12), ("diciembre", 12), ("dic", 12),
];

/// Words read elsewhere by their context (periods, noon, "last", "y media").
#[rustfmt::skip]
const CONTEXT_WORDS: &[&str] = &[
    "am", "pm", "morning", "afternoon", "evening", "tonight", "night", "noche", "noches",
    "tardes", "noon", "mediodia", "midnight", "medianoche", "last", "ultimo", "ultima", "y",
    "media", "would",
];

fn lookup(table: &[(&str, u32)], word: &str) -> Option<u32> {
    table.iter().find(|(w, _)| *w == word).map(|&(_, n)| n)
}

pub(super) fn ordinal_word(word: &str) -> Option<u32> {
    lookup(ORDINALS, word)
}

pub(super) fn number_word(word: &str) -> Option<u32> {
    lookup(NUMBER_WORDS, word)
}

pub(super) fn weekday_word(word: &str) -> Option<u32> {
    lookup(WEEKDAYS, word)
}

pub(super) fn month_word(word: &str) -> Option<u32> {
    lookup(MONTHS, word)
}

/// A word that vetoes a choice: a negation or a cancellation.
pub(super) fn is_negation(word: &str) -> bool {
    NEGATIONS.contains(&word) || CANCELLATIONS.contains(&word)
}

/// What a word does to the answer; two spellings with one sense are interchangeable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sense {
    Firm,
    Negation,
    Doubt,
    Ordinal(u32),
    Number(u32),
    Weekday(u32),
    Month(u32),
    /// Any other known word.
    Known,
}

fn sense(word: &str) -> Option<Sense> {
    let in_list = |list: &[&str]| list.contains(&word);
    if in_list(FIRM_REJECTIONS) {
        Some(Sense::Firm)
    } else if in_list(NEGATIONS) || in_list(CANCELLATIONS) {
        Some(Sense::Negation)
    } else if in_list(DOUBTS) {
        Some(Sense::Doubt)
    } else if let Some(n) = ordinal_word(word) {
        Some(Sense::Ordinal(n))
    } else if let Some(n) = number_word(word) {
        Some(Sense::Number(n))
    } else if let Some(d) = weekday_word(word) {
        Some(Sense::Weekday(d))
    } else if let Some(m) = month_word(word) {
        Some(Sense::Month(m))
    } else if [
        AFFIRMATIONS,
        CHOICE_WORDS,
        REJECTION_WORDS,
        VERDICT_VERBS,
        VERDICTS,
        CONTEXT_WORDS,
    ]
    .iter()
    .any(|list| in_list(list))
    {
        Some(Sense::Known)
    } else {
        None
    }
}

fn lexicon() -> impl Iterator<Item = &'static str> {
    let lists: [&'static [&'static str]; 10] = [
        FIRM_REJECTIONS,
        NEGATIONS,
        CANCELLATIONS,
        DOUBTS,
        AFFIRMATIONS,
        CHOICE_WORDS,
        REJECTION_WORDS,
        VERDICT_VERBS,
        VERDICTS,
        CONTEXT_WORDS,
    ];
    let tables: [&'static [(&'static str, u32)]; 4] = [ORDINALS, NUMBER_WORDS, WEEKDAYS, MONTHS];
    lists
        .into_iter()
        .flat_map(|list| list.iter().copied())
        .chain(
            tables
                .into_iter()
                .flat_map(|table| table.iter().map(|&(w, _)| w)),
        )
}

/// Shortest word that typo tolerance reaches: shorter words are too close to each other
/// ("dos"/"das", "ni"/"si") for one edit to say which was meant.
const MIN_TYPO_LENGTH: usize = 5;

/// The known word a patient meant by `token`: itself when known; else the word with
/// repeated letters collapsed ("noooo", "siii"); else the known word of five letters or
/// more one edit away ("segnda", "opcoin"). A negation or rejection within reach wins
/// over any other reading ("nunka" is "nunca"), and readings that disagree cancel out.
pub(super) fn spelling(token: &str) -> Option<&'static str> {
    if token.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if let Some(word) = lexicon().find(|&w| w == token) {
        return Some(word);
    }
    let collapsed = collapse_repeats(token);
    if let Some(word) = lexicon().find(|&w| w == collapsed) {
        return Some(word);
    }
    if token.chars().count() < MIN_TYPO_LENGTH - 1 {
        return None;
    }
    let near: Vec<&'static str> = lexicon()
        .filter(|w| w.len() >= MIN_TYPO_LENGTH && within_one_edit(token, w))
        .collect();
    let senses: Vec<Sense> = near.iter().filter_map(|w| sense(w)).collect();
    for veto in [Sense::Firm, Sense::Negation, Sense::Doubt] {
        if let Some(i) = senses.iter().position(|&s| s == veto) {
            return near.get(i).copied();
        }
    }
    // A shorter token only reaches a longer word by one missing letter; both must be long.
    let first = *senses.first()?;
    if token.chars().count() >= MIN_TYPO_LENGTH && senses.iter().all(|&s| s == first) {
        near.first().copied()
    } else {
        None
    }
}

/// "noooo" → "no", "siii" → "si", "segunnda" → "segunda".
fn collapse_repeats(token: &str) -> String {
    let mut out = String::with_capacity(token.len());
    for c in token.chars() {
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

/// At most one insertion, deletion, substitution or swap of neighbours apart.
fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    match long.len() - short.len() {
        0 => {
            let diffs: Vec<usize> = (0..short.len()).filter(|&i| short[i] != long[i]).collect();
            match diffs.as_slice() {
                [] | [_] => true,
                &[i, j] => j == i + 1 && short.get(i) == long.get(j) && short.get(j) == long.get(i),
                _ => false,
            }
        }
        1 => {
            let split = (0..short.len())
                .find(|&i| short[i] != long[i])
                .unwrap_or(short.len());
            short[split..] == long[split + 1..]
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_reach_the_word_meant_and_negations_first() {
        let cases = [
            ("segnda", Some("segunda")),
            ("opcoin", Some("opcion")),
            ("primra", Some("primera")),
            ("noooo", Some("no")),
            ("siii", Some("si")),
            ("nunka", Some("nunca")),
            ("nuca", Some("nunca")),
            ("tampocp", Some("tampoco")),
            ("ningnuo", Some("ninguno")),
            ("jamass", Some("jamas")),
            ("canecl", Some("cancel")),
            // Too short to guess, or nothing near.
            ("dso", None),
            ("asdf", None),
            ("12", None),
            ("doctor", None),
        ];
        for (typed, meant) in cases {
            assert_eq!(spelling(typed), meant, "{typed:?}");
        }
    }

    #[test]
    fn one_edit_means_one() {
        assert!(within_one_edit("abc", "abc"));
        assert!(within_one_edit("abc", "abd"));
        assert!(within_one_edit("abc", "acb"));
        assert!(within_one_edit("abc", "abcd"));
        assert!(within_one_edit("abc", "xabc"));
        assert!(!within_one_edit("abc", "bca"));
        assert!(!within_one_edit("abc", "abcde"));
        assert!(!within_one_edit("abcd", "badc"));
    }

    #[test]
    fn no_word_is_both_allowed_and_vetoed() {
        for word in lexicon() {
            let vetoed =
                FIRM_REJECTIONS.contains(&word) || is_negation(word) || DOUBTS.contains(&word);
            let allowed = CHOICE_WORDS.contains(&word)
                || AFFIRMATIONS.contains(&word)
                || VERDICTS.contains(&word);
            assert!(!(vetoed && allowed), "{word:?} is both");
        }
    }
}
