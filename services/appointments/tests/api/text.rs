//! Control characters in text fields: PostgreSQL cannot store U+0000 (it answered 500),
//! and the others have no place in clinic records. Each is a 422 naming the field, on
//! both engines, and nothing is written.

use serde_json::{Value, json};

use crate::helpers::{Clinic, fields, problem, spawn_app};

#[tokio::test]
async fn control_characters_in_text_fields_are_422_naming_the_field() {
    let app = spawn_app().await;
    let Clinic {
        location,
        practitioner,
        patient,
    } = Clinic::open(&app).await;
    let location_path = format!("/api/v1/prm/locations/{}", location["id"].as_str().unwrap());

    let nul = "Sede\u{0}Norte";
    let cases: Vec<(&str, String, Value, Vec<&str>)> = vec![
        (
            "POST",
            "/api/v1/prm/locations".into(),
            json!({"name": nul, "timezone": "America/Bogota"}),
            vec!["name"],
        ),
        (
            "POST",
            "/api/v1/prm/locations".into(),
            json!({"name": "Sede Sur", "timezone": "America/Bogota", "address": "Calle\u{0}1", "city": "Bogot\u{1b}á"}),
            vec!["address", "city"],
        ),
        (
            "PUT",
            location_path.clone(),
            json!({"name": "Sede\u{7f}", "timezone": "America/Bogota"}),
            vec!["name"],
        ),
        (
            "POST",
            "/api/v1/prm/practitioners".into(),
            json!({"name": "Dr.\u{0}", "specialty": "Cardio\u{0}logy"}),
            vec!["name", "specialty"],
        ),
        (
            "POST",
            "/api/v1/prm/practitioners".into(),
            json!({"name": "Dr. Luis\nPeña", "specialty": "Cardiology"}),
            vec!["name"],
        ),
        (
            "POST",
            "/api/v1/prm/patients".into(),
            json!({"name": "\u{0}", "phone": "3007654321"}),
            vec!["name"],
        ),
        (
            "POST",
            "/api/v1/prm/patients".into(),
            json!({"name": "Juan", "phone": "300\u{0}7654321"}),
            vec!["phone"],
        ),
        (
            "POST",
            "/api/v1/prm/appointments/find-slots".into(),
            json!({"department": "Cardio\u{0}logy"}),
            vec!["department"],
        ),
        (
            "POST",
            "/api/v1/prm/appointments".into(),
            json!({"patient_id": patient["id"], "practitioner_id": practitioner["id"], "location_id": location["id"], "start": app.bogota_in(2, "09:00"), "reason": "dolor\u{0}", "notes": "\u{1b}[2J"}),
            vec!["notes", "reason"],
        ),
    ];
    for (method, path, body, expected) in &cases {
        let r = app
            .request(method.parse().unwrap(), path, Some(body.clone()))
            .await;
        let p = problem(r, 422, "validation_failed").await;
        let mut got = fields(&p);
        got.sort();
        assert_eq!(&got, expected, "{method} {path} {body}: {p}");
        if expected != &["phone"] {
            assert!(
                p["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("control characters"),
                "{p}"
            );
        }
    }
    assert_eq!(app.total("/api/v1/prm/locations").await, 1);
    assert_eq!(app.total("/api/v1/prm/practitioners").await, 1);
    assert_eq!(app.total("/api/v1/prm/patients").await, 1);
    assert_eq!(app.total("/api/v1/prm/appointments").await, 0);
    let kept: Value = app.get_json(&location_path).await;
    assert_eq!(kept["name"], "Sede Norte", "a refused PUT changes nothing");

    // Notes and reasons may span lines.
    let r = app
        .post(
            "/api/v1/prm/appointments",
            json!({"patient_id": patient["id"], "practitioner_id": practitioner["id"], "location_id": location["id"], "start": app.bogota_in(2, "09:00"), "reason": "Chest pain\r\nsince Monday", "notes": "1.\tECG\n2.\tBlood test"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let booked: Value = r.json().await.unwrap();
    assert_eq!(booked["notes"], "1.\tECG\n2.\tBlood test");
    let path = format!(
        "/api/v1/prm/appointments/{}",
        booked["id"].as_str().unwrap()
    );

    let p = problem(
        app.patch(&path, json!({"notes": "x\u{0}y"})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["notes"]);
    let p = problem(
        app.post(&format!("{path}/cancel"), json!({"reason": "\u{0}"}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["reason"]);
    let unchanged: Value = app.get_json(&path).await;
    assert_eq!(unchanged["status"], "booked");
    assert_eq!(unchanged["notes"], "1.\tECG\n2.\tBlood test");

    // A patient's WhatsApp answer is read, not stored: odd characters only get a question.
    let conversation = uuid::Uuid::new_v4();
    let r = app
        .post(
            "/api/v1/prm/appointments/find-slots",
            json!({"department": "Cardiology", "conversation_id": conversation, "patient_id": patient["id"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .post(
            "/api/v1/prm/appointments/select-slot",
            json!({"conversation_id": conversation, "text": "\u{0}\u{1b}"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["outcome"], "clarify");
    app.assert_healthy().await;
}
