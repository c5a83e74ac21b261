//! OpenAPI examples of the clinic set-up answers: lists of the resources' own schema
//! examples, and the problems exactly as the API renders them (same constructors).

use prm_platform::ApiError;
use prm_store::{Conflict, StoreError};
use serde_json::{Value, json};

use crate::error::api_error;

fn problem(e: ApiError) -> Value {
    serde_json::to_value(e.problem()).unwrap_or(Value::Null)
}

fn page(items: Vec<Value>) -> Value {
    json!({"total": items.len(), "items": items, "limit": 20, "offset": 0})
}

pub fn location_list() -> Value {
    page(vec![
        json!({"id": "01930000-0000-7000-8000-000000000002", "name": "Sede Centro", "timezone": "America/Bogota", "address": "Carrera 7 # 32-16", "city": "Bogotá", "phone": null}),
        json!({"id": "01930000-0000-7000-8000-000000000001", "name": "Sede Norte", "timezone": "America/Bogota", "address": "Calle 127 # 15-20", "city": "Bogotá", "phone": "+5716012345"}),
    ])
}

pub fn practitioner_list() -> Value {
    page(vec![
        json!({"id": "01930000-0000-7000-8000-000000000101", "name": "Dr. Ana Gómez", "specialty": "Cardiology", "phone": "+573001112233", "active": true}),
        json!({"id": "01930000-0000-7000-8000-000000000102", "name": "Dr. Carlos Ruiz", "specialty": "Cardiology", "phone": null, "active": true}),
    ])
}

pub fn schedule_list() -> Value {
    page(
        [0, 2, 4]
            .into_iter()
            .map(|day| {
                json!({"id": format!("01930000-0000-7000-800{}-000000000101", day / 2 + 1), "practitioner_id": "01930000-0000-7000-8000-000000000101",
                    "location_id": "01930000-0000-7000-8000-000000000001", "day_of_week": day, "start_time": "08:00", "end_time": "12:00",
                    "slot_minutes": 30, "valid_from": null, "valid_to": null})
            })
            .collect(),
    )
}

pub fn patient_list() -> Value {
    page(vec![
        json!({"id": "0193a5e4-2222-7000-8000-000000000001", "name": "María Pérez", "phone": "+573001234567", "birth_date": "1988-04-12", "locale": "es"}),
    ])
}

pub fn location_not_found() -> Value {
    problem(api_error(StoreError::NotFound("location")))
}

pub fn practitioner_not_found() -> Value {
    problem(api_error(StoreError::NotFound("practitioner")))
}

pub fn schedule_not_found() -> Value {
    problem(api_error(StoreError::NotFound("schedule")))
}

pub fn patient_not_found() -> Value {
    problem(api_error(StoreError::NotFound("patient")))
}

pub fn location_in_use() -> Value {
    problem(api_error(StoreError::InUse("location")))
}

pub fn patient_in_use() -> Value {
    problem(api_error(StoreError::InUse("patient")))
}

pub fn duplicate_phone() -> Value {
    problem(api_error(StoreError::Conflict(Conflict::DuplicatePhone)))
}

pub fn schedule_overlap() -> Value {
    problem(api_error(StoreError::Conflict(Conflict::ScheduleOverlap)))
}
