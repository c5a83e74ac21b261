//! When the patient would like the appointment: "el miércoles en la mañana", "martes
//! después de las 3", "any day 10am", "lo antes posible", "mañana en la tarde".
//!
//! Parts of the day stand for a time the slot search can score against (it favours slots
//! within an hour or two): morning/mañana 09:00, noon/mediodía 12:00,
//! afternoon/tarde 15:00, evening/night/noche 18:00, early/temprano 08:00.
//! A clock hour of 1 to 7 without am/pm is in the afternoon ("después de las 3" → 15:00):
//! nobody books a clinic at 3 at night. "Mañana" is "tomorrow" unless it follows an
//! article ("en la mañana", "por las mañanas" are mornings), so "mañana en la tarde" is
//! tomorrow afternoon; tomorrow, today ("hoy") and a date ("el 15 de junio") become
//! their weekday, computed from the caller's today.

use std::{ops::Range, sync::LazyLock};

use chrono::{Datelike, Days, NaiveDate, NaiveTime, Timelike};

use super::{
    dates::{self, FoundKind},
    lexicon::{LEXICON, Phrase, WordId},
    text::{Kind, Text},
};

const WEEKDAYS: [&[&str]; 7] = [
    &["lunes", "monday", "mondays", "lun", "mon"],
    &["martes", "tuesday", "tuesdays", "tue", "tues"],
    &["miercoles", "wednesday", "wednesdays", "mie", "mier", "wed"],
    &[
        "jueves",
        "thursday",
        "thursdays",
        "jue",
        "thu",
        "thur",
        "thurs",
    ],
    &["viernes", "friday", "fridays", "vie", "fri"],
    &["sabado", "sabados", "saturday", "saturdays", "sab", "sat"],
    &["domingo", "domingos", "sunday", "sundays", "dom", "sun"],
];

/// Words after which a weekday is in the past ("me duele desde el lunes").
const PAST: &[&str] = &[
    "desde", "since", "pasado", "last", "hace", "ago", "anterior", "previous",
];

const ARTICLES: &[&str] = &["la", "las", "in", "the", "por", "en", "de", "this"];
const GREETINGS: &[&str] = &["buenas", "buenos", "buen", "good"];

const MORNING: &[&str] = &["mananas", "morning", "mornings"];
const NOON: &[&str] = &["mediodia", "noon", "midday", "lunchtime"];
const AFTERNOON: &[&str] = &["tarde", "tardes", "afternoon", "afternoons"];
const EVENING: &[&str] = &["noche", "noches", "evening", "evenings", "night", "nights"];
const EARLY: &[&str] = &["temprano", "early", "madrugada"];
/// "El fin de semana": Saturday.
const WEEKEND: &[&str] = &["fin de semana", "weekend"];
const FIRST_THING: &[&str] = &["primera hora", "first thing"];
const TODAY: &[&str] = &["hoy", "today"];
const TOMORROW: &[&str] = &["manana", "tomorrow"];
const TONIGHT: &str = "tonight";

const HOUR_BEFORE: &[&str] = &[
    "las", "la", "at", "after", "around", "about", "before", "tipo", "by", "from", "desde",
    "antes", "despues", "tipo", "pasadas", "until", "hasta",
];
const HOUR_AFTER: &[&str] = &["h", "hs", "hrs", "horas", "hora", "oclock", "o'clock"];
const AM: &[&str] = &["am"];
const PM: &[&str] = &["pm"];

const ASAP: &[&str] = &[
    "lo antes posible",
    "cuanto antes",
    "lo mas pronto",
    "mas pronto posible",
    "lo mas rapido",
    "primer cupo",
    "primer turno",
    "primera hora disponible",
    "ya mismo",
    "apenas se pueda",
    "urgente",
    "asap",
    "as soon as possible",
    "soonest",
    "earliest",
    "first available",
    "right away",
];

/// "Any day": no preference, said about the day or time itself.
const FLEXIBLE_TIME: &[&str] = &[
    "cualquier dia",
    "cualquier hora",
    "cualquier momento",
    "cualquier fecha",
    "cualquier horario",
    "cuando sea",
    "cuando puedan",
    "entre semana",
    "cualquier dia de la semana",
    "whenever",
    "any day",
    "any time",
    "anytime",
    "weekday",
    "weekdays",
];

/// "No importa": no preference, but only an answer to a question about the day and time
/// (to the location question it is about the location).
const FLEXIBLE: &[&str] = &[
    "no importa",
    "me da igual",
    "da igual",
    "indiferente",
    "lo que sea",
    "cualquiera",
    "sin preferencia",
    "no preference",
    "either",
    "doesn't matter",
    "doesnt matter",
    "don't mind",
    "dont mind",
    "don't care",
    "dont care",
];

const HALF: &[&str] = &["y media", "y treinta", "thirty"];
const QUARTER: &[&str] = &["y cuarto", "y quince"];

pub fn words(out: &mut Vec<&'static str>) {
    for names in WEEKDAYS {
        out.extend_from_slice(names);
    }
    for list in [
        PAST,
        ARTICLES,
        GREETINGS,
        MORNING,
        NOON,
        AFTERNOON,
        EVENING,
        EARLY,
        TODAY,
        TOMORROW,
        WEEKEND,
        FIRST_THING,
        HOUR_BEFORE,
        HOUR_AFTER,
        AM,
        PM,
        ASAP,
        FLEXIBLE_TIME,
        FLEXIBLE,
        HALF,
        QUARTER,
    ] {
        out.extend_from_slice(list);
    }
    out.extend_from_slice(&[TONIGHT, "medio", "dia", "pasado", "a", "p", "m", "y"]);
}

struct Tables {
    weekdays: Vec<(WordId, u8)>,
    past: Vec<WordId>,
    articles: Vec<WordId>,
    greetings: Vec<WordId>,
    parts: Vec<(WordId, u32)>,
    early: Vec<WordId>,
    today: Vec<WordId>,
    tomorrow: Vec<WordId>,
    manana: WordId,
    tonight: WordId,
    medio: WordId,
    dia: WordId,
    pasado: WordId,
    hour_before: Vec<WordId>,
    hour_after: Vec<WordId>,
    am: Vec<WordId>,
    pm: Vec<WordId>,
    letter_a: WordId,
    letter_p: WordId,
    letter_m: WordId,
    asap: Vec<Phrase>,
    flexible_time: Vec<Phrase>,
    flexible: Vec<Phrase>,
    half: Vec<Phrase>,
    quarter: Vec<Phrase>,
    weekend: Vec<Phrase>,
    first_thing: Vec<Phrase>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let lex = &*LEXICON;
    let part =
        |words: &'static [&'static str], hour: u32| words.iter().map(move |w| (lex.id(w), hour));
    Tables {
        weekdays: WEEKDAYS
            .iter()
            .enumerate()
            .flat_map(|(d, names)| names.iter().map(move |n| (lex.id(n), d as u8)))
            .collect(),
        past: lex.ids(PAST),
        articles: lex.ids(ARTICLES),
        greetings: lex.ids(GREETINGS),
        parts: part(MORNING, 9)
            .chain(part(NOON, 12))
            .chain(part(AFTERNOON, 15))
            .chain(part(EVENING, 18))
            .collect(),
        early: lex.ids(EARLY),
        today: lex.ids(TODAY),
        tomorrow: lex.ids(TOMORROW),
        manana: lex.id("manana"),
        tonight: lex.id(TONIGHT),
        medio: lex.id("medio"),
        dia: lex.id("dia"),
        pasado: lex.id("pasado"),
        hour_before: lex.ids(HOUR_BEFORE),
        hour_after: lex.ids(HOUR_AFTER),
        am: lex.ids(AM),
        pm: lex.ids(PM),
        letter_a: lex.id("a"),
        letter_p: lex.id("p"),
        letter_m: lex.id("m"),
        asap: lex.phrases(ASAP),
        flexible_time: lex.phrases(FLEXIBLE_TIME),
        flexible: lex.phrases(FLEXIBLE),
        half: lex.phrases(HALF),
        quarter: lex.phrases(QUARTER),
        weekend: lex.phrases(WEEKEND),
        first_thing: lex.phrases(FIRST_THING),
    }
});

/// A day/time preference read from a message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DayTime {
    /// 0 = Monday … 6 = Sunday.
    pub day_of_week: Option<u8>,
    pub time: Option<NaiveTime>,
    /// "As soon as possible".
    pub asap: bool,
    /// "Any day", "whenever", "no importa": an answer without a preference.
    pub flexible: bool,
    /// Said about the day or time itself ("any day", not just "no importa").
    pub about_time: bool,
    /// The tokens that said it.
    pub tokens: Option<Range<usize>>,
}

impl DayTime {
    fn said(&mut self, tokens: Range<usize>) {
        self.tokens = Some(match self.tokens.take() {
            Some(r) => r.start.min(tokens.start)..r.end.max(tokens.end),
            None => tokens,
        });
    }

    pub fn is_answer(&self) -> bool {
        self.about_time || self.flexible
    }
}

/// The preference said in `range`, if any. `today` resolves "hoy", "mañana" and dates;
/// without it they are not read.
pub fn parse(text: &Text, range: Range<usize>, today: Option<NaiveDate>) -> Option<DayTime> {
    let t = &*TABLES;
    let end = range.end.min(text.len());
    let mut found = DayTime::default();
    let mut part_hour: Option<u32> = None;
    let mut early = false;
    // Filled before the weekday loop, which keeps the first day said.
    let weekday_of = |date: NaiveDate| date.weekday().num_days_from_monday() as u8;

    if let Some(r) = text.find_any(range.clone(), &t.asap, 1) {
        found.asap = true;
        found.said(r);
    }
    if let Some(r) = text.find_any(range.clone(), &t.flexible_time, 0) {
        found.flexible = true;
        found.about_time = true;
        found.said(r);
    } else if let Some(r) = text.find_any(range.clone(), &t.flexible, 0) {
        found.flexible = true;
        found.said(r);
    }
    if let Some(r) = text.find_any(range.clone(), &t.weekend, 0) {
        found.day_of_week = Some(5);
        found.said(r);
    }
    if let Some(r) = text.find_any(range.clone(), &t.first_thing, 0) {
        early = true;
        found.said(r);
    }
    if let Some(today) = today
        && let Some(date) = dates::find(text, range.clone(), today)
        && let FoundKind::DayMonth { day, month } = date.kind
        && let Some(next) = dates::next_occurrence(day, month, today)
    {
        found.day_of_week = Some(weekday_of(next));
        found.said(date.tokens.0..date.tokens.1);
    }

    let mut i = range.start;
    while i < end {
        let id = text.id(i);
        let prev = i
            .checked_sub(1)
            .filter(|p| *p >= range.start)
            .and_then(|p| text.id(p));
        let after_greeting = prev.is_some_and(|p| t.greetings.contains(&p));
        // Weekdays, unless in the past.
        if let Some(day) = id.and_then(|id| t.weekdays.iter().find(|(w, _)| *w == id)) {
            let past = (range.start..i)
                .rev()
                .take(2)
                .any(|j| text.id(j).is_some_and(|p| t.past.contains(&p)));
            if !past && found.day_of_week.is_none() {
                found.day_of_week = Some(day.1);
                found.said(i..i + 1);
            }
        } else if id == Some(t.manana) && !after_greeting {
            let article = prev.is_some_and(|p| t.articles.contains(&p));
            let day_after = prev == Some(t.pasado);
            if article {
                part_hour.get_or_insert(9);
                found.said(i..i + 1);
            } else if found.day_of_week.is_none()
                && let Some(today) = today
            {
                let ahead = if day_after { 2 } else { 1 };
                found.day_of_week = today.checked_add_days(Days::new(ahead)).map(weekday_of);
                found.said(i.saturating_sub(usize::from(day_after))..i + 1);
            }
        } else if id.is_some_and(|id| t.tomorrow.contains(&id))
            && found.day_of_week.is_none()
            && let Some(today) = today
        {
            found.day_of_week = today.checked_add_days(Days::new(1)).map(weekday_of);
            found.said(i..i + 1);
        } else if id.is_some_and(|id| t.today.contains(&id))
            && found.day_of_week.is_none()
            && let Some(today) = today
        {
            found.day_of_week = Some(weekday_of(today));
            found.said(i..i + 1);
        } else if id == Some(t.tonight) {
            if let Some(today) = today {
                found.day_of_week.get_or_insert(weekday_of(today));
            }
            part_hour.get_or_insert(18);
            found.said(i..i + 1);
        } else if let Some(&(_, hour)) = id
            .filter(|_| !after_greeting)
            .and_then(|id| t.parts.iter().find(|(w, _)| *w == id))
        {
            part_hour.get_or_insert(hour);
            found.said(i..i + 1);
        } else if id == Some(t.medio) && text.id(i + 1) == Some(t.dia) {
            part_hour.get_or_insert(12);
            found.said(i..i + 2);
        } else if id.is_some_and(|id| t.early.contains(&id)) {
            early = true;
            found.said(i..i + 1);
        } else if found.time.is_none()
            && let Some((time, r)) = clock_time(text, i, range.start, end)
        {
            found.time = Some(time);
            found.said(r.clone());
            i = r.end.max(i + 1);
            continue;
        }
        i += 1;
    }
    // A part of the day places a bare hour ("a las 8 de la noche" → 20:00) or is the time.
    match (found.time, part_hour) {
        (Some(time), Some(part)) if part >= 15 && time.hour() < 12 => {
            found.time = NaiveTime::from_hms_opt(time.hour() + 12, time.minute(), 0);
        }
        (None, Some(part)) => found.time = NaiveTime::from_hms_opt(part, 0, 0),
        (None, None) if early => found.time = NaiveTime::from_hms_opt(8, 0, 0),
        _ => {}
    }
    found.about_time |= found.day_of_week.is_some() || found.time.is_some() || found.asap;
    found.is_answer().then_some(found)
}

/// A clock time starting at token `i`: "10:30", "10am", "3 pm", "a las 3", "after 3",
/// "10 a.m.", "8 de la noche" (the part of day is applied by the caller), "3 y media".
fn clock_time(
    text: &Text,
    i: usize,
    start: usize,
    end: usize,
) -> Option<(NaiveTime, Range<usize>)> {
    let t = &*TABLES;
    let (hour, mut minute, mut next, mut meridiem) = match text.kind(i) {
        Kind::Number => {
            let (hour, len) = text.digits(i)?;
            if len > 2 {
                return None;
            }
            if text.is_punct(i + 1, ':')
                || text.is_punct(i + 1, '.') && text.kind(i + 2) == Kind::Number
            {
                let (minute, meridiem) = minutes(text, i + 2)?;
                (hour, minute, i + 3, meridiem)
            } else {
                (hour, 0, i + 1, None)
            }
        }
        Kind::Mixed => {
            let (hour, meridiem) = hour_with_suffix(text.word(i))?;
            (hour, 0, i + 1, meridiem)
        }
        _ => return None,
    };
    let explicit_minutes = next == i + 3;
    let suffixed = text.kind(i) == Kind::Mixed;
    if meridiem.is_none()
        && next < end
        && let Some(m) = meridiem_at(text, next)
    {
        meridiem = Some(m.0);
        next = m.1;
    }
    // "3 y media", "3 y cuarto" say it is a time.
    let mut fraction = false;
    if minute == 0
        && !explicit_minutes
        && let Some(r) = text
            .find_any(next..end.min(next + 2), &t.half, 0)
            .filter(|r| r.start == next)
    {
        minute = 30;
        next = r.end;
        fraction = true;
    } else if minute == 0
        && !explicit_minutes
        && let Some(r) = text
            .find_any(next..end.min(next + 2), &t.quarter, 0)
            .filter(|r| r.start == next)
    {
        minute = 15;
        next = r.end;
        fraction = true;
    }
    let unit_after = text.id(next).is_some_and(|id| t.hour_after.contains(&id));
    let marker_before = i > start
        && text
            .id(i - 1)
            .is_some_and(|id| t.hour_before.contains(&id) || id == t.letter_a);
    if !(explicit_minutes
        || meridiem.is_some()
        || unit_after
        || marker_before
        || fraction
        || suffixed)
    {
        return None;
    }
    if unit_after {
        next += 1;
    }
    if hour > 23 || minute > 59 {
        return None;
    }
    let hour = match meridiem {
        Some(Meridiem::Am) => hour % 12,
        Some(Meridiem::Pm) => hour % 12 + 12,
        None if (1..=7).contains(&hour) => hour + 12,
        None => hour,
    };
    let from = if marker_before { i - 1 } else { i };
    Some((NaiveTime::from_hms_opt(hour, minute, 0)?, from..next))
}

#[derive(Debug, Clone, Copy)]
enum Meridiem {
    Am,
    Pm,
}

/// The minutes of "10:30" / "10:30am", at token `i` (after the colon).
fn minutes(text: &Text, i: usize) -> Option<(u32, Option<Meridiem>)> {
    match text.kind(i) {
        Kind::Number => {
            let (m, len) = text.digits(i)?;
            (len == 2).then_some((m, None))
        }
        Kind::Mixed => {
            let word = text.word(i);
            let (m, meridiem) = hour_with_suffix(word)?;
            (word.find(|c: char| !c.is_ascii_digit()) == Some(2)).then_some((m, meridiem))
        }
        _ => None,
    }
}

/// "10am", "3pm", "9a", "7p", and "16h", "16hs", "16hrs" (no meridiem).
fn hour_with_suffix(word: &str) -> Option<(u32, Option<Meridiem>)> {
    let digits_end = word.find(|c: char| !c.is_ascii_digit())?;
    let (digits, suffix) = word.split_at(digits_end);
    let meridiem = match suffix {
        "am" | "a" => Some(Meridiem::Am),
        "pm" | "p" => Some(Meridiem::Pm),
        "h" | "hs" | "hrs" | "horas" => None,
        _ => return None,
    };
    (digits.len() <= 2)
        .then(|| digits.parse().ok().map(|h| (h, meridiem)))
        .flatten()
}

/// "am", "pm", "a.m.", "p. m." at token `i`; returns the token after it.
fn meridiem_at(text: &Text, i: usize) -> Option<(Meridiem, usize)> {
    let t = &*TABLES;
    let id = text.id(i)?;
    if t.am.contains(&id) {
        return Some((Meridiem::Am, i + 1));
    }
    if t.pm.contains(&id) {
        return Some((Meridiem::Pm, i + 1));
    }
    if (id == t.letter_a || id == t.letter_p) && text.is_punct(i + 1, '.') {
        let m = if text.id(i + 2) == Some(t.letter_m) {
            i + 2
        } else {
            return None;
        };
        let after = if text.is_punct(m + 1, '.') {
            m + 2
        } else {
            m + 1
        };
        let meridiem = if id == t.letter_a {
            Meridiem::Am
        } else {
            Meridiem::Pm
        };
        return Some((meridiem, after));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Sunday.
    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 15).unwrap()
    }

    fn read(message: &str) -> Option<(Option<u8>, Option<String>, bool, bool)> {
        let text = Text::new(message);
        parse(&text, text.all(), Some(today())).map(|d| {
            (
                d.day_of_week,
                d.time.map(|t| t.format("%H:%M").to_string()),
                d.asap,
                d.flexible,
            )
        })
    }

    fn day_time(
        day: Option<u8>,
        time: Option<&str>,
    ) -> Option<(Option<u8>, Option<String>, bool, bool)> {
        Some((day, time.map(str::to_owned), false, false))
    }

    #[test]
    fn days_and_times_as_patients_write_them() {
        for (message, expected) in [
            (
                "el miércoles en la mañana",
                day_time(Some(2), Some("09:00")),
            ),
            (
                "el miercoles por la manana",
                day_time(Some(2), Some("09:00")),
            ),
            ("martes después de las 3", day_time(Some(1), Some("15:00"))),
            (
                "martes despues de las 3pm",
                day_time(Some(1), Some("15:00")),
            ),
            ("jueves a las 10:30", day_time(Some(3), Some("10:30"))),
            ("viernes 14:00", day_time(Some(4), Some("14:00"))),
            ("el sábado temprano", day_time(Some(5), Some("08:00"))),
            ("lunes al mediodía", day_time(Some(0), Some("12:00"))),
            ("lunes al medio dia", day_time(Some(0), Some("12:00"))),
            (
                "el jueves a las 8 de la noche",
                day_time(Some(3), Some("20:00")),
            ),
            ("a las 10 de la mañana", day_time(None, Some("10:00"))),
            ("a las 4 y media", day_time(None, Some("16:30"))),
            ("en la tarde", day_time(None, Some("15:00"))),
            ("mañana", day_time(Some(0), None)),
            ("mañana en la tarde", day_time(Some(0), Some("15:00"))),
            ("pasado mañana", day_time(Some(1), None)),
            ("hoy en la noche", day_time(Some(6), Some("18:00"))),
            ("el 18 de marzo", day_time(Some(2), None)),
            ("Tuesday morning", day_time(Some(1), Some("09:00"))),
            ("wednesday at 2", day_time(Some(2), Some("14:00"))),
            ("friday 10am", day_time(Some(4), Some("10:00"))),
            ("thu 10:30 am", day_time(Some(3), Some("10:30"))),
            ("monday at 9 a.m.", day_time(Some(0), Some("09:00"))),
            ("tomorrow afternoon", day_time(Some(0), Some("15:00"))),
            ("after 3", day_time(None, Some("15:00"))),
            ("7pm", day_time(None, Some("19:00"))),
            ("miercole en la tarde", day_time(Some(2), Some("15:00"))),
            ("el viernes 16h", day_time(Some(4), Some("16:00"))),
            ("10 y media", day_time(None, Some("10:30"))),
            ("el fin de semana", day_time(Some(5), None)),
            ("lunes a primera hora", day_time(Some(0), Some("08:00"))),
            ("el próximo lunes tipo 4", day_time(Some(0), Some("16:00"))),
        ] {
            assert_eq!(read(message), expected, "{message}");
        }
    }

    #[test]
    fn asap_and_no_preference_are_answers_too() {
        assert_eq!(read("lo antes posible"), Some((None, None, true, false)));
        assert_eq!(
            read("cuanto antes por favor"),
            Some((None, None, true, false))
        );
        assert_eq!(read("ASAP"), Some((None, None, true, false)));
        assert_eq!(read("whenever"), Some((None, None, false, true)));
        assert_eq!(read("no importa"), Some((None, None, false, true)));
        assert_eq!(read("entre semana"), Some((None, None, false, true)));
        assert_eq!(read("cualquier día"), Some((None, None, false, true)));
        assert_eq!(
            read("any day 10am"),
            Some((None, Some("10:00".into()), false, true))
        );
    }

    #[test]
    fn greetings_past_days_and_bare_numbers_are_no_preference() {
        for message in [
            "buenas tardes",
            "good morning",
            "me duele desde el lunes",
            "since last tuesday",
            "tengo 3 hijos",
            "hola",
            "",
        ] {
            assert_eq!(read(message), None, "{message}");
        }
    }
}
