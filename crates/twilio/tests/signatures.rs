//! Known-answer tests for `X-Twilio-Signature`, from the suite's shared fixtures
//! (twilio-python's own vectors and a WhatsApp webhook signed with the official
//! library; a byte-identical copy is committed in `tests/fixtures/`), plus the ways a
//! forged or altered request must fail.

use std::collections::BTreeSet;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use prm_twilio::{RequestValidator, parse_form};
use secrecy::SecretString;
use serde_json::Value;
use sha2::{Digest, Sha256};

const FIXTURE: &str = "twilio-signatures.json";

/// The committed copy of the suite's fixture (`tests/fixtures/`), so that a clean clone
/// has it; [`the_committed_fixture_is_the_shared_one`] keeps it identical to the shared one.
const COMMITTED: &str = include_str!("fixtures/twilio-signatures.json");

fn fixtures() -> Value {
    serde_json::from_str(COMMITTED).expect("tests/fixtures/twilio-signatures.json is JSON")
}

#[test]
fn the_committed_fixture_is_the_shared_one() {
    prm_testkit::fixtures::assert_committed_copies_are_shared(
        env!("CARGO_MANIFEST_DIR"),
        &[(FIXTURE, COMMITTED)],
    );
}

fn s<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("fixture field `{key}` missing or not a string"))
}

fn params(value: &Value) -> Vec<(String, String)> {
    value
        .as_object()
        .expect("params is an object")
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().expect("param value is a string").to_owned(),
            )
        })
        .collect()
}

fn validator(token: &str) -> RequestValidator {
    RequestValidator::new(SecretString::from(token.to_owned()))
}

fn set(pairs: &[(String, String)]) -> BTreeSet<(String, String)> {
    pairs.iter().cloned().collect()
}

#[test]
fn every_official_vector_is_known_to_these_tests() {
    let official = &fixtures()["official"];
    let keys: BTreeSet<&str> = official
        .as_object()
        .expect("official is an object")
        .keys()
        .map(String::as_str)
        .collect();
    let covered: BTreeSet<&str> = [
        "source",
        "auth_token",
        "uri",
        "params",
        "expected",
        "https_with_443",
        "http_with_1234",
        "http_with_80",
        "duplicates",
        "json_body",
    ]
    .into();
    assert_eq!(
        keys, covered,
        "a vector was added to the fixture: add a test for it"
    );
    assert!(!fixtures()["whatsapp"].as_array().expect("array").is_empty());
}

#[test]
fn official_form_vector() {
    let f = &fixtures()["official"];
    let v = validator(s(f, "auth_token"));
    let (uri, params, expected) = (s(f, "uri"), params(&f["params"]), s(f, "expected"));
    assert_eq!(v.compute_signature(uri, &params), expected);
    assert!(v.validate_form(uri, &params, expected));
    let mut reversed = params.clone();
    reversed.reverse();
    assert!(
        v.validate_form(uri, &reversed, expected),
        "parameter order must not matter"
    );
}

#[test]
fn official_https_default_port_is_added_and_removed() {
    let f = &fixtures()["official"];
    let v = validator(s(f, "auth_token"));
    let (uri, params) = (s(f, "uri"), params(&f["params"]));
    let with_443 = uri.replacen(".com", ".com:443", 1);
    let signed_with_443 = s(f, "https_with_443");

    assert_eq!(v.compute_signature(&with_443, &params), signed_with_443);
    // Twilio signed with :443, we are configured without it.
    assert!(v.validate_form(uri, &params, signed_with_443));
    // We are configured with :443, Twilio signed without it.
    assert!(v.validate_form(&with_443, &params, s(f, "expected")));
    assert!(v.validate_form(&with_443, &params, signed_with_443));
}

#[test]
fn official_http_default_port_is_added() {
    let f = &fixtures()["official"];
    let v = validator(s(f, "auth_token"));
    let params = params(&f["params"]);
    let http_uri = s(f, "uri").replacen("https", "http", 1);
    let signed_with_80 = s(f, "http_with_80");

    assert_eq!(
        v.compute_signature(&http_uri.replacen(".com", ".com:80", 1), &params),
        signed_with_80
    );
    assert!(v.validate_form(&http_uri, &params, signed_with_80));
    // …but the https signature does not validate an http URL.
    assert!(!v.validate_form(&http_uri, &params, s(f, "expected")));
}

#[test]
fn official_non_default_port() {
    let f = &fixtures()["official"];
    let v = validator(s(f, "auth_token"));
    let params = params(&f["params"]);
    let http_1234 = s(f, "uri")
        .replacen("https", "http", 1)
        .replacen(".com", ".com:1234", 1);
    let signed = s(f, "http_with_1234");

    assert_eq!(v.compute_signature(&http_1234, &params), signed);
    assert!(v.validate_form(&http_1234, &params, signed));
    // As in twilio-python (`test_validation_removes_port_on_https`): a URL with a port
    // also validates a signature made without it.
    let https_1234 = s(f, "uri").replacen(".com", ".com:1234", 1);
    assert!(v.validate_form(&https_1234, &params, s(f, "expected")));
    // The port is not ignored the other way round: no :1234 added to a URL without one.
    let http_uri = s(f, "uri").replacen("https", "http", 1);
    assert!(!v.validate_form(&http_uri, &params, signed));
}

#[test]
fn official_duplicate_keys_are_deduplicated_and_sorted() {
    let f = &fixtures()["official"];
    let v = validator(s(f, "auth_token"));
    let d = &f["duplicates"];
    let pairs: Vec<(String, String)> = d["pairs"]
        .as_array()
        .expect("pairs")
        .iter()
        .map(|p| {
            (
                p[0].as_str().expect("name").to_owned(),
                p[1].as_str().expect("value").to_owned(),
            )
        })
        .collect();
    let expected = s(d, "expected");
    assert_eq!(v.compute_signature(s(f, "uri"), &pairs), expected);
    assert!(v.validate_form(s(f, "uri"), &pairs, expected));

    let mut reordered = pairs.clone();
    reordered.rotate_left(2);
    assert_eq!(v.compute_signature(s(f, "uri"), &reordered), expected);

    // Dropping the duplicate value is the same set of values…
    let deduplicated: Vec<_> = set(&pairs).into_iter().collect();
    assert!(v.validate_form(s(f, "uri"), &deduplicated, expected));
    // …dropping a distinct value is not.
    let without_5678: Vec<_> = pairs
        .iter()
        .filter(|(_, val)| val != "5678")
        .cloned()
        .collect();
    assert!(!v.validate_form(s(f, "uri"), &without_5678, expected));
}

#[test]
fn official_json_body_vector() {
    let f = &fixtures()["official"];
    let v = validator(s(f, "auth_token"));
    let j = &f["json_body"];
    let (uri, body, expected) = (s(j, "uri"), s(j, "body").as_bytes(), s(j, "expected"));

    assert_eq!(hex::encode(Sha256::digest(body)), s(j, "bodySHA256"));
    assert!(uri.contains(&format!("bodySHA256={}", s(j, "bodySHA256"))));
    assert_eq!(v.compute_signature(uri, &[]), expected);
    assert!(v.validate_json(uri, body, expected));
    assert!(v.validate_body(uri, Some("application/json; charset=utf-8"), body, expected));
}

#[test]
fn json_body_failures() {
    let f = &fixtures()["official"];
    let v = validator(s(f, "auth_token"));
    let j = &f["json_body"];
    let (uri, body, expected) = (s(j, "uri"), s(j, "body"), s(j, "expected"));

    let tampered = body.replace("true", "false");
    assert!(
        !v.validate_json(uri, tampered.as_bytes(), expected),
        "tampered body"
    );
    assert!(
        !validator("wrong").validate_json(uri, body.as_bytes(), expected),
        "wrong token"
    );
    assert!(!v.validate_json(uri, body.as_bytes(), "a9nBmqA0ju/hNViExpshrM61xv5="));

    // Without bodySHA256 the body is bound to nothing: refuse, even with a good signature.
    let plain_uri = s(f, "uri");
    let url_only = v.compute_signature(plain_uri, &[]);
    assert!(!v.validate_json(plain_uri, body.as_bytes(), &url_only));

    // An attacker who swaps the body and its hash in the URL breaks the URL signature.
    let forged_hash = hex::encode(Sha256::digest(tampered.as_bytes()));
    let forged_uri = uri.replace(s(j, "bodySHA256"), &forged_hash);
    assert!(!v.validate_json(&forged_uri, tampered.as_bytes(), expected));
}

#[test]
fn whatsapp_vectors() {
    let vectors = fixtures()["whatsapp"].as_array().expect("array").clone();
    for w in &vectors {
        let name = s(w, "name");
        let v = validator(s(w, "auth_token"));
        let (url, expected) = (s(w, "url"), s(w, "expected_signature"));
        let params = params(&w["params"]);

        // The fixture's string-to-sign is what the official library signs.
        let mut mac =
            Hmac::<sha1::Sha1>::new_from_slice(s(w, "auth_token").as_bytes()).expect("key");
        mac.update(s(w, "string_to_sign").as_bytes());
        let from_string =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(from_string, expected, "{name}: fixture is inconsistent");

        assert_eq!(v.compute_signature(url, &params), expected, "{name}");
        assert!(v.validate_form(url, &params, expected), "{name}");

        // The raw body as Twilio posts it parses to the same parameters and validates.
        let form_body = s(w, "form_body");
        let parsed = parse_form(form_body.as_bytes()).expect("form body parses");
        assert_eq!(set(&parsed), set(&params), "{name}: parse_form");
        assert!(v.validate_form(url, &parsed, expected), "{name}");
        assert!(
            v.validate_body(
                url,
                Some("application/x-www-form-urlencoded"),
                form_body.as_bytes(),
                expected
            ),
            "{name}: validate_body"
        );

        if let Some(with_443) = w.get("signature_if_url_has_443").and_then(Value::as_str) {
            let url_443 = url.replacen(".com/", ".com:443/", 1);
            assert_ne!(url_443, url, "{name}: could not add the port");
            assert_eq!(v.compute_signature(&url_443, &params), with_443, "{name}");
            assert!(
                v.validate_form(url, &params, with_443),
                "{name}: port added"
            );
            assert!(
                v.validate_form(&url_443, &params, expected),
                "{name}: port removed"
            );
        }
    }
}

#[test]
fn altered_requests_are_invalid() {
    let w = &fixtures()["whatsapp"][0];
    let v = validator(s(w, "auth_token"));
    let (url, expected) = (s(w, "url"), s(w, "expected_signature"));
    let params = params(&w["params"]);
    assert!(v.validate_form(url, &params, expected), "baseline");

    assert!(
        !validator("00000000000000000000000000000000").validate_form(url, &params, expected),
        "wrong token"
    );

    let tampered: Vec<_> = params
        .iter()
        .map(|(k, val)| {
            let val = if k == "Body" {
                "Cancel my appointment".to_owned()
            } else {
                val.clone()
            };
            (k.clone(), val)
        })
        .collect();
    assert!(!v.validate_form(url, &tampered, expected), "tampered param");

    let missing: Vec<_> = params
        .iter()
        .filter(|(k, _)| k != "ProfileName")
        .cloned()
        .collect();
    assert!(!v.validate_form(url, &missing, expected), "missing param");

    let mut extra = params.clone();
    extra.push(("Extra".into(), "1".into()));
    assert!(!v.validate_form(url, &extra, expected), "extra param");

    let mut empty_extra = params.clone();
    empty_extra.push(("Extra".into(), String::new()));
    assert!(
        !v.validate_form(url, &empty_extra, expected),
        "extra empty param"
    );

    let renamed: Vec<_> = params
        .iter()
        .map(|(k, val)| {
            (
                if k == "To" {
                    "to".to_owned()
                } else {
                    k.clone()
                },
                val.clone(),
            )
        })
        .collect();
    assert!(!v.validate_form(url, &renamed, expected), "renamed param");

    assert!(
        !v.validate_form(&format!("{url}/"), &params, expected),
        "other path"
    );
    assert!(
        !v.validate_form(&format!("{url}?x=1"), &params, expected),
        "other query"
    );
    assert!(
        !v.validate_form(&url.replace("https://", "http://"), &params, expected),
        "other scheme"
    );
    assert!(!v.validate_form(url, &params, ""), "empty signature");
    assert!(
        !v.validate_form(url, &params, &expected[1..]),
        "truncated signature"
    );
    assert!(
        !v.validate_body(
            url,
            Some("application/json"),
            s(w, "form_body").as_bytes(),
            expected
        ),
        "a form body posted as JSON"
    );
}
