//! Transactional outbox and processed-event (inbox) tables (owned by the event-bus work).
//!
//! A producer calls [`enqueue`] with the transaction that makes the change the event
//! announces: both commit or neither does, so an event can never be lost or announce a
//! change that was rolled back. The relay (`prm_bus::OutboxRelay`) then [`claim_batch`]es
//! unpublished rows in `seq` order, publishes them with confirms and [`mark_published`]s
//! them. A crash between publish and mark republishes: duplicates are possible, which
//! consumers absorb by event id ([`record_processed`]).

use chrono::{DateTime, Utc};
use prm_domain::events::Envelope;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
    sea_query::{Expr, LockBehavior, LockType, OnConflict},
};
use uuid::Uuid;

/// An event written to the outbox and not yet confirmed by the broker.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingEvent {
    /// Commit order; the relay publishes in this order.
    pub seq: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub routing_key: String,
    /// The serialized envelope, published byte for byte.
    pub payload: String,
    /// W3C trace context of the transaction that wrote the event.
    pub traceparent: Option<String>,
    /// Failed publish attempts so far.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("could not serialize the event envelope: {0}")]
    Serialize(#[from] serde_json::Error),
}

mod outbox_row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub seq: i64,
        #[sea_orm(unique)]
        pub event_id: String,
        pub event_type: String,
        pub routing_key: String,
        #[sea_orm(column_type = "Text")]
        pub payload: String,
        #[sea_orm(column_type = "Text")]
        pub headers: String,
        pub created_at: DateTimeUtc,
        pub published_at: Option<DateTimeUtc>,
        pub attempts: i32,
        #[sea_orm(column_type = "Text", nullable)]
        pub last_error: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod processed_row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "processed_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub consumer: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_id: String,
        pub processed_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Key of the PostgreSQL advisory lock that makes one relay at a time own the outbox
/// ("prmoutbx" in ASCII).
const RELAY_LOCK_KEY: i64 = 0x70726d6f_75746278;

/// Writes `envelope` to the outbox. Call it with the transaction of the change the event
/// announces; `traceparent` is usually `prm_bus::current_traceparent()`.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    envelope: &Envelope,
    traceparent: Option<String>,
) -> Result<(), OutboxError> {
    let headers = match traceparent {
        Some(tp) => serde_json::json!({ "traceparent": tp }),
        None => serde_json::json!({}),
    };
    let row = outbox_row::ActiveModel {
        event_id: Set(envelope.id.to_string()),
        event_type: Set(envelope.event_type.clone()),
        routing_key: Set(envelope.routing_key()),
        payload: Set(serde_json::to_string(envelope)?),
        headers: Set(headers.to_string()),
        created_at: Set(Utc::now()),
        published_at: Set(None),
        attempts: Set(0),
        last_error: Set(None),
        ..Default::default()
    };
    outbox_row::Entity::insert(row)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Locks and returns up to `limit` unpublished events, oldest `seq` first. Call inside a
/// transaction and keep it open while publishing; the locks go with it.
///
/// On PostgreSQL only one relay at a time gets rows: the transaction takes an advisory
/// lock and `None` means another relay (replica) holds it; the rows are also locked
/// `FOR UPDATE SKIP LOCKED` so no two transactions ever publish the same row concurrently.
/// On SQLite (one process, one writer) the transaction suffices.
pub async fn claim_batch(
    txn: &DatabaseTransaction,
    limit: u64,
) -> Result<Option<Vec<PendingEvent>>, DbErr> {
    let mut query = outbox_row::Entity::find()
        .filter(outbox_row::Column::PublishedAt.is_null())
        .order_by_asc(outbox_row::Column::Seq)
        .limit(limit);
    if txn.get_database_backend() == DbBackend::Postgres {
        let locked = txn
            .query_one(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT pg_try_advisory_xact_lock({RELAY_LOCK_KEY}) AS locked"),
            ))
            .await?
            .map(|row| row.try_get::<bool>("", "locked"))
            .transpose()?
            .unwrap_or(false);
        if !locked {
            return Ok(None);
        }
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = query.all(txn).await?;
    rows.into_iter()
        .map(pending_event)
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn pending_event(row: outbox_row::Model) -> Result<PendingEvent, DbErr> {
    let event_id = Uuid::parse_str(&row.event_id).map_err(|e| {
        DbErr::Type(format!(
            "outbox row {} has a malformed event_id: {e}",
            row.seq
        ))
    })?;
    let traceparent = serde_json::from_str::<serde_json::Value>(&row.headers)
        .ok()
        .and_then(|h| {
            h.get("traceparent")
                .and_then(|t| t.as_str())
                .map(str::to_owned)
        });
    Ok(PendingEvent {
        seq: row.seq,
        event_id,
        event_type: row.event_type,
        routing_key: row.routing_key,
        payload: row.payload,
        traceparent,
        attempts: row.attempts,
        created_at: row.created_at,
    })
}

/// Stamps the rows as published (after the broker confirmed them).
pub async fn mark_published(
    conn: &impl ConnectionTrait,
    seqs: &[i64],
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    if seqs.is_empty() {
        return Ok(());
    }
    outbox_row::Entity::update_many()
        .col_expr(outbox_row::Column::PublishedAt, Expr::value(at))
        .filter(outbox_row::Column::Seq.is_in(seqs.iter().copied()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Counts a failed publish of the row and keeps the latest error (no patient data: bus
/// errors only).
pub async fn record_failure(
    conn: &impl ConnectionTrait,
    seq: i64,
    error: &str,
) -> Result<(), DbErr> {
    let error: String = error.chars().take(2000).collect();
    outbox_row::Entity::update_many()
        .col_expr(
            outbox_row::Column::Attempts,
            Expr::col(outbox_row::Column::Attempts).add(1),
        )
        .col_expr(outbox_row::Column::LastError, Expr::value(error))
        .filter(outbox_row::Column::Seq.eq(seq))
        .exec(conn)
        .await?;
    Ok(())
}

/// How many events wait for the relay (readiness, metrics, tests).
pub async fn unpublished_count(conn: &impl ConnectionTrait) -> Result<u64, DbErr> {
    outbox_row::Entity::find()
        .filter(outbox_row::Column::PublishedAt.is_null())
        .count(conn)
        .await
}

/// Deletes published rows older than `before` (housekeeping); returns how many.
pub async fn purge_published(
    conn: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let result = outbox_row::Entity::delete_many()
        .filter(outbox_row::Column::PublishedAt.lt(before))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Records that `consumer` processed `event_id`. Returns `false` when it already had:
/// the caller then skips the work. Call it in the transaction of that work, so the
/// record commits (or rolls back) with it; on PostgreSQL a concurrent duplicate waits
/// for the first transaction and then sees the conflict.
pub async fn record_processed(
    conn: &impl ConnectionTrait,
    consumer: &str,
    event_id: Uuid,
) -> Result<bool, DbErr> {
    let row = processed_row::ActiveModel {
        consumer: Set(consumer.to_owned()),
        event_id: Set(event_id.to_string()),
        processed_at: Set(Utc::now()),
    };
    let inserted = processed_row::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                processed_row::Column::Consumer,
                processed_row::Column::EventId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(inserted == 1)
}

/// True when `consumer` has processed `event_id`.
pub async fn is_processed(
    conn: &impl ConnectionTrait,
    consumer: &str,
    event_id: Uuid,
) -> Result<bool, DbErr> {
    Ok(
        processed_row::Entity::find_by_id((consumer.to_owned(), event_id.to_string()))
            .one(conn)
            .await?
            .is_some(),
    )
}
