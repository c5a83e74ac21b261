//! Clinic set-up: the resources a clinic configures before patients can book.

pub mod examples;
pub mod locations;
pub mod patients;
pub mod practitioners;
pub mod schedules;

use prm_platform::{ApiError, FieldError};
use prm_store::Page;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 100;
/// The largest offset the databases accept (`OFFSET` is a signed 64-bit integer).
pub const MAX_OFFSET: u64 = i64::MAX as u64;

/// `limit` (1–100, default 20) and `offset` (default 0) of every list.
///
/// Both arrive as text and are parsed here, so that a negative, non-numeric or huge
/// value is a 422 naming `limit` or `offset` instead of a generic query error (or, for
/// an offset past `i64::MAX`, a panic in the SQL binder).
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Page size, 1 to 100.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100, example = 20)]
    pub limit: Option<String>,
    /// Rows to skip, 0 to 9223372036854775807.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 9_223_372_036_854_775_807_u64, example = 0)]
    pub offset: Option<String>,
}

impl Paging {
    pub fn page(&self) -> Result<Page, ApiError> {
        let mut errors = FieldErrors::default();
        let limit = errors.check(
            "limit",
            bounded(self.limit.as_deref(), DEFAULT_LIMIT, 1, MAX_LIMIT),
        );
        let offset = errors.check("offset", bounded(self.offset.as_deref(), 0, 0, MAX_OFFSET));
        errors.finish()?;
        match (limit, offset) {
            (Some(limit), Some(offset)) => Ok(Page { limit, offset }),
            _ => Err(ApiError::internal(anyhow::anyhow!(
                "field errors were not collected"
            ))),
        }
    }
}

/// An optional whole number within `min..=max`, `default` when absent.
fn bounded(raw: Option<&str>, default: u64, min: u64, max: u64) -> Result<u64, String> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("must be a whole number between {min} and {max}"))
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListResponse<T: ToSchema> {
    pub items: Vec<T>,
    /// Rows matching the filters, across all pages.
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
}

impl<T: ToSchema> ListResponse<T> {
    pub fn new(paged: prm_store::Paged<T>, page: Page) -> Self {
        Self {
            items: paged.items,
            total: paged.total,
            limit: page.limit,
            offset: page.offset,
        }
    }
}

/// Collects field errors while converting a request into domain values.
#[derive(Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
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

    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.0))
        }
    }
}

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

/// A required single-line text field: trimmed, not blank, no control characters.
pub fn non_blank(value: &str, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        Err("must not be blank".to_owned())
    } else if trimmed.chars().count() > max {
        Err(format!("must be at most {max} characters"))
    } else {
        no_control_characters(trimmed, false)?;
        Ok(trimmed.to_owned())
    }
}

/// An optional single-line text field: trimmed, blank becomes `None`, no control characters.
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
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.chars().count() > max => Err(format!("must be at most {max} characters")),
        Some(v) => {
            no_control_characters(v, multiline)?;
            Ok(Some(v.to_owned()))
        }
    }
}

/// Longest text filter accepted in a list's query string.
pub const MAX_FILTER_CHARS: usize = 200;

/// A text filter of a list (`?name=…`): trimmed, blank means no filter, and the same
/// characters refused as in the fields it searches. A 422 names the parameter.
pub fn text_filter(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    optional_text(value, MAX_FILTER_CHARS).map_err(|e| ApiError::invalid_field(field, e))
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
        assert!(text_filter("name", Some("\u{0}")).is_err());
        assert_eq!(
            text_filter("name", Some(" Norte ")).ok(),
            Some(Some("Norte".to_owned()))
        );
    }

    #[test]
    fn paging_names_the_offending_parameter() {
        let page = |limit: Option<&str>, offset: Option<&str>| {
            Paging {
                limit: limit.map(str::to_owned),
                offset: offset.map(str::to_owned),
            }
            .page()
        };
        assert_eq!(
            page(None, None).ok(),
            Some(Page {
                limit: 20,
                offset: 0
            })
        );
        assert_eq!(
            page(Some("100"), Some("9223372036854775807")).ok(),
            Some(Page {
                limit: 100,
                offset: MAX_OFFSET
            })
        );
        for (limit, offset, field) in [
            (None, Some("9223372036854775808"), "offset"),
            (None, Some("18446744073709551616"), "offset"),
            (None, Some("-1"), "offset"),
            (None, Some("ten"), "offset"),
            (Some("0"), None, "limit"),
            (Some("101"), None, "limit"),
            (Some("1e3"), None, "limit"),
        ] {
            let e = page(limit, offset).expect_err("refused");
            assert_eq!(e.status().as_u16(), 422);
            let names: Vec<_> = e.field_errors().iter().map(|f| f.field.as_str()).collect();
            assert_eq!(names, [field], "{limit:?} {offset:?}");
        }
    }
}
