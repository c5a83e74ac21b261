//! The clinic's read-outs: the CSV export (filters, escaping, E.164, streamed in
//! chunks), the figures of `GET /stats` against a dataset whose every number is known,
//! and the audit trail (who, what, before/after without health data, nothing for a
//! refused change, append-only).

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use prm_domain::{Locale, Patient, PhoneNumber};
use prm_store::seeding::{self, SeedAppointment, SeedConversation, SeedMessage};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    API_KEY, Clinic, TestApp, fields, problem, spawn_app, spawn_app_with, urlencode,
};

const EXPORT: &str = "/api/v1/prm/appointments/export.csv";
const STATS: &str = "/api/v1/prm/stats";
const AUDIT: &str = "/api/v1/prm/audit";
/// `key_` + `printf %s test-key-0123456789abcdef | sha256sum | cut -c1-12`
const TEST_KEY_ID: &str = "key_0813ba6d30f7";
const SECOND_KEY: &str = "second-key-0123456789abcdef";
/// `key_` + `printf %s second-key-0123456789abcdef | sha256sum | cut -c1-12`
const SECOND_KEY_ID: &str = "key_f5a7b15b85c2";

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

fn uuid(v: &Value) -> Uuid {
    v["id"].as_str().unwrap().parse().unwrap()
}

/// Reads a streamed body: its chunks as they arrived, and the whole.
async fn chunks(response: reqwest::Response) -> (usize, String) {
    let mut stream = response.bytes_stream();
    let (mut count, mut body) = (0, Vec::new());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        if !chunk.is_empty() {
            count += 1;
            body.extend_from_slice(&chunk);
        }
    }
    (count, String::from_utf8(body).unwrap())
}

fn parse_csv(body: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// `n` appointments of the clinic's practitioner, 30 minutes apart from `first`, for
/// the given patients in turn; statuses cycle booked, cancelled, fulfilled.
async fn seed_appointments(
    app: &TestApp,
    clinic: &Clinic,
    patients: &[Uuid],
    first: DateTime<Utc>,
    n: usize,
) -> Vec<Uuid> {
    let rows: Vec<SeedAppointment> = (0..n)
        .map(|i| {
            let start = first + Duration::minutes(30 * i as i64);
            SeedAppointment {
                id: Uuid::now_v7(),
                status: ["booked", "cancelled", "fulfilled"][i % 3],
                start,
                end: start + Duration::minutes(30),
                patient_id: patients[i % patients.len()],
                practitioner_id: uuid(&clinic.practitioner),
                location_id: uuid(&clinic.location),
                channel: Some("whatsapp"),
                reason: (i == 0).then(|| "=cmd|' /C calc'!A0".to_owned()),
                notes: (i == 1).then(|| "line one\nline \"two\", with a comma".to_owned()),
                created_at: at("2030-01-01T12:00:00Z"),
                updated_at: at("2030-01-01T12:00:00Z"),
            }
        })
        .collect();
    seeding::appointments(&app.store, &rows).await.unwrap();
    rows.iter().map(|r| r.id).collect()
}

async fn seed_patient(app: &TestApp, name: &str, phone: &str) -> Uuid {
    let patient = Patient {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        phone: PhoneNumber::parse(phone, "57").unwrap(),
        birth_date: None,
        locale: Some(Locale::Es),
    };
    seeding::patients(&app.store, std::slice::from_ref(&patient))
        .await
        .unwrap();
    patient.id
}

#[tokio::test]
async fn the_export_streams_every_row_in_chunks_escaped_with_phones_in_e164() {
    let app = spawn_app().await;
    let clinic = Clinic::open(&app).await;
    let formula = seed_patient(&app, "=HYPERLINK(\"http://evil\",\"x\")", "300 765 4321").await;
    let quoted = seed_patient(&app, "Pérez, \"Tito\"\nJr.", "+1 (415) 555-0100").await;
    let patients = [uuid(&clinic.patient), formula, quoted];
    let n = 2_345;
    let ids = seed_appointments(&app, &clinic, &patients, at("2030-02-01T13:00:00Z"), n).await;

    let response = app.get(EXPORT).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"appointments-2030-01-14.csv\""
    );
    assert!(
        headers.get("content-length").is_none(),
        "streamed, not buffered: {headers:?}"
    );
    let (chunk_count, body) = chunks(response).await;
    assert!(
        chunk_count >= 4,
        "{n} rows in pages of 500 arrive in several chunks, got {chunk_count}"
    );
    let (header, rows) = parse_csv(&body);
    assert_eq!(
        header,
        prm_appointments::reports::export::COLUMNS.map(str::to_owned)
    );
    assert_eq!(rows.len(), n, "every row once");
    let exported: Vec<Uuid> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(
        exported, ids,
        "by start time, none lost or repeated across pages"
    );

    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let first = &rows[0];
    assert_eq!(first[col("status")], "booked");
    // 13:00 UTC is 08:00 in Bogotá: the location's offset.
    assert_eq!(first[col("start")], "2030-02-01T08:00:00-05:00");
    assert_eq!(first[col("end")], "2030-02-01T08:30:00-05:00");
    assert_eq!(first[col("timezone")], "America/Bogota");
    assert_eq!(first[col("patient_name")], "María Pérez");
    assert_eq!(first[col("patient_phone")], "+573001234567");
    assert_eq!(first[col("practitioner_name")], clinic.practitioner["name"]);
    assert_eq!(first[col("specialty")], "Cardiology");
    assert_eq!(first[col("location_name")], "Sede Norte");
    assert_eq!(first[col("channel")], "whatsapp");
    assert_eq!(first[col("created_at")], "2030-01-01T12:00:00Z");
    // A formula in free text is neutralized, not run by a spreadsheet.
    assert_eq!(first[col("reason")], "'=cmd|' /C calc'!A0");
    let second = &rows[1];
    assert_eq!(
        second[col("patient_name")],
        "'=HYPERLINK(\"http://evil\",\"x\")"
    );
    assert_eq!(second[col("patient_phone")], "+573007654321");
    assert_eq!(second[col("status")], "cancelled");
    // Commas, quotes and line breaks survive the round trip.
    assert_eq!(second[col("notes")], "line one\nline \"two\", with a comma");
    let third = &rows[2];
    assert_eq!(third[col("patient_name")], "Pérez, \"Tito\"\nJr.");
    assert_eq!(third[col("patient_phone")], "+14155550100");
    assert!(
        body.contains("\"Pérez, \"\"Tito\"\"\nJr.\""),
        "RFC 4180 quoting"
    );
}

#[tokio::test]
async fn the_export_takes_the_lists_filters_and_refuses_bad_ones() {
    let app = spawn_app().await;
    let clinic = Clinic::open(&app).await;
    let other = seed_patient(&app, "Luis Gómez", "3009998877").await;
    let ids = seed_appointments(
        &app,
        &clinic,
        &[uuid(&clinic.patient), other],
        at("2030-02-01T13:00:00Z"),
        30,
    )
    .await;
    let export_ids = |body: String| -> Vec<String> {
        parse_csv(&body)
            .1
            .into_iter()
            .map(|r| r[0].clone())
            .collect()
    };
    for (query, count) in [
        ("status=cancelled".to_owned(), 10),
        (format!("patient_id={other}"), 15),
        (
            format!(
                "practitioner_id={}",
                clinic.practitioner["id"].as_str().unwrap()
            ),
            30,
        ),
        (format!("practitioner_id={}", Uuid::now_v7()), 0),
        (
            format!("location_id={}", clinic.location["id"].as_str().unwrap()),
            30,
        ),
        (format!("location_id={}", Uuid::now_v7()), 0),
        (
            format!(
                "from={}&to={}",
                urlencode("2030-02-01T10:00:00-05:00"),
                urlencode("2030-02-01T12:00:00-05:00")
            ),
            4,
        ),
        (format!("status=booked&patient_id={other}"), 5),
    ] {
        let listed: Value = app
            .get_json(&format!("/api/v1/prm/appointments?limit=100&{query}"))
            .await;
        let listed: Vec<String> = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect();
        let response = app.get(&format!("{EXPORT}?{query}")).await;
        assert_eq!(response.status(), 200, "{query}");
        let exported = export_ids(response.text().await.unwrap());
        assert_eq!(exported, listed, "{query}: the export has the list's rows");
        assert_eq!(exported.len(), count, "{query}");
    }
    assert_eq!(ids.len(), 30);

    for (query, field) in [
        ("status=lost", "query"),
        ("from=yesterday", "query"),
        ("patient_id=42", "query"),
    ] {
        let p = problem(
            app.get(&format!("{EXPORT}?{query}")).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), [field], "{query}: {p}");
    }
}

async fn seed_stats_dataset(app: &TestApp) {
    let clinic = Clinic::open(app).await;
    let conversation = |n: u128,
                        phone: &str,
                        channel: &'static str,
                        stage: &'static str,
                        created: &str,
                        last_inbound: &str| SeedConversation {
        id: Uuid::from_u128(n),
        phone: phone.to_owned(),
        channel,
        status: if n == 4 { "closed" } else { "open" },
        stage,
        created_at: at(created),
        last_inbound_at: Some(at(last_inbound)),
    };
    seeding::conversations(
        &app.store,
        &[
            conversation(
                1,
                "+573000000001",
                "whatsapp",
                "booked",
                "2030-01-10T15:00:00Z",
                "2030-01-14T02:00:00Z",
            ),
            conversation(
                2,
                "+573000000002",
                "whatsapp",
                "intake",
                "2030-01-11T15:00:00Z",
                "2030-01-11T16:00:00Z",
            ),
            conversation(
                3,
                "+573000000003",
                "sms",
                "offering",
                "2030-01-12T15:00:00Z",
                "2030-01-12T15:00:00Z",
            ),
            // The same phone as 1, an older conversation, closed.
            conversation(
                4,
                "+573000000001",
                "whatsapp",
                "triage",
                "2030-01-05T10:00:00Z",
                "2030-01-08T10:00:00Z",
            ),
            conversation(
                5,
                "+573000000005",
                "whatsapp",
                "escalated",
                "2030-01-12T20:00:00Z",
                "2029-12-01T10:00:00Z",
            ),
        ],
    )
    .await
    .unwrap();
    let m =
        |c: u128, direction: &'static str, author: &'static str, channel: &'static str, t: &str| {
            SeedMessage {
                conversation_id: Uuid::from_u128(c),
                direction,
                author,
                channel,
                at: at(t),
            }
        };
    let (i, o) = ("inbound", "outbound");
    seeding::messages(
        &app.store,
        &[
            // Before the range (Jan 9 in Bogotá), its answer inside it.
            m(4, i, "patient", "whatsapp", "2030-01-10T04:59:00Z"),
            m(4, o, "bot", "whatsapp", "2030-01-10T05:00:30Z"),
            // Answered in 4 s; then a run of two answered 40 s after the first.
            m(1, i, "patient", "whatsapp", "2030-01-10T15:00:00Z"),
            m(1, o, "bot", "whatsapp", "2030-01-10T15:00:04Z"),
            m(1, i, "patient", "whatsapp", "2030-01-10T15:01:00Z"),
            m(1, i, "patient", "whatsapp", "2030-01-10T15:01:30Z"),
            m(1, o, "bot", "whatsapp", "2030-01-10T15:01:40Z"),
            // Staff answered first: no bot sample.
            m(1, i, "patient", "whatsapp", "2030-01-10T15:05:00Z"),
            m(1, o, "staff", "whatsapp", "2030-01-10T15:05:10Z"),
            m(1, o, "bot", "whatsapp", "2030-01-10T15:06:00Z"),
            m(2, i, "patient", "whatsapp", "2030-01-11T16:00:00Z"),
            m(2, o, "bot", "whatsapp", "2030-01-11T16:00:02Z"),
            m(3, i, "patient", "sms", "2030-01-12T15:00:00Z"),
            m(3, o, "bot", "sms", "2030-01-12T15:00:10Z"),
            // 23:59:59 on Jan 12 in Bogotá, unanswered.
            m(1, i, "patient", "whatsapp", "2030-01-13T04:59:59Z"),
            // Jan 13 in Bogotá: after the range.
            m(1, i, "patient", "whatsapp", "2030-01-13T05:00:00Z"),
        ],
    )
    .await
    .unwrap();
    let appointment = |status: &'static str, start: &str, created: &str, updated: &str| {
        let start = at(start);
        SeedAppointment {
            id: Uuid::now_v7(),
            status,
            start,
            end: start + Duration::minutes(30),
            patient_id: uuid(&clinic.patient),
            practitioner_id: uuid(&clinic.practitioner),
            location_id: uuid(&clinic.location),
            channel: None,
            reason: None,
            notes: None,
            created_at: at(created),
            updated_at: at(updated),
        }
    };
    let booked = appointment(
        "booked",
        "2030-01-20T15:00:00Z",
        "2030-01-10T12:00:00Z",
        "2030-01-10T12:00:00Z",
    );
    let fulfilled = appointment(
        "fulfilled",
        "2030-01-23T15:00:00Z",
        "2030-01-12T23:00:00Z",
        "2030-01-12T23:00:00Z",
    );
    let (booked_id, fulfilled_id) = (booked.id, fulfilled.id);
    seeding::appointments(
        &app.store,
        &[
            booked,
            fulfilled,
            appointment(
                "cancelled",
                "2030-01-21T15:00:00Z",
                "2030-01-11T12:00:00Z",
                "2030-01-12T12:00:00Z",
            ),
            appointment(
                "cancelled",
                "2030-01-22T15:00:00Z",
                "2030-01-01T12:00:00Z",
                "2030-01-02T12:00:00Z",
            ),
            appointment(
                "noshow",
                "2030-01-11T15:00:00Z",
                "2030-01-01T12:00:00Z",
                "2030-01-11T16:00:00Z",
            ),
            appointment(
                "noshow",
                "2030-01-13T06:00:00Z",
                "2030-01-01T12:00:00Z",
                "2030-01-13T07:00:00Z",
            ),
        ],
    )
    .await
    .unwrap();
    // Reminders: two sent in the range, one before it; the booked one was confirmed.
    for (id, sent) in [
        (booked_id, "2030-01-11T12:00:00Z"),
        (fulfilled_id, "2030-01-12T20:00:00Z"),
        (booked_id, "2030-01-05T12:00:00Z"),
    ] {
        seeding::sent_reminder(&app.store, id, at(sent))
            .await
            .unwrap();
    }
    seeding::confirmed(&app.store, booked_id, at("2030-01-11T12:05:00Z"))
        .await
        .unwrap();
}

#[tokio::test]
async fn stats_count_a_known_dataset_exactly() {
    // The app's clock: 2030-01-14 04:15 UTC.
    let app = spawn_app().await;
    seed_stats_dataset(&app).await;
    let stats = app
        .get_json(&format!(
            "{STATS}?from=2030-01-10&to=2030-01-12&timezone=America/Bogota"
        ))
        .await;
    assert_eq!(
        stats,
        json!({
            "from": "2030-01-10",
            "to": "2030-01-12",
            "timezone": "America/Bogota",
            "messages": {
                "inbound": 7,
                "outbound": 7,
                "per_day": [
                    {"date": "2030-01-10", "channel": "whatsapp", "inbound": 4, "outbound": 5},
                    {"date": "2030-01-11", "channel": "whatsapp", "inbound": 1, "outbound": 1},
                    {"date": "2030-01-12", "channel": "sms", "inbound": 1, "outbound": 1},
                    {"date": "2030-01-12", "channel": "whatsapp", "inbound": 1, "outbound": 0},
                ],
            },
            // Phones 1 (two conversations), 2 and 3 wrote within 7 days; only 1 within 24 h.
            "active_patients": {"last_24h": 1, "last_7d": 3},
            // 2, 4, 10 and 40 seconds.
            "bot_response": {"median_seconds": 7.0, "responses": 4},
            // Opened in the range: 1, 2, 3, 5; at triage or later: 1 (booked), 3 (offering).
            "intake": {"conversations_opened": 4, "reached_triage": 2, "completion_rate": 0.5},
            "appointments": {"bookings": 3, "cancellations": 1, "no_shows": 1},
            // Two reminders sent in the range (one before it doesn't count); one of their
            // appointments was confirmed.
            "reminders": {"sent": 2, "confirmed": 1, "confirm_rate": 0.5},
        })
    );

    // In UTC the days split differently: 04:59 on Jan 10 is inside, 04:59:59 on Jan 13 outside.
    let utc = app
        .get_json(&format!("{STATS}?from=2030-01-10&to=2030-01-12"))
        .await;
    assert_eq!(utc["timezone"], "UTC");
    assert_eq!(utc["messages"]["inbound"], 7);
    assert_eq!(
        utc["messages"]["per_day"][0],
        json!({"date": "2030-01-10", "channel": "whatsapp", "inbound": 5, "outbound": 5})
    );

    // Default: the last 30 days, today (UTC) included.
    let default = app.get_json(STATS).await;
    assert_eq!(default["from"], "2029-12-16");
    assert_eq!(default["to"], "2030-01-14");
    // Every seeded appointment was created in those 30 days.
    assert_eq!(default["appointments"]["bookings"], 6);
}

#[tokio::test]
async fn stats_of_nothing_are_zero_and_null_not_errors() {
    let app = spawn_app().await;
    let stats = app
        .get_json(&format!("{STATS}?from=2030-01-01&to=2030-01-01"))
        .await;
    assert_eq!(
        stats["messages"],
        json!({"inbound": 0, "outbound": 0, "per_day": []})
    );
    assert_eq!(
        stats["bot_response"],
        json!({"median_seconds": null, "responses": 0})
    );
    assert_eq!(stats["intake"]["completion_rate"], Value::Null);
}

#[tokio::test]
async fn bad_stats_ranges_are_422_naming_the_parameter() {
    let app = spawn_app().await;
    for (query, field) in [
        ("from=2030-01-12&to=2030-01-10", "from"),
        ("from=2028-01-01&to=2030-01-10", "from"),
        ("timezone=Mars/Olympus", "timezone"),
        ("from=2030-13-01", "query"),
        ("to=tomorrow", "query"),
    ] {
        let p = problem(
            app.get(&format!("{STATS}?{query}")).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), [field], "{query}: {p}");
    }
}

async fn audit_of(app: &TestApp, query: &str) -> Vec<Value> {
    let page = app.get_json(&format!("{AUDIT}?{query}")).await;
    assert_eq!(
        page["total"].as_u64().unwrap() as usize,
        page["items"].as_array().unwrap().len(),
        "{page}"
    );
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_patch_is_audited_with_the_keys_id_and_before_after_without_health_data() {
    let keys = format!("{API_KEY},{SECOND_KEY}");
    let app = spawn_app_with(&[("PRM_API_KEYS", &keys)]).await;
    let clinic = Clinic::open(&app).await;
    let mut booking = clinic.booking("2030-01-15T10:00:00-05:00");
    booking["reason"] = json!("Dolor en el pecho al subir escaleras");
    let appointment = app.book(booking).await;
    let id = appointment["id"].as_str().unwrap();

    let response = app
        .client
        .patch(app.url(&format!("/api/v1/prm/appointments/{id}")))
        .bearer_auth(SECOND_KEY)
        .header("X-Request-Id", "req-audit-1")
        .json(&json!({"start": "2030-01-16T11:00:00-05:00", "notes": "Prefers mornings; diabetic"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let entries = audit_of(&app, &format!("entity_type=appointment&entity_id={id}")).await;
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["appointment.updated", "appointment.created"],
        "newest first"
    );
    let updated = &entries[0];
    assert_eq!(updated["actor"], SECOND_KEY_ID);
    assert_eq!(updated["request_id"], "req-audit-1");
    assert_eq!(updated["entity_id"], id);
    assert_eq!(updated["before"]["status"], "booked");
    assert_eq!(updated["before"]["start"], "2030-01-15T15:00:00Z");
    assert_eq!(updated["after"]["start"], "2030-01-16T16:00:00Z");
    assert_eq!(updated["before"]["has_notes"], false);
    assert_eq!(updated["after"]["has_notes"], true);
    assert_eq!(updated["after"]["has_reason"], true);
    let created = &entries[1];
    assert_eq!(created["actor"], TEST_KEY_ID);
    assert_eq!(created["before"], Value::Null);
    assert_eq!(created["after"]["status"], "booked");
    let text = serde_json::to_string(&entries).unwrap();
    for secret in [
        "Dolor",
        "pecho",
        "diabetic",
        "mornings",
        "María",
        "3001234567",
        SECOND_KEY,
        API_KEY,
    ] {
        assert!(
            !text.contains(secret),
            "{secret} leaked into the audit trail: {text}"
        );
    }

    // Filters: by actor, by time.
    assert_eq!(
        audit_of(&app, &format!("actor={SECOND_KEY_ID}"))
            .await
            .len(),
        1
    );
    assert!(
        audit_of(&app, &format!("from={}", urlencode("2999-01-01T00:00:00Z")))
            .await
            .is_empty()
    );

    // A cancellation, too.
    let response = app
        .post(
            &format!("/api/v1/prm/appointments/{id}/cancel"),
            json!({"reason": "Se siente mejor"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let entries = audit_of(&app, &format!("entity_id={id}")).await;
    assert_eq!(entries[0]["action"], "appointment.cancelled");
    assert_eq!(entries[0]["after"]["status"], "cancelled");
    assert_eq!(entries[0]["after"]["has_cancellation_reason"], true);
    assert!(!serde_json::to_string(&entries).unwrap().contains("mejor"));
}

#[tokio::test]
async fn a_refused_change_leaves_no_audit_entry() {
    let app = spawn_app().await;
    let clinic = Clinic::open(&app).await;
    let appointment = clinic.book(&app, "2030-01-15T10:00:00-05:00").await;
    let id = appointment["id"].as_str().unwrap();
    let before = audit_of(&app, "").await.len();

    // Outside the schedule (422), an invalid move (409), an unknown id (404).
    let r = app
        .patch(
            &format!("/api/v1/prm/appointments/{id}"),
            json!({"start": "2030-01-16T03:00:00-05:00"}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = app
        .patch(
            &format!("/api/v1/prm/appointments/{id}"),
            json!({"status": "proposed"}),
        )
        .await;
    assert_eq!(r.status(), 409);
    let r = app
        .patch(
            &format!("/api/v1/prm/appointments/{}", Uuid::now_v7()),
            json!({"notes": "x"}),
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = app
        .delete(&format!("/api/v1/prm/locations/{}", Uuid::now_v7()))
        .await;
    assert_eq!(r.status(), 404);
    // A location still in use is not deleted, and not recorded as deleted.
    let r = app
        .delete(&format!(
            "/api/v1/prm/locations/{}",
            clinic.location["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(audit_of(&app, "").await.len(), before, "nothing recorded");
}

#[tokio::test]
async fn clinic_setup_changes_are_audited() {
    let app = spawn_app().await;
    let clinic = Clinic::open(&app).await;
    let location = clinic.location["id"].as_str().unwrap();
    let practitioner = clinic.practitioner["id"].as_str().unwrap();
    let patient = clinic.patient["id"].as_str().unwrap();
    let r = app
        .put(
            &format!("/api/v1/prm/patients/{patient}"),
            json!({"name": "María P. Pérez", "phone": "3001234567"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .delete(&format!("/api/v1/prm/practitioners/{practitioner}"))
        .await;
    assert!(r.status().is_success());

    let mut actions: Vec<(String, String)> = audit_of(&app, "")
        .await
        .iter()
        .map(|e| {
            assert_eq!(e["actor"], TEST_KEY_ID);
            assert_eq!(
                e["before"],
                Value::Null,
                "no snapshot of set-up records: {e}"
            );
            (
                e["action"].as_str().unwrap().to_owned(),
                e["entity_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    actions.sort();
    let schedules: Vec<Value> = app
        .get_json(&format!(
            "/api/v1/prm/practitioners/{practitioner}/schedules?limit=100"
        ))
        .await["items"]
        .as_array()
        .unwrap()
        .clone();
    let mut expected = vec![
        ("location.created".to_owned(), location.to_owned()),
        ("patient.created".to_owned(), patient.to_owned()),
        ("patient.updated".to_owned(), patient.to_owned()),
        ("practitioner.created".to_owned(), practitioner.to_owned()),
        (
            "practitioner.deactivated".to_owned(),
            practitioner.to_owned(),
        ),
    ];
    expected.extend(schedules.iter().map(|s| {
        (
            "schedule.created".to_owned(),
            s["id"].as_str().unwrap().to_owned(),
        )
    }));
    expected.sort();
    assert_eq!(actions, expected);
    let text = serde_json::to_string(&audit_of(&app, "").await).unwrap();
    assert!(
        !text.contains("María") && !text.contains("3001234567"),
        "{text}"
    );
}

#[tokio::test]
async fn the_audit_trail_is_append_only() {
    let app = spawn_app().await;
    Clinic::open(&app).await;
    let db = app.store.connection();
    assert!(!audit_of(&app, "").await.is_empty());
    for statement in [
        "UPDATE audit_log SET actor = 'key_000000000000'",
        "DELETE FROM audit_log",
    ] {
        let refused = db.execute_unprepared(statement).await;
        let error = refused.expect_err(statement).to_string();
        assert!(error.contains("append-only"), "{statement}: {error}");
    }
    let entries = audit_of(&app, "").await;
    assert!(entries.iter().all(|e| e["actor"] == TEST_KEY_ID));
    // No route changes or removes entries.
    for method in [
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
        reqwest::Method::PUT,
    ] {
        let r = app
            .request(
                method.clone(),
                &format!("{AUDIT}/{}", entries[0]["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert!(
            r.status() == 404 || r.status() == 405,
            "{method} answered {}",
            r.status()
        );
    }
    assert_eq!(audit_of(&app, "").await, entries);
    let p = problem(
        app.get(&format!("{AUDIT}?entity_type=invoice")).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["entity_type"]);
}

#[tokio::test]
async fn reports_require_a_valid_bearer_key() {
    let app = spawn_app().await;
    for path in [EXPORT, STATS, AUDIT] {
        let url = app.url(path);
        let missing = app.client.get(&url).send().await.unwrap();
        problem(missing, 401, "unauthorized").await;
        let wrong = app
            .client
            .get(&url)
            .bearer_auth("not-the-key-0123456789")
            .send()
            .await
            .unwrap();
        problem(wrong, 401, "unauthorized").await;
    }
}

#[tokio::test]
async fn a_booking_from_select_slot_is_audited_once_and_its_replay_not_again() {
    let app = spawn_app().await;
    let clinic = Clinic::open(&app).await;
    let conversation = Uuid::now_v7().to_string();
    let offer = app
        .post(
            "/api/v1/prm/appointments/find-slots",
            json!({"department": "Cardiology", "conversation_id": conversation, "patient_id": clinic.patient["id"]}),
        )
        .await;
    assert_eq!(offer.status(), 200);
    let select = json!({"conversation_id": conversation, "text": "1"});
    let booked = app
        .post("/api/v1/prm/appointments/select-slot", select.clone())
        .await;
    assert_eq!(booked.status(), 201);
    let booked: Value = booked.json().await.unwrap();
    let replay = app
        .post("/api/v1/prm/appointments/select-slot", select)
        .await;
    assert_eq!(replay.status(), 201);
    let entries = audit_of(&app, "entity_type=appointment").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["action"], "appointment.created");
    assert_eq!(entries[0]["entity_id"], booked["id"]);
    assert_eq!(
        entries[0]["after"]["conversation_id"],
        conversation.as_str()
    );
}

#[tokio::test]
async fn rows_sharing_a_start_are_neither_lost_nor_repeated_across_pages() {
    let app = spawn_app().await;
    let clinic = Clinic::open(&app).await;
    // 1 234 cancelled appointments at one instant (nothing forbids that), more than two
    // pages: the pages continue on the id.
    let start = at("2030-02-03T15:00:00Z");
    let rows: Vec<SeedAppointment> = (0..1_234)
        .map(|_| SeedAppointment {
            id: Uuid::new_v4(),
            status: "cancelled",
            start,
            end: start + Duration::minutes(30),
            patient_id: uuid(&clinic.patient),
            practitioner_id: uuid(&clinic.practitioner),
            location_id: uuid(&clinic.location),
            channel: None,
            reason: None,
            notes: None,
            created_at: start,
            updated_at: start,
        })
        .collect();
    seeding::appointments(&app.store, &rows).await.unwrap();
    let body = app.get(EXPORT).await.text().await.unwrap();
    let mut exported: Vec<Uuid> = parse_csv(&body)
        .1
        .iter()
        .map(|r| r[0].parse().unwrap())
        .collect();
    assert_eq!(exported.len(), rows.len());
    exported.sort();
    exported.dedup();
    let mut expected: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    expected.sort();
    assert_eq!(exported, expected, "each exactly once");
}
