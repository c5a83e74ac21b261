//! Understanding a patient's free-text answer to a list of offered slots.
//!
//! Patients answer "2", "la segunda", "the 10am one", "a las 3 de la tarde" or
//! "ninguno". The parser errs on the side of asking again: booking the wrong slot
//! costs far more than one more message, so anything contradictory or ambiguous
//! yields [`Selection::Clarify`].

use chrono::{Datelike, NaiveDateTime, Timelike};

/// What the patient's answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// The 1-based option number the patient chose (always within the offered list).
    Chosen(usize),
    /// None of the offers suits the patient: offer the next best ones.
    Rejected,
    /// The answer was ambiguous or not understood: ask again.
    Clarify,
}

/// Interprets `text` against the offered slots' local wall-clock starts
/// (`offered[i]` is option `i + 1`), in English or Spanish, ignoring case and accents.
pub fn parse_selection(text: &str, offered: &[NaiveDateTime]) -> Selection {
    let normalized = normalize(text);
    let tokens = tokenize(&normalized);
    let signals = Signals::read(&tokens, offered.len());
    signals.resolve(offered)
}

/// Morning or afternoon, from "am"/"pm" or from words like "de la tarde".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meridiem {
    Am,
    Pm,
}

/// A time of day as the patient wrote it; minutes are `None` when not given ("a las 3").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SpokenTime {
    hour: u32,
    minute: Option<u32>,
    meridiem: Option<Meridiem>,
}

impl SpokenTime {
    /// The 24-hour clock hours this could mean ("3" is 03:00 or 15:00).
    fn hours(&self, period: Option<Meridiem>) -> [Option<u32>; 2] {
        let h = self.hour;
        if h > 23 {
            return [None, None];
        }
        // An explicit "am"/"pm" on the number wins over a period word elsewhere.
        match self.meridiem.or(period) {
            Some(Meridiem::Am) => match h {
                12 => [Some(0), None],
                0..=11 => [Some(h), None],
                _ => [None, None],
            },
            Some(Meridiem::Pm) => match h {
                1..=11 => [Some(h + 12), None],
                // "15h de la tarde" is just 15:00.
                12..=23 => [Some(h), None],
                _ => [None, None],
            },
            None => match h {
                1..=11 => [Some(h), Some(h + 12)],
                _ => [Some(h), None],
            },
        }
    }

    fn matches(&self, start: &NaiveDateTime, period: Option<Meridiem>, any_minute: bool) -> bool {
        let minute_ok = any_minute || start.minute() == self.minute.unwrap_or(0);
        minute_ok && self.hours(period).contains(&Some(start.hour()))
    }
}

/// Lowercases, strips accents and reduces punctuation to spaces, keeping what numbers need:
/// `10:30` stays, `10.30` becomes `10:30`, `o'clock` becomes `oclock`, `1º` becomes `1o`.
fn normalize(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let digit_before = i > 0 && chars.get(i - 1).is_some_and(char::is_ascii_digit);
        let digit_after = chars.get(i + 1).is_some_and(char::is_ascii_digit);
        match c {
            ':' | '.' | 'h' | 'H' if digit_before && digit_after => out.push(':'),
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

/// Splits on spaces and rejoins what punctuation split apart: "a. m." → "am", "o clock" → "oclock".
fn tokenize(normalized: &str) -> Vec<&str> {
    let raw: Vec<&str> = normalized.split_whitespace().collect();
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
                tokens.push(token);
                i += 1;
            }
        }
    }
    tokens
}

/// A token that starts with digits: "2", "10:30", "2pm", "3rd", "14h".
#[derive(Debug, Clone, Copy)]
struct Numeral<'a> {
    value: u32,
    minute: Option<u32>,
    suffix: &'a str,
}

fn numeral(token: &str) -> Option<Numeral<'_>> {
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

const ORDINAL_SUFFIXES: &[&str] = &[
    "st", "nd", "rd", "th", "o", "a", "ro", "ra", "do", "da", "er", "to", "ta", "vo", "va", "mo",
    "ma", "no", "na",
];
const HOUR_WORDS: &[&str] = &["h", "hs", "hr", "hrs", "hora", "horas", "hours", "oclock"];

fn ordinal_word(token: &str) -> Option<u32> {
    let n = match token {
        "first" | "primero" | "primera" | "primer" => 1,
        "second" | "segundo" | "segunda" => 2,
        "third" | "tercero" | "tercera" | "tercer" => 3,
        "fourth" | "cuarto" | "cuarta" => 4,
        "fifth" | "quinto" | "quinta" => 5,
        "sixth" | "sexto" | "sexta" => 6,
        "seventh" | "septimo" | "septima" | "setimo" | "setima" => 7,
        "eighth" | "octavo" | "octava" => 8,
        "ninth" | "noveno" | "novena" => 9,
        "tenth" | "decimo" | "decima" => 10,
        _ => return None,
    };
    Some(n)
}

/// Cardinal number words. "once" (Spanish 11) and "un"/"una" (also articles) only count
/// where a time is clearly meant, see [`Signals::read`].
fn number_word(token: &str) -> Option<u32> {
    let n = match token {
        "one" | "uno" | "una" | "un" => 1,
        "two" | "dos" => 2,
        "three" | "tres" => 3,
        "four" | "cuatro" => 4,
        "five" | "cinco" => 5,
        "six" | "seis" => 6,
        "seven" | "siete" => 7,
        "eight" | "ocho" => 8,
        "nine" | "nueve" => 9,
        "ten" | "diez" => 10,
        "eleven" | "once" => 11,
        "twelve" | "doce" => 12,
        _ => return None,
    };
    Some(n)
}

fn weekday_word(token: &str) -> Option<u32> {
    let day = match token {
        "monday" | "mon" | "lunes" => 0,
        "tuesday" | "tue" | "tues" | "martes" => 1,
        "wednesday" | "wed" | "miercoles" => 2,
        "thursday" | "thu" | "thur" | "thurs" | "jueves" => 3,
        "friday" | "fri" | "viernes" => 4,
        "saturday" | "sat" | "sabado" => 5,
        "sunday" | "sun" | "domingo" => 6,
        _ => return None,
    };
    Some(day)
}

fn month_word(token: &str) -> Option<u32> {
    let month = match token {
        "january" | "jan" | "enero" | "ene" => 1,
        "february" | "feb" | "febrero" => 2,
        "march" | "mar" | "marzo" => 3,
        "april" | "apr" | "abril" | "abr" => 4,
        "may" | "mayo" => 5,
        "june" | "jun" | "junio" => 6,
        "july" | "jul" | "julio" => 7,
        "august" | "aug" | "agosto" | "ago" => 8,
        "september" | "sep" | "sept" | "septiembre" | "setiembre" => 9,
        "october" | "oct" | "octubre" => 10,
        "november" | "nov" | "noviembre" => 11,
        "december" | "dec" | "diciembre" | "dic" => 12,
        _ => return None,
    };
    Some(month)
}

/// Words that mean "none of these" whatever else the message says.
const FIRM_REJECTIONS: &[&str] = &[
    "none", "neither", "nope", "nah", "nothing", "ninguno", "ninguna", "ningun", "nada",
];
/// Words that lean towards "something else" but may come with a choice ("no, the second"):
/// alone they reject; with a choice they make the answer ambiguous.
const SOFT_REJECTIONS: &[&str] = &[
    "no",
    "not",
    "other",
    "others",
    "another",
    "different",
    "else",
    "more",
    "later",
    "otro",
    "otros",
    "otra",
    "otras",
    "diferente",
    "diferentes",
    "distinto",
    "distinta",
    "mas",
];
/// "Yes" on its own picks the only option when there is exactly one.
const AFFIRMATIONS: &[&str] = &[
    "yes", "yeah", "yep", "ok", "okay", "sure", "confirm", "si", "vale", "dale", "claro",
    "perfecto", "listo", "confirmo",
];
/// Words after which a bare number is a clock time ("at 3", "a las 3").
const TIME_PREFIXES: &[&str] = &["at", "around", "las", "about"];
/// Words after which "one" is an option number ("option one"), not filler ("the first one").
const ONE_AS_NUMBER_AFTER: &[&str] = &["option", "number", "choice", "slot", "opcion", "numero"];

/// Everything the answer says, before deciding what it means.
#[derive(Debug, Default)]
struct Signals {
    indices: Vec<u32>,
    times: Vec<SpokenTime>,
    weekday: Option<u32>,
    month: Option<u32>,
    day_of_month: Option<u32>,
    period: Option<Meridiem>,
    /// Another period word disagreeing with `period` ("morning… tarde").
    conflicting_period: bool,
    conflicting_dates: bool,
    firm_rejection: bool,
    soft_rejection: bool,
    affirmation: bool,
}

impl Signals {
    fn read(tokens: &[&str], offered: usize) -> Self {
        let mut signals = Self::default();
        let at = |i: usize| tokens.get(i).copied();
        let prev = |i: usize| i.checked_sub(1).and_then(|j| tokens.get(j)).copied();
        let mut skip_until = 0;
        for (i, &token) in tokens.iter().enumerate() {
            if i < skip_until {
                continue;
            }
            let before = prev(i);
            let after = at(i + 1);

            // Day-period words: "de la tarde", "in the morning", "pm" standing alone.
            if let Some(period) = period_word(token, before) {
                signals.set_period(period);
                continue;
            }
            if FIRM_REJECTIONS.contains(&token) {
                signals.firm_rejection = true;
                continue;
            }
            if SOFT_REJECTIONS.contains(&token) {
                signals.soft_rejection = true;
                continue;
            }
            if AFFIRMATIONS.contains(&token) {
                signals.affirmation = true;
                continue;
            }
            if let Some(day) = weekday_word(token) {
                signals.conflicting_dates |= signals.weekday.is_some_and(|d| d != day);
                signals.weekday = Some(day);
                continue;
            }
            // A month name alone ("may I…") says nothing; with a number it dates the slot (below).
            if month_word(token).is_some() {
                continue;
            }
            if matches!(token, "noon" | "mediodia") {
                signals.times.push(SpokenTime {
                    hour: 12,
                    minute: Some(0),
                    meridiem: Some(Meridiem::Pm),
                });
                continue;
            }
            if matches!(token, "midnight" | "medianoche") {
                signals.times.push(SpokenTime {
                    hour: 0,
                    minute: Some(0),
                    meridiem: None,
                });
                continue;
            }
            if matches!(token, "last" | "ultimo" | "ultima") {
                signals
                    .indices
                    .push(u32::try_from(offered).unwrap_or(u32::MAX));
                continue;
            }
            if let Some(n) = ordinal_word(token) {
                // "y cuarto" is a quarter past the hour, handled with the time before it.
                if !(token == "cuarto" && before == Some("y")) {
                    signals.indices.push(n);
                }
                continue;
            }

            let (value, minute, suffix, is_word) = if let Some(numeral) = numeral(token) {
                (numeral.value, numeral.minute, numeral.suffix, false)
            } else if let Some(n) = number_word(token) {
                (n, None, "", true)
            } else {
                continue;
            };

            // A number next to a month is a day of the month: "Dec 7", "7 de dic".
            let month_after = match (after, at(i + 2)) {
                (Some("de"), Some(word)) => month_word(word),
                (Some(word), _) => month_word(word),
                _ => None,
            };
            if !is_word && suffix.is_empty() && minute.is_none() {
                let month_before = before.and_then(month_word);
                if let Some(month) = month_after.or(month_before) {
                    signals.conflicting_dates |= signals.day_of_month.is_some_and(|d| d != value)
                        || signals.month.is_some_and(|m| m != month);
                    signals.day_of_month = Some(value);
                    signals.month = Some(month);
                    if month_after.is_some() {
                        skip_until = i + if after == Some("de") { 3 } else { 2 };
                    }
                    continue;
                }
            }

            // Explicit clock markers on the token itself or right after it.
            let suffix_meridiem = match suffix {
                "am" => Some(Meridiem::Am),
                "pm" => Some(Meridiem::Pm),
                _ => None,
            };
            let next_meridiem = match after {
                Some("am") => Some(Meridiem::Am),
                Some("pm") => Some(Meridiem::Pm),
                _ => None,
            };
            let period_after = period_phrase_at(tokens, i + 1);
            let half_or_quarter = match (after, at(i + 2)) {
                (Some("y"), Some("media")) => Some(30),
                (Some("y"), Some("cuarto")) => Some(15),
                (Some("y"), Some(word)) => numeral(word)
                    .filter(|n| n.suffix.is_empty() && n.minute.is_none() && n.value < 60)
                    .map(|n| n.value),
                _ => None,
            };
            // "a la una", "la de la 1": but a plain "la 2" is option two.
            let time_prefix = before.is_some_and(|b| TIME_PREFIXES.contains(&b))
                || (before == Some("la") && i >= 1 && matches!(prev(i - 1), Some("a" | "de")));
            let time_marker = minute.is_some()
                || suffix_meridiem.is_some()
                || HOUR_WORDS.contains(&suffix)
                || next_meridiem.is_some()
                || after.is_some_and(|a| HOUR_WORDS.contains(&a))
                || period_after.is_some()
                || half_or_quarter.is_some();

            if time_marker || time_prefix {
                let minute = minute.or(half_or_quarter);
                if half_or_quarter.is_some() {
                    skip_until = i + 3;
                } else if next_meridiem.is_some() {
                    skip_until = i + 2;
                }
                if let Some(period) = period_after {
                    signals.set_period(period);
                }
                signals.times.push(SpokenTime {
                    hour: value,
                    minute,
                    meridiem: suffix_meridiem.or(next_meridiem),
                });
                continue;
            }

            if !is_word {
                if suffix.is_empty() || ORDINAL_SUFFIXES.contains(&suffix) {
                    signals.indices.push(value);
                }
                // Anything else ("2x", "3kg") is not an answer to the question.
                continue;
            }
            // Bare number words: "two", "dos". "one" is filler in "the first one";
            // "once", "un" and "una" are ordinary words outside a time.
            match token {
                "one" if before.is_some_and(|b| !ONE_AS_NUMBER_AFTER.contains(&b)) => {}
                "once" | "un" | "una" => {}
                _ => signals.indices.push(value),
            }
        }
        signals
    }

    fn set_period(&mut self, period: Meridiem) {
        self.conflicting_period |= self.period.is_some_and(|p| p != period);
        self.period = Some(period);
    }

    fn resolve(&self, offered: &[NaiveDateTime]) -> Selection {
        if self.firm_rejection {
            return Selection::Rejected;
        }
        let has_time = !self.times.is_empty();
        let has_filter = self.weekday.is_some()
            || self.month.is_some()
            || self.day_of_month.is_some()
            || self.period.is_some();
        let has_choice = !self.indices.is_empty() || has_time || has_filter;
        if self.soft_rejection {
            return if has_choice {
                Selection::Clarify
            } else {
                Selection::Rejected
            };
        }
        if self.conflicting_period || self.conflicting_dates {
            return Selection::Clarify;
        }

        let mut indices = self.indices.clone();
        indices.sort_unstable();
        indices.dedup();
        let mut times = self.times.clone();
        times.dedup();
        if indices.len() > 1 || times.len() > 1 {
            return Selection::Clarify;
        }

        // Options consistent with every date, period and time detail the patient gave.
        let time = times.first();
        let fits = |start: &NaiveDateTime, any_minute: bool| {
            self.weekday
                .is_none_or(|d| start.weekday().num_days_from_monday() == d)
                && self.month.is_none_or(|m| start.month() == m)
                && self.day_of_month.is_none_or(|d| start.day() == d)
                && match time {
                    Some(t) => t.matches(start, self.period, any_minute),
                    None => self
                        .period
                        .is_none_or(|p| (p == Meridiem::Pm) == (start.hour() >= 12)),
                }
        };
        let mut fitting: Vec<usize> = (1..=offered.len())
            .filter(|&i| offered.get(i - 1).is_some_and(|s| fits(s, false)))
            .collect();
        // "a las 3" with only 15:30 on offer: the hour alone is what the patient meant.
        if fitting.is_empty() && time.is_some_and(|t| t.minute.is_none()) {
            fitting = (1..=offered.len())
                .filter(|&i| offered.get(i - 1).is_some_and(|s| fits(s, true)))
                .collect();
        }

        match indices.first() {
            Some(&index) => {
                let index = index as usize;
                let in_range = (1..=offered.len()).contains(&index);
                let consistent = !(has_time || has_filter) || fitting.contains(&index);
                if in_range && consistent {
                    Selection::Chosen(index)
                } else {
                    Selection::Clarify
                }
            }
            None if has_time || has_filter => match fitting.as_slice() {
                [only] => Selection::Chosen(*only),
                _ => Selection::Clarify,
            },
            None if self.affirmation && offered.len() == 1 => Selection::Chosen(1),
            None => Selection::Clarify,
        }
    }
}

/// A day-period word standing on its own: "pm", "morning", "tarde" after "la".
fn period_word(token: &str, before: Option<&str>) -> Option<Meridiem> {
    match token {
        "am" | "morning" => Some(Meridiem::Am),
        "pm" | "afternoon" | "evening" | "tonight" | "night" => Some(Meridiem::Pm),
        // Bare "mañana" is "tomorrow" and bare "tarde" is "late": only "la mañana" is a period.
        "manana" if before == Some("la") => Some(Meridiem::Am),
        "tarde" | "noche" if before == Some("la") => Some(Meridiem::Pm),
        _ => None,
    }
}

/// A day-period phrase starting at `i`: "de la tarde", "en la manana", "in the morning".
fn period_phrase_at(tokens: &[&str], i: usize) -> Option<Meridiem> {
    let word = |k: usize| tokens.get(i + k).copied();
    match (word(0), word(1), word(2)) {
        (Some("de" | "en" | "por" | "in"), Some("la" | "the"), Some(w)) => {
            period_word(w, Some("la"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
