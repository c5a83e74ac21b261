//! The JSON schemas the model must answer with, and the checks its answer must pass
//! before anything of it is used: exactly the schema's keys with their types, a location
//! and department the clinic has, a real birth date that is not in the future, a
//! question whenever something is still missing. Anything else is
//! [`AiError::Malformed`], and the built-in rules answer.

use prm_domain::events::Urgency;
use serde_json::{Map, Value, json};

use crate::{
    builtin::{fields, text::Text, urgency},
    error::{AiError, loggable_key},
    intake::{ANY_LOCATION, ClinicContext, IntakeData, IntakeField, IntakeReply, IntakeTurn},
    triage::{TriageDecision, TriageInput},
};

/// Longest question accepted from the model.
const MAX_QUESTION_CHARS: usize = 1000;

pub fn intake_schema(clinic: &ClinicContext) -> Value {
    let mut locations: Vec<Value> = clinic.locations.iter().map(|l| json!(l.name)).collect();
    locations.push(json!(ANY_LOCATION));
    let text = json!({"type": ["string", "null"]});
    let mut properties = Map::new();
    for field in IntakeField::ORDER {
        let schema = match field {
            IntakeField::DateOfBirth => {
                json!({"type": ["string", "null"], "description": "YYYY-MM-DD"})
            }
            IntakeField::PreferredLocation => json!({
                "anyOf": [{"type": "string", "enum": locations}, {"type": "null"}]
            }),
            IntakeField::PreferredDayTime => json!({
                "anyOf": [
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["text", "day_of_week", "time_of_day", "asap"],
                        "properties": {
                            "text": {"type": "string"},
                            "day_of_week": {"type": ["integer", "null"], "description": "0 = Monday … 6 = Sunday"},
                            "time_of_day": {"type": ["string", "null"], "description": "HH:MM, 24-hour"},
                            "asap": {"type": "boolean"}
                        }
                    },
                    {"type": "null"}
                ]
            }),
            _ => text.clone(),
        };
        properties.insert(field.as_str().to_owned(), schema);
    }
    let required: Vec<&str> = IntakeField::ORDER.iter().map(|f| f.as_str()).collect();
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["extracted_data", "next_question", "intake_complete"],
        "properties": {
            "extracted_data": {
                "type": "object",
                "additionalProperties": false,
                "required": required,
                "properties": properties
            },
            "next_question": {"type": ["string", "null"]},
            "intake_complete": {"type": "boolean"}
        }
    })
}

pub fn triage_schema(clinic: &ClinicContext) -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["department", "urgency", "confidence", "reasoning"],
        "properties": {
            "department": {"type": "string", "enum": clinic.departments},
            "urgency": {"type": "string", "enum": ["routine", "urgent", "emergency"]},
            "confidence": {"type": "number"},
            "reasoning": {"type": "string"}
        }
    })
}

/// The object's keys, exactly `expected`.
fn exact_object(answer: Value, expected: &[&str]) -> Result<Map<String, Value>, AiError> {
    let Value::Object(object) = answer else {
        return Err(AiError::Malformed(
            "the answer is not a JSON object".to_owned(),
        ));
    };
    if let Some(unknown) = object.keys().find(|k| !expected.contains(&k.as_str())) {
        return Err(AiError::Malformed(format!(
            "unknown field {}",
            loggable_key(unknown)
        )));
    }
    if let Some(missing) = expected.iter().find(|k| !object.contains_key(**k)) {
        return Err(AiError::Malformed(format!("missing field `{missing}`")));
    }
    Ok(object)
}

pub fn intake_reply(answer: Value, turn: &IntakeTurn<'_>) -> Result<IntakeReply, AiError> {
    let mut object = exact_object(
        answer,
        &["extracted_data", "next_question", "intake_complete"],
    )?;
    let Some(Value::Object(extracted)) = object.remove("extracted_data") else {
        return Err(AiError::Malformed(
            "`extracted_data` must be an object".to_owned(),
        ));
    };
    // The schema asks for YYYY-MM-DD: a model writing "03/05/1985" leaves the day and
    // month order to a guess.
    let iso = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() && s.len() == 10;
    match extracted.get(IntakeField::DateOfBirth.as_str()) {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if iso(s.trim()) => {}
        Some(_) => {
            return Err(AiError::Malformed(
                "`date_of_birth` is not YYYY-MM-DD".to_owned(),
            ));
        }
    }
    let extracted = IntakeData::from_json_for(extracted, turn.clinic, turn.today)?;
    let next_question = match object.remove("next_question") {
        Some(Value::String(q)) if !q.trim().is_empty() => Some(
            q.trim()
                .chars()
                .take(MAX_QUESTION_CHARS)
                .collect::<String>(),
        ),
        Some(Value::Null | Value::String(_)) => None,
        _ => {
            return Err(AiError::Malformed(
                "`next_question` must be a string or null".to_owned(),
            ));
        }
    };
    let Some(Value::Bool(says_complete)) = object.remove("intake_complete") else {
        return Err(AiError::Malformed(
            "`intake_complete` must be a boolean".to_owned(),
        ));
    };

    let mut reply = IntakeReply::from_answer(turn.state, extracted, next_question, says_complete)?;
    reply.locale = turn
        .first_message
        .then(|| fields::detect_locale(&Text::new(turn.message)))
        .flatten();
    Ok(reply)
}

pub fn triage_decision(answer: Value, input: &TriageInput<'_>) -> Result<TriageDecision, AiError> {
    let mut object = exact_object(
        answer,
        &["department", "urgency", "confidence", "reasoning"],
    )?;
    let Some(Value::String(department)) = object.remove("department") else {
        return Err(AiError::Malformed(
            "`department` must be a string".to_owned(),
        ));
    };
    let department = input
        .clinic
        .department_named(&department)
        .ok_or_else(|| AiError::Malformed("`department` is not one of the clinic's".to_owned()))?
        .to_owned();
    let urgency: Urgency = object
        .remove("urgency")
        .and_then(|u| serde_json::from_value(u).ok())
        .ok_or_else(|| {
            AiError::Malformed("`urgency` must be routine, urgent or emergency".to_owned())
        })?;
    let confidence = object
        .remove("confidence")
        .and_then(|c| c.as_f64())
        .filter(|c| (0.0..=1.0).contains(c))
        .ok_or_else(|| {
            AiError::Malformed("`confidence` must be a number from 0 to 1".to_owned())
        })?;
    let reasoning = match object.remove("reasoning") {
        Some(Value::String(r)) => Some(
            r.trim()
                .chars()
                .take(MAX_QUESTION_CHARS)
                .collect::<String>(),
        ),
        Some(Value::Null) => None,
        _ => {
            return Err(AiError::Malformed(
                "`reasoning` must be a string".to_owned(),
            ));
        }
    };
    // The red-flag rules are never overruled downwards by a model.
    let rules = input
        .patient_texts
        .iter()
        .map(|t| urgency::assess(t))
        .fold(Urgency::Routine, urgency::most_urgent);
    Ok(TriageDecision {
        department,
        urgency: urgency::most_urgent(urgency, rules),
        confidence,
        reasoning: reasoning.filter(|r| !r.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::{IntakeState, LocationChoice};
    use chrono::NaiveDate;
    use prm_domain::Locale;
    use uuid::Uuid;

    fn clinic() -> ClinicContext {
        ClinicContext {
            departments: vec!["Cardiology".into(), "General Medicine".into()],
            locations: vec![LocationChoice {
                id: Uuid::from_u128(1),
                name: "Sede Norte".into(),
            }],
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 15).unwrap()
    }

    fn reply(answer: Value) -> Result<IntakeReply, AiError> {
        let clinic = clinic();
        let mut state = IntakeState::start(Locale::Es, None);
        state.asked = Some(IntakeField::Name);
        let turn = IntakeTurn {
            conversation_id: Uuid::nil(),
            message: "soy Ana Ruiz",
            state: &state,
            clinic: &clinic,
            first_message: false,
            today: today(),
        };
        intake_reply(answer, &turn)
    }

    fn nulls() -> Value {
        let mut data = Map::new();
        for f in IntakeField::ORDER {
            data.insert(f.as_str().to_owned(), Value::Null);
        }
        Value::Object(data)
    }

    #[test]
    fn a_good_answer_is_used() {
        let mut data = nulls();
        data["name"] = json!("Ana Ruiz");
        data["date_of_birth"] = json!("1985-05-03");
        let r = reply(json!({"extracted_data": data, "next_question": "¿Cuál es el motivo de tu consulta?", "intake_complete": false})).unwrap();
        assert_eq!(r.extracted.name(), Some("Ana Ruiz"));
        assert_eq!(r.next_field, Some(IntakeField::ChiefComplaint));
        assert!(!r.complete && !r.misunderstood);
    }

    #[test]
    fn schema_violations_are_malformed() {
        let ok = || {
            let mut d = nulls();
            d["name"] = json!("Ana Ruiz");
            d
        };
        let with = |f: &str, v: Value| {
            let mut d = ok();
            d[f] = v;
            json!({"extracted_data": d, "next_question": "?", "intake_complete": false})
        };
        for bad in [
            json!([]),
            json!({"extracted_data": ok(), "next_question": "?"}),
            json!({"extracted_data": ok(), "next_question": "?", "intake_complete": false, "mood": "happy"}),
            json!({"extracted_data": ok(), "next_question": 3, "intake_complete": false}),
            json!({"extracted_data": ok(), "next_question": "?", "intake_complete": "no"}),
            json!({"extracted_data": "Ana", "next_question": "?", "intake_complete": false}),
            json!({"extracted_data": ok(), "next_question": null, "intake_complete": false}),
            json!({"extracted_data": ok(), "next_question": null, "intake_complete": true}),
            with("age", json!(40)),
            with("name", json!(42)),
            with("date_of_birth", json!("2030-01-01")),
            with("date_of_birth", json!("1985-02-30")),
            with("date_of_birth", json!("sometime in May")),
            with("preferred_location", json!("Sede Sur")),
            with("preferred_day_time", json!({"day_of_week": 9})),
        ] {
            assert!(
                matches!(reply(bad.clone()), Err(AiError::Malformed(_))),
                "{bad}"
            );
        }
    }

    fn decide(answer: Value, messages: &[&str]) -> Result<TriageDecision, AiError> {
        let clinic = clinic();
        let data = IntakeData::default();
        let texts: Vec<String> = messages.iter().map(|m| (*m).to_owned()).collect();
        triage_decision(
            answer,
            &TriageInput {
                conversation_id: Uuid::nil(),
                locale: Locale::Es,
                data: &data,
                patient_texts: &texts,
                clinic: &clinic,
                today: today(),
            },
        )
    }

    #[test]
    fn triage_answers_are_checked_and_red_flags_kept() {
        let good = json!({"department": "cardiology", "urgency": "routine", "confidence": 0.8, "reasoning": "Palpitations"});
        let d = decide(good.clone(), &["tengo palpitaciones"]).unwrap();
        assert_eq!(d.department, "Cardiology", "the clinic's spelling");
        assert_eq!(d.urgency, Urgency::Routine);
        let d = decide(good, &["me desmayé ayer"]).unwrap();
        assert_eq!(
            d.urgency,
            Urgency::Emergency,
            "the rules are never overruled downwards"
        );
        for bad in [
            json!({"department": "Neurology", "urgency": "routine", "confidence": 0.8, "reasoning": "x"}),
            json!({"department": "Cardiology", "urgency": "soon", "confidence": 0.8, "reasoning": "x"}),
            json!({"department": "Cardiology", "urgency": "routine", "confidence": 1.5, "reasoning": "x"}),
            json!({"department": "Cardiology", "urgency": "routine", "confidence": "high", "reasoning": "x"}),
            json!({"department": "Cardiology", "urgency": "routine", "confidence": 0.8}),
            json!({"department": "Cardiology", "urgency": "routine", "confidence": 0.8, "reasoning": "x", "extra": 1}),
        ] {
            assert!(
                matches!(decide(bad.clone(), &[]), Err(AiError::Malformed(_))),
                "{bad}"
            );
        }
    }
}
