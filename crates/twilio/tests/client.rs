//! The REST client against a local fake of Twilio's Messages API (wiremock). No test
//! leaves 127.0.0.1.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use prm_twilio::{
    MessageStatus, RetryPolicy, SendMessage, Sender, TwilioClient, TwilioConfig, TwilioError,
    parse_form,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{basic_auth, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "fake-auth-token";
const MESSAGES_PATH: &str = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json";
const PATIENT: &str = "whatsapp:+573001234567";
const CLINIC: &str = "whatsapp:+14155238886";

fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        max_wait: Duration::from_secs(2),
    }
}

fn client_for(base: &str, retry: RetryPolicy) -> TwilioClient {
    let config = TwilioConfig::new(SID, SecretString::from(TOKEN.to_owned()))
        .with_api_base(base)
        .with_retry(retry)
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(5));
    TwilioClient::new(config).expect("valid config")
}

/// A 201 body as Twilio answers a create.
fn created(sid: &str) -> Value {
    json!({
        "account_sid": SID,
        "api_version": "2010-04-01",
        "body": "Su cita está confirmada",
        "date_created": "Mon, 16 Jun 2025 14:05:09 +0000",
        "date_sent": null,
        "date_updated": "Mon, 16 Jun 2025 14:05:09 +0000",
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": CLINIC,
        "messaging_service_sid": null,
        "num_media": "0",
        "num_segments": "1",
        "price": null,
        "price_unit": null,
        "sid": sid,
        "status": "queued",
        "subresource_uris": { "media": format!("/2010-04-01/Accounts/{SID}/Messages/{sid}/Media.json") },
        "to": PATIENT,
        "uri": format!("/2010-04-01/Accounts/{SID}/Messages/{sid}.json")
    })
}

fn twilio_error(code: u32, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": 400
    }))
}

fn text() -> SendMessage {
    SendMessage::text(
        PATIENT,
        Sender::Number(CLINIC.into()),
        "Su cita está confirmada",
    )
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
}

fn form_of(request: &Request) -> Vec<(String, String)> {
    parse_form(&request.body).expect("form body")
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn send_posts_the_form_twilio_expects_with_basic_auth() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .and(basic_auth(SID, TOKEN))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(201).set_body_json(created("SM0001")))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&server.uri(), fast_retries(3));

    let message = SendMessage {
        media_urls: vec![
            "https://cdn.example/a.jpg".into(),
            "https://cdn.example/b.pdf?x=1&y=2".into(),
        ],
        status_callback: Some("https://prm.example.com/api/v1/prm/webhooks/twilio/status".into()),
        ..text()
    };
    let sent = client.send_message(&message).await.expect("sent");

    assert_eq!(sent.sid, "SM0001");
    assert_eq!(sent.status, MessageStatus::Queued);
    assert_eq!(sent.to, PATIENT);
    assert_eq!(sent.from.as_deref(), Some(CLINIC));
    assert_eq!(sent.account_sid.as_deref(), Some(SID));
    assert_eq!(sent.num_segments, Some(1));
    assert_eq!(sent.error_code, None);
    assert_eq!(
        sent.date_created.map(|d| d.to_rfc3339()),
        Some("2025-06-16T14:05:09+00:00".to_owned())
    );

    let received = requests(&server).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        form_of(&received[0]),
        pairs(&[
            ("To", PATIENT),
            ("From", CLINIC),
            ("Body", "Su cita está confirmada"),
            ("MediaUrl", "https://cdn.example/a.jpg"),
            ("MediaUrl", "https://cdn.example/b.pdf?x=1&y=2"),
            (
                "StatusCallback",
                "https://prm.example.com/api/v1/prm/webhooks/twilio/status"
            ),
        ])
    );
}

#[tokio::test]
async fn send_with_messaging_service_and_content_template() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .and(basic_auth(SID, TOKEN))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": "SM0002", "status": "accepted", "to": PATIENT, "from": null,
            "messaging_service_sid": "MG0123", "error_code": null
        })))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&server.uri(), fast_retries(3));

    let message = SendMessage {
        to: PATIENT.into(),
        from: Sender::MessagingService("MG0123".into()),
        body: None,
        media_urls: vec![],
        status_callback: None,
        content_sid: Some("HX0123".into()),
        content_variables: Some(json!({"1": "16/6", "2": "3:00 p. m."})),
    };
    let sent = client.send_message(&message).await.expect("sent");
    assert_eq!(sent.status, MessageStatus::Accepted);
    assert_eq!(sent.from, None);
    assert_eq!(sent.messaging_service_sid.as_deref(), Some("MG0123"));

    let form = form_of(&requests(&server).await[0]);
    assert_eq!(
        form,
        pairs(&[
            ("To", PATIENT),
            ("MessagingServiceSid", "MG0123"),
            ("ContentSid", "HX0123"),
            ("ContentVariables", r#"{"1":"16/6","2":"3:00 p. m."}"#),
        ])
    );
    let variables: Value = serde_json::from_str(&form[3].1).expect("ContentVariables is JSON");
    assert_eq!(variables["2"], "3:00 p. m.");
}

#[tokio::test]
async fn base_url_may_carry_a_path_prefix() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/edge{MESSAGES_PATH}")))
        .respond_with(ResponseTemplate::new(201).set_body_json(created("SM0003")))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&format!("{}/edge/", server.uri()), fast_retries(1));
    assert_eq!(
        client.send_message(&text()).await.expect("sent").sid,
        "SM0003"
    );
}

#[tokio::test]
async fn wrong_credentials_are_an_api_error_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401
        })))
        .mount(&server)
        .await;
    let config = TwilioConfig::new(SID, SecretString::from("not-the-token".to_owned()))
        .with_api_base(server.uri())
        .with_retry(fast_retries(3));
    let client = TwilioClient::new(config).expect("valid config");

    let err = client.send_message(&text()).await.expect_err("401");
    match &err {
        TwilioError::Api {
            status,
            code,
            message,
            ..
        } => {
            assert_eq!(
                (*status, *code, message.as_str()),
                (401, Some(20003), "Authenticate")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn known_twilio_errors_are_typed_and_never_retried() {
    type IsExpected = fn(&TwilioError) -> bool;
    let cases: [(u32, IsExpected); 3] = [
        (21211, |e| matches!(e, TwilioError::InvalidNumber { .. })),
        (21610, |e| matches!(e, TwilioError::Unsubscribed { .. })),
        (63016, |e| matches!(e, TwilioError::OutsideWindow { .. })),
    ];
    for (code, is_expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(MESSAGES_PATH))
            .respond_with(twilio_error(
                code,
                "The 'To' number whatsapp:+573001234567 is not valid",
            ))
            .mount(&server)
            .await;
        let client = client_for(&server.uri(), fast_retries(3));

        let err = client
            .send_message(&text())
            .await
            .expect_err("Twilio refuses");
        assert!(is_expected(&err), "code {code} gave {err:?}");
        assert_eq!(err.code(), Some(code));
        assert!(!err.is_transient());
        assert!(
            !err.to_string().contains("3001234567"),
            "Display leaks the number: {err}"
        );
        assert_eq!(
            requests(&server).await.len(),
            1,
            "code {code} must not be retried"
        );
    }
}

#[tokio::test]
async fn other_client_errors_are_generic_and_never_retried() {
    for status in [400u16, 403, 404, 422] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({
                "code": 21602, "message": "Message body is required.", "more_info": "x", "status": status
            })))
            .mount(&server)
            .await;
        let client = client_for(&server.uri(), fast_retries(3));
        let err = client.send_message(&text()).await.expect_err("refused");
        assert!(
            matches!(err, TwilioError::Api { status: s, code: Some(21602), .. } if s == status),
            "{err:?}"
        );
        assert_eq!(
            requests(&server).await.len(),
            1,
            "HTTP {status} must not be retried"
        );
    }
}

#[tokio::test]
async fn service_unavailable_then_created_succeeds_after_one_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(
            ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(ResponseTemplate::new(201).set_body_json(created("SM0004")))
        .with_priority(2)
        .mount(&server)
        .await;
    let client = client_for(&server.uri(), fast_retries(3));

    let sent = client
        .send_message(&text())
        .await
        .expect("sent on the retry");
    assert_eq!(sent.sid, "SM0004");
    let received = requests(&server).await;
    assert_eq!(received.len(), 2);
    assert_eq!(
        form_of(&received[0]),
        form_of(&received[1]),
        "the retry sends the same form"
    );
}

#[tokio::test]
async fn rate_limit_honours_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(
                    json!({"code": 20429, "message": "Too Many Requests", "status": 429}),
                ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(created("SM0005")))
        .with_priority(2)
        .mount(&server)
        .await;
    // Backoff alone would wait at most 40 ms: a wait of ~1 s can only be Retry-After.
    let client = client_for(&server.uri(), fast_retries(3));

    let started = Instant::now();
    let sent = client
        .send_message(&text())
        .await
        .expect("sent after the wait");
    let waited = started.elapsed();
    assert_eq!(sent.sid, "SM0005");
    assert_eq!(requests(&server).await.len(), 2);
    assert!(
        waited >= Duration::from_millis(950),
        "Retry-After ignored: {waited:?}"
    );
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let server = MockServer::start().await;
    // A date already past means "now": one retry, straight away.
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")
                .set_body_json(
                    json!({"code": 20503, "message": "Service Unavailable", "status": 503}),
                ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(created("SM0006")))
        .with_priority(2)
        .mount(&server)
        .await;
    let sent = client_for(&server.uri(), fast_retries(3))
        .send_message(&text())
        .await
        .expect("sent on the retry");
    assert_eq!(sent.sid, "SM0006");
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_ends_the_send_carrying_it() {
    let in_an_hour = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
    for header in ["3600".to_owned(), in_an_hour] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("Retry-After", header.as_str())
                    .set_body_json(
                        json!({"code": 20429, "message": "Too Many Requests", "status": 429}),
                    ),
            )
            .mount(&server)
            .await;
        // max_wait is 2 s: waiting an hour inside the request is not an option.
        let err = client_for(&server.uri(), fast_retries(3))
            .send_message(&text())
            .await
            .expect_err("gives up at once");
        assert!(
            matches!(
                err,
                TwilioError::Api {
                    status: 429,
                    code: Some(20429),
                    ..
                }
            ),
            "{err:?}"
        );
        let retry_after = err
            .retry_after()
            .expect("the caller learns when to try again");
        assert!(
            retry_after > Duration::from_secs(3500) && retry_after <= Duration::from_secs(3600),
            "{header}: {retry_after:?}"
        );
        assert_eq!(requests(&server).await.len(), 1, "{header}: no retry");
    }
}

#[tokio::test]
async fn waits_add_up_against_one_budget() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(
                    json!({"code": 20429, "message": "Too Many Requests", "status": 429}),
                ),
        )
        .mount(&server)
        .await;
    // One wait of 1 s fits in 1.5 s, two do not: the second 429 ends the send.
    let retry = RetryPolicy {
        max_wait: Duration::from_millis(1500),
        ..fast_retries(5)
    };
    let err = client_for(&server.uri(), retry)
        .send_message(&text())
        .await
        .expect_err("budget spent");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn persistent_unavailability_gives_up_after_max_attempts() {
    for max_attempts in [1u32, 3, 4] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503).set_body_json(json!({
                "code": 20503, "message": "Service Unavailable", "status": 503
            })))
            .mount(&server)
            .await;
        let client = client_for(&server.uri(), fast_retries(max_attempts));

        let err = client.send_message(&text()).await.expect_err("gives up");
        assert!(
            matches!(
                err,
                TwilioError::Api {
                    status: 503,
                    code: Some(20503),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.surely_not_sent());
        assert_eq!(requests(&server).await.len() as u32, max_attempts);
    }
}

#[tokio::test]
async fn a_server_error_on_a_send_is_not_repeated() {
    // Twilio may have created the message before failing: a second POST could
    // message the patient twice.
    let internal_error = ResponseTemplate::new(500).set_body_json(json!({
        "code": 20500, "message": "Internal Server Error", "status": 500
    }));
    for (status, response) in [
        (500u16, internal_error),
        (
            502,
            ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"),
        ),
        (
            504,
            ResponseTemplate::new(504).set_body_string("<html>Gateway Timeout</html>"),
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(response)
            .mount(&server)
            .await;
        let err = client_for(&server.uri(), fast_retries(3))
            .send_message(&text())
            .await
            .expect_err("server error");
        assert!(
            matches!(err, TwilioError::Api { status: s, .. } if s == status),
            "{err:?}"
        );
        assert!(!err.surely_not_sent());
        assert_eq!(
            requests(&server).await.len(),
            1,
            "HTTP {status} was repeated"
        );
    }
}

#[tokio::test]
async fn a_server_error_on_a_read_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "code": 20500, "message": "Internal Server Error", "status": 500
        })))
        .mount(&server)
        .await;
    let err = client_for(&server.uri(), fast_retries(3))
        .fetch_message("SM0010")
        .await
        .expect_err("gives up");
    assert_eq!(err.code(), Some(20500));
    assert_eq!(requests(&server).await.len(), 3, "a GET is safe to repeat");
}

#[tokio::test]
async fn persistent_rate_limit_gives_up_with_the_429() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429).set_body_json(
                json!({"code": 20429, "message": "Too Many Requests", "status": 429}),
            ),
        )
        .mount(&server)
        .await;
    let client = client_for(&server.uri(), fast_retries(3));
    let err = client.send_message(&text()).await.expect_err("gives up");
    assert!(
        matches!(err, TwilioError::Api { status: 429, .. }),
        "{err:?}"
    );
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test]
async fn a_timed_out_send_is_not_repeated() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(created("SM0007"))
                .set_delay(Duration::from_secs(2)),
        )
        .mount(&server)
        .await;
    let config = TwilioConfig::new(SID, SecretString::from(TOKEN.to_owned()))
        .with_api_base(server.uri())
        .with_retry(fast_retries(3))
        .with_timeouts(Duration::from_secs(1), Duration::from_millis(200));
    let client = TwilioClient::new(config).expect("valid config");

    let err = client.send_message(&text()).await.expect_err("times out");
    assert!(matches!(err, TwilioError::Timeout), "{err:?}");
    // The message may exist already: a second POST could message the patient twice.
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn connection_failures_are_retried() {
    // A port that nobody listens on: every attempt is refused before anything is sent.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);

    let retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_millis(200),
        max_wait: Duration::from_secs(1),
    };
    // Two waits of at least half the backoff each prove that two retries happened.
    let started = Instant::now();
    let err = client_for(&base, retry)
        .send_message(&text())
        .await
        .expect_err("refused");
    assert!(matches!(err, TwilioError::Transport(_)), "{err:?}");
    assert!(err.is_transient());
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "not retried: {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let err = client_for(
        &base,
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
    )
    .send_message(&text())
    .await
    .expect_err("refused");
    assert!(matches!(err, TwilioError::Transport(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(200));
}

#[tokio::test]
async fn an_unreadable_success_body_is_an_invalid_response() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_string("OK"))
        .mount(&server)
        .await;
    let err = client_for(&server.uri(), fast_retries(3))
        .send_message(&text())
        .await
        .expect_err("not JSON");
    assert!(
        matches!(err, TwilioError::InvalidResponse { status: 201, .. }),
        "{err:?}"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn an_empty_message_is_refused_without_a_request() {
    let server = MockServer::start().await;
    let client = client_for(&server.uri(), fast_retries(3));
    let message = SendMessage {
        body: None,
        ..text()
    };
    let err = client.send_message(&message).await.expect_err("empty");
    assert!(matches!(err, TwilioError::InvalidRequest(_)), "{err:?}");
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn fetch_message_reads_the_status() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/2010-04-01/Accounts/{SID}/Messages/SM0008.json"
        )))
        .and(basic_auth(SID, TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sid": "SM0008", "status": "undelivered", "to": PATIENT, "from": CLINIC,
            "error_code": 63024, "error_message": "Invalid message recipient",
            "date_sent": "Mon, 16 Jun 2025 14:05:10 +0000"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let message = client_for(&server.uri(), fast_retries(3))
        .fetch_message("SM0008")
        .await
        .expect("fetched");
    assert_eq!(message.status, MessageStatus::Undelivered);
    assert_eq!(message.error_code, Some(63024));
    assert_eq!(
        message.error_message.as_deref(),
        Some("Invalid message recipient")
    );
    assert!(message.date_sent.is_some());
}

#[tokio::test]
async fn fetch_message_errors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "code": 20404, "message": "The requested resource was not found", "status": 404
        })))
        .mount(&server)
        .await;
    let client = client_for(&server.uri(), fast_retries(3));
    let err = client.fetch_message("SM404").await.expect_err("missing");
    assert!(
        matches!(
            err,
            TwilioError::Api {
                status: 404,
                code: Some(20404),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(requests(&server).await.len(), 1);

    let err = client
        .fetch_message("../Calls")
        .await
        .expect_err("not a SID");
    assert!(matches!(err, TwilioError::InvalidRequest(_)), "{err:?}");
    assert_eq!(
        requests(&server).await.len(),
        1,
        "no request for an invalid SID"
    );
}

#[tokio::test]
async fn a_timed_out_fetch_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let config = TwilioConfig::new(SID, SecretString::from(TOKEN.to_owned()))
        .with_api_base(server.uri())
        .with_retry(fast_retries(2))
        .with_timeouts(Duration::from_secs(1), Duration::from_millis(150));
    let err = TwilioClient::new(config)
        .expect("valid config")
        .fetch_message("SM0009")
        .await
        .expect_err("times out");
    assert!(matches!(err, TwilioError::Timeout), "{err:?}");
    assert_eq!(requests(&server).await.len(), 2, "a GET is safe to repeat");
}

/// A server that accepts connections and hangs up: after reading a whole request when
/// `read_request`, else at once. Answers how many connections it accepted.
fn hanging_up_server(read_request: bool) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { break };
            counter.fetch_add(1, Ordering::SeqCst);
            if read_request {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = socket.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if request_complete(&seen) {
                        break;
                    }
                }
            } else {
                let _ = socket.write_all(b"not TLS\r\n");
            }
        }
    });
    (addr.to_string(), accepted)
}

/// Headers and as much body as `Content-Length` announces.
fn request_complete(seen: &[u8]) -> bool {
    let text = String::from_utf8_lossy(seen);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    body.len() >= length
}

#[tokio::test]
async fn a_connection_lost_after_the_request_was_sent_is_not_repeated() {
    let (addr, accepted) = hanging_up_server(true);
    let err = client_for(&format!("http://{addr}"), fast_retries(3))
        .send_message(&text())
        .await
        .expect_err("no answer");
    assert!(matches!(err, TwilioError::ConnectionLost(_)), "{err:?}");
    assert!(!err.surely_not_sent());
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "the send was repeated");
}

#[tokio::test]
async fn a_failed_tls_handshake_is_retried() {
    // Nothing of the request is written before TLS is up: trying again is safe.
    let (addr, accepted) = hanging_up_server(false);
    let err = client_for(&format!("https://{addr}"), fast_retries(3))
        .send_message(&text())
        .await
        .expect_err("no TLS");
    assert!(matches!(err, TwilioError::Transport(_)), "{err:?}");
    assert!(err.surely_not_sent());
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}
