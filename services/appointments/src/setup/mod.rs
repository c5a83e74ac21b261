//! Clinic set-up: the resources a clinic configures before patients can book.

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

/// `limit` (1–100, default 20) and `offset` (default 0) of every list.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Page size, 1 to 100.
    #[param(minimum = 1, maximum = 100, example = 20)]
    pub limit: Option<u64>,
    /// Rows to skip.
    #[param(minimum = 0, example = 0)]
    pub offset: Option<u64>,
}

impl Paging {
    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid_field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        Ok(Page {
            limit,
            offset: self.offset.unwrap_or(0),
        })
    }
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

/// A required text field: trimmed, not blank.
pub fn non_blank(value: &str, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        Err("must not be blank".to_owned())
    } else if trimmed.chars().count() > max {
        Err(format!("must be at most {max} characters"))
    } else {
        Ok(trimmed.to_owned())
    }
}

/// An optional text field: trimmed, blank becomes `None`.
pub fn optional_text(value: Option<&str>, max: usize) -> Result<Option<String>, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.chars().count() > max => Err(format!("must be at most {max} characters")),
        Some(v) => Ok(Some(v.to_owned())),
    }
}
