//! Paging and filters of every list: `{items, total, limit, offset}`, and bad `limit`,
//! `offset` or filter values answered with a 422 naming the parameter, never a 500 or a
//! dropped connection.

use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, problem, spawn_app, urlencode};

async fn every_list(app: &TestApp) -> Vec<String> {
    let practitioner = app.create_practitioner("Cardiology").await;
    vec![
        "/api/v1/prm/locations".to_owned(),
        "/api/v1/prm/practitioners".to_owned(),
        format!(
            "/api/v1/prm/practitioners/{}/schedules",
            practitioner["id"].as_str().unwrap()
        ),
        "/api/v1/prm/patients".to_owned(),
        "/api/v1/prm/appointments".to_owned(),
    ]
}

#[tokio::test]
async fn out_of_range_paging_is_422_naming_the_parameter_on_every_list() {
    let app = spawn_app().await;
    for list in every_list(&app).await {
        for (query, field) in [
            // One past i64::MAX used to panic in the SQL binder and drop the connection.
            ("offset=9223372036854775808", "offset"),
            ("offset=18446744073709551615", "offset"),
            ("offset=18446744073709551616", "offset"),
            ("offset=99999999999999999999999999", "offset"),
            ("offset=-1", "offset"),
            ("offset=ten", "offset"),
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("limit=-5", "limit"),
            ("limit=18446744073709551616", "limit"),
        ] {
            let p = problem(
                app.get(&format!("{list}?{query}")).await,
                422,
                "validation_failed",
            )
            .await;
            assert_eq!(fields(&p), [field], "{list}?{query}: {p}");
        }
        let p = problem(
            app.get(&format!("{list}?limit=0&offset=-1")).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), ["limit", "offset"], "both named at once");

        // The largest offset the databases accept is served (an empty page).
        let r = app
            .get(&format!("{list}?offset=9223372036854775807&limit=100"))
            .await;
        assert_eq!(r.status(), 200, "{list}");
        let page: Value = r.json().await.unwrap();
        assert_eq!(page["items"], json!([]), "{list}");
        assert_eq!(page["offset"], 9_223_372_036_854_775_807_u64);
        assert_eq!(page["limit"], 100);
    }
    app.assert_healthy().await;
}

#[tokio::test]
async fn control_characters_in_list_filters_are_422_naming_the_filter() {
    let app = spawn_app().await;
    for (path, field) in [
        ("/api/v1/prm/locations?name=%00", "name"),
        ("/api/v1/prm/locations?city=Bogot%C3%A1%00", "city"),
        ("/api/v1/prm/practitioners?name=%00", "name"),
        ("/api/v1/prm/practitioners?specialty=%1B%5B31m", "specialty"),
        ("/api/v1/prm/patients?name=Mar%00%C3%ADa", "name"),
        ("/api/v1/prm/patients?phone=%00", "phone"),
    ] {
        let p = problem(app.get(path).await, 422, "validation_failed").await;
        assert_eq!(fields(&p), [field], "{path}: {p}");
    }
    // Printable text, accents and emoji are fine.
    for path in [
        format!("/api/v1/prm/locations?name={}", urlencode("Sede Ñ 🏥")),
        format!("/api/v1/prm/patients?name={}", urlencode("María")),
    ] {
        assert_eq!(app.get(&path).await.status(), 200, "{path}");
    }
    app.assert_healthy().await;
}

#[tokio::test]
async fn appointments_are_filtered_by_practitioner_location_status_and_dates_and_paged() {
    let app = spawn_app().await;
    let norte = app.create_location().await;
    let sur: Value = app
        .post_json(
            "/api/v1/prm/locations",
            json!({"name": "Sede Sur", "timezone": "America/Bogota"}),
        )
        .await;
    let ana = app.create_practitioner("Cardiology").await;
    let luis: Value = app
        .post_json(
            "/api/v1/prm/practitioners",
            json!({"name": "Dr. Luis Peña", "specialty": "Cardiology"}),
        )
        .await;
    app.schedule_every_day(&ana, &norte, "08:00", "18:00").await;
    app.schedule_every_day(&luis, &sur, "08:00", "18:00").await;
    let maria = app.create_patient("María Pérez", "3001234567").await;
    let juan = app.create_patient("Juan Ruiz", "3007654321").await;

    let mut ids = Vec::new();
    for (practitioner, location, patient, days, hour) in [
        (&ana, &norte, &maria, 2, 9),
        (&ana, &norte, &juan, 3, 10),
        (&luis, &sur, &maria, 4, 11),
        (&luis, &sur, &juan, 5, 12),
    ] {
        let r = app
            .post(
                "/api/v1/prm/appointments",
                json!({"patient_id": patient["id"], "practitioner_id": practitioner["id"], "location_id": location["id"], "start": app.bogota_in(days, &format!("{hour:02}:00"))}),
            )
            .await;
        assert_eq!(r.status(), 201);
        ids.push(r.json::<Value>().await.unwrap()["id"].clone());
    }
    let cancel = app
        .post(
            &format!(
                "/api/v1/prm/appointments/{}/cancel",
                ids[2].as_str().unwrap()
            ),
            json!({"reason": "Patient is travelling"}),
        )
        .await;
    assert_eq!(cancel.status(), 200);

    let list = |query: String| {
        let app = &app;
        async move {
            let r = app.get(&format!("/api/v1/prm/appointments?{query}")).await;
            assert_eq!(r.status(), 200, "{query}");
            r.json::<Value>().await.unwrap()
        }
    };
    let item_ids = |page: &Value| -> Vec<Value> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].clone())
            .collect()
    };
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let cases = [
        (format!("practitioner_id={}", id(&ana)), vec![0, 1]),
        (format!("practitioner_id={}", id(&luis)), vec![2, 3]),
        (format!("location_id={}", id(&sur)), vec![2, 3]),
        (format!("location_id={}", id(&norte)), vec![0, 1]),
        (format!("patient_id={}", id(&maria)), vec![0, 2]),
        ("status=cancelled".to_owned(), vec![2]),
        ("status=booked".to_owned(), vec![0, 1, 3]),
        ("status=arrived".to_owned(), vec![]),
        // `from` is inclusive, `to` exclusive: the 12:00 start on day 5 is left out.
        (
            format!(
                "from={}&to={}",
                urlencode(&app.bogota_in(3, "10:00")),
                urlencode(&app.bogota_in(5, "12:00"))
            ),
            vec![1, 2],
        ),
        (
            format!("from={}", urlencode(&app.bogota_in(4, "00:00"))),
            vec![2, 3],
        ),
        (
            format!("to={}", urlencode(&app.bogota_in(3, "00:00"))),
            vec![0],
        ),
        (
            format!("practitioner_id={}&status=booked", id(&luis)),
            vec![3],
        ),
    ];
    for (query, expected) in cases {
        let page = list(query.clone()).await;
        let want: Vec<Value> = expected.iter().map(|&i| ids[i].clone()).collect();
        assert_eq!(item_ids(&page), want, "{query}");
        assert_eq!(page["total"], want.len(), "{query}");
    }

    // Paging: ordered by start, `total` counts every match, the page echoes limit/offset.
    let page = list("limit=2&offset=1".to_owned()).await;
    assert_eq!(
        page.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["items", "limit", "offset", "total"]
            .iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(item_ids(&page), vec![ids[1].clone(), ids[2].clone()]);
    assert_eq!(
        (
            page["total"].clone(),
            page["limit"].clone(),
            page["offset"].clone()
        ),
        (json!(4), json!(2), json!(1))
    );
    let default = list(String::new()).await;
    assert_eq!(
        (default["limit"].clone(), default["offset"].clone()),
        (json!(20), json!(0))
    );
    let beyond = list("offset=10".to_owned()).await;
    assert_eq!(
        (beyond["items"].clone(), beyond["total"].clone()),
        (json!([]), json!(4))
    );
    let filtered_page = list("status=booked&limit=1&offset=2".to_owned()).await;
    assert_eq!(item_ids(&filtered_page), vec![ids[3].clone()]);
    assert_eq!(filtered_page["total"], 3);

    // The cancellation reason is part of the appointment, in lists and alone.
    let cancelled = list("status=cancelled".to_owned()).await;
    assert_eq!(
        cancelled["items"][0]["cancellation_reason"],
        "Patient is travelling"
    );
    assert_eq!(default["items"][0]["cancellation_reason"], Value::Null);
    let one: Value = app
        .get_json(&format!(
            "/api/v1/prm/appointments/{}",
            ids[2].as_str().unwrap()
        ))
        .await;
    assert_eq!(one["cancellation_reason"], "Patient is travelling");
    assert_eq!(one["status"], "cancelled");
}
