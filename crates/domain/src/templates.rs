//! The clinic's message templates: what the patient is told about an appointment
//! (confirmation, reminder, follow-up, cancellation, reschedule, no-show), one text per
//! purpose and locale, with `{placeholder}`s filled from the appointment.
//!
//! Pure: parsing, validation and rendering. Storage, the API and the choice between a
//! free-form text and a provider's approved template (WhatsApp's 24-hour window) are the
//! services'.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Datelike, FixedOffset, Timelike};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::Locale;

/// What a template is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TemplatePurpose {
    Confirmation,
    Reminder,
    FollowUp,
    Cancellation,
    Reschedule,
    NoShow,
}

impl TemplatePurpose {
    pub const ALL: [Self; 6] = [
        Self::Confirmation,
        Self::Reminder,
        Self::FollowUp,
        Self::Cancellation,
        Self::Reschedule,
        Self::NoShow,
    ];

    /// The name in paths and JSON (`follow_up`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmation => "confirmation",
            Self::Reminder => "reminder",
            Self::FollowUp => "follow_up",
            Self::Cancellation => "cancellation",
            Self::Reschedule => "reschedule",
            Self::NoShow => "no_show",
        }
    }

    /// The `purpose` recorded on the outbound Message rendered from this template.
    pub fn message_purpose(self) -> &'static str {
        match self {
            Self::Confirmation => "appointment_confirmation",
            Self::Reminder => "appointment_reminder",
            Self::FollowUp => "appointment_follow_up",
            Self::Cancellation => "appointment_cancellation",
            Self::Reschedule => "appointment_reschedule",
            Self::NoShow => "appointment_no_show",
        }
    }

    /// The template purpose of a recorded Message's `purpose`, if it has one.
    pub fn from_message_purpose(purpose: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.message_purpose() == purpose)
    }
}

impl fmt::Display for TemplatePurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TemplatePurpose {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown template purpose `{s}` (one of {})",
                    Self::ALL.map(Self::as_str).join(", ")
                )
            })
    }
}

/// Every placeholder a template may use, in the order of [`TemplateVars`].
pub const PLACEHOLDERS: [&str; 7] = [
    "patient_name",
    "doctor_name",
    "date",
    "time",
    "location",
    "department",
    "clinic_phone",
];

/// The values of the placeholders for one message. Also what a provider template's
/// variables are filled from (Twilio `ContentVariables`, Meta template parameters).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TemplateVars {
    pub patient_name: String,
    pub doctor_name: String,
    /// The appointment's local date in the patient's words ("lunes 23 de noviembre").
    pub date: String,
    /// The appointment's local time ("10:30 a. m.", "10:30 AM").
    pub time: String,
    pub location: String,
    pub department: String,
    /// The location's phone; empty when the clinic has not set one.
    pub clinic_phone: String,
}

impl TemplateVars {
    /// The values for an appointment starting at `start` (already in the location's
    /// offset, as events carry it), written for `locale`.
    pub fn for_appointment(
        locale: Locale,
        start: DateTime<FixedOffset>,
        patient_name: &str,
        doctor_name: &str,
        location: &str,
        department: &str,
        clinic_phone: Option<&str>,
    ) -> Self {
        Self {
            patient_name: patient_name.to_owned(),
            doctor_name: doctor_name.to_owned(),
            date: local_date(locale, start),
            time: local_time(locale, start),
            location: location.to_owned(),
            department: department.to_owned(),
            clinic_phone: clinic_phone.unwrap_or_default().to_owned(),
        }
    }

    /// The value of placeholder `name`; `None` for a name that is not a placeholder.
    pub fn get(&self, name: &str) -> Option<&str> {
        Some(match name {
            "patient_name" => &self.patient_name,
            "doctor_name" => &self.doctor_name,
            "date" => &self.date,
            "time" => &self.time,
            "location" => &self.location,
            "department" => &self.department,
            "clinic_phone" => &self.clinic_phone,
            _ => return None,
        })
    }

    /// The values in [`PLACEHOLDERS`] order (a provider template's numbered variables
    /// `{{1}}`…`{{7}}` follow it).
    pub fn in_order(&self) -> [&str; 7] {
        PLACEHOLDERS.map(|name| self.get(name).unwrap_or_default())
    }
}

/// Why a template text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown placeholder `{{{0}}}` (known: {known})", known = PLACEHOLDERS.join(", "))]
    UnknownPlaceholder(String),
    #[error("a `{{` at character {0} is not closed; write `{{{{` for a literal brace")]
    Unclosed(usize),
    #[error("a `}}` at character {0} closes nothing; write `}}}}` for a literal brace")]
    Unopened(usize),
    #[error("the template is empty")]
    Empty,
}

/// One piece of a parsed template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

/// Splits `text` into literal text and `{name}` placeholders; `{{` and `}}` are literal
/// braces. Every error names what is wrong.
fn parse(text: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(i) = rest.find(['{', '}']) {
        let (before, from) = rest.split_at(i);
        if !before.is_empty() {
            pieces.push(Piece::Text(before));
        }
        let position = offset + i;
        if let Some(after) = from.strip_prefix("{{") {
            pieces.push(Piece::Text("{"));
            offset = position + 2;
            rest = after;
        } else if let Some(after) = from.strip_prefix("}}") {
            pieces.push(Piece::Text("}"));
            offset = position + 2;
            rest = after;
        } else if from.starts_with('}') {
            return Err(TemplateError::Unopened(text[..position].chars().count()));
        } else {
            let inner = &from[1..];
            let Some(end) = inner.find('}') else {
                return Err(TemplateError::Unclosed(text[..position].chars().count()));
            };
            let name = &inner[..end];
            if name.contains('{') {
                return Err(TemplateError::Unclosed(text[..position].chars().count()));
            }
            if !PLACEHOLDERS.contains(&name) {
                return Err(TemplateError::UnknownPlaceholder(name.to_owned()));
            }
            pieces.push(Piece::Placeholder(name));
            offset = position + 1 + end + 1;
            rest = &inner[end + 1..];
        }
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

/// Checks a template text: not blank, braces balanced, every placeholder known.
pub fn validate(text: &str) -> Result<(), TemplateError> {
    if text.trim().is_empty() {
        return Err(TemplateError::Empty);
    }
    parse(text).map(|_| ())
}

/// The placeholders `text` uses, in order of appearance (repeats kept once).
pub fn placeholders(text: &str) -> Result<Vec<&str>, TemplateError> {
    let mut names = Vec::new();
    for piece in parse(text)? {
        if let Piece::Placeholder(name) = piece
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    Ok(names)
}

/// `text` with every placeholder replaced by its value. A text that does not validate
/// (stored before a rule changed, say) is returned as it is rather than half-rendered.
pub fn render(text: &str, vars: &TemplateVars) -> String {
    let Ok(pieces) = parse(text) else {
        return text.to_owned();
    };
    let mut out = String::with_capacity(text.len() + 64);
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Placeholder(name) => out.push_str(vars.get(name).unwrap_or_default()),
        }
    }
    out
}

/// The text used when the clinic has not written its own.
pub fn default_text(purpose: TemplatePurpose, locale: Locale) -> &'static str {
    use TemplatePurpose::*;
    match (purpose, locale) {
        (Confirmation, Locale::Es) => {
            "¡Listo, {patient_name}! Tu cita de {department} quedó agendada para el {date} a las {time} con {doctor_name} en {location}. Si necesitas cambiarla o cancelarla, escríbenos por aquí."
        }
        (Confirmation, Locale::En) => {
            "Done, {patient_name}! Your {department} appointment is booked for {date} at {time} with {doctor_name} at {location}. If you need to change or cancel it, just write to us here."
        }
        (Reminder, Locale::Es) => {
            "Hola {patient_name}, te recordamos tu cita de {department} el {date} a las {time} con {doctor_name} en {location}. Responde 1 para confirmar, 2 para cambiarla o 3 para cancelarla."
        }
        (Reminder, Locale::En) => {
            "Hi {patient_name}, this is a reminder of your {department} appointment on {date} at {time} with {doctor_name} at {location}. Reply 1 to confirm, 2 to change it or 3 to cancel it."
        }
        (FollowUp, Locale::Es) => {
            "Hola {patient_name}, hoy es la fecha de control que te indicó {doctor_name}. ¿Quieres que agendemos tu cita de {department}? Responde a este mensaje y te ayudamos."
        }
        (FollowUp, Locale::En) => {
            "Hi {patient_name}, today is the follow-up date {doctor_name} set for you. Shall we book your {department} appointment? Reply to this message and we'll help you."
        }
        (Cancellation, Locale::Es) => {
            "{patient_name}, tu cita de {department} del {date} a las {time} con {doctor_name} fue cancelada. Si quieres agendar otra, escríbenos."
        }
        (Cancellation, Locale::En) => {
            "{patient_name}, your {department} appointment on {date} at {time} with {doctor_name} was cancelled. If you'd like another one, write to us."
        }
        (Reschedule, Locale::Es) => {
            "{patient_name}, tu cita de {department} fue reprogramada para el {date} a las {time} con {doctor_name} en {location}."
        }
        (Reschedule, Locale::En) => {
            "{patient_name}, your {department} appointment was moved to {date} at {time} with {doctor_name} at {location}."
        }
        (NoShow, Locale::Es) => {
            "Hola {patient_name}, te esperábamos hoy a las {time} con {doctor_name}. ¿Quieres agendar una nueva cita de {department}? Responde a este mensaje."
        }
        (NoShow, Locale::En) => {
            "Hi {patient_name}, we missed you today at {time} with {doctor_name}. Would you like to book a new {department} appointment? Reply to this message."
        }
    }
}

const WEEKDAYS_ES: [&str; 7] = [
    "lunes",
    "martes",
    "miércoles",
    "jueves",
    "viernes",
    "sábado",
    "domingo",
];
const WEEKDAYS_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS_ES: [&str; 12] = [
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
const MONTHS_EN: [&str; 12] = [
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

/// "lunes 23 de noviembre" / "Monday, November 23", on the wall clock of `at`'s offset.
pub fn local_date(locale: Locale, at: DateTime<FixedOffset>) -> String {
    let weekday = at.weekday().num_days_from_monday() as usize;
    let month = at.month0() as usize;
    let day = at.day();
    match locale {
        Locale::Es => format!(
            "{} {day} de {}",
            WEEKDAYS_ES.get(weekday).copied().unwrap_or_default(),
            MONTHS_ES.get(month).copied().unwrap_or_default()
        ),
        Locale::En => format!(
            "{}, {} {day}",
            WEEKDAYS_EN.get(weekday).copied().unwrap_or_default(),
            MONTHS_EN.get(month).copied().unwrap_or_default()
        ),
    }
}

/// "10:30 a. m." / "10:30 AM", on the wall clock of `at`'s offset.
pub fn local_time(locale: Locale, at: DateTime<FixedOffset>) -> String {
    let (afternoon, hour12) = at.hour12();
    let minute = at.minute();
    match (locale, afternoon) {
        (Locale::Es, false) => format!("{hour12}:{minute:02} a. m."),
        (Locale::Es, true) => format!("{hour12}:{minute:02} p. m."),
        (Locale::En, false) => format!("{hour12}:{minute:02} AM"),
        (Locale::En, true) => format!("{hour12}:{minute:02} PM"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> TemplateVars {
        let start = DateTime::parse_from_rfc3339("2026-11-23T14:30:00-05:00").unwrap();
        TemplateVars::for_appointment(
            Locale::Es,
            start,
            "María Pérez",
            "Dr. Ana Gómez",
            "Sede Norte",
            "Cardiología",
            Some("+5716011234"),
        )
    }

    #[test]
    fn renders_every_placeholder_in_the_locations_wall_clock() {
        let text =
            "{patient_name}|{doctor_name}|{date}|{time}|{location}|{department}|{clinic_phone}";
        assert_eq!(
            render(text, &vars()),
            "María Pérez|Dr. Ana Gómez|lunes 23 de noviembre|2:30 p. m.|Sede Norte|Cardiología|+5716011234"
        );
        let start = DateTime::parse_from_rfc3339("2026-11-23T09:05:00-05:00").unwrap();
        assert_eq!(local_date(Locale::En, start), "Monday, November 23");
        assert_eq!(local_time(Locale::En, start), "9:05 AM");
    }

    #[test]
    fn an_unknown_placeholder_is_named() {
        assert_eq!(
            validate("Hola {patient_name}, tu cita con {doctor}"),
            Err(TemplateError::UnknownPlaceholder("doctor".into()))
        );
        let message = validate("{nombre}").unwrap_err().to_string();
        assert!(message.contains("`{nombre}`"), "{message}");
    }

    #[test]
    fn braces_must_balance_and_double_braces_are_literal() {
        assert_eq!(
            validate("Hola {patient_name"),
            Err(TemplateError::Unclosed(5))
        );
        assert_eq!(validate("Hola } {date}"), Err(TemplateError::Unopened(5)));
        assert_eq!(validate("  "), Err(TemplateError::Empty));
        assert_eq!(
            render("{{date}} {date}", &vars()),
            "{date} lunes 23 de noviembre"
        );
        assert_eq!(
            placeholders("{time} {date} {time}").unwrap(),
            vec!["time", "date"]
        );
    }

    #[test]
    fn every_default_text_is_valid_and_mentions_the_appointment() {
        for purpose in TemplatePurpose::ALL {
            for locale in [Locale::Es, Locale::En] {
                let text = default_text(purpose, locale);
                assert_eq!(validate(text), Ok(()), "{purpose} {locale:?}");
                assert!(render(text, &vars()).contains("Dr. Ana Gómez"));
            }
            assert_eq!(
                TemplatePurpose::from_message_purpose(purpose.message_purpose()),
                Some(purpose)
            );
            assert_eq!(purpose.as_str().parse::<TemplatePurpose>(), Ok(purpose));
        }
        assert!("reminders".parse::<TemplatePurpose>().is_err());
    }

    #[test]
    fn provider_variables_follow_the_placeholder_order() {
        let v = vars();
        let ordered = v.in_order();
        assert_eq!(ordered[0], "María Pérez");
        assert_eq!(ordered[3], "2:30 p. m.");
        assert_eq!(ordered.len(), PLACEHOLDERS.len());
    }
}
