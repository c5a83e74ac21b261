//! The clinic's message templates: edited over the API (validated, nothing stored on
//! error), and what the patient is told about an appointment comes from them, in the
//! location's wall clock; a purpose switched off sends nothing.

use std::time::Duration;

use chrono::{FixedOffset, TimeZone};
use prm_domain::{
    Location,
    events::{
        AppointmentCancelled, AppointmentCreated, Envelope, LocationRef, PatientRef,
        PractitionerRef,
    },
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

const CONFIRMATION_ES: &str = "/api/v1/prm/templates/confirmation/es";

pub async fn put(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.request(reqwest::Method::PUT, path, Some(body)).await
}

async fn delete(app: &TestApp, path: &str) -> reqwest::Response {
    app.request(reqwest::Method::DELETE, path, None).await
}

#[tokio::test]
async fn every_purpose_and_locale_is_listed_with_the_built_in_text_until_the_clinic_writes_one() {
    let app = spawn_app().await;
    let list = app.get_json("/api/v1/prm/templates").await;
    assert_eq!(list["total"], 12);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 12);
    assert!(
        items
            .iter()
            .all(|t| t["is_default"] == true && t["enabled"] == true)
    );
    let reminder_en = items
        .iter()
        .find(|t| t["purpose"] == "reminder" && t["locale"] == "en")
        .unwrap();
    assert!(reminder_en["body"].as_str().unwrap().contains("{time}"));
    assert!(reminder_en["updated_at"].is_null());

    let written = put(
        &app,
        CONFIRMATION_ES,
        json!({
            "body": "Hola {patient_name}: {date} a las {time} con {doctor_name}. Tel. {clinic_phone}",
            "twilio": {"content_sid": "HX0123456789abcdef0123456789abcdef", "variables": ["patient_name", "date", "time"]},
            "meta": {"name": "confirmacion_cita", "language": "es"}
        }),
    )
    .await;
    assert_eq!(written.status(), 200);
    let written: Value = written.json().await.unwrap();
    assert_eq!(written["is_default"], false);
    assert_eq!(written["enabled"], true, "enabled unless said otherwise");
    assert_eq!(
        written["placeholders"],
        json!([
            "patient_name",
            "date",
            "time",
            "doctor_name",
            "clinic_phone"
        ])
    );
    assert_eq!(written["meta"]["variables"], Value::Null);
    let read = app.get_json(CONFIRMATION_ES).await;
    assert_eq!(read, written);
    let list = app.get_json("/api/v1/prm/templates").await;
    let customized: Vec<&Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["is_default"] == false)
        .collect();
    assert_eq!(customized.len(), 1);
    assert_eq!(customized[0]["purpose"], "confirmation");
    assert_eq!(customized[0]["locale"], "es");
    // The English one is untouched.
    let en = app.get_json("/api/v1/prm/templates/confirmation/en").await;
    assert_eq!(en["is_default"], true);

    let reset = delete(&app, CONFIRMATION_ES).await;
    assert_eq!(reset.status(), 200);
    let reset: Value = reset.json().await.unwrap();
    assert_eq!(reset["is_default"], true);
    assert_eq!(
        reset["body"],
        prm_domain::templates::default_text(
            prm_domain::templates::TemplatePurpose::Confirmation,
            prm_domain::Locale::Es
        )
    );
    assert_eq!(app.get_json(CONFIRMATION_ES).await, reset);
}

#[tokio::test]
async fn an_unknown_placeholder_is_a_422_naming_it_and_nothing_changes() {
    let app = spawn_app().await;
    let before = put(
        &app,
        CONFIRMATION_ES,
        json!({"body": "Hola {patient_name}, cita el {date}."}),
    )
    .await;
    assert_eq!(before.status(), 200);
    let before: Value = before.json().await.unwrap();

    let refused = put(
        &app,
        CONFIRMATION_ES,
        json!({"body": "Hola {patient_name}, tu cita con {doctor}", "enabled": false}),
    )
    .await;
    let body = problem(refused, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "body", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("{doctor}"), "{message}");
    assert_eq!(
        app.get_json(CONFIRMATION_ES).await,
        before,
        "nothing stored"
    );

    // Every bad field is named at once: an unclosed brace, a provider variable that is
    // no placeholder, a malformed Content SID, a bad Meta language.
    let refused = put(
        &app,
        CONFIRMATION_ES,
        json!({
            "body": "Hola {patient_name",
            "twilio": {"content_sid": "HX12", "variables": ["date", "hora"]},
            "meta": {"name": "confirmacion", "language": "Spanish"}
        }),
    )
    .await;
    let body = problem(refused, 422, "validation_failed").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "body",
            "twilio.content_sid",
            "twilio.variables[1]",
            "meta.language"
        ]
    );
    assert!(
        body["errors"][2]["message"]
            .as_str()
            .unwrap()
            .contains("{hora}")
    );
    assert_eq!(
        app.get_json(CONFIRMATION_ES).await,
        before,
        "nothing stored"
    );

    // PostgreSQL cannot store U+0000: refused, not a 500.
    let refused = put(&app, CONFIRMATION_ES, json!({"body": "Hola\u{0}{date}"})).await;
    let body = problem(refused, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "body");
    assert_eq!(app.get_json(CONFIRMATION_ES).await, before);

    // A body that is not a string is refused by the schema, naming it.
    let refused = put(&app, CONFIRMATION_ES, json!({"body": 7})).await;
    problem(refused, 422, "validation_failed").await;
    assert_eq!(app.get_json(CONFIRMATION_ES).await, before);
}

#[tokio::test]
async fn an_unknown_purpose_or_locale_is_a_404_and_the_routes_need_the_key() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/prm/templates/reminders/es",
        "/api/v1/prm/templates/reminder/fr",
        "/api/v1/prm/templates/reminder/ES",
    ] {
        problem(app.get(path).await, 404, "not_found").await;
        let body = problem(
            put(&app, path, json!({"body": "Hola {patient_name}"})).await,
            404,
            "not_found",
        )
        .await;
        assert!(
            body["detail"].as_str().unwrap().contains("Template"),
            "{body}"
        );
        problem(delete(&app, path).await, 404, "not_found").await;
    }
    let list = app.get_json("/api/v1/prm/templates").await;
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["is_default"] == true),
        "nothing stored"
    );
    let anonymous = app
        .client
        .get(app.url("/api/v1/prm/templates"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

/// A location in Mexico City with a phone, and a conversation with the patient.
pub async fn clinic_and_conversation(app: &TestApp) -> (Location, String) {
    let location = clinic_only(app).await;
    let (id, _) = say(app, "Hola", 1).await;
    (location, id)
}

/// A location in Mexico City with a phone.
pub async fn clinic_only(app: &TestApp) -> Location {
    app.kit
        .store
        .insert_location(&Location {
            id: Uuid::now_v7(),
            name: "Sede Polanco".into(),
            timezone: "America/Mexico_City".parse().unwrap(),
            address: None,
            city: None,
            phone: Some(phone("+525512345678")),
        })
        .await
        .unwrap()
}

pub fn appointment(location: &Location, conversation_id: &str) -> AppointmentCreated {
    // 09:30 on the location's wall clock (UTC−6): 15:30 UTC, 10:30 in Bogotá.
    let mexico = FixedOffset::west_opt(6 * 3600).unwrap();
    let start = mexico.with_ymd_and_hms(2030, 1, 9, 9, 30, 0).unwrap();
    AppointmentCreated {
        appointment_id: Uuid::now_v7(),
        status: prm_domain::AppointmentStatus::Booked,
        start,
        end: start + chrono::TimeDelta::minutes(30),
        patient: PatientRef {
            id: Uuid::now_v7(),
            name: "Ana Ruiz".into(),
            phone: phone(PATIENT),
        },
        practitioner: PractitionerRef {
            id: Uuid::now_v7(),
            name: "Dra. Laura Méndez".into(),
            specialty: "Dermatología".into(),
        },
        location: LocationRef {
            id: location.id,
            name: location.name.clone(),
            timezone: location.timezone,
        },
        conversation_id: conversation_id.parse().ok(),
        channel: Some(prm_domain::Channel::Whatsapp),
    }
}

#[tokio::test]
async fn the_confirmation_is_the_clinics_template_in_the_locations_wall_clock() {
    let app = spawn_app().await;
    let written = put(
        &app,
        CONFIRMATION_ES,
        json!({"body": "{patient_name}, {department} el {date} a las {time} con {doctor_name} en {location}. Tel: {clinic_phone}"}),
    )
    .await;
    assert_eq!(written.status(), 200);
    let (location, id) = clinic_and_conversation(&app).await;
    app.publish(&Envelope::new("appointments", appointment(&location, &id)))
        .await;
    let confirmation = app
        .bot_replies(&id, 2)
        .await
        .into_iter()
        .find(|r| r["purpose"] == "appointment_confirmation")
        .expect("confirmed");
    assert_eq!(
        confirmation["body"],
        "Ana Ruiz, Dermatología el miércoles 9 de enero a las 9:30 a. m. con Dra. Laura Méndez en Sede Polanco. Tel: +525512345678"
    );
    assert_eq!(confirmation["delivery_status"], "recorded");
    let sent = app.recording.recorded_to(&phone(PATIENT));
    assert_eq!(
        sent.last().and_then(|m| m.message.body.as_deref()),
        confirmation["body"].as_str(),
        "inside the 24-hour window: the text, free-form"
    );
    assert!(!sent.last().unwrap().message.is_template());
}

#[tokio::test]
async fn a_purpose_switched_off_sends_and_records_nothing() {
    let app = spawn_app().await;
    let off = put(
        &app,
        "/api/v1/prm/templates/cancellation/es",
        json!({"body": "{patient_name}, tu cita fue cancelada.", "enabled": false}),
    )
    .await;
    assert_eq!(off.status(), 200);
    let (location, id) = clinic_and_conversation(&app).await;
    let booked = appointment(&location, &id);
    app.publish(&Envelope::new("appointments", booked.clone()))
        .await;
    app.bot_replies(&id, 2).await;
    let cancelled = AppointmentCancelled {
        appointment_id: booked.appointment_id,
        status: prm_domain::AppointmentStatus::Cancelled,
        start: booked.start,
        end: booked.end,
        reason: None,
        cancelled_at: chrono::Utc::now(),
        cancelled_by: "clinic".into(),
        patient: booked.patient.clone(),
        practitioner: booked.practitioner.clone(),
        location: booked.location.clone(),
        conversation_id: booked.conversation_id,
        channel: booked.channel,
    };
    let events = app
        .capture(&[prm_domain::events::EventType::AppointmentCancelled])
        .await;
    app.publish(&Envelope::new("appointments", cancelled)).await;
    events.next("APPOINTMENT_CANCELLED").await;
    // The conversations consumer acknowledged it; give its commit a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let messages = app.messages(&id).await;
    assert_eq!(
        messages.len(),
        3,
        "hola, its reply, the confirmation: {messages:?}"
    );
    assert!(
        messages
            .iter()
            .all(|m| m["purpose"] != "appointment_cancellation")
    );

    // Switched on again (same text), the next cancellation is sent.
    let on = put(
        &app,
        "/api/v1/prm/templates/cancellation/es",
        json!({"body": "{patient_name}, tu cita del {date} fue cancelada."}),
    )
    .await;
    assert_eq!(on.status(), 200);
    let again = AppointmentCancelled {
        appointment_id: Uuid::now_v7(),
        status: prm_domain::AppointmentStatus::Cancelled,
        start: booked.start,
        end: booked.end,
        reason: None,
        cancelled_at: chrono::Utc::now(),
        cancelled_by: "clinic".into(),
        patient: booked.patient.clone(),
        practitioner: booked.practitioner.clone(),
        location: booked.location.clone(),
        conversation_id: booked.conversation_id,
        channel: booked.channel,
    };
    app.publish(&Envelope::new("appointments", again)).await;
    let replies = app.bot_replies(&id, 3).await;
    assert_eq!(
        replies[2]["body"],
        "Ana Ruiz, tu cita del miércoles 9 de enero fue cancelada."
    );
    assert_eq!(replies[2]["purpose"], "appointment_cancellation");
}
