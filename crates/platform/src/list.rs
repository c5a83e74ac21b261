//! Lists: the `limit`/`offset` query every list takes and the `{items, total, limit,
//! offset}` page it answers with, the same in every service.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{error::ApiError, fields::FieldErrors};

pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 100;
/// The largest offset the databases accept (`OFFSET` is a signed 64-bit integer).
pub const MAX_OFFSET: u64 = i64::MAX as u64;

/// Which rows of a list to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u64,
    pub offset: u64,
}

/// `limit` (1–100, default 20) and `offset` (default 0) of every list.
///
/// Both arrive as text and are parsed here, so that a negative, non-numeric or huge
/// value is a 422 naming `limit` or `offset` instead of a generic query error (or, for
/// an offset past `i64::MAX`, a panic in the SQL binder).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
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
    /// This page's rows, at most `limit` of them.
    pub items: Vec<T>,
    /// Rows matching the filters, across all pages.
    pub total: u64,
    /// The page size used (the request's `limit`, 20 by default).
    pub limit: u64,
    /// Rows skipped before this page (the request's `offset`, 0 by default).
    pub offset: u64,
}

impl<T: ToSchema> ListResponse<T> {
    /// `items` of `page`, out of `total` matching rows.
    pub fn new(items: Vec<T>, total: u64, page: Page) -> Self {
        Self {
            items,
            total,
            limit: page.limit,
            offset: page.offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_page_answers_with_its_own_limit_and_offset() {
        let page = Page {
            limit: 2,
            offset: 4,
        };
        let json = serde_json::to_value(ListResponse::<String>::new(vec!["a".into()], 5, page))
            .unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"items": ["a"], "total": 5, "limit": 2, "offset": 4})
        );
    }
}
