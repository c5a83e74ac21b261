//! E.164 phone numbers, normalized from what patients and providers actually send.

use std::{fmt, ops::RangeInclusive};

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
    /// `+` or `00` marks an international number. Digits without either are national: a
    /// single trunk `0` is dropped and `default_country_code` is prepended, unless the
    /// digits are that country's number written internationally without the `+` (as
    /// Meta's `wa_id` is), which is only assumed when the country's national number
    /// lengths are known and the digits fit them only with the country code taken off
    /// (see [`national_lengths`]). `9198765432` with `91` is therefore the Indian national
    /// number `+919198765432`, while `919876543210` is `+919876543210`.
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
        } else if written_without_plus(&digits, default_country_code) {
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

/// Lengths of the national (significant) numbers of countries whose plans have one or two
/// fixed lengths, from their national numbering plans as published to the ITU. Countries
/// missing here have numbers of widely varying length, so their digits are never guessed
/// to carry the country code: write them with `+` or `00`.
pub fn national_lengths(country_code: &str) -> Option<RangeInclusive<usize>> {
    Some(match country_code {
        "1" | "7" | "52" | "57" | "58" | "90" | "91" => 10..=10,
        "33" | "34" | "56" | "61" | "351" => 9..=9,
        "44" | "81" => 9..=10,
        "54" | "55" => 10..=11,
        "51" | "593" => 8..=9,
        "502" | "503" | "504" | "505" | "506" | "591" | "598" => 8..=8,
        "507" => 7..=8,
        _ => return None,
    })
}

/// Whether unprefixed `digits` are a number of `country_code` written internationally
/// without the `+`: they start with the code, the rest has a national length, and the
/// whole has not (a number that fits both ways is read as national, as people write).
fn written_without_plus(digits: &str, country_code: &str) -> bool {
    let Some(lengths) = national_lengths(country_code) else {
        return false;
    };
    digits
        .strip_prefix(country_code)
        .is_some_and(|national| lengths.contains(&national.len()))
        && !lengths.contains(&digits.len())
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
    fn national_numbers_that_begin_with_the_country_code_stay_national() {
        let cases = [
            // Indian mobile numbers are 10 digits; some begin with 91.
            ("9198765432", "91", "+919198765432"),
            ("919876543210", "91", "+919876543210"),
            ("+9198765432", "91", "+9198765432"),
            ("009198765432", "91", "+9198765432"),
            // A Colombian number that begins with 57 (10 digits) is national.
            ("5712345678", "57", "+575712345678"),
            ("575712345678", "57", "+575712345678"),
            // NANP: 10 national digits, 11 with the 1.
            ("14155238886", "1", "+14155238886"),
            ("4155238886", "1", "+14155238886"),
            // Brazil has 10- and 11-digit national numbers.
            ("5511987654321", "55", "+5511987654321"),
            ("11987654321", "55", "+5511987654321"),
            // Unknown plans (Germany's lengths vary): only `+` or `00` mean international.
            ("4930123456", "49", "+494930123456"),
            ("+4930123456", "49", "+4930123456"),
        ];
        for (raw, cc, expected) in cases {
            assert_eq!(
                PhoneNumber::parse(raw, cc).map(|p| p.as_str().to_owned()),
                Ok(expected.to_owned()),
                "{raw} with {cc}"
            );
        }
    }

    #[test]
    fn known_plans_are_unambiguous_for_their_own_code() {
        // A plan whose lengths span as many digits as its code could read one number
        // both ways; every listed plan is narrower than that.
        for cc in 1..=999u32 {
            let cc = cc.to_string();
            if let Some(lengths) = national_lengths(&cc) {
                assert!(
                    lengths.end() - lengths.start() < cc.len(),
                    "{cc}: {lengths:?} is ambiguous"
                );
                assert!(*lengths.start() + cc.len() >= 8 && lengths.end() + cc.len() <= 15);
            }
        }
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

    /// A listed country code and the national lengths of its plan.
    fn known_plan() -> impl Strategy<Value = (String, RangeInclusive<usize>)> {
        let listed: Vec<(String, RangeInclusive<usize>)> = (1..=999u32)
            .filter_map(|cc| {
                let cc = cc.to_string();
                national_lengths(&cc).map(|lengths| (cc, lengths))
            })
            .collect();
        proptest::sample::select(listed)
    }

    fn digits(pattern: &str) -> proptest::string::RegexGeneratorStrategy<String> {
        proptest::string::string_regex(pattern).unwrap()
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

        /// A national number of a listed plan keeps its digits and gets the code
        /// prepended, even when it happens to begin with the code (the old heuristic
        /// read `9198765432` with 91 as `+9198765432`).
        #[test]
        fn national_numbers_get_the_country_code(
            (cc, national) in known_plan().prop_flat_map(|(cc, lengths)| {
                (Just(cc), lengths, any::<bool>()).prop_flat_map(|(cc, len, begins_with_code)| {
                    let pattern = if begins_with_code {
                        format!("{cc}[0-9]{{{}}}", len - cc.len())
                    } else {
                        format!("[1-9][0-9]{{{}}}", len - 1)
                    };
                    (Just(cc), digits(&pattern))
                })
            }),
        ) {
            let parsed = PhoneNumber::parse(&national, &cc).unwrap();
            prop_assert_eq!(parsed.as_str(), format!("+{cc}{national}"));
            // With the trunk 0 in front, the same.
            let trunk = PhoneNumber::parse(&format!("0{national}"), &cc).unwrap();
            prop_assert_eq!(trunk, parsed);
        }

        /// The same national number written internationally without `+` (Meta's
        /// `wa_id`) is recognised, and `+`, `00` and no prefix all agree.
        #[test]
        fn international_digits_of_the_default_country_are_recognised(
            (cc, national) in known_plan().prop_flat_map(|(cc, lengths)| {
                (Just(cc), lengths.prop_flat_map(|len| digits(&format!("[1-9][0-9]{{{}}}", len - 1))))
            }),
        ) {
            let expected = format!("+{cc}{national}");
            for raw in [format!("{cc}{national}"), format!("+{cc}{national}"), format!("00{cc}{national}")] {
                let parsed = PhoneNumber::parse(&raw, &cc).unwrap();
                prop_assert_eq!(parsed.as_str(), expected.as_str(), "{}", raw);
            }
        }

        /// Without a listed plan, digits are never guessed to carry the code.
        #[test]
        fn unlisted_plans_only_trust_plus_or_00(
            cc in "[1-9][0-9]{0,2}".prop_filter("listed", |cc| national_lengths(cc).is_none()),
            national in "[1-9][0-9]{6,9}",
        ) {
            let digits = format!("{cc}{national}");
            if let Ok(parsed) = PhoneNumber::parse(&digits, &cc) {
                prop_assert_eq!(parsed.as_str(), format!("+{cc}{digits}"));
            }
            let plus = PhoneNumber::parse(&format!("+{digits}"), &cc).unwrap();
            prop_assert_eq!(plus.as_str(), format!("+{digits}"));
            prop_assert_eq!(PhoneNumber::parse(&format!("00{digits}"), &cc).unwrap(), plus);
        }

        #[test]
        fn formatting_noise_does_not_change_the_number(national in "[1-9][0-9]{9}") {
            let plain = PhoneNumber::parse(&national, "57").unwrap();
            let noisy = format!("({}) {}-{}", &national[..3], &national[3..6], &national[6..]);
            prop_assert_eq!(PhoneNumber::parse(&noisy, "57").unwrap(), plain);
        }
    }
}
