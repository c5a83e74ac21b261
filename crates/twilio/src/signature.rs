//! `X-Twilio-Signature` validation for the webhooks Twilio sends us.
//!
//! Twilio signs every request with HMAC-SHA1 keyed with the account's auth token:
//!
//! * **form posts** (`application/x-www-form-urlencoded`, what WhatsApp/SMS webhooks use):
//!   the full public URL (with its query string) followed by every POSTed parameter,
//!   sorted by name, each name immediately followed by its value. A repeated name
//!   contributes each distinct value once, values sorted.
//! * **JSON bodies**: Twilio adds `bodySHA256=<hex SHA-256 of the body>` to the URL and
//!   signs the URL alone; the body is bound to the signature through that hash.
//!
//! The URL must be the one configured as public (`PUBLIC_BASE_URL` + route), never one
//! rebuilt from the `Host` header, which the caller controls. Twilio sometimes signs
//! with the default port written out (`:443`/`:80`) and sometimes without, so, like
//! Twilio's official validators, we accept the URL as given, with the default port
//! added when it has none, and with its port removed when it has one.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The header Twilio puts its signature in.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// The query parameter that carries the body hash of a signed JSON request.
pub const BODY_SHA256_PARAM: &str = "bodySHA256";

/// Checks `X-Twilio-Signature` with the account's auth token.
#[derive(Clone)]
pub struct RequestValidator {
    auth_token: SecretString,
}

impl std::fmt::Debug for RequestValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestValidator")
            .field("auth_token", &"[REDACTED]")
            .finish()
    }
}

impl RequestValidator {
    pub fn new(auth_token: SecretString) -> Self {
        Self { auth_token }
    }

    /// The signature Twilio would send for `url` and these form parameters.
    ///
    /// Exposed for tests and fakes that need to sign requests; production code only
    /// validates.
    pub fn compute_signature(&self, url: &str, params: &[(String, String)]) -> String {
        let mut by_name: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (name, value) in params {
            by_name.entry(name).or_default().insert(value);
        }
        let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(self.auth_token.expose_secret().as_bytes())
        else {
            // Unreachable: HMAC accepts keys of any length. An empty signature never validates.
            return String::new();
        };
        mac.update(url.as_bytes());
        for (name, values) in by_name {
            for value in values {
                mac.update(name.as_bytes());
                mac.update(value.as_bytes());
            }
        }
        BASE64.encode(mac.finalize().into_bytes())
    }

    /// Validates a form-encoded webhook: `url` is our configured public URL for the
    /// route (with any query string), `params` every POSTed parameter in any order.
    pub fn validate_form(&self, url: &str, params: &[(String, String)], signature: &str) -> bool {
        self.signature_matches_any(url, params, signature)
    }

    /// Validates a JSON-body webhook: `url_with_body_sha` carries `bodySHA256`, the
    /// signature covers the URL only, and the body must hash to `bodySHA256`.
    pub fn validate_json(&self, url_with_body_sha: &str, body: &[u8], signature: &str) -> bool {
        let Some(expected_hash) = query_param(url_with_body_sha, BODY_SHA256_PARAM) else {
            return false;
        };
        let actual_hash = hex::encode(Sha256::digest(body));
        let hash_ok: bool = actual_hash
            .as_bytes()
            .ct_eq(expected_hash.to_ascii_lowercase().as_bytes())
            .into();
        let signature_ok = self.signature_matches_any(url_with_body_sha, &[], signature);
        hash_ok & signature_ok
    }

    /// Validates a raw webhook body of either kind, picked by its `Content-Type`:
    /// JSON when it is `application/json`, a form post otherwise.
    pub fn validate_body(
        &self,
        url: &str,
        content_type: Option<&str>,
        body: &[u8],
        signature: &str,
    ) -> bool {
        let is_json = content_type
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if is_json {
            return self.validate_json(url, body, signature);
        }
        match parse_form(body) {
            Ok(params) => self.validate_form(url, &params, signature),
            Err(_) => false,
        }
    }

    fn signature_matches_any(
        &self,
        url: &str,
        params: &[(String, String)],
        signature: &str,
    ) -> bool {
        let signature = signature.trim();
        if signature.is_empty() {
            return false;
        }
        // Every candidate is checked so the time taken does not depend on which one matched.
        url_candidates(url)
            .iter()
            .fold(false, |matched, candidate| {
                let expected = self.compute_signature(candidate, params);
                let equal: bool = expected.as_bytes().ct_eq(signature.as_bytes()).into();
                matched | equal
            })
    }
}

/// The `bodySHA256` of a signed URL, when it has one: Twilio then signed a JSON body
/// (validate with [`RequestValidator::validate_json`] and read the body as JSON).
pub fn body_sha256(url: &str) -> Option<String> {
    query_param(url, BODY_SHA256_PARAM)
}

/// Error parsing an `application/x-www-form-urlencoded` body.
#[derive(Debug, thiserror::Error)]
#[error("malformed form body")]
pub struct FormError(#[source] serde_urlencoded::de::Error);

/// Parses a form body into its pairs, in order, keeping repeated names
/// (`MediaUrl0`… are distinct names, but other senders repeat keys).
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    serde_urlencoded::from_bytes(body).map_err(FormError)
}

/// The URL as given, with the default port added when it has none, and with its port
/// removed when it has one (what Twilio's official validators try).
fn url_candidates(url: &str) -> Vec<String> {
    let mut candidates = vec![url.to_owned()];
    if let Some(parts) = split_authority(url) {
        match parts.port {
            Some(_) => candidates.push(format!("{}{}", parts.before_port, parts.rest)),
            None => {
                let default_port = match parts.scheme.to_ascii_lowercase().as_str() {
                    "https" => Some("443"),
                    "http" => Some("80"),
                    _ => None,
                };
                if let Some(port) = default_port {
                    candidates.push(format!("{}:{}{}", parts.before_port, port, parts.rest));
                }
            }
        }
    }
    candidates.dedup();
    candidates
}

struct UrlParts<'a> {
    scheme: &'a str,
    /// Everything up to the end of the host (scheme, `://`, userinfo, host).
    before_port: &'a str,
    port: Option<&'a str>,
    /// Path, query and fragment.
    rest: &'a str,
}

fn split_authority(url: &str) -> Option<UrlParts<'_>> {
    let scheme_end = url.find("://")?;
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let host_port = &authority[host_start..];
    // An IPv6 literal has colons of its own: the port separator comes after `]`.
    let search_from = if host_port.starts_with('[') {
        host_port.find(']')?
    } else {
        0
    };
    let colon = host_port[search_from..].rfind(':').map(|i| search_from + i);
    let host_end = authority_start + host_start + colon.unwrap_or(host_port.len());
    Some(UrlParts {
        scheme: &url[..scheme_end],
        before_port: &url[..host_end],
        port: colon.map(|c| &host_port[c + 1..]),
        rest: &url[authority_end..],
    })
}

/// The first value of `name` in the URL's query string.
fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validator() -> RequestValidator {
        RequestValidator::new(SecretString::from("12345".to_owned()))
    }

    #[test]
    fn candidates_add_the_default_port_when_absent() {
        assert_eq!(
            url_candidates("https://a.example/x?y=1"),
            vec!["https://a.example/x?y=1", "https://a.example:443/x?y=1"]
        );
        assert_eq!(
            url_candidates("http://a.example"),
            vec!["http://a.example", "http://a.example:80"]
        );
    }

    #[test]
    fn candidates_remove_a_port_when_present() {
        assert_eq!(
            url_candidates("https://a.example:443/x"),
            vec!["https://a.example:443/x", "https://a.example/x"]
        );
        assert_eq!(
            url_candidates("http://user:pw@[::1]:8080/x"),
            vec!["http://user:pw@[::1]:8080/x", "http://user:pw@[::1]/x"]
        );
    }

    #[test]
    fn ipv6_host_without_port_gets_the_default_port() {
        assert_eq!(
            url_candidates("https://[::1]/x"),
            vec!["https://[::1]/x", "https://[::1]:443/x"]
        );
    }

    #[test]
    fn a_url_without_scheme_is_only_tried_as_given() {
        assert_eq!(url_candidates("/relative?x=1"), vec!["/relative?x=1"]);
    }

    #[test]
    fn query_param_reads_the_body_hash() {
        assert_eq!(
            query_param("https://a/x?foo=1&bodySHA256=abc#frag", BODY_SHA256_PARAM).as_deref(),
            Some("abc")
        );
        assert_eq!(query_param("https://a/x?foo=1", BODY_SHA256_PARAM), None);
        assert_eq!(query_param("https://a/x", BODY_SHA256_PARAM), None);
    }

    #[test]
    fn empty_signature_never_validates() {
        assert!(!validator().validate_form("https://a/x", &[], ""));
        assert!(!validator().validate_form("https://a/x", &[], "   "));
    }

    #[test]
    fn debug_redacts_the_token() {
        let printed = format!("{:?}", validator());
        assert!(!printed.contains("12345"), "{printed}");
        assert!(printed.contains("REDACTED"));
    }

    #[test]
    fn parse_form_keeps_order_and_repeated_keys() {
        let pairs = parse_form(b"b=2&a=1&a=%C3%A9+x&c=").expect("parses");
        let expected: Vec<(String, String)> = [("b", "2"), ("a", "1"), ("a", "é x"), ("c", "")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(pairs, expected);
    }
}
