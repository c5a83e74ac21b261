//! Understanding a patient's free-text answer to a list of offered slots.
//!
//! Patients answer "2", "la segunda", "the 10am one", "a las 3 de la tarde" or
//! "ninguno". Booking the wrong slot costs far more than one more message, so only a
//! plain choice books; everything else asks again. The rules, as a class rather than a
//! list of phrases:
//!
//! 1. **A rejection word anywhere** ("ninguno", "none", "neither", "nada") turns the whole
//!    list down: [`Selection::Rejected`], whatever else the message says.
//! 2. **A negation anywhere vetoes a choice.** "no", "not", "never", "don't", "can't",
//!    "cancel", "except", "other", "nunca", "jamás", "tampoco", "ni", "sin", "pero",
//!    "otro", "más"… ([`words::NEGATIONS`], [`words::CANCELLATIONS`]). With a number, day
//!    or time the answer is ambiguous ("I can't do 1", "el 1 tampoco", "no puedo el
//!    lunes"): Clarify. Alone, in words a rejection may use ("otro horario", "no me
//!    sirve", "different times"): Rejected; "cancel" alone asks again.
//! 3. **Every other word must be a choice word.** Around the number, day or time only an
//!    allow-list may appear ([`words::CHOICE_WORDS`]: articles, "option", "quiero", "I'll
//!    take", "me sirve", "por favor", "ok", greetings). A stranger ("is", "too", "early",
//!    "doctor", "alert", "and", "o") makes the answer Clarify: unknown is never read as
//!    yes. "is"/"es"/"está" count only before a verdict ("2 is fine", "la 2 está bien"),
//!    so "is 1 in the morning" asks again.
//! 4. **Plain writing only** ([`text::plain_characters`]): a question mark, markup or code
//!    characters, a sign or range on a number ("-1", "1-2", "1/2", "1.5"), hesitation
//!    ("2...") or an emoji other than a keycap or an approving one ask again.
//! 5. **One choice, in the offer.** Two numbers or times ("1 o 2", "1 and 2"), a number
//!    outside the offer ("6", "100"), or a number, day or time that disagree ask again.
//!
//! An offer line echoed back ("Monday, Dec 7 at 10:00 AM - Dr. Ana Gómez at Sede Norte")
//! is a choice: when the part before " - " is a complete date and time, the names after it
//! are read only for rejections and negations.
//!
//! Case and accents are ignored, and small typos forgiven: a word one edit away from a
//! known word of five letters or more reads as that word, and as a negation first when
//! one is within reach ("nunka" is "nunca"), so a misspelt refusal never books.

mod earlier;
mod text;
mod words;

pub use earlier::asks_for_earlier;

use chrono::{Datelike, NaiveDateTime, Timelike};

use text::{
    normalize, numeral, ordinal_suffix, plain_characters, plain_names, split_names, tokenize,
};
use words::{
    AFFIRMATIONS, CANCELLATIONS, CHOICE_WORDS, DOUBTS, FIRM_REJECTIONS, REJECTION_WORDS,
    VERDICT_VERBS, VERDICTS, greeting, is_negation, month_word, number_word, ordinal_word,
    weekday_word,
};

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
    if let Some(chosen) = echoed_offer_line(text, offered) {
        return chosen;
    }
    let normalized = normalize(text);
    let tokens = tokenize(&normalized, true);
    if tokens.iter().any(|t| FIRM_REJECTIONS.contains(t)) {
        return Selection::Rejected;
    }
    let signals = Signals::read(&tokens, offered.len());
    if tokens.iter().any(|t| is_negation(t)) {
        // Turning the list down needs nothing but words a rejection uses; a question
        // mark is fine there ("¿otro horario?"): offering more times is harmless.
        let cancelling = tokens.iter().any(|t| CANCELLATIONS.contains(t));
        return if signals.has_choice() || signals.strangers > 0 || cancelling {
            Selection::Clarify
        } else {
            Selection::Rejected
        };
    }
    if !plain_characters(text) || signals.strangers > 0 || signals.rejection_words > 0 {
        return Selection::Clarify;
    }
    signals.resolve(offered)
}

/// The option an echoed offer line names: a complete date and time, a spaced dash, then
/// the practitioner's and location's names (which may hold any word, so they are only
/// checked for rejections and negations, exactly spelt). `None` when the text is not such
/// a line, so the ordinary rules decide.
fn echoed_offer_line(text: &str, offered: &[NaiveDateTime]) -> Option<Selection> {
    let (head, names) = split_names(text)?;
    if !plain_characters(head) || !plain_names(names) {
        return None;
    }
    let normalized_names = normalize(names);
    let vetoed = tokenize(&normalized_names, false)
        .iter()
        .any(|t| FIRM_REJECTIONS.contains(t) || is_negation(t) || DOUBTS.contains(t));
    let normalized = normalize(head);
    let tokens = tokenize(&normalized, true);
    let signals = Signals::read(&tokens, offered.len());
    let complete = signals.weekday.is_some()
        && signals.month.is_some()
        && signals.day_of_month.is_some()
        && signals.times.len() == 1
        && signals.indices.is_empty();
    let clean = signals.strangers == 0
        && signals.rejection_words == 0
        && !tokens
            .iter()
            .any(|t| FIRM_REJECTIONS.contains(t) || is_negation(t));
    if vetoed || !complete || !clean {
        return None;
    }
    match signals.resolve(offered) {
        chosen @ Selection::Chosen(_) => Some(chosen),
        _ => None,
    }
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

/// Words after which a bare number is a clock time ("at 3", "a las 3").
const TIME_PREFIXES: &[&str] = &["at", "around", "las", "about"];
/// Words after which "one" is an option number ("option one"), not filler ("the first one").
const ONE_AS_NUMBER_AFTER: &[&str] = &["option", "number", "choice", "slot", "opcion", "numero"];
/// Clock words right after a number: "14 h", "a las 14 horas", "3 o'clock".
const HOUR_WORDS: &[&str] = &["h", "hs", "hr", "hrs", "hora", "horas", "oclock"];
/// What "would" may come before in a choice: "I would like 2".
const WOULD_WHAT: &[&str] = &["like", "love", "prefer", "take", "choose", "go"];

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
    affirmation: bool,
    /// Words the parser does not know, or knows only as doubt: never part of a choice.
    strangers: usize,
    /// Words only a rejection uses ("times", "fecha", "in 2 days"): not part of a choice.
    rejection_words: usize,
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

            // "good morning", "buenas tardes": greetings, not a period of the day.
            if greeting(token, after) {
                skip_until = i + 2;
                continue;
            }
            // Day-period words: "de la tarde", "in the morning", "pm" standing alone.
            if let Some(period) = period_word(token, before) {
                signals.set_period(period);
                continue;
            }
            // Rejections and negations are judged on the whole text by the caller.
            if FIRM_REJECTIONS.contains(&token) || is_negation(token) {
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
            // A month names a date only next to a day ("Dec 7", "7 de dic", below);
            // alone ("may I…") it is an ordinary word.
            if month_word(token).is_some() {
                let dates_a_day = after
                    .and_then(numeral)
                    .is_some_and(|n| n.suffix.is_empty() && n.minute.is_none());
                if !dates_a_day {
                    signals.strangers += 1;
                }
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
                signals.count_word(token, after);
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
                if suffix.is_empty() || ordinal_suffix(value, suffix) {
                    signals.indices.push(value);
                } else {
                    // "2x", "3kg", "1no": not an answer to the question.
                    signals.strangers += 1;
                }
                continue;
            }
            // Bare number words: "two", "dos". "one" is filler in "the first one";
            // "un" and "una" are articles and "once" is English outside a time.
            match token {
                "one" if before.is_some_and(|b| !ONE_AS_NUMBER_AFTER.contains(&b)) => {}
                "un" | "una" => {}
                "once" => signals.strangers += 1,
                _ => signals.indices.push(value),
            }
        }
        signals
    }

    /// Files a word that is neither a number, a date nor a time: a choice word is fine;
    /// anything else counts against reading the answer as a choice.
    fn count_word(&mut self, word: &str, after: Option<&str>) {
        let next_is_number = after.is_some_and(|a| numeral(a).is_some());
        let choice_word = match word {
            // "in 2 days", "en 2 horas": a delay, not an option.
            "in" | "en" => !next_is_number,
            "would" => after.is_some_and(|a| WOULD_WHAT.contains(&a)),
            // Joined back after "y" in "a las 3 y media"; a stray one is no choice word.
            "y" | "media" => false,
            _ if VERDICT_VERBS.contains(&word) => after.is_some_and(|a| VERDICTS.contains(&a)),
            _ => CHOICE_WORDS.contains(&word) || VERDICTS.contains(&word),
        };
        if choice_word {
            return;
        }
        if REJECTION_WORDS.contains(&word) {
            self.rejection_words += 1;
        } else {
            self.strangers += 1;
        }
    }

    fn has_choice(&self) -> bool {
        !self.indices.is_empty()
            || !self.times.is_empty()
            || self.weekday.is_some()
            || self.month.is_some()
            || self.day_of_month.is_some()
            || self.period.is_some()
    }

    fn set_period(&mut self, period: Meridiem) {
        self.conflicting_period |= self.period.is_some_and(|p| p != period);
        self.period = Some(period);
    }

    /// The option a plain answer names, once rejections, negations and strangers are ruled out.
    fn resolve(&self, offered: &[NaiveDateTime]) -> Selection {
        if self.conflicting_period || self.conflicting_dates {
            return Selection::Clarify;
        }
        let has_time = !self.times.is_empty();
        let has_filter = self.weekday.is_some()
            || self.month.is_some()
            || self.day_of_month.is_some()
            || self.period.is_some();

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
