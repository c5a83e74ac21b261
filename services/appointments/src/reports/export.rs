//! `GET /api/v1/prm/appointments/export.csv`: the appointments of the list's filters as
//! CSV, streamed page by page (keyset pages of [`PAGE_ROWS`] on (start, id)), so an
//! export of 100 000 rows holds one page in memory, never the whole file.

use actix_web::{
    HttpResponse, get,
    http::header::{CONTENT_DISPOSITION, CONTENT_TYPE},
    web::{self, Bytes},
};
use chrono::{DateTime, SecondsFormat, Utc};
use futures::{Stream, stream};
use prm_domain::Location;
use prm_platform::ApiError;
use prm_store::{AppointmentFilter, ExportCursor, ExportRow, Store, StoreError};
use utoipa::OpenApi;

use crate::{
    AppState,
    booking::routes::{AppointmentQuery, filter_of},
};

/// Rows read and written per page.
pub const PAGE_ROWS: u64 = 500;

/// The columns, in order.
pub const COLUMNS: [&str; 19] = [
    "id",
    "status",
    "start",
    "end",
    "timezone",
    "patient_id",
    "patient_name",
    "patient_phone",
    "practitioner_id",
    "practitioner_name",
    "specialty",
    "location_id",
    "location_name",
    "channel",
    "conversation_id",
    "reason",
    "notes",
    "cancellation_reason",
    "created_at",
];

/// Export appointments as CSV
///
/// The filters of `GET /api/v1/prm/appointments`; every matching appointment (no paging),
/// by start time, streamed as it is read. Times are RFC 3339 in the location's offset
/// (`created_at` in UTC), phones E.164. Text a spreadsheet would run as a formula
/// (starting with `=`, `+`, `-`, `@`, tab or carriage return) is prefixed with `'`.
#[utoipa::path(get, operation_id = "export_appointments", path = "/api/v1/prm/appointments/export.csv", tag = "reports",
    params(AppointmentQuery), security(("api_key" = [])),
    responses(
        (status = 200, description = "The CSV file, a header row and one row per appointment", content_type = "text/csv",
            body = String, headers(("Content-Disposition" = String, description = "`attachment; filename=\"appointments-<date>.csv\"`")), example = json!("id,status,start,end,timezone,patient_id,patient_name,patient_phone,practitioner_id,practitioner_name,specialty,location_id,location_name,channel,conversation_id,reason,notes,cancellation_reason,created_at\n0193a5e4-4444-7000-8000-000000000001,booked,2026-12-07T10:00:00-05:00,2026-12-07T10:30:00-05:00,America/Bogota,0193a5e4-2222-7000-8000-000000000001,María Pérez,+573001234567,01930000-0000-7000-8000-000000000101,Dr. Ana Gómez,Cardiology,01930000-0000-7000-8000-000000000001,Sede Norte,whatsapp,0193a5e4-1111-7000-8000-000000000001,,,,2026-12-01T14:02:11Z\n")),
        (status = 401, body = prm_platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter is invalid", body = prm_platform::error::Problem, content_type = "application/problem+json")))]
#[get("/export.csv")]
pub async fn export_csv(
    state: web::Data<AppState>,
    query: web::Query<AppointmentQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter_of(&query)?;
    let filename = format!("appointments-{}.csv", state.clock.now().format("%Y-%m-%d"));
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .streaming(csv_stream(state.store.clone(), filter, PAGE_ROWS)))
}

/// The header, then one chunk per page of rows. A database failure mid-way ends the
/// body early (the status is already sent): the client sees a truncated transfer, not a
/// short file that looks complete.
pub fn csv_stream(
    store: Store,
    filter: AppointmentFilter,
    page_rows: u64,
) -> impl Stream<Item = Result<Bytes, StoreError>> {
    // (first page?, where it starts); `None` once the last page is out.
    let start: Option<(bool, Option<ExportCursor>)> = Some((true, None));
    stream::unfold(start, move |next| {
        let store = store.clone();
        let filter = filter.clone();
        async move {
            let (first, after) = next?;
            let rows = match store.export_appointments(&filter, after, page_rows).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, "appointments export failed mid-way");
                    return Some((Err(e), None));
                }
            };
            let more = (rows.len() as u64 == page_rows)
                .then(|| rows.last().map(|r| (false, Some(r.cursor()))))
                .flatten();
            Some((Ok(Bytes::from(render(first, &rows))), more))
        }
    })
}

/// One page as CSV (with the header row on the first).
pub fn render(header: bool, rows: &[ExportRow]) -> Vec<u8> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(rows.len() * 300 + 300));
    // Writing to a Vec cannot fail; a record that did would only be missing.
    if header {
        let _ = out.write_record(COLUMNS);
    }
    for row in rows {
        let _ = out.write_record(record(row));
    }
    out.into_inner().unwrap_or_default()
}

fn local(t: DateTime<Utc>, location: Option<&Location>) -> String {
    match location {
        Some(l) => t
            .with_timezone(&l.timezone.tz())
            .to_rfc3339_opts(SecondsFormat::AutoSi, false),
        None => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    }
}

/// Free text as a spreadsheet may safely open it: a cell that starts like a formula is
/// prefixed with `'` (OWASP "CSV injection").
pub fn text_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn record(row: &ExportRow) -> [String; 19] {
    let a = &row.appointment;
    let location = row.location.as_ref();
    let text = |t: Option<&str>| t.map(text_cell).unwrap_or_default();
    let id = |id: Option<uuid::Uuid>| id.map(|i| i.to_string()).unwrap_or_default();
    [
        a.id.to_string(),
        a.status.as_str().to_owned(),
        local(a.start, location),
        local(a.end, location),
        location
            .map(|l| l.timezone.name().to_owned())
            .unwrap_or_default(),
        a.patient_id.to_string(),
        text(row.patient.as_ref().map(|p| p.name.as_str())),
        // E.164 as stored (`+` and digits only): a number, not a formula.
        row.patient
            .as_ref()
            .map(|p| p.phone.as_str().to_owned())
            .unwrap_or_default(),
        a.practitioner_id.to_string(),
        text(row.practitioner.as_ref().map(|p| p.name.as_str())),
        text(row.practitioner.as_ref().map(|p| p.specialty.as_str())),
        a.location_id.to_string(),
        text(location.map(|l| l.name.as_str())),
        a.channel.map(|c| c.as_str().to_owned()).unwrap_or_default(),
        id(a.conversation_id),
        text(a.reason.as_deref()),
        text(a.notes.as_deref()),
        text(a.cancellation_reason.as_deref()),
        a.created_at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    ]
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(export_csv);
}

#[derive(OpenApi)]
#[openapi(paths(export_csv))]
pub struct Doc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_text_is_neutralized_and_other_text_kept() {
        for (raw, cell) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1+1", "'+1+1"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("Dr. Ana", "Dr. Ana"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(text_cell(raw), cell, "{raw:?}");
        }
    }
}
