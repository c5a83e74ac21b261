//! From the patient's characters to words: what writing counts as plain, accent and case
//! folding, tokens, and the numbers inside them.

use super::words;

/// Emoji that approve ("la 2 👍"); any other emoji makes the answer unclear ("1 👎", "1 🤔").
const APPROVING_EMOJI: &[char] = &[
    '👍', '👌', '🙏', '🙌', '👏', '😊', '🙂', '😀', '😃', '😄', '😁', '☺', '✅', '✔',
];

/// Whether the answer is written like a plain choice: letters, digits, spaces, light
/// punctuation ("2.", "#2", "(3)", "sí, la 1!"), a keycap ("1️⃣") or an approving emoji.
/// Questions ("?"), markup and code (`<`, `{`, `*`, `=`, `"`…), signs and ranges on numbers
/// ("-1", "+1", "1-2", "1/2"), hesitation ("2...", "2…") and sad faces are not.
/// A dash with spaces on both sides is a separator ("la 2 - gracias").
pub(super) fn plain_characters(text: &str) -> bool {
    if text.contains("..") || text.contains(":(") {
        return false;
    }
    let chars: Vec<char> = text.chars().collect();
    chars.iter().enumerate().all(|(i, &c)| match c {
        '.' | ',' | '!' | '¡' | '#' | '(' | ')' | ':' | '\'' | '’' | '´' => true,
        '-' | '–' | '—' => {
            let spaced = |j: Option<usize>| {
                j.and_then(|j| chars.get(j))
                    .is_some_and(|c| c.is_whitespace())
            };
            spaced(i.checked_sub(1)) && spaced(i.checked_add(1))
        }
        // Emoji variation selector, keycap, skin tones.
        '\u{FE0F}' | '\u{20E3}' | '\u{1F3FB}'..='\u{1F3FF}' => true,
        c if c.is_whitespace() || APPROVING_EMOJI.contains(&c) => true,
        c => c.to_lowercase().all(|l| fold_accent(l).is_some()),
    })
}

/// The looser rule for the names after an echoed offer line's " - ": names may hold
/// hyphens, dots, "&", "/" and any script, but never a question or markup.
pub(super) fn plain_names(text: &str) -> bool {
    !text.chars().any(|c| {
        matches!(
            c,
            '?' | '¿'
                | '<'
                | '>'
                | '{'
                | '}'
                | '['
                | ']'
                | '`'
                | '='
                | ';'
                | '\\'
                | '|'
                | '*'
                | '$'
                | '%'
                | '^'
                | '@'
                | '"'
                | '~'
        ) || c.is_control()
    })
}

/// Splits an echoed offer line at its first spaced dash: the date and time before it, the
/// practitioner and location names after it.
pub(super) fn split_names(text: &str) -> Option<(&str, &str)> {
    [" - ", " – ", " — "]
        .iter()
        .filter_map(|dash| text.find(dash).map(|at| (at, dash.len())))
        .min()
        .map(|(at, len)| (&text[..at], &text[at + len..]))
}

/// Lowercases, strips accents and reduces punctuation to spaces, keeping what numbers need:
/// `10:30` stays, `10.30` becomes `10:30`, `o'clock` becomes `oclock`, `1º` becomes `1o`,
/// `nº` becomes `numero`.
pub(super) fn normalize(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let before = |k: usize| i.checked_sub(k).and_then(|j| chars.get(j)).copied();
        let digit_before = before(1).is_some_and(|b| b.is_ascii_digit());
        let digit_after = chars.get(i + 1).is_some_and(char::is_ascii_digit);
        let word_start_n =
            matches!(before(1), Some('n' | 'N')) && !before(2).is_some_and(char::is_alphanumeric);
        match c {
            ':' | '.' | 'h' | 'H' if digit_before && digit_after => out.push(':'),
            // "nº 2" is "número 2", not "no 2".
            'º' | '°' if word_start_n => out.push_str("umero"),
            '\'' | '’' | '`' | '´' => {}
            _ => {
                for lower in c.to_lowercase() {
                    match fold_accent(lower) {
                        Some(folded) => out.push(folded),
                        None => out.push(' '),
                    }
                }
            }
        }
    }
    out
}

/// The plain letter or digit a character stands for, or `None` for anything else.
fn fold_accent(c: char) -> Option<char> {
    let folded = match c {
        'a'..='z' | '0'..='9' => c,
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ª' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'º' | '°' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        'ñ' => 'n',
        'ç' => 'c',
        _ => return None,
    };
    Some(folded)
}

/// Beyond this many words typos are not guessed: such a message is no plain choice, and
/// guessing costs a scan of the vocabulary per word.
const MAX_CORRECTED_WORDS: usize = 64;

/// Splits on spaces, rejoins what punctuation split apart ("a. m." → "am", "o clock" →
/// "oclock") and, when `correct` is set, reads small typos as the word meant
/// ([`words::spelling`]).
pub(super) fn tokenize(normalized: &str, correct: bool) -> Vec<&str> {
    let raw: Vec<&str> = normalized.split_whitespace().collect();
    let correct = correct && raw.len() <= MAX_CORRECTED_WORDS;
    let mut tokens = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&token) = raw.get(i) {
        let next = raw.get(i + 1).copied();
        let joined = match (token, next) {
            ("a", Some("m")) => Some("am"),
            ("p", Some("m")) => Some("pm"),
            ("o", Some("clock")) => Some("oclock"),
            _ => None,
        };
        match joined {
            Some(word) => {
                tokens.push(word);
                i += 2;
            }
            None => {
                let spelled = if correct {
                    words::spelling(token)
                } else {
                    None
                };
                tokens.push(spelled.unwrap_or(token));
                i += 1;
            }
        }
    }
    tokens
}

/// A token that starts with digits: "2", "10:30", "2pm", "3rd", "14h".
#[derive(Debug, Clone, Copy)]
pub(super) struct Numeral<'a> {
    pub value: u32,
    pub minute: Option<u32>,
    pub suffix: &'a str,
}

pub(super) fn numeral(token: &str) -> Option<Numeral<'_>> {
    let digits_end = token
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(token.len());
    if digits_end == 0 {
        return None;
    }
    let (digits, rest) = token.split_at(digits_end);
    let (minute, suffix) = match rest.strip_prefix(':') {
        Some(after) => {
            let minute_end = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            let (minute_digits, suffix) = after.split_at(minute_end);
            if minute_digits.len() != 2 {
                return None;
            }
            (Some(small_number(minute_digits)), suffix)
        }
        None => (None, rest),
    };
    if !suffix.chars().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    Some(Numeral {
        value: small_number(digits),
        minute,
        suffix,
    })
}

/// Parses digits, saturating far beyond any option number or hour.
fn small_number(digits: &str) -> u32 {
    digits.parse::<u32>().unwrap_or(u32::MAX)
}

/// Whether `suffix` makes `n` an ordinal: "1st", "2nd", "3rd", "4th", and Spanish "1º",
/// "1ª", "1ro", "1er", "2da", "3ra", "4to", "7mo", "8vo", "9no"… but not "1no" or "2th".
pub(super) fn ordinal_suffix(n: u32, suffix: &str) -> bool {
    let english = match (n % 100, n % 10) {
        (11..=13, _) => "th",
        (_, 1) => "st",
        (_, 2) => "nd",
        (_, 3) => "rd",
        _ => "th",
    };
    let spanish: &[&str] = match n {
        1 | 3 => &["ro", "ra", "er", "era", "ero"],
        2 => &["do", "da"],
        4..=6 => &["to", "ta"],
        7 | 10 => &["mo", "ma"],
        8 => &["vo", "va"],
        9 => &["no", "na"],
        _ => &[],
    };
    matches!(suffix, "o" | "a") || suffix == english || spanish.contains(&suffix)
}
