//! The intake: the fields §8 asks for, the values collected so far, and one turn of the
//! conversation (a patient message in, the extracted values and the next question out).
//!
//! Values are JSON, as n8n and OpenAI exchange them:
//!
//! | field | value |
//! |---|---|
//! | `name` | string, capitalised ("Ana Ruiz") |
//! | `date_of_birth` | `"YYYY-MM-DD"`; the patient's raw text when it could not be read after three tries |
//! | `chief_complaint`, `symptoms`, `allergies`, `medications` | the patient's words, trimmed; [`NONE`] for "ninguna/no/nada/none", [`UNKNOWN`] for "no sé/I don't know" |
//! | `preferred_location` | a clinic location's exact name, or [`ANY_LOCATION`] |
//! | `preferred_day_time` | `{"text", "day_of_week": 0..6 (0 = Monday) or null, "time_of_day": "HH:MM" or null, "asap": bool}` |
//!
//! A `preferred_day_time` given as a plain string (n8n, OpenAI) is read with the
//! built-in parser; text it cannot read is kept as `text` with no preference.

use std::{collections::BTreeMap, fmt, str::FromStr};

use chrono::{NaiveDate, NaiveTime};
use prm_domain::{Locale, Weekday, events::SlotPreferences, hhmm};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{
    builtin::{dates, daytime, text},
    error::{AiError, loggable_key},
};

/// Allergies, medications or symptoms: the patient has none.
pub const NONE: &str = "none";
/// The patient does not know ("no sé").
pub const UNKNOWN: &str = "unknown";
/// Any of the clinic's locations will do.
pub const ANY_LOCATION: &str = "any";

/// Longest text kept for one field (WhatsApp's own message limit).
const MAX_VALUE_CHARS: usize = 4096;

/// One piece of intake data, in the order §8 asks for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntakeField {
    Name,
    DateOfBirth,
    ChiefComplaint,
    Symptoms,
    Allergies,
    Medications,
    PreferredLocation,
    PreferredDayTime,
}

impl IntakeField {
    /// Every field, in the order they are asked.
    pub const ORDER: [Self; 8] = [
        Self::Name,
        Self::DateOfBirth,
        Self::ChiefComplaint,
        Self::Symptoms,
        Self::Allergies,
        Self::Medications,
        Self::PreferredLocation,
        Self::PreferredDayTime,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::DateOfBirth => "date_of_birth",
            Self::ChiefComplaint => "chief_complaint",
            Self::Symptoms => "symptoms",
            Self::Allergies => "allergies",
            Self::Medications => "medications",
            Self::PreferredLocation => "preferred_location",
            Self::PreferredDayTime => "preferred_day_time",
        }
    }

    /// Fields whose value is the patient's own words.
    pub fn is_free_text(self) -> bool {
        matches!(
            self,
            Self::ChiefComplaint | Self::Symptoms | Self::Allergies | Self::Medications
        )
    }
}

impl fmt::Display for IntakeField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IntakeField {
    type Err = AiError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ORDER
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| AiError::Malformed(format!("unknown intake field {}", loggable_key(s))))
    }
}

/// The intake values, keyed by field; (de)serializes as a flat JSON object
/// `{field: value}`, validated on the way in (see [`IntakeData::from_json`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntakeData(BTreeMap<IntakeField, Value>);

impl IntakeData {
    pub fn get(&self, field: IntakeField) -> Option<&Value> {
        self.0.get(&field)
    }

    pub fn contains(&self, field: IntakeField) -> bool {
        self.0.contains_key(&field)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The fields present, in §8 order.
    pub fn fields(&self) -> impl Iterator<Item = IntakeField> + '_ {
        self.0.keys().copied()
    }

    /// `other`'s values replace ours (they are newer: a patient's correction).
    pub fn merge(&mut self, other: IntakeData) {
        self.0.extend(other.0);
    }

    pub(crate) fn insert(&mut self, field: IntakeField, value: Value) {
        self.0.insert(field, value);
    }

    /// Values from n8n or OpenAI (or a stored state): every key must be an intake field
    /// and every value of its type (see the module table); `null` means "not given".
    /// Strings are trimmed, a `preferred_day_time` string is read into its object form,
    /// an ISO `date_of_birth` must be a real date.
    pub fn from_json(map: Map<String, Value>) -> Result<Self, AiError> {
        Self::parse(map, None, None)
    }

    /// [`IntakeData::from_json`], also checking the values against the clinic and today:
    /// a `preferred_location` must be one of the clinic's locations (any spelling; stored
    /// as the clinic writes it) or "any"; a `date_of_birth` must not be in the future nor
    /// over 120 years ago, and one written in words ("3 de mayo de 1985") is stored as
    /// `YYYY-MM-DD`; "mañana" in a day/time is read against `today`.
    pub fn from_json_for(
        map: Map<String, Value>,
        clinic: &ClinicContext,
        today: NaiveDate,
    ) -> Result<Self, AiError> {
        Self::parse(map, Some(clinic), Some(today))
    }

    fn parse(
        map: Map<String, Value>,
        clinic: Option<&ClinicContext>,
        today: Option<NaiveDate>,
    ) -> Result<Self, AiError> {
        let mut data = Self::default();
        for (key, value) in map {
            let field: IntakeField = key.parse()?;
            if value.is_null() {
                continue;
            }
            let value = match field {
                IntakeField::DateOfBirth => birth_value(&value, today)?,
                IntakeField::PreferredLocation => location_value(&value, clinic)?,
                IntakeField::PreferredDayTime => day_time_value(value, today)?,
                _ => Value::String(non_empty_string(field, &value)?),
            };
            data.insert(field, value);
        }
        Ok(data)
    }

    pub fn to_json(&self) -> Map<String, Value> {
        self.0
            .iter()
            .map(|(f, v)| (f.as_str().to_owned(), v.clone()))
            .collect()
    }

    pub fn name(&self) -> Option<&str> {
        self.get(IntakeField::Name).and_then(Value::as_str)
    }

    /// The birth date, when it was read (not a raw text kept after three tries).
    pub fn birth_date(&self) -> Option<NaiveDate> {
        let raw = self.get(IntakeField::DateOfBirth)?.as_str()?;
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()
    }

    /// The slot-search preferences these values give, with the location resolved to
    /// one of `clinic`'s ("any" or an unknown name: no location preference).
    pub fn slot_preferences(&self, clinic: &ClinicContext) -> PreferenceHints {
        let location_id = self
            .get(IntakeField::PreferredLocation)
            .and_then(Value::as_str)
            .and_then(|name| clinic.location_named(name))
            .map(|l| l.id);
        let day_time = self.get(IntakeField::PreferredDayTime);
        let day_of_week = day_time
            .and_then(|v| v.get("day_of_week"))
            .and_then(Value::as_i64)
            .and_then(|d| Weekday::new(d).ok());
        let time_of_day = day_time
            .and_then(|v| v.get("time_of_day"))
            .and_then(Value::as_str)
            .and_then(|t| hhmm::parse(t).ok());
        let asap = day_time
            .and_then(|v| v.get("asap"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        PreferenceHints {
            location_id,
            day_of_week,
            time_of_day,
            asap,
        }
    }
}

fn non_empty_string(field: IntakeField, value: &Value) -> Result<String, AiError> {
    let s = value
        .as_str()
        .ok_or_else(|| AiError::Malformed(format!("`{field}` must be a string")))?
        .trim();
    if s.is_empty() {
        return Err(AiError::Malformed(format!("`{field}` is empty")));
    }
    Ok(s.chars().take(MAX_VALUE_CHARS).collect())
}

fn birth_value(value: &Value, today: Option<NaiveDate>) -> Result<Value, AiError> {
    let raw = non_empty_string(IntakeField::DateOfBirth, value)?;
    let iso_shaped = raw.len() == 10
        && raw.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let date = if iso_shaped {
        Some(
            NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
                .map_err(|_| AiError::Malformed("`date_of_birth` is not a real date".to_owned()))?,
        )
    } else {
        today.and_then(|today| {
            let text = text::Text::new(&raw);
            dates::find_birth(&text, text.all(), today).map(|(d, _)| d)
        })
    };
    match (date, today) {
        (Some(date), Some(today)) if !dates::is_plausible_birth(date, today) => Err(
            AiError::Malformed("`date_of_birth` is in the future or over 120 years ago".to_owned()),
        ),
        (Some(date), _) => Ok(Value::String(date.format("%Y-%m-%d").to_string())),
        (None, _) => Ok(Value::String(raw)),
    }
}

fn location_value(value: &Value, clinic: Option<&ClinicContext>) -> Result<Value, AiError> {
    let raw = non_empty_string(IntakeField::PreferredLocation, value)?;
    if raw.eq_ignore_ascii_case(ANY_LOCATION) {
        return Ok(Value::String(ANY_LOCATION.to_owned()));
    }
    match clinic {
        None => Ok(Value::String(raw)),
        Some(clinic) => clinic
            .location_named(&raw)
            .map(|l| Value::String(l.name.clone()))
            .ok_or_else(|| {
                AiError::Malformed("`preferred_location` is not one of the clinic's".to_owned())
            }),
    }
}

fn day_time_value(value: Value, today: Option<NaiveDate>) -> Result<Value, AiError> {
    const FIELD: &str = "`preferred_day_time`";
    let object = match value {
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() {
                return Err(AiError::Malformed(format!("{FIELD} is empty")));
            }
            let text = text::Text::new(s);
            let parsed = daytime::parse(&text, text.all(), today).unwrap_or_default();
            return Ok(DayTimeValue::from_parsed(s, &parsed).to_json());
        }
        Value::Object(object) => object,
        _ => {
            return Err(AiError::Malformed(format!(
                "{FIELD} must be an object or a string"
            )));
        }
    };
    let mut out = DayTimeValue::default();
    for (key, value) in object {
        match (key.as_str(), value) {
            (_, Value::Null) => {}
            ("text", Value::String(s)) => {
                out.text = s.trim().chars().take(MAX_VALUE_CHARS).collect()
            }
            ("day_of_week", Value::Number(n)) => {
                let day = n.as_u64().filter(|d| *d <= 6).ok_or_else(|| {
                    AiError::Malformed(format!("{FIELD}.day_of_week must be 0 to 6"))
                })?;
                out.day_of_week = Some(day as u8);
            }
            ("time_of_day", Value::String(t)) => {
                out.time_of_day = Some(hhmm::parse(t.trim()).map_err(|_| {
                    AiError::Malformed(format!("{FIELD}.time_of_day must be HH:MM"))
                })?);
            }
            ("asap", Value::Bool(b)) => out.asap = b,
            ("text" | "day_of_week" | "time_of_day" | "asap", _) => {
                return Err(AiError::Malformed(format!(
                    "{FIELD}.{key} has the wrong type"
                )));
            }
            (other, _) => {
                return Err(AiError::Malformed(format!(
                    "{FIELD} has an unknown key {}",
                    loggable_key(other)
                )));
            }
        }
    }
    Ok(out.to_json())
}

/// `preferred_day_time` as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct DayTimeValue {
    pub text: String,
    pub day_of_week: Option<u8>,
    pub time_of_day: Option<NaiveTime>,
    pub asap: bool,
}

impl DayTimeValue {
    pub fn from_parsed(text: &str, parsed: &daytime::DayTime) -> Self {
        Self {
            text: text.trim().chars().take(MAX_VALUE_CHARS).collect(),
            day_of_week: parsed.day_of_week,
            time_of_day: parsed.time,
            asap: parsed.asap,
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "text": self.text,
            "day_of_week": self.day_of_week,
            "time_of_day": self.time_of_day.map(|t| t.format("%H:%M").to_string()),
            "asap": self.asap,
        })
    }
}

impl Serialize for IntakeData {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for IntakeData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Map::<String, Value>::deserialize(d)?;
        Self::from_json(map).map_err(serde::de::Error::custom)
    }
}

/// What the slot search can use from the intake.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreferenceHints {
    pub location_id: Option<Uuid>,
    pub day_of_week: Option<Weekday>,
    pub time_of_day: Option<NaiveTime>,
    /// The patient wants the soonest slot.
    pub asap: bool,
}

impl From<PreferenceHints> for SlotPreferences {
    fn from(hints: PreferenceHints) -> Self {
        SlotPreferences {
            location_id: hints.location_id,
            day_of_week: hints.day_of_week,
            time_of_day: hints.time_of_day.map(|t| t.format("%H:%M").to_string()),
            practitioner_id: None,
        }
    }
}

/// What the intake needs to know about the clinic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClinicContext {
    /// The practitioners' specialties as the clinic wrote them ("Cardiology").
    pub departments: Vec<String>,
    pub locations: Vec<LocationChoice>,
}

impl ClinicContext {
    /// The department called `name`, as the clinic spells it ("cardiologia" →
    /// "Cardiología"): how an engine's or n8n's department is checked.
    pub fn department_named(&self, name: &str) -> Option<&str> {
        let wanted = text::fold_str(name);
        self.departments
            .iter()
            .find(|d| text::fold_str(d) == wanted)
            .map(String::as_str)
    }

    /// The location called `name`, however it is capitalised or accented.
    pub fn location_named(&self, name: &str) -> Option<&LocationChoice> {
        let wanted = text::fold_str(name);
        self.locations
            .iter()
            .find(|l| text::fold_str(&l.name) == wanted)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationChoice {
    pub id: Uuid,
    pub name: String,
}

/// A patient the clinic already knows (same phone): what is not asked again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownPatient {
    pub name: String,
    pub birth_date: Option<NaiveDate>,
}

/// The intake's progress; stored between messages (Redis and the database), so it
/// serializes: `{required_fields, extracted_data, asked, misunderstood, locale}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntakeState {
    /// Still missing, in §8 order.
    pub required_fields: Vec<IntakeField>,
    #[serde(rename = "extracted_data")]
    pub extracted: IntakeData,
    /// The field the last question asked.
    #[serde(default)]
    pub asked: Option<IntakeField>,
    /// Consecutive turns in which the asked field was not understood.
    #[serde(default)]
    pub misunderstood: u32,
    pub locale: Locale,
}

impl IntakeState {
    /// A new intake; a known patient's name and birth date are filled, not asked.
    pub fn start(locale: Locale, known: Option<&KnownPatient>) -> Self {
        let mut extracted = IntakeData::default();
        if let Some(known) = known {
            if !known.name.trim().is_empty() {
                extracted.insert(
                    IntakeField::Name,
                    Value::String(known.name.trim().to_owned()),
                );
            }
            if let Some(born) = known.birth_date {
                extracted.insert(
                    IntakeField::DateOfBirth,
                    Value::String(born.format("%Y-%m-%d").to_string()),
                );
            }
        }
        let required_fields = IntakeField::ORDER
            .into_iter()
            .filter(|f| !extracted.contains(*f))
            .collect();
        Self {
            required_fields,
            extracted,
            asked: None,
            misunderstood: 0,
            locale,
        }
    }

    /// Takes in what one turn found and asked.
    pub fn apply(&mut self, reply: &IntakeReply) {
        self.extracted.merge(reply.extracted.clone());
        if let Some(locale) = reply.locale {
            self.locale = locale;
        }
        self.misunderstood = match (reply.misunderstood, reply.next_field == self.asked) {
            (true, true) => self.misunderstood.saturating_add(1),
            (true, false) => 1,
            (false, _) => 0,
        };
        self.asked = reply.next_field;
        let extracted = &self.extracted;
        self.required_fields.retain(|f| !extracted.contains(*f));
    }

    pub fn is_complete(&self) -> bool {
        self.required_fields.is_empty()
    }

    /// The first field still missing.
    pub fn next_field(&self) -> Option<IntakeField> {
        self.required_fields.first().copied()
    }
}

/// One patient message to the intake.
#[derive(Debug, Clone, Copy)]
pub struct IntakeTurn<'a> {
    pub conversation_id: Uuid,
    pub message: &'a str,
    pub state: &'a IntakeState,
    pub clinic: &'a ClinicContext,
    /// The conversation's first message: the answer greets, and the locale is detected.
    pub first_message: bool,
    /// The clinic's today, for birth dates and "mañana": the rules read no clock.
    pub today: NaiveDate,
}

/// What one turn found and what to ask next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntakeReply {
    /// New or corrected values from this message.
    pub extracted: IntakeData,
    pub next_field: Option<IntakeField>,
    /// In the conversation's locale; `None` when the intake is complete.
    pub next_question: Option<String>,
    pub complete: bool,
    /// Detected from the first message.
    pub locale: Option<Locale>,
    /// The asked field was not understood (the question is asked again, reworded).
    pub misunderstood: bool,
}

impl IntakeReply {
    /// A reply from another engine's answer (OpenAI's JSON, n8n's intake-response):
    /// `extracted` already validated (see [`IntakeData::from_json_for`]). The next field
    /// is the first of `state`'s still missing after `extracted`; an answer claiming the
    /// intake complete while fields are missing, or asking nothing while they are, is
    /// [`AiError::Malformed`]. `locale` is left unset.
    pub fn from_answer(
        state: &IntakeState,
        extracted: IntakeData,
        next_question: Option<String>,
        intake_complete: bool,
    ) -> Result<Self, AiError> {
        let next_field = state
            .required_fields
            .iter()
            .copied()
            .find(|f| !extracted.contains(*f));
        if intake_complete && next_field.is_some() {
            return Err(AiError::Malformed(
                "complete while fields are missing".to_owned(),
            ));
        }
        let next_question = next_question.filter(|q| !q.trim().is_empty());
        if next_field.is_some() && next_question.is_none() {
            return Err(AiError::Malformed(
                "no question while fields are missing".to_owned(),
            ));
        }
        let misunderstood = state
            .asked
            .is_some_and(|f| state.required_fields.contains(&f) && !extracted.contains(f))
            && extracted.is_empty();
        Ok(Self {
            extracted,
            next_field,
            next_question: next_field.and(next_question),
            complete: next_field.is_none(),
            locale: None,
            misunderstood,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn clinic() -> ClinicContext {
        ClinicContext {
            departments: vec!["Cardiology".into()],
            locations: vec![
                LocationChoice {
                    id: Uuid::from_u128(1),
                    name: "Sede Norte".into(),
                },
                LocationChoice {
                    id: Uuid::from_u128(2),
                    name: "Sede Sur".into(),
                },
            ],
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 15).unwrap()
    }

    #[test]
    fn fields_are_named_and_ordered_as_section_8_says() {
        let names: Vec<&str> = IntakeField::ORDER.iter().map(|f| f.as_str()).collect();
        assert_eq!(
            names,
            [
                "name",
                "date_of_birth",
                "chief_complaint",
                "symptoms",
                "allergies",
                "medications",
                "preferred_location",
                "preferred_day_time"
            ]
        );
        for f in IntakeField::ORDER {
            assert_eq!(serde_json::to_value(f).unwrap(), json!(f.as_str()));
            assert_eq!(f.as_str().parse::<IntakeField>().unwrap(), f);
        }
        assert!(matches!(
            "age".parse::<IntakeField>(),
            Err(AiError::Malformed(_))
        ));
    }

    #[test]
    fn data_round_trips_as_a_flat_object() {
        let raw = json!({
            "name": " Ana Ruiz ",
            "date_of_birth": "1985-05-03",
            "allergies": "none",
            "preferred_location": "Sede Norte",
            "preferred_day_time": {"text": "martes en la mañana", "day_of_week": 1, "time_of_day": "09:00", "asap": false},
            "symptoms": null
        });
        let data = IntakeData::from_json(map(raw)).unwrap();
        assert_eq!(data.name(), Some("Ana Ruiz"));
        assert!(!data.contains(IntakeField::Symptoms), "null is not given");
        let json = serde_json::to_value(&data).unwrap();
        assert_eq!(json["date_of_birth"], "1985-05-03");
        assert_eq!(serde_json::from_value::<IntakeData>(json).unwrap(), data);
        let hints = data.slot_preferences(&clinic());
        assert_eq!(hints.location_id, Some(Uuid::from_u128(1)));
        assert_eq!(hints.day_of_week, Weekday::new(1).ok());
        assert_eq!(hints.time_of_day, NaiveTime::from_hms_opt(9, 0, 0));
        assert!(!hints.asap);
        let prefs = SlotPreferences::from(hints);
        assert_eq!(prefs.time_of_day.as_deref(), Some("09:00"));
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_malformed() {
        for bad in [
            json!({"age": 40}),
            json!({"Ana Ruiz": "x"}),
            json!({"name": 42}),
            json!({"name": "  "}),
            json!({"allergies": ["penicillin"]}),
            json!({"date_of_birth": "1985-02-31"}),
            json!({"preferred_day_time": 3}),
            json!({"preferred_day_time": {"day_of_week": 7}}),
            json!({"preferred_day_time": {"day_of_week": "monday"}}),
            json!({"preferred_day_time": {"time_of_day": "9am"}}),
            json!({"preferred_day_time": {"weekday": 1}}),
        ] {
            let error = IntakeData::from_json(map(bad.clone())).unwrap_err();
            assert!(matches!(error, AiError::Malformed(_)), "{bad}");
            assert!(
                !error.to_string().contains("Ana"),
                "no patient data in {error}"
            );
        }
    }

    #[test]
    fn checked_against_the_clinic_and_today() {
        let ok = |v: Value| IntakeData::from_json_for(map(v), &clinic(), today());
        let data =
            ok(json!({"preferred_location": "sede norte", "date_of_birth": "3 de mayo de 1985"}))
                .unwrap();
        assert_eq!(
            data.get(IntakeField::PreferredLocation),
            Some(&json!("Sede Norte"))
        );
        assert_eq!(data.birth_date(), NaiveDate::from_ymd_opt(1985, 5, 3));
        assert_eq!(
            ok(json!({"preferred_location": "ANY"}))
                .unwrap()
                .get(IntakeField::PreferredLocation),
            Some(&json!("any"))
        );
        assert!(ok(json!({"preferred_location": "Sede Este"})).is_err());
        assert!(ok(json!({"date_of_birth": "2030-01-01"})).is_err());
        assert!(ok(json!({"date_of_birth": "1850-01-01"})).is_err());
        let data = ok(json!({"preferred_day_time": "mañana en la tarde"})).unwrap();
        assert_eq!(
            data.get(IntakeField::PreferredDayTime),
            Some(
                &json!({"text": "mañana en la tarde", "day_of_week": 0, "time_of_day": "15:00", "asap": false})
            )
        );
        // Without the clinic and today: shapes only.
        let loose = IntakeData::from_json(map(
            json!({"preferred_location": "Sede Este", "date_of_birth": "no sé"}),
        ))
        .unwrap();
        assert_eq!(
            loose.get(IntakeField::PreferredLocation),
            Some(&json!("Sede Este"))
        );
        assert_eq!(loose.birth_date(), None);
    }

    #[test]
    fn a_known_patient_is_not_asked_name_or_birth_date() {
        let known = KnownPatient {
            name: "Ana Ruiz".into(),
            birth_date: NaiveDate::from_ymd_opt(1985, 5, 3),
        };
        let state = IntakeState::start(Locale::Es, Some(&known));
        assert_eq!(state.next_field(), Some(IntakeField::ChiefComplaint));
        assert_eq!(state.required_fields.len(), 6);
        let fresh = IntakeState::start(Locale::En, None);
        assert_eq!(fresh.required_fields, IntakeField::ORDER.to_vec());
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(json["extracted_data"]["name"], "Ana Ruiz");
        assert_eq!(json["required_fields"][0], "chief_complaint");
        assert_eq!(serde_json::from_value::<IntakeState>(json).unwrap(), state);
    }

    #[test]
    fn departments_are_found_in_the_clinics_spelling() {
        let clinic = ClinicContext {
            departments: vec!["Cardiología".into(), "Medicina General".into()],
            locations: vec![],
        };
        assert_eq!(clinic.department_named("cardiologia"), Some("Cardiología"));
        assert_eq!(
            clinic.department_named(" MEDICINA  general "),
            Some("Medicina General")
        );
        assert_eq!(clinic.department_named("Neurología"), None);
    }

    #[test]
    fn another_engines_answer_must_agree_with_what_is_missing() {
        let mut state = IntakeState::start(Locale::Es, None);
        state.asked = Some(IntakeField::Name);
        let name = IntakeData::from_json(map(json!({"name": "Ana Ruiz"}))).unwrap();
        let reply =
            IntakeReply::from_answer(&state, name.clone(), Some("¿Fecha?".into()), false).unwrap();
        assert_eq!(reply.next_field, Some(IntakeField::DateOfBirth));
        assert!(!reply.misunderstood && !reply.complete);
        assert!(IntakeReply::from_answer(&state, name.clone(), None, false).is_err());
        assert!(IntakeReply::from_answer(&state, name, Some("?".into()), true).is_err());
        let nothing = IntakeReply::from_answer(
            &state,
            IntakeData::default(),
            Some("¿Nombre?".into()),
            false,
        )
        .unwrap();
        assert!(nothing.misunderstood);
        state.required_fields = vec![IntakeField::PreferredDayTime];
        let last =
            IntakeData::from_json(map(json!({"preferred_day_time": "lo antes posible"}))).unwrap();
        let done = IntakeReply::from_answer(&state, last, Some("ignored".into()), true).unwrap();
        assert!(done.complete && done.next_question.is_none());
    }

    #[test]
    fn applying_replies_counts_misunderstandings_of_the_same_question() {
        let mut state = IntakeState::start(Locale::Es, None);
        let ask = |field, misunderstood| IntakeReply {
            extracted: IntakeData::default(),
            next_field: Some(field),
            next_question: Some("?".into()),
            complete: false,
            locale: None,
            misunderstood,
        };
        state.apply(&ask(IntakeField::Name, false));
        assert_eq!(
            (state.asked, state.misunderstood),
            (Some(IntakeField::Name), 0)
        );
        state.apply(&ask(IntakeField::Name, true));
        state.apply(&ask(IntakeField::Name, true));
        assert_eq!(state.misunderstood, 2);
        let mut answered = ask(IntakeField::DateOfBirth, false);
        answered.extracted.insert(IntakeField::Name, json!("Ana"));
        answered.locale = Some(Locale::En);
        state.apply(&answered);
        assert_eq!(state.misunderstood, 0);
        assert_eq!(state.locale, Locale::En);
        assert_eq!(state.next_field(), Some(IntakeField::DateOfBirth));
    }
}
