//! E.164 phone numbers, normalized from what patients and providers actually send.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A phone number in E.164 form (`+` followed by 8 to 15 digits, no leading zero).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error(
        "phone number contains characters other than digits, spaces, '+', '(', ')', '-' and '.'"
    )]
    InvalidCharacter,
    #[error("phone number must have between 8 and 15 digits including the country code")]
    InvalidLength,
    #[error("country codes never start with 0")]
    InvalidCountryCode,
    #[error("default country code must be 1 to 3 digits")]
    InvalidDefaultCountryCode,
}

impl PhoneNumber {
    /// Normalizes `raw` to E.164.
    ///
    /// Accepts a `whatsapp:` or `tel:` prefix, spaces, dashes, dots and parentheses.
    /// A number without `+` (or `00`) is national: a single trunk `0` is dropped and
    /// `default_country_code` is prepended, unless the digits already start with that
    /// code and are long enough to be international (as Meta's `wa_id` is).
    pub fn parse(raw: &str, default_country_code: &str) -> Result<Self, PhoneError> {
        if default_country_code.is_empty()
            || default_country_code.len() > 3
            || !default_country_code.bytes().all(|b| b.is_ascii_digit())
            || default_country_code.starts_with('0')
        {
            return Err(PhoneError::InvalidDefaultCountryCode);
        }
        let mut rest = raw.trim();
        for prefix in ["whatsapp:", "tel:", "sms:"] {
            if rest
                .get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
            {
                rest = rest[prefix.len()..].trim_start();
            }
        }
        if rest.is_empty() {
            return Err(PhoneError::Empty);
        }
        let international = rest.starts_with('+');
        let body = if international { &rest[1..] } else { rest };
        let mut digits = String::with_capacity(body.len());
        for c in body.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
                _ => return Err(PhoneError::InvalidCharacter),
            }
        }
        if digits.is_empty() {
            return Err(PhoneError::Empty);
        }
        let full = if international {
            digits
        } else if let Some(stripped) = digits.strip_prefix("00") {
            stripped.to_owned()
        } else if digits.starts_with(default_country_code)
            && digits.len() >= default_country_code.len() + 8
        {
            digits
        } else {
            let national = digits.strip_prefix('0').unwrap_or(&digits);
            format!("{default_country_code}{national}")
        };
        if full.starts_with('0') {
            return Err(PhoneError::InvalidCountryCode);
        }
        if !(8..=15).contains(&full.len()) {
            return Err(PhoneError::InvalidLength);
        }
        Ok(Self(format!("+{full}")))
    }

    /// The E.164 string, e.g. `+573001234567`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without `+`, as WhatsApp ids (`wa_id`) are written.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// A masked form for logs and support screens: `+57******4567`.
    pub fn masked(&self) -> String {
        let keep = 4.min(self.0.len() - 1);
        let cc_len = 3.min(self.0.len() - 1 - keep);
        let hidden = self.0.len() - 1 - keep - cc_len;
        format!(
            "+{}{}{}",
            &self.0[1..1 + cc_len],
            "*".repeat(hidden),
            &self.0[self.0.len() - keep..]
        )
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Debug never prints the number: it is patient data.
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl Serialize for PhoneNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Deserializing requires E.164 already: there is no country context here.
impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        if !raw.starts_with('+') {
            return Err(serde::de::Error::custom(
                "phone number must be E.164 (+ and digits)",
            ));
        }
        PhoneNumber::parse(&raw, "1").map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for PhoneNumber {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^\+[1-9][0-9]{7,14}$"))
            .description(Some("Phone number in E.164 form"))
            .examples([serde_json::json!("+573001234567")])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for PhoneNumber {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalizes_the_forms_patients_and_providers_send() {
        let cases = [
            ("whatsapp:+57 300 123 4567", "+573001234567"),
            ("WhatsApp:+573001234567", "+573001234567"),
            ("(300) 123-4567", "+573001234567"),
            ("3001234567", "+573001234567"),
            ("300.123.4567", "+573001234567"),
            ("573001234567", "+573001234567"),
            ("0057 300 123 4567", "+573001234567"),
            ("tel:+1 (415) 523-8886", "+14155238886"),
            ("  +44 20 7946 0958 ", "+442079460958"),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                PhoneNumber::parse(raw, "57").map(|p| p.as_str().to_owned()),
                Ok(expected.to_owned()),
                "{raw}"
            );
        }
    }

    #[test]
    fn uses_the_configured_default_country_code() {
        let p = PhoneNumber::parse("98765 43210", "91").unwrap();
        assert_eq!(p.as_str(), "+919876543210");
        let uk = PhoneNumber::parse("07700 900123", "44").unwrap();
        assert_eq!(uk.as_str(), "+447700900123", "trunk 0 dropped");
    }

    #[test]
    fn rejects_garbage() {
        for raw in [
            "",
            "   ",
            "whatsapp:",
            "abc",
            "300-CALL-NOW",
            "+",
            "+0573001234567",
            "12",
            "+1234567890123456",
            "3001234567; DROP TABLE",
        ] {
            assert!(PhoneNumber::parse(raw, "57").is_err(), "{raw:?} accepted");
        }
        assert_eq!(
            PhoneNumber::parse("3001234567", "0"),
            Err(PhoneError::InvalidDefaultCountryCode)
        );
        assert_eq!(
            PhoneNumber::parse("3001234567", "x1"),
            Err(PhoneError::InvalidDefaultCountryCode)
        );
    }

    #[test]
    fn debug_and_masked_hide_the_number() {
        let p = PhoneNumber::parse("+573001234567", "57").unwrap();
        assert_eq!(p.masked(), "+573*****4567");
        assert!(!format!("{p:?}").contains("3001234567"));
        assert_eq!(p.digits(), "573001234567");
    }

    #[test]
    fn serde_round_trips_and_refuses_non_e164() {
        let p = PhoneNumber::parse("3001234567", "57").unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"+573001234567\"");
        assert_eq!(serde_json::from_str::<PhoneNumber>(&json).unwrap(), p);
        assert!(serde_json::from_str::<PhoneNumber>("\"3001234567\"").is_err());
    }

    proptest! {
        #[test]
        fn output_is_always_e164(raw in ".{0,40}", cc in "[1-9][0-9]{0,2}") {
            if let Ok(p) = PhoneNumber::parse(&raw, &cc) {
                let s = p.as_str();
                prop_assert!(s.starts_with('+'));
                prop_assert!((9..=16).contains(&s.len()));
                prop_assert!(s[1..].bytes().all(|b| b.is_ascii_digit()));
                prop_assert!(!s[1..].starts_with('0'));
            }
        }

        #[test]
        fn normalization_is_idempotent(digits in "[1-9][0-9]{7,14}", cc in "[1-9][0-9]{0,2}") {
            let first = PhoneNumber::parse(&format!("+{digits}"), &cc).unwrap();
            let again = PhoneNumber::parse(first.as_str(), &cc).unwrap();
            prop_assert_eq!(&first, &again);
            let whatsapp = PhoneNumber::parse(&format!("whatsapp:{}", first), &cc).unwrap();
            prop_assert_eq!(first, whatsapp);
        }

        #[test]
        fn formatting_noise_does_not_change_the_number(national in "[1-9][0-9]{9}") {
            let plain = PhoneNumber::parse(&national, "57").unwrap();
            let noisy = format!("({}) {}-{}", &national[..3], &national[3..6], &national[6..]);
            prop_assert_eq!(PhoneNumber::parse(&noisy, "57").unwrap(), plain);
        }
    }
}
