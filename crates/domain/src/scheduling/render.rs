//! Patient-facing wording of slot offers, in English and Spanish.
//!
//! Day and month names are written out here rather than taken from a locale crate:
//! the texts are few, must read naturally on WhatsApp, and must not change when a
//! dependency updates its locale data.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDateTime, Timelike};

use super::search::{Clinic, RankedSlot};
use crate::Locale;

const WEEKDAYS_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const WEEKDAYS_ES: [&str; 7] = [
    "lunes",
    "martes",
    "miércoles",
    "jueves",
    "viernes",
    "sábado",
    "domingo",
];
const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const MONTHS_ES: [&str; 12] = [
    "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic",
];

/// One offer line without its number, e.g. "Monday, Dec 7 at 10:00 AM - Dr. Ana Gómez at
/// Sede Norte" or "lunes 7 de dic a las 10:00 a. m. - Dr. Ana Gómez en Sede Norte".
///
/// `local_start` must be the wall-clock time at the location: patients travel to the
/// clinic, so its clock is the one that matters.
pub fn slot_text(
    locale: Locale,
    local_start: NaiveDateTime,
    practitioner_name: &str,
    location_name: &str,
) -> String {
    let weekday = local_start.weekday().num_days_from_monday() as usize;
    let month = local_start.month0() as usize;
    let day = local_start.day();
    let (afternoon, hour12) = local_start.hour12();
    let minute = local_start.minute();
    match locale {
        Locale::En => {
            let weekday = WEEKDAYS_EN.get(weekday).copied().unwrap_or_default();
            let month = MONTHS_EN.get(month).copied().unwrap_or_default();
            let meridiem = if afternoon { "PM" } else { "AM" };
            format!(
                "{weekday}, {month} {day} at {hour12}:{minute:02} {meridiem} - {practitioner_name} at {location_name}"
            )
        }
        Locale::Es => {
            let weekday = WEEKDAYS_ES.get(weekday).copied().unwrap_or_default();
            let month = MONTHS_ES.get(month).copied().unwrap_or_default();
            let meridiem = if afternoon { "p. m." } else { "a. m." };
            // "a la una", but "a las dos", "a las diez"…
            let at = if hour12 == 1 { "a la" } else { "a las" };
            format!(
                "{weekday} {day} de {month} {at} {hour12}:{minute:02} {meridiem} - {practitioner_name} en {location_name}"
            )
        }
    }
}

/// The WhatsApp message listing numbered offers, or the "nothing available" message when
/// there are none (so the patient is never sent an empty list).
pub fn offer_message(locale: Locale, slot_texts: &[String]) -> String {
    if slot_texts.is_empty() {
        return no_slots_message(locale);
    }
    let (intro, outro) = match locale {
        Locale::En => (
            "Here are available appointment times:",
            "Reply with the number of your choice, or \"none\" for other times.",
        ),
        Locale::Es => (
            "Estos son los horarios disponibles:",
            "Responde con el número de tu elección, o \"ninguno\" para ver otros horarios.",
        ),
    };
    let mut message = String::from(intro);
    for (index, text) in slot_texts.iter().enumerate() {
        // Writing to a String cannot fail.
        let _ = write!(message, "\n{}. {text}", index + 1);
    }
    message.push('\n');
    message.push_str(outro);
    message
}

/// The slot texts and the message for a search result, with names looked up in `clinic`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedOffer {
    /// One per slot, in the same order (index `i` is option number `i + 1`).
    pub texts: Vec<String>,
    pub message: String,
}

/// Renders ranked slots for the patient. A practitioner or location missing from `clinic`
/// is rendered with an empty name rather than failing the whole offer.
pub fn render_offer(locale: Locale, slots: &[RankedSlot], clinic: &Clinic<'_>) -> RenderedOffer {
    let texts: Vec<String> = slots
        .iter()
        .map(|ranked| {
            let practitioner = clinic
                .practitioners
                .iter()
                .find(|p| p.id == ranked.slot.practitioner_id)
                .map_or("", |p| p.name.as_str());
            let location = clinic
                .locations
                .iter()
                .find(|l| l.id == ranked.slot.location_id)
                .map_or("", |l| l.name.as_str());
            slot_text(locale, ranked.local_wall_clock(), practitioner, location)
        })
        .collect();
    let message = offer_message(locale, &texts);
    RenderedOffer { texts, message }
}

/// Sent when no slot can be offered in the search window.
pub fn no_slots_message(locale: Locale) -> String {
    match locale {
        Locale::En => "Sorry, there are no appointment times available in the coming days. \
                       Our team will contact you to find one."
            .to_owned(),
        Locale::Es => "Lo sentimos, no hay horarios disponibles en los próximos días. \
                       Nuestro equipo te contactará para encontrar uno."
            .to_owned(),
    }
}

/// Asks again when the patient's answer could not be matched to exactly one of `offered`
/// options.
pub fn clarify_message(locale: Locale, offered: usize) -> String {
    match (locale, offered) {
        (Locale::En, 0) => "Sorry, I didn't understand. Reply \"none\" to see other times.".to_owned(),
        (Locale::En, 1) => {
            "Sorry, I didn't understand. Reply 1 to book that time, or \"none\" for other times."
                .to_owned()
        }
        (Locale::En, n) => format!(
            "Sorry, I didn't understand which time you'd like. Reply with a number from 1 to {n}, or \"none\" for other times."
        ),
        (Locale::Es, 0) => {
            "Disculpa, no te entendí. Responde \"ninguno\" para ver otros horarios.".to_owned()
        }
        (Locale::Es, 1) => "Disculpa, no te entendí. Responde 1 para reservar ese horario, o \"ninguno\" para ver otros horarios.".to_owned(),
        (Locale::Es, n) => format!(
            "Disculpa, no entendí cuál horario prefieres. Responde con un número del 1 al {n}, o \"ninguno\" para ver otros horarios."
        ),
    }
}

/// Acknowledges a rejection; the caller follows it with the next offers.
pub fn rejection_message(locale: Locale) -> String {
    match locale {
        Locale::En => "No problem, let me look for other times.".to_owned(),
        Locale::Es => "No hay problema, busquemos otros horarios.".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn at(m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    #[test]
    fn slot_text_in_both_languages() {
        let cases = [
            (
                Locale::En,
                at(12, 7, 10, 0),
                "Monday, Dec 7 at 10:00 AM - Dr. Ana Gómez at Sede Norte",
            ),
            (
                Locale::En,
                at(12, 8, 14, 30),
                "Tuesday, Dec 8 at 2:30 PM - Dr. Ana Gómez at Sede Norte",
            ),
            (
                Locale::En,
                at(12, 9, 12, 0),
                "Wednesday, Dec 9 at 12:00 PM - Dr. Ana Gómez at Sede Norte",
            ),
            (
                Locale::En,
                at(1, 1, 0, 15),
                "Thursday, Jan 1 at 12:15 AM - Dr. Ana Gómez at Sede Norte",
            ),
            (
                Locale::Es,
                at(12, 7, 10, 0),
                "lunes 7 de dic a las 10:00 a. m. - Dr. Ana Gómez en Sede Norte",
            ),
            (
                Locale::Es,
                at(12, 12, 13, 0),
                "sábado 12 de dic a la 1:00 p. m. - Dr. Ana Gómez en Sede Norte",
            ),
            (
                Locale::Es,
                at(8, 19, 16, 45),
                "miércoles 19 de ago a las 4:45 p. m. - Dr. Ana Gómez en Sede Norte",
            ),
            (
                Locale::Es,
                at(3, 1, 12, 0),
                "domingo 1 de mar a las 12:00 p. m. - Dr. Ana Gómez en Sede Norte",
            ),
        ];
        for (locale, start, expected) in cases {
            assert_eq!(
                slot_text(locale, start, "Dr. Ana Gómez", "Sede Norte"),
                expected
            );
        }
    }

    #[test]
    fn message_numbers_the_options() {
        let texts = vec!["A".to_owned(), "B".to_owned()];
        assert_eq!(
            offer_message(Locale::En, &texts),
            "Here are available appointment times:\n1. A\n2. B\nReply with the number of your choice, or \"none\" for other times."
        );
        assert_eq!(
            offer_message(Locale::Es, &texts),
            "Estos son los horarios disponibles:\n1. A\n2. B\nResponde con el número de tu elección, o \"ninguno\" para ver otros horarios."
        );
        assert_eq!(offer_message(Locale::Es, &[]), no_slots_message(Locale::Es));
    }

    #[test]
    fn clarify_names_the_range() {
        assert!(clarify_message(Locale::En, 5).contains("from 1 to 5"));
        assert!(clarify_message(Locale::Es, 3).contains("del 1 al 3"));
        assert!(clarify_message(Locale::Es, 1).contains("Responde 1"));
        assert!(!clarify_message(Locale::En, 0).contains('1'));
        assert_ne!(rejection_message(Locale::En), rejection_message(Locale::Es));
    }
}
