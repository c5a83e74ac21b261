//! Rows written in bulk, for tests and benchmarks that need a known dataset (figures of
//! `GET /stats`, a 100 000-row export): multi-row inserts straight into the tables,
//! bypassing the rules the services apply (no events, no slot checks). Never used by the
//! services themselves.

use chrono::{DateTime, Utc};
use prm_domain::Patient;
use sea_orm::{ActiveValue::NotSet, EntityTrait, Set};
use uuid::Uuid;

use crate::{
    Store, StoreError,
    conversations::{conversation, message},
    entities::{appointment, patient, reminder_job},
};

/// Rows per INSERT: under SQLite's and PostgreSQL's limits on bound parameters.
const CHUNK: usize = 500;

#[derive(Debug, Clone)]
pub struct SeedAppointment {
    pub id: Uuid,
    pub status: &'static str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub patient_id: Uuid,
    pub practitioner_id: Uuid,
    pub location_id: Uuid,
    pub channel: Option<&'static str>,
    pub reason: Option<String>,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct SeedConversation {
    pub id: Uuid,
    pub phone: String,
    pub channel: &'static str,
    pub status: &'static str,
    pub stage: &'static str,
    pub created_at: DateTime<Utc>,
    pub last_inbound_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct SeedMessage {
    pub conversation_id: Uuid,
    /// `inbound` or `outbound`.
    pub direction: &'static str,
    /// `patient`, `bot` or `staff`.
    pub author: &'static str,
    pub channel: &'static str,
    pub at: DateTime<Utc>,
}

async fn insert_chunks<E, A>(store: &Store, rows: Vec<A>) -> Result<(), StoreError>
where
    E: EntityTrait,
    A: sea_orm::ActiveModelTrait<Entity = E> + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(CHUNK).collect();
        E::insert_many(chunk).exec(&store.db).await?;
    }
    Ok(())
}

pub async fn patients(store: &Store, rows: &[Patient]) -> Result<(), StoreError> {
    let now = Utc::now();
    let rows = rows
        .iter()
        .map(|p| patient::ActiveModel {
            id: Set(p.id),
            name: Set(p.name.clone()),
            phone: Set(p.phone.as_str().to_owned()),
            birth_date: Set(p.birth_date),
            locale: Set(p.locale.map(|l| l.as_str().to_owned())),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .collect();
    insert_chunks(store, rows).await
}

pub async fn appointments(store: &Store, rows: &[SeedAppointment]) -> Result<(), StoreError> {
    let rows = rows
        .iter()
        .map(|a| appointment::ActiveModel {
            id: Set(a.id),
            status: Set(a.status.to_owned()),
            start_at: Set(a.start),
            end_at: Set(a.end),
            patient_id: Set(a.patient_id),
            practitioner_id: Set(a.practitioner_id),
            location_id: Set(a.location_id),
            conversation_id: Set(None),
            channel: Set(a.channel.map(str::to_owned)),
            reason: Set(a.reason.clone()),
            notes: Set(a.notes.clone()),
            cancel_reason: Set(None),
            booking_key: Set(None),
            follow_up_date: Set(None),
            confirmed_at: Set(None),
            created_at: Set(a.created_at),
            updated_at: Set(a.updated_at),
        })
        .collect();
    insert_chunks(store, rows).await
}

pub async fn conversations(store: &Store, rows: &[SeedConversation]) -> Result<(), StoreError> {
    let rows = rows
        .iter()
        .map(|c| conversation::ActiveModel {
            id: Set(c.id),
            phone: Set(c.phone.clone()),
            patient_id: Set(None),
            channel: Set(c.channel.to_owned()),
            status: Set(c.status.to_owned()),
            stage: Set(c.stage.to_owned()),
            locale: Set("es".to_owned()),
            bot_paused: Set(false),
            assignee: Set(None),
            reply_provider: Set(None),
            journey: Set(None),
            awaiting_until: Set(None),
            last_inbound_at: Set(c.last_inbound_at),
            last_message_at: Set(c.last_inbound_at),
            created_at: Set(c.created_at),
            updated_at: Set(c.created_at),
        })
        .collect();
    insert_chunks(store, rows).await
}

/// Messages, in the order given (their `seq`).
pub async fn messages(store: &Store, rows: &[SeedMessage]) -> Result<(), StoreError> {
    let rows = rows
        .iter()
        .map(|m| message::ActiveModel {
            seq: NotSet,
            id: Set(Uuid::now_v7()),
            conversation_id: Set(m.conversation_id),
            direction: Set(m.direction.to_owned()),
            author: Set(m.author.to_owned()),
            channel: Set(m.channel.to_owned()),
            provider: Set(if m.direction == "inbound" {
                "twilio".to_owned()
            } else {
                "recording".to_owned()
            }),
            body: Set(String::new()),
            media: Set("[]".to_owned()),
            transcription: Set(None),
            purpose: Set(None),
            template: Set(None),
            inbound_message_id: Set(None),
            provider_message_id: Set(None),
            dispatch: Set(if m.direction == "inbound" {
                "inbound".to_owned()
            } else {
                "done".to_owned()
            }),
            delivery_status: Set(None),
            error_code: Set(None),
            send_attempts: Set(0),
            next_attempt_at: Set(None),
            created_at: Set(m.at),
            updated_at: Set(m.at),
        })
        .collect();
    insert_chunks(store, rows).await
}

/// A reminder (kind `reminder`) about `appointment_id`, sent at `sent_at`.
pub async fn sent_reminder(
    store: &Store,
    appointment_id: Uuid,
    sent_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = reminder_job::ActiveModel {
        id: Set(Uuid::now_v7()),
        appointment_id: Set(appointment_id),
        kind: Set("reminder".to_owned()),
        rule: Set(Some("1d@10:00".to_owned())),
        due_at: Set(sent_at),
        window_minutes: Set(120),
        status: Set("sent".to_owned()),
        lease_owner: Set(None),
        lease_until: Set(None),
        attempts: Set(1),
        outcome: Set(None),
        created_at: Set(sent_at),
        updated_at: Set(sent_at),
    };
    insert_chunks(store, vec![row]).await
}

/// The patient confirmed `appointment_id` at `at` (a reminder's "1").
pub async fn confirmed(
    store: &Store,
    appointment_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};
    appointment::Entity::update_many()
        .col_expr(appointment::Column::ConfirmedAt, Expr::value(Some(at)))
        .filter(appointment::Column::Id.eq(appointment_id))
        .exec(&store.db)
        .await?;
    Ok(())
}
