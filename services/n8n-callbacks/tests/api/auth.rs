//! Who may call back: n8n, signing with `N8N_CALLBACK_SECRET` or sending it as a bearer
//! token. Everything else is refused as the suite's signed webhooks refuse it, and
//! publishes nothing.

use prm_domain::conversation::Stage;
use serde_json::json;

use crate::helpers::*;

async fn triage(app: &TestApp) -> Vec<u8> {
    let conversation = app.conversation(Stage::Triage).await;
    serde_json::to_vec(&json!({"conversation_id": conversation, "department": "Cardiology"}))
        .unwrap()
}

#[tokio::test]
async fn the_secret_as_a_bearer_token_is_accepted() {
    let app = spawn_app().await;
    let body = triage(&app).await;
    let bearer = format!("Bearer {SECRET}");
    let response = app
        .post_with(TRIAGE, &body, &[("Authorization", &bearer)])
        .await;
    assert_eq!(response.status(), 202);
    assert_eq!(app.outbox().await.len(), 1);
}

#[tokio::test]
async fn missing_malformed_and_wrong_credentials_are_refused_and_publish_nothing() {
    let app = spawn_app().await;
    let body = triage(&app).await;
    let right = sign(SECRET, &body);
    let wrong_secret = sign("another-secret-0123456789abcdef", &body);
    let other_body = sign(SECRET, b"{\"conversation_id\":\"x\"}");
    let bare_hex = right.trim_start_matches("sha256=").to_owned();
    let right_bearer = format!("Bearer {SECRET}");
    for (headers, status, code) in [
        // Neither a signature nor a bearer secret.
        (&[][..], 400, "bad_request"),
        (
            &[("Authorization", "Basic dXNlcjpwYXNz")],
            400,
            "bad_request",
        ),
        // A signature that does not match the body, or is not `sha256=<hex>`.
        (
            &[("X-PRM-Signature", wrong_secret.as_str())],
            403,
            "invalid_signature",
        ),
        (
            &[("X-PRM-Signature", other_body.as_str())],
            403,
            "invalid_signature",
        ),
        (
            &[("X-PRM-Signature", bare_hex.as_str())],
            403,
            "invalid_signature",
        ),
        (
            &[("X-PRM-Signature", "sha256=zz")],
            403,
            "invalid_signature",
        ),
        (&[("X-PRM-Signature", "sha1=abc")], 403, "invalid_signature"),
        // A right bearer does not save a wrong signature: the signature is checked first.
        (
            &[
                ("X-PRM-Signature", wrong_secret.as_str()),
                ("Authorization", right_bearer.as_str()),
            ],
            403,
            "invalid_signature",
        ),
        // A wrong bearer secret.
        (
            &[("Authorization", "Bearer not-the-secret")],
            401,
            "unauthorized",
        ),
    ] {
        let answer = prm_testkit::Answer::read(app.post_with(TRIAGE, &body, headers).await).await;
        answer.assert_problem(status, code);
    }
    app.assert_nothing_published().await;
    // The same body with the right signature goes through.
    let response = app
        .post_with(TRIAGE, &body, &[("X-PRM-Signature", &right)])
        .await;
    assert_eq!(response.status(), 202);
}

#[tokio::test]
async fn without_the_secret_every_callback_is_503_naming_it() {
    let app = spawn(Spawn::new().var("N8N_CALLBACK_SECRET", "")).await;
    let body = triage(&app).await;
    for path in [INTAKE, TRIAGE, BOOKING] {
        for headers in [
            &[("X-PRM-Signature", sign(SECRET, &body))][..],
            &[("Authorization", format!("Bearer {SECRET}"))],
            &[],
        ] {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let problem = problem(
                app.post_with(path, &body, &headers).await,
                503,
                "unavailable",
            )
            .await;
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap()
                    .contains("N8N_CALLBACK_SECRET is not configured"),
                "{problem}"
            );
        }
    }
    app.assert_nothing_published().await;
    let health = app.get_json(HEALTH).await;
    assert_eq!(health["callbacks"], false, "{health}");
}

#[tokio::test]
async fn health_answers_without_credentials() {
    let app = spawn_app().await;
    let response = app.client.get(app.url(HEALTH)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let health: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        health,
        json!({"status": "ok", "service": "n8n-callbacks", "callbacks": true})
    );
    app.assert_healthy().await;
}

#[tokio::test]
async fn production_refuses_to_start_with_a_placeholder_secret_naming_it() {
    for vars in [
        &[
            ("PRM_ENV", "production"),
            ("N8N_CALLBACK_SECRET", "change-me"),
        ][..],
        &[
            ("PRM_ENV", "production"),
            ("N8N_CALLBACK_SECRET", ""),
            (
                "N8N_WEBHOOK_URL",
                "https://n8n.example.test/webhook/prm-intake",
            ),
        ],
    ] {
        let refused =
            prm_testkit::try_spawn(&[&prm_n8n_callbacks::SERVICE], Spawn::new().vars(vars)).await;
        match refused {
            Ok(_) => panic!("{vars:?}: started"),
            Err(e) => assert!(
                format!("{e:#}").contains("N8N_CALLBACK_SECRET"),
                "{vars:?}: {e:#}"
            ),
        }
    }
}
