//! Arbitrary bodies on every write route: the answer is 2xx or a 4xx problem+json,
//! never 5xx; a refused request writes nothing; the service stays healthy.
//!
//! Most bodies are a valid request with a few fields replaced by random values or
//! removed, so they get past the JSON syntax check into validation and the database;
//! the rest are arbitrary JSON. The seed is printed with every failure and
//! `PRM_FUZZ_SEED=<hex>` replays it (`prm_platform::testing`).

use chrono::{Duration, FixedOffset};
use prm_platform::testing::{Tally, any_json, draw};
use proptest::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Clinic, TestApp, spawn_app};

const CASES: usize = 32;

/// Values a validator should refuse cleanly: anything, and near-misses of real formats.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any_json(),
        ".{0,30}".prop_map(Value::from),
        "[0-9:]{0,8}".prop_map(Value::from),
        "-?[0-9]{1,12}".prop_map(Value::from),
        "[0-9a-f-]{0,36}".prop_map(Value::from),
        "[+-]?[0-9]{4,6}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}([+-][0-9]{2}:[0-9]{2}|Z))?"
            .prop_map(Value::from),
        "(America|Europe|Etc)/[A-Za-z_]{0,12}".prop_map(Value::from),
    ]
}

/// `valid` with up to three of its fields (or an unknown one) replaced or removed; or,
/// one time in four, arbitrary JSON.
fn bodies(valid: Value) -> impl Strategy<Value = Value> {
    let mut keys: Vec<String> = valid
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.push("unexpected".to_owned());
    let mutated = prop::collection::vec(
        (0..keys.len(), prop::option::weighted(0.8, field_value())),
        0..4,
    )
    .prop_map(move |edits| {
        let mut body = valid.clone();
        for (key, value) in edits {
            if let Some(object) = body.as_object_mut() {
                match value {
                    Some(v) => object.insert(keys[key].clone(), v),
                    None => object.remove(&keys[key]),
                };
            }
        }
        body
    });
    prop_oneof![3 => mutated, 1 => any_json()]
}

struct Route {
    method: Method,
    path: String,
    valid: Value,
    /// The list whose total must not change when the request is refused.
    list: Option<String>,
}

async fn total(app: &TestApp, list: &Option<String>) -> Option<u64> {
    match list {
        Some(path) => Some(app.total(path).await),
        None => None,
    }
}

#[tokio::test]
async fn arbitrary_bodies_on_every_write_route_never_fail_the_service() {
    let app = spawn_app().await;
    let location = app.create_location().await;
    let practitioner = app.create_practitioner("Cardiology").await;
    let (loc, doc) = (location["id"].clone(), practitioner["id"].clone());
    let doc_id = doc.as_str().unwrap().to_owned();
    let loc_id = loc.as_str().unwrap().to_owned();
    let schedules = format!("/api/v1/prm/practitioners/{doc_id}/schedules");
    let r = app
        .post(
            &schedules,
            json!({"location_id": loc, "day_of_week": 0, "start_time": "08:00", "end_time": "18:00", "slot_minutes": 30}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let patient: Value = app
        .post_json(
            "/api/v1/prm/patients",
            json!({"name": "María Pérez", "phone": "3001234567"}),
        )
        .await;
    // The next Monday at 10:00 in Bogotá, at least two days ahead.
    let bogota = FixedOffset::west_opt(5 * 3600).unwrap();
    let mut day = (app.now().with_timezone(&bogota) + Duration::days(2)).date_naive();
    while chrono::Datelike::weekday(&day) != chrono::Weekday::Mon {
        day = day.succ_opt().unwrap();
    }
    let at = |hour: u32| {
        day.and_hms_opt(hour, 0, 0)
            .unwrap()
            .and_local_timezone(bogota)
            .unwrap()
            .to_rfc3339()
    };
    let start = at(10);
    // An appointment to change and cancel, and an offer to answer.
    let booked = app
        .book(json!({"patient_id": patient["id"], "practitioner_id": doc, "location_id": loc, "start": at(15)}))
        .await;
    let appointment = format!(
        "/api/v1/prm/appointments/{}",
        booked["id"].as_str().unwrap()
    );
    let conversation = uuid::Uuid::new_v4();
    let r = app
        .post(
            "/api/v1/prm/appointments/find-slots",
            json!({"department": "Cardiology", "conversation_id": conversation, "patient_id": patient["id"], "locale": "es"}),
        )
        .await;
    assert_eq!(r.status(), 200);

    let routes = [
        Route {
            method: Method::POST,
            path: "/api/v1/prm/locations".into(),
            valid: json!({"name": "Sede Sur", "timezone": "America/Bogota", "city": "Bogotá", "phone": "6015551234"}),
            list: Some("/api/v1/prm/locations".into()),
        },
        Route {
            method: Method::PUT,
            path: format!("/api/v1/prm/locations/{loc_id}"),
            valid: json!({"name": "Sede Norte", "timezone": "America/Bogota", "address": "Calle 127"}),
            list: None,
        },
        Route {
            method: Method::POST,
            path: "/api/v1/prm/practitioners".into(),
            valid: json!({"name": "Dr. Luis Rojas", "specialty": "Dermatology", "active": true}),
            list: Some("/api/v1/prm/practitioners".into()),
        },
        Route {
            method: Method::POST,
            path: "/api/v1/prm/patients".into(),
            valid: json!({"name": "Ana Ruiz", "phone": "300 765 4321", "locale": "es", "birth_date": "1990-05-01"}),
            list: Some("/api/v1/prm/patients".into()),
        },
        Route {
            method: Method::POST,
            path: schedules.clone(),
            valid: json!({"location_id": loc, "day_of_week": 2, "start_time": "08:00", "end_time": "12:00", "slot_minutes": 30}),
            list: Some(schedules.clone()),
        },
        Route {
            method: Method::POST,
            path: "/api/v1/prm/appointments/find-slots".into(),
            valid: json!({"department": "Cardiology", "preferences": {"location_id": loc, "day_of_week": 0, "time_of_day": "10:00"}, "limit": 3, "locale": "en"}),
            list: None,
        },
        Route {
            method: Method::POST,
            path: "/api/v1/prm/appointments".into(),
            valid: json!({"patient_id": patient["id"], "practitioner_id": doc, "location_id": loc, "start": start, "notes": "primera vez"}),
            list: Some("/api/v1/prm/appointments".into()),
        },
        Route {
            method: Method::PATCH,
            path: appointment.clone(),
            valid: json!({"notes": "llega 10 minutos tarde", "start": at(16), "location_id": loc}),
            list: None,
        },
        Route {
            method: Method::POST,
            path: "/api/v1/prm/appointments/select-slot".into(),
            valid: json!({"conversation_id": conversation, "text": "ninguno"}),
            list: Some("/api/v1/prm/appointments".into()),
        },
        // Last: once cancelled, later cancels are 409 invalid_transition.
        Route {
            method: Method::POST,
            path: format!("{appointment}/cancel"),
            valid: json!({"reason": "viaje", "cancelled_by": "patient"}),
            list: None,
        },
    ];

    for route in routes {
        let what = format!("{} {}", route.method, route.path);
        let (seed, bodies) = draw(bodies(route.valid.clone()), CASES);
        let mut tally = Tally::default();
        for body in bodies {
            let before = total(&app, &route.list).await;
            let response = app
                .request(route.method.clone(), &route.path, Some(body.clone()))
                .await;
            let status = response.status().as_u16();
            tally.record(&seed, status, &(&what, &body));
            if status >= 400 {
                let content_type = response.headers().get("content-type").cloned();
                assert_eq!(
                    content_type.as_ref().and_then(|v| v.to_str().ok()),
                    Some("application/problem+json"),
                    "{what} {body} (seed {seed})"
                );
                let problem: Value = response.json().await.unwrap();
                assert!(problem["code"].is_string(), "{problem}");
                assert_eq!(
                    total(&app, &route.list).await,
                    before,
                    "{what} refused {body} but wrote (seed {seed})"
                );
            }
        }
        tally.assert_mixed(&what, &seed);
    }
    app.assert_healthy().await;
}

/// Query parameters the lists know, and a few they do not.
const QUERY_KEYS: [&str; 16] = [
    "limit",
    "offset",
    "name",
    "city",
    "specialty",
    "active",
    "location_id",
    "phone",
    "patient_id",
    "practitioner_id",
    "status",
    "from",
    "to",
    "day_of_week",
    "unexpected",
    "",
];

/// Any bytes, percent-encoded, so NUL, invalid UTF-8 and huge numbers all reach the app.
fn query_value() -> impl Strategy<Value = String> {
    let text = prop_oneof![
        field_value().prop_map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        }),
        "[0-9]{15,30}".prop_map(String::from),
        Just("9223372036854775808".to_owned()),
        prop::collection::vec(any::<u8>(), 0..12).prop_map(|bytes| {
            bytes
                .iter()
                .map(|b| format!("%{b:02X}"))
                .collect::<String>()
        }),
    ];
    text.prop_map(|t| {
        if t.contains('%') && t.len() % 3 == 0 && t.starts_with('%') {
            t
        } else {
            t.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect()
        }
    })
}

fn query_strings() -> impl Strategy<Value = String> {
    prop::collection::vec((0..QUERY_KEYS.len(), query_value()), 0..4).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(key, value)| format!("{}={value}", QUERY_KEYS[key]))
            .collect::<Vec<_>>()
            .join("&")
    })
}

#[tokio::test]
async fn arbitrary_query_strings_on_every_list_never_fail_the_service() {
    let app = spawn_app().await;
    let practitioner = Clinic::plan()
        .hours("08:00", "12:00")
        .open(&app)
        .await
        .practitioner;
    let lists = [
        "/api/v1/prm/locations".to_owned(),
        "/api/v1/prm/practitioners".to_owned(),
        format!(
            "/api/v1/prm/practitioners/{}/schedules",
            practitioner["id"].as_str().unwrap()
        ),
        "/api/v1/prm/patients".to_owned(),
        "/api/v1/prm/appointments".to_owned(),
    ];
    for list in lists {
        let (seed, queries) = draw(query_strings(), CASES * 2);
        let mut tally = Tally::default();
        for query in queries {
            let response = app.get(&format!("{list}?{query}")).await;
            let status = response.status().as_u16();
            tally.record(&seed, status, &(&list, &query));
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if status >= 400 {
                assert_eq!(
                    content_type.as_deref(),
                    Some("application/problem+json"),
                    "{list}?{query} (seed {seed})"
                );
            } else {
                let page: Value = response.json().await.unwrap();
                assert!(page["items"].is_array() && page["total"].is_u64(), "{page}");
            }
        }
        tally.assert_mixed(&list, &seed);
    }
    app.assert_healthy().await;
}
