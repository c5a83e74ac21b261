//! Field-level validation shared by every API: collecting the failing fields of a
//! request, and the text rules every name, address and note follows.

use crate::{
    error::{ApiError, FieldError},
    limits::FILTER_CHARS,
};

/// Collects field errors while converting a request into domain values, so that one
/// 422 names every failing field.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// The value, or `None` with an error naming `field`.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(FieldError::new(field, e.to_string()));
                None
            }
        }
    }

    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Err(self)` when any field failed; `?` turns it into a 422 (or a layer's error).
    pub fn finish(self) -> Result<(), FieldErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        ApiError::validation(errors.0)
    }
}

impl From<Vec<FieldError>> for FieldErrors {
    fn from(errors: Vec<FieldError>) -> Self {
        Self(errors)
    }
}

/// The `pattern` of a required single-line text field in the schemas ([`non_blank`]):
/// surrounding whitespace (Rust's `char::is_whitespace`, which `trim` removes), then at
/// least one character that is neither whitespace nor a control character, with no
/// control character in between. JSON Schema cannot name a constant, so the request
/// structs repeat it; `services/prm/tests/openapi.rs` checks they do.
pub const LINE_PATTERN: &str = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$";
/// The `pattern` of an optional single-line text field ([`optional_text`]): blank, or
/// [`LINE_PATTERN`].
pub const OPTIONAL_LINE_PATTERN: &str = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?)?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$";
/// The `pattern` of optional free text ([`optional_multiline_text`]): as
/// [`OPTIONAL_LINE_PATTERN`], with tabs and line breaks allowed inside.
pub const OPTIONAL_TEXT_PATTERN: &str = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?)?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$";
/// The `pattern` of a phone number: the notations `prm_domain::PhoneNumber::parse` accepts
/// whatever `DEFAULT_COUNTRY_CODE` is (`+` and 8 to 15 digits, or 8 to 12 national digits
/// not starting with 0, with spaces, dots, dashes or parentheses between them).
pub const PHONE_PATTERN: &str = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:\+[1-9](?:[ .()\u00A0-]*[0-9]){7,14}|[1-9](?:[ .()\u00A0-]*[0-9]){7,11})[ .()\u00A0-]*[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$";
/// An optional phone number: blank, or [`PHONE_PATTERN`].
pub const OPTIONAL_PHONE_PATTERN: &str = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:(?:\+[1-9](?:[ .()\u00A0-]*[0-9]){7,14}|[1-9](?:[ .()\u00A0-]*[0-9]){7,11})[ .()\u00A0-]*)?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$";
/// A time of day, `HH:MM` (24-hour), with surrounding whitespace.
pub const HHMM_PATTERN: &str = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*([01][0-9]|2[0-3]):[0-5][0-9][\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$";

/// Refuses control characters (Unicode category Cc: U+0000–U+001F, U+007F–U+009F).
/// PostgreSQL cannot store U+0000 at all (a 500 before this check), and the others are
/// never part of a name or an address: they come from broken clients or from attacks on
/// whoever displays the text later (terminal escapes, log forging). Free text written on
/// several lines (`multiline`) keeps tab, line feed and carriage return.
pub fn no_control_characters(value: &str, multiline: bool) -> Result<(), String> {
    match value
        .chars()
        .find(|c| c.is_control() && !(multiline && matches!(c, '\t' | '\n' | '\r')))
    {
        Some(c) => Err(format!(
            "must not contain control characters (found U+{:04X})",
            u32::from(c)
        )),
        None => Ok(()),
    }
}

/// A required single-line text field: at most `max` characters as sent (so that the
/// `maxLength` of the schema is the rule), trimmed, not blank, no control characters.
pub fn non_blank(value: &str, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if value.chars().count() > max {
        Err(format!("must be at most {max} characters"))
    } else if trimmed.is_empty() {
        Err("must not be blank".to_owned())
    } else {
        no_control_characters(trimmed, false)?;
        Ok(trimmed.to_owned())
    }
}

/// An optional single-line text field: at most `max` characters as sent, trimmed, blank
/// becomes `None`, no control characters.
pub fn optional_text(value: Option<&str>, max: usize) -> Result<Option<String>, String> {
    checked_text(value, max, false)
}

/// Optional free text (notes, reasons): like [`optional_text`] but lines may break.
pub fn optional_multiline_text(value: Option<&str>, max: usize) -> Result<Option<String>, String> {
    checked_text(value, max, true)
}

fn checked_text(
    value: Option<&str>,
    max: usize,
    multiline: bool,
) -> Result<Option<String>, String> {
    if value.is_some_and(|v| v.chars().count() > max) {
        return Err(format!("must be at most {max} characters"));
    }
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => {
            no_control_characters(v, multiline)?;
            Ok(Some(v.to_owned()))
        }
    }
}

/// A text filter of a list (`?name=…`): trimmed, blank means no filter, and the same
/// characters refused as in the fields it searches. A 422 names the parameter.
pub fn text_filter(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    optional_text(value, FILTER_CHARS).map_err(|e| ApiError::invalid_field(field, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_and_line_breaks_only_in_free_text() {
        for bad in [
            "a\u{0}b",
            "\u{7}",
            "x\u{1b}[31m",
            "del\u{7f}",
            "c1\u{85}x",
            "tab\there",
        ] {
            assert!(non_blank(bad, 50).is_err(), "{bad:?}");
            assert!(optional_text(Some(bad), 50).is_err(), "{bad:?}");
        }
        assert_eq!(
            non_blank("a\u{0}b", 50),
            Err("must not contain control characters (found U+0000)".to_owned())
        );
        assert!(optional_multiline_text(Some("a\u{0}b"), 50).is_err());
        assert_eq!(
            optional_multiline_text(Some(" line 1\r\n\tline 2 "), 50),
            Ok(Some("line 1\r\n\tline 2".to_owned()))
        );
        for good in [
            "María Pérez",
            "Dr. Ana Gómez 👩‍⚕️",
            "Calle 127 # 15-20",
            "O'Brien",
        ] {
            assert_eq!(non_blank(good, 50).as_deref(), Ok(good));
        }
        assert_eq!(optional_text(Some("   "), 5), Ok(None));
        // Lengths count the value as sent, as the schemas' `maxLength` does.
        assert!(optional_text(Some("      "), 5).is_err());
        assert!(non_blank(" abcde ", 5).is_err());
        assert_eq!(non_blank(" abc ", 5).as_deref(), Ok("abc"));
        assert!(text_filter("name", Some("\u{0}")).is_err());
        assert_eq!(
            text_filter("name", Some(" Norte ")).ok(),
            Some(Some("Norte".to_owned()))
        );
    }

    #[test]
    fn every_failing_field_is_named_in_one_422() {
        let mut errors = FieldErrors::default();
        assert_eq!(
            errors.check("name", non_blank("Ana", 10)),
            Some("Ana".to_owned())
        );
        assert_eq!(errors.check("city", non_blank(" ", 10)), None);
        errors.push("phone", "is not a phone number");
        let Err(errors) = errors.finish() else {
            panic!("two fields failed")
        };
        let e = ApiError::from(errors);
        assert_eq!(e.status().as_u16(), 422);
        let fields: Vec<_> = e.field_errors().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["city", "phone"]);
        assert!(FieldErrors::default().finish().is_ok());
    }
}
