//! Dates as patients write them: "03/05/1985", "3-5-85", "3.5.1985", "1985-05-03",
//! "3 de mayo de 1985", "mayo 3 del 85", "May 3rd 1985", "3 May 1985", "3rd of May, 1985".
//!
//! * Numbers are day/month/year, the order written across Latin America, unless the
//!   month would be over 12 and the day is not (12/31/1985 is then month/day); a year
//!   written first (1985-05-03) is year/month/day.
//! * A two-digit year takes the century that puts the date in the past ("85" → 1985,
//!   "05" → 2005 when that has passed).
//! * A birth date is in the past (today allowed) and at most 120 years ago; 31/02 and
//!   the like do not exist. Today's date is a parameter: the rules never read a clock.

use std::{ops::Range, sync::LazyLock};

use chrono::{Datelike, NaiveDate};

use super::{
    lexicon::{LEXICON, WordId},
    text::{Kind, Text},
};

pub const MAX_AGE_YEARS: i32 = 120;

const MONTHS: [&[&str]; 12] = [
    &["enero", "january", "ene", "jan"],
    &["febrero", "february", "feb"],
    &["marzo", "march", "mar"],
    &["abril", "april", "abr", "apr"],
    &["mayo", "may", "mallo"],
    &["junio", "june", "jun"],
    &["julio", "july", "jul"],
    &["agosto", "august", "ago", "aug"],
    &["septiembre", "setiembre", "september", "sep", "sept", "set"],
    &["octubre", "october", "oct"],
    &["noviembre", "november", "nov"],
    &["diciembre", "december", "dic", "dec"],
];

/// Words that may sit between the parts of a date.
const FILLERS: &[&str] = &["de", "del", "of", "the", "el", "ano", "year", "en", "in"];

/// Words that say a date is a birth date.
pub const BIRTH_MARKERS: &[&str] = &[
    "naci",
    "nacio",
    "nacido",
    "nacida",
    "nacimiento",
    "born",
    "birth",
    "birthday",
    "dob",
    "cumpleanos",
    "cumple",
];

const ORDINAL_WORDS: &[(&str, u32)] = &[("primero", 1), ("first", 1), ("second", 2), ("third", 3)];

pub fn words(out: &mut Vec<&'static str>) {
    for names in MONTHS {
        out.extend_from_slice(names);
    }
    out.extend_from_slice(FILLERS);
    out.extend_from_slice(BIRTH_MARKERS);
    out.extend(ORDINAL_WORDS.iter().map(|(w, _)| *w));
}

struct Tables {
    months: Vec<(WordId, u32)>,
    fillers: Vec<WordId>,
    birth_markers: Vec<WordId>,
    ordinals: Vec<(WordId, u32)>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let lex = &*LEXICON;
    Tables {
        months: MONTHS
            .iter()
            .enumerate()
            .flat_map(|(m, names)| names.iter().map(move |n| (lex.id(n), m as u32 + 1)))
            .collect(),
        fillers: lex.ids(FILLERS),
        birth_markers: lex.ids(BIRTH_MARKERS),
        ordinals: ORDINAL_WORDS.iter().map(|(w, n)| (lex.id(w), *n)).collect(),
    }
});

/// A date found in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub tokens: (usize, usize),
    pub kind: FoundKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundKind {
    /// A whole, valid birth date.
    Birth(NaiveDate),
    /// Day and month without a year (a preferred day: "el 15 de junio").
    DayMonth { day: u32, month: u32 },
    /// Written like a date with a year, but not a possible birth date: 31/02, the
    /// future, over 120 years ago.
    Invalid,
}

/// Whether `range` says the date is a birth date ("nací", "born", "fecha de nacimiento").
pub fn has_birth_marker(text: &Text, range: Range<usize>) -> bool {
    text.has_any(range, &TABLES.birth_markers)
}

/// The first date written in `range`.
pub fn find(text: &Text, range: Range<usize>, today: NaiveDate) -> Option<Found> {
    let end = range.end.min(text.len());
    for i in range.start..end {
        if let Some(found) =
            numeric_at(text, i, end, today).or_else(|| worded_at(text, i, end, today))
        {
            return Some(found);
        }
    }
    None
}

/// A valid birth date written in `range`.
pub fn find_birth(
    text: &Text,
    range: Range<usize>,
    today: NaiveDate,
) -> Option<(NaiveDate, Range<usize>)> {
    match find(text, range, today)? {
        Found {
            kind: FoundKind::Birth(date),
            tokens,
        } => Some((date, tokens.0..tokens.1)),
        _ => None,
    }
}

/// "03/05/1985", "3-5-85", "1985-05-03", "3.5.85", "03051985", and without a year "15/6".
fn numeric_at(text: &Text, i: usize, end: usize, today: NaiveDate) -> Option<Found> {
    let (first, first_len) = text.digits(i)?;
    if i > 0
        && matches!(text.kind(i - 1), Kind::Punct('/' | '-' | '.' | ':'))
        && i >= 2
        && text.number(i - 2).is_some()
    {
        // Inside a date or time already rejected from its start.
        return None;
    }
    // Separators: "/", "-", "." or the words "de"/"del" ("el 5 del 11 de 1980").
    let sep_at = |j: usize| match text.kind(j) {
        Kind::Punct(c @ ('/' | '-' | '.')) => Some(Sep::Punct(c)),
        Kind::Word if is_filler(text, j) && matches!(text.word(j), "de" | "del") => Some(Sep::Word),
        _ => None,
    };
    let sep = match sep_at(i + 1) {
        Some(sep) if i + 2 < end => sep,
        _ if first_len == 8 => {
            let (d, m, y) = (first / 1_000_000, first / 10_000 % 100, first % 10_000);
            let kind = birth(y as i32, m, d, today)
                .or_else(|| {
                    birth(
                        (first / 10_000) as i32,
                        first / 100 % 100,
                        first % 100,
                        today,
                    )
                })
                .map_or(FoundKind::Invalid, FoundKind::Birth);
            return Some(Found {
                tokens: (i, i + 1),
                kind,
            });
        }
        _ => return None,
    };
    let (second, second_len) = text.digits(i + 2)?;
    if second_len > 2 && first_len != 4 {
        return None;
    }
    let same_kind = |other: Option<Sep>| match (sep, other) {
        (Sep::Punct(a), Some(Sep::Punct(b))) => a == b,
        (Sep::Word, Some(Sep::Word)) => true,
        _ => false,
    };
    let third = (i + 4 < end && same_kind(sep_at(i + 3)))
        .then(|| text.digits(i + 4))
        .flatten();
    let Some((third, third_len)) = third else {
        // No year: a day and month, when they can be one ("15/6"); "3-5" is too vague.
        if sep != Sep::Punct('/') || first_len > 2 {
            return None;
        }
        let (day, month) = day_month_order(first, second);
        return valid_day_month(day, month).then_some(Found {
            tokens: (i, i + 3),
            kind: FoundKind::DayMonth { day, month },
        });
    };
    let tokens = (i, i + 5);
    let kind = if first_len == 4 {
        birth(first as i32, second, third, today)
    } else if first_len <= 2 && (third_len == 4 || third_len == 2) {
        let (day, month) = day_month_order(first, second);
        year_of(third, third_len, month, day, today).and_then(|y| birth(y, month, day, today))
    } else {
        return None;
    };
    Some(Found {
        tokens,
        kind: kind.map_or(FoundKind::Invalid, FoundKind::Birth),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    Punct(char),
    Word,
}

/// Day first, unless only month-first makes sense (12/31).
fn day_month_order(first: u32, second: u32) -> (u32, u32) {
    if second > 12 && first <= 12 {
        (second, first)
    } else {
        (first, second)
    }
}

fn valid_day_month(day: u32, month: u32) -> bool {
    // 2000 is a leap year: 29/02 is a day someone can prefer or be born on.
    NaiveDate::from_ymd_opt(2000, month, day).is_some()
}

/// "3 de mayo de 1985", "mayo 3 del 85", "May 3rd, 1985", "3rd of May 1985", "3 May 1985".
fn worded_at(text: &Text, i: usize, end: usize, today: NaiveDate) -> Option<Found> {
    let month = month_of(text, i)?;
    // The day: just before the month (skipping "de", "of the"), else just after it.
    let before = {
        let mut j = i;
        let mut skipped = 0;
        while j > 0 && skipped <= 2 {
            j -= 1;
            if is_filler(text, j) {
                skipped += 1;
                continue;
            }
            break;
        }
        (j < i).then(|| day_of(text, j).map(|d| (d, j))).flatten()
    };
    let (day, start, after_day) = match before {
        Some((day, j)) => (day, j, i + 1),
        None => {
            let j = skip_fillers(text, i + 1, end);
            let day = (j < end).then(|| day_of(text, j)).flatten()?;
            (day, i, j + 1)
        }
    };
    // The year: after the day and month, past "de", "del", "," or "of".
    let mut y = after_day;
    while y < end && (is_filler(text, y) || text.is_punct(y, ',') || text.is_punct(y, '\'')) {
        y += 1;
    }
    let year = (y < end)
        .then(|| text.digits(y))
        .flatten()
        .filter(|(_, len)| *len == 4 || *len == 2);
    match year {
        Some((year, len)) => {
            let kind = year_of(year, len, month, day, today)
                .and_then(|y| birth(y, month, day, today))
                .map_or(FoundKind::Invalid, FoundKind::Birth);
            Some(Found {
                tokens: (start, y + 1),
                kind,
            })
        }
        None => valid_day_month(day, month).then_some(Found {
            tokens: (start, after_day.max(i + 1)),
            kind: FoundKind::DayMonth { day, month },
        }),
    }
}

fn skip_fillers(text: &Text, mut j: usize, end: usize) -> usize {
    while j < end && (is_filler(text, j) || text.is_punct(j, ',')) {
        j += 1;
    }
    j
}

fn is_filler(text: &Text, i: usize) -> bool {
    text.id(i).is_some_and(|id| TABLES.fillers.contains(&id))
}

fn month_of(text: &Text, i: usize) -> Option<u32> {
    let id = text.id(i)?;
    let month = TABLES
        .months
        .iter()
        .find(|(m, _)| *m == id)
        .map(|(_, n)| *n)?;
    // "mar", "set", "may" alone are words too; as months they sit next to a number
    // (looked for by the caller), so only the short forms need that check here.
    Some(month)
}

/// A day of the month: "3", "03", "3rd", "1st", "3ro", "1º", "primero".
fn day_of(text: &Text, i: usize) -> Option<u32> {
    let day = match text.kind(i) {
        Kind::Number => text
            .digits(i)
            .filter(|(_, len)| *len <= 2)
            .map(|(n, _)| n)?,
        Kind::Mixed => {
            let word = text.word(i);
            let digits_end = word.find(|c: char| !c.is_ascii_digit())?;
            let (digits, suffix) = word.split_at(digits_end);
            let ordinal = matches!(
                suffix,
                "st" | "nd"
                    | "rd"
                    | "th"
                    | "ro"
                    | "do"
                    | "to"
                    | "vo"
                    | "mo"
                    | "no"
                    | "er"
                    | "ero"
                    | "o"
                    | "º"
                    | "ª"
                    | "a"
            );
            if !ordinal || digits.len() > 2 {
                return None;
            }
            digits.parse().ok()?
        }
        Kind::Word => {
            let id = text.id(i)?;
            TABLES.ordinals.iter().find(|(w, _)| *w == id)?.1
        }
        Kind::Punct(_) => return None,
    };
    (1..=31).contains(&day).then_some(day)
}

/// The full year of a written year; two digits take the century that makes the date
/// past (today counts as past).
fn year_of(year: u32, len: usize, month: u32, day: u32, today: NaiveDate) -> Option<i32> {
    if len == 4 {
        return Some(year as i32);
    }
    let this_century = today.year() / 100 * 100;
    let candidate = this_century + year as i32;
    let in_past = NaiveDate::from_ymd_opt(candidate, month, day).is_some_and(|d| d <= today)
        // 29/02 of a year that is not leap: judge by the year alone.
        || (NaiveDate::from_ymd_opt(candidate, month, day).is_none() && candidate < today.year());
    Some(if in_past { candidate } else { candidate - 100 })
}

/// A birth date: exists, not in the future, at most [`MAX_AGE_YEARS`] ago.
pub fn birth(year: i32, month: u32, day: u32, today: NaiveDate) -> Option<NaiveDate> {
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    is_plausible_birth(date, today).then_some(date)
}

pub fn is_plausible_birth(date: NaiveDate, today: NaiveDate) -> bool {
    date <= today
        && today
            .years_since(date)
            .is_some_and(|age| age <= MAX_AGE_YEARS as u32)
}

/// The next day (today or later) with this day and month, e.g. for "el 15 de junio".
pub fn next_occurrence(day: u32, month: u32, today: NaiveDate) -> Option<NaiveDate> {
    (0..=8)
        .filter_map(|ahead| NaiveDate::from_ymd_opt(today.year() + ahead, month, day))
        .find(|d| *d >= today)
}

/// "3 de mayo de 1985" / "May 3, 1985".
pub fn in_words(date: NaiveDate, locale: prm_domain::Locale) -> String {
    const ES: [&str; 12] = [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ];
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let m = date.month0() as usize;
    match locale {
        prm_domain::Locale::Es => format!("{} de {} de {}", date.day(), ES[m], date.year()),
        prm_domain::Locale::En => format!("{} {}, {}", EN[m], date.day(), date.year()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 15).unwrap()
    }

    fn birth_in(message: &str) -> Option<NaiveDate> {
        let text = Text::new(message);
        find_birth(&text, text.all(), today()).map(|(d, _)| d)
    }

    fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn dates_in_every_form_patients_write_them() {
        for (message, expected) in [
            ("03/05/1985", ymd(1985, 5, 3)),
            ("3/5/1985", ymd(1985, 5, 3)),
            ("3-5-85", ymd(1985, 5, 3)),
            ("3.5.85", ymd(1985, 5, 3)),
            ("12/31/1985", ymd(1985, 12, 31)),
            ("31/12/1985", ymd(1985, 12, 31)),
            ("1985-05-03", ymd(1985, 5, 3)),
            ("03051985", ymd(1985, 5, 3)),
            ("3 de mayo de 1985", ymd(1985, 5, 3)),
            ("3 de Mayo del 85", ymd(1985, 5, 3)),
            ("nací el 3 mayo 1985", ymd(1985, 5, 3)),
            ("mayo 3 de 1985", ymd(1985, 5, 3)),
            ("May 3rd 1985", ymd(1985, 5, 3)),
            ("May 3, 1985", ymd(1985, 5, 3)),
            ("3 May 1985", ymd(1985, 5, 3)),
            ("3rd of May, 1985", ymd(1985, 5, 3)),
            ("born on the 1st of january 2001", ymd(2001, 1, 1)),
            ("el primero de enero de 2001", ymd(2001, 1, 1)),
            ("3 de setiembre de 1960", ymd(1960, 9, 3)),
            ("el 5 del 11 de 1980", ymd(1980, 11, 5)),
            ("5 de 11 de 80", ymd(1980, 11, 5)),
            ("14 de febreo de 1990", ymd(1990, 2, 14)),
            ("nasi el 3 de mallo del 85", ymd(1985, 5, 3)),
            ("29/02/2000", ymd(2000, 2, 29)),
            ("Sept 9 '99", ymd(1999, 9, 9)),
            ("1/1/05", ymd(2005, 1, 1)),
            ("1/1/30", ymd(1930, 1, 1)),
            ("15/03/26", ymd(2026, 3, 15)),
        ] {
            assert_eq!(birth_in(message), expected, "{message}");
        }
    }

    #[test]
    fn impossible_future_and_too_old_dates_are_refused() {
        for message in [
            "31/02/1985",
            "30 de febrero de 1990",
            "29/02/2001",
            "16/03/2026",
            "1 de enero de 2030",
            "1/1/1890",
            "13/13/1985",
            "mayo de 1985",
            "1985",
            "3/5",
        ] {
            assert_eq!(birth_in(message), None, "{message}");
        }
        let text = Text::new("31/02/1985");
        assert_eq!(
            find(&text, text.all(), today()).unwrap().kind,
            FoundKind::Invalid
        );
    }

    #[test]
    fn a_day_and_month_without_year_is_a_day_to_prefer() {
        let text = Text::new("el 15 de junio");
        assert_eq!(
            find(&text, text.all(), today()).unwrap().kind,
            FoundKind::DayMonth { day: 15, month: 6 }
        );
        assert_eq!(next_occurrence(15, 6, today()), ymd(2026, 6, 15));
        assert_eq!(next_occurrence(1, 1, today()), ymd(2027, 1, 1));
        assert_eq!(next_occurrence(29, 2, today()), ymd(2028, 2, 29));
    }

    #[test]
    fn dates_read_back_in_words() {
        let d = ymd(1985, 5, 3).unwrap();
        assert_eq!(in_words(d, prm_domain::Locale::Es), "3 de mayo de 1985");
        assert_eq!(in_words(d, prm_domain::Locale::En), "May 3, 1985");
    }
}
