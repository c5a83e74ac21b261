//! Inbound provider messages, de-duplicated by provider message id (owned by the webhooks service).
//!
//! The row is the final guard of "each provider message is processed once": the webhooks
//! service stores it with its MESSAGE_RECEIVED event ([`Store::accept_inbound_message`]:
//! one statement on PostgreSQL, one transaction on SQLite), so either both are written or
//! neither is, and a duplicate delivery (a retry, a concurrent copy) inserts nothing.
//!
//! Both writes are idempotent by the provider's message id, so a write that lost its
//! database connection, even during COMMIT, is simply made again: the unique index
//! keeps it to one row, and the row's id (ours) tells whether an earlier attempt of
//! this same call wrote it. A lost connection never loses or doubles a message.
//!
//! A voice note is stored before its transcription is known
//! ([`Store::insert_inbound_message`]): the row then keeps the event's data in
//! `pending_event` with no `event_id`, and [`Tx::mark_inbound_event_written`] closes it
//! once the event went to the outbox. [`Store::pending_inbound_messages`] finds rows a
//! crash left open.

use chrono::{DateTime, Utc};
use prm_domain::events::Envelope;
use prm_domain::{Channel, PhoneNumber, events::MessageProvider};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Statement, TransactionTrait,
    sea_query::{Expr, Func, OnConflict},
};

use crate::{
    Store, StoreError, Tx,
    error::is_connection_lost,
    outbox::{Outbox, OutboxError, Producer, current_traceparent},
    pool::RETRY_DELAYS,
};
use uuid::Uuid;

/// The longest provider message id the table holds (`provider_message_id` is
/// `varchar(255)`; PostgreSQL counts characters). Real ids are far shorter (a Twilio
/// `MessageSid` is 34 characters, a Meta `wamid` about 60).
pub const MAX_PROVIDER_MESSAGE_ID_CHARS: usize = 255;

/// Whether `id` can be stored as a provider message id: 1 to
/// [`MAX_PROVIDER_MESSAGE_ID_CHARS`] characters, not blank, and no control characters
/// (PostgreSQL refuses U+0000 in text; no provider id has control characters). Callers
/// refuse other ids before storing, which would fail on them.
pub fn is_storable_provider_message_id(id: &str) -> bool {
    !id.trim().is_empty()
        && id.chars().count() <= MAX_PROVIDER_MESSAGE_ID_CHARS
        && !id.chars().any(char::is_control)
}

/// A message as it arrived from a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInboundMessage {
    /// Our id (the event's `message_id`).
    pub id: Uuid,
    pub provider: MessageProvider,
    /// Twilio `MessageSid`, Meta `wamid…`, voice-agent `call_id`.
    pub provider_message_id: String,
    pub channel: Channel,
    pub from: PhoneNumber,
    pub to: Option<PhoneNumber>,
    pub received_at: DateTime<Utc>,
    /// The MESSAGE_RECEIVED event written with the row; `None` while it is still to come.
    pub event_id: Option<Uuid>,
    /// The event data to publish later, when `event_id` is `None`.
    pub pending_event: Option<String>,
    /// What the provider sent beyond the mapped fields (the event's `provider_fields`).
    /// Kept as JSON text, never `jsonb`, so that U+0000 in a value is stored (escaped).
    pub provider_fields: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A row whose event has not been written yet.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingInbound {
    pub id: Uuid,
    pub received_at: DateTime<Utc>,
    /// The serialized event data kept at insert time.
    pub pending_event: String,
}

mod row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "inbound_messages")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub provider: String,
        pub provider_message_id: String,
        pub channel: String,
        pub from_number: String,
        pub to_number: Option<String>,
        pub received_at: DateTimeUtc,
        /// When the row was written (null on rows older than the column).
        pub stored_at: Option<DateTimeUtc>,
        pub event_id: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub pending_event: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub provider_fields: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The provider as stored (`twilio`, `meta`, `voice_agent`), as the events name it.
pub fn provider_name(provider: MessageProvider) -> &'static str {
    match provider {
        MessageProvider::Twilio => "twilio",
        MessageProvider::Meta => "meta",
        MessageProvider::VoiceAgent => "voice_agent",
        MessageProvider::Recording => "recording",
    }
}

/// Inserts the message unless `(provider, provider_message_id)` is already stored.
/// `true` when this call inserted it; `false` means a duplicate (on PostgreSQL a
/// concurrent duplicate waits for the first transaction, then sees the conflict).
pub(crate) async fn insert_if_new(
    conn: &impl ConnectionTrait,
    message: &NewInboundMessage,
) -> Result<bool, DbErr> {
    let inserted = insert_statement(message)?
        .exec_without_returning(conn)
        .await?;
    Ok(inserted == 1)
}

/// Stores the message and, in the same atomic step, `envelope` in `outbox`, unless the
/// message is a duplicate: `false` then, and neither is written.
///
/// On PostgreSQL this is one statement (`WITH message AS (INSERT … ON CONFLICT DO
/// NOTHING RETURNING id) INSERT INTO <outbox> SELECT … FROM message`): one round trip
/// instead of four (`BEGIN`, two inserts, `COMMIT`), so a webhook holds its pooled
/// connection that much shorter. SQLite has no data-modifying `WITH`, and no network
/// between the two: there it is one transaction.
pub(crate) async fn insert_with_event(
    db: &DatabaseConnection,
    message: &NewInboundMessage,
    outbox: Outbox,
    envelope: &Envelope,
    traceparent: Option<String>,
) -> Result<bool, OutboxError> {
    let backend = db.get_database_backend();
    if backend != DbBackend::Postgres {
        let txn = db.begin().await?;
        if !insert_if_new(&txn, message).await? {
            txn.rollback().await?;
            return Ok(false);
        }
        outbox.enqueue(&txn, envelope, traceparent).await?;
        txn.commit().await?;
        return Ok(true);
    }
    let insert = insert_statement(message)?.build(backend);
    let mut values = insert.values.map(|v| v.0).unwrap_or_default();
    let first = values.len() + 1;
    let event = Outbox::row_values(envelope, traceparent)?;
    let placeholders: Vec<String> = (first..first + event.len())
        .map(|n| format!("${n}"))
        .collect();
    values.extend(event);
    let sql = format!(
        "WITH message AS ({} RETURNING id) INSERT INTO {} ({}) SELECT {} FROM message",
        insert.sql,
        outbox.table(),
        Outbox::ROW_COLUMN_NAMES,
        placeholders.join(", ")
    );
    let written = db
        .execute(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(written.rows_affected() == 1)
}

fn insert_statement(
    message: &NewInboundMessage,
) -> Result<sea_orm::Insert<row::ActiveModel>, DbErr> {
    let model = row::ActiveModel {
        id: Set(message.id.to_string()),
        provider: Set(provider_name(message.provider).to_owned()),
        provider_message_id: Set(message.provider_message_id.clone()),
        channel: Set(message.channel.as_str().to_owned()),
        from_number: Set(message.from.as_str().to_owned()),
        to_number: Set(message.to.as_ref().map(|p| p.as_str().to_owned())),
        received_at: Set(message.received_at),
        stored_at: Set(Some(Utc::now())),
        event_id: Set(message.event_id.map(|id| id.to_string())),
        pending_event: Set(message.pending_event.clone()),
        provider_fields: Set(message
            .provider_fields
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| DbErr::Custom(format!("provider fields: {e}")))?),
    };
    Ok(row::Entity::insert(model).on_conflict(
        OnConflict::columns([row::Column::Provider, row::Column::ProviderMessageId])
            .do_nothing()
            .to_owned(),
    ))
}

/// Records that the event of message `id` was written, clearing its pending data.
/// `false` when it had been written already (by a concurrent recovery): the caller must
/// then roll back its own outbox write.
pub(crate) async fn mark_event_written(
    conn: &impl ConnectionTrait,
    id: Uuid,
    event_id: Uuid,
) -> Result<bool, DbErr> {
    let result = row::Entity::update_many()
        .col_expr(row::Column::EventId, Expr::value(event_id.to_string()))
        .col_expr(
            row::Column::PendingEvent,
            Expr::value(Option::<String>::None),
        )
        .filter(row::Column::Id.eq(id.to_string()))
        .filter(row::Column::EventId.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Messages stored before `before` whose event is still unwritten, oldest first.
pub(crate) async fn pending_before(
    conn: &impl ConnectionTrait,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<PendingInbound>, DbErr> {
    // Rows written before `stored_at` existed are judged by `received_at`, as they were.
    let stored_at = || {
        Expr::expr(Func::coalesce([
            Expr::col(row::Column::StoredAt).into(),
            Expr::col(row::Column::ReceivedAt).into(),
        ]))
    };
    let rows = row::Entity::find()
        .filter(row::Column::EventId.is_null())
        .filter(stored_at().lt(before))
        .order_by_asc(stored_at())
        .limit(limit)
        .all(conn)
        .await?;
    rows.into_iter()
        .map(|r| {
            let id = Uuid::parse_str(&r.id)
                .map_err(|e| DbErr::Type(format!("inbound message id is malformed: {e}")))?;
            Ok(PendingInbound {
                id,
                received_at: r.received_at,
                pending_event: r.pending_event.unwrap_or_default(),
            })
        })
        .collect()
}

/// How many rows hold `(provider, provider_message_id)` (0 or 1; for tests and support).
pub async fn count_for(
    conn: &impl ConnectionTrait,
    provider: MessageProvider,
    provider_message_id: &str,
) -> Result<u64, DbErr> {
    row::Entity::find()
        .filter(row::Column::Provider.eq(provider_name(provider)))
        .filter(row::Column::ProviderMessageId.eq(provider_message_id))
        .count(conn)
        .await
}

/// The provider fields stored with `(provider, provider_message_id)`: `None` when no
/// such row, `Some(None)` when it has none (for support and tests).
pub async fn provider_fields_of(
    conn: &impl ConnectionTrait,
    provider: MessageProvider,
    provider_message_id: &str,
) -> Result<Option<Option<serde_json::Map<String, serde_json::Value>>>, DbErr> {
    let Some(row) = row::Entity::find()
        .filter(row::Column::Provider.eq(provider_name(provider)))
        .filter(row::Column::ProviderMessageId.eq(provider_message_id))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    row.provider_fields
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map(Some)
        .map_err(|e| {
            DbErr::Type(format!(
                "inbound message provider_fields is not a JSON object: {e}"
            ))
        })
}

/// All stored inbound messages (tests, metrics).
pub async fn count(conn: &impl ConnectionTrait) -> Result<u64, DbErr> {
    row::Entity::find().count(conn).await
}

/// The id of the row holding `(provider, provider_message_id)`, if any.
async fn stored_id(
    conn: &impl ConnectionTrait,
    message: &NewInboundMessage,
) -> Result<Option<String>, DbErr> {
    Ok(row::Entity::find()
        .filter(row::Column::Provider.eq(provider_name(message.provider)))
        .filter(row::Column::ProviderMessageId.eq(message.provider_message_id.as_str()))
        .one(conn)
        .await?
        .map(|r| r.id))
}

impl Store {
    /// Stores a provider message with its MESSAGE_RECEIVED `event` in `producer`'s
    /// outbox, both or neither, and wakes the relay. `false`: the message was stored
    /// before (a provider retry or a concurrent copy), and nothing was written.
    pub async fn accept_inbound_message(
        &self,
        producer: &Producer,
        message: &NewInboundMessage,
        event: &Envelope,
    ) -> Result<bool, StoreError> {
        if self.db.get_database_backend() != DbBackend::Postgres {
            return self
                .write(producer, |tx| {
                    Box::pin(async move {
                        let stored = tx.db(insert_if_new(tx.conn(), message).await)?;
                        if stored {
                            tx.announce(event.clone());
                        }
                        Ok(stored)
                    })
                })
                .await;
        }
        let traceparent = current_traceparent();
        let stored = self
            .store_once(message, || {
                insert_with_event(
                    &self.db,
                    message,
                    producer.outbox(),
                    event,
                    traceparent.clone(),
                )
            })
            .await?;
        if stored {
            producer.wake_relay();
        }
        Ok(stored)
    }

    /// Stores a provider message whose event is still to come (`pending_event`).
    /// `false`: it was stored before.
    pub async fn insert_inbound_message(
        &self,
        message: &NewInboundMessage,
    ) -> Result<bool, StoreError> {
        self.store_once(message, || async {
            insert_if_new(&self.db, message)
                .await
                .map_err(OutboxError::Db)
        })
        .await
    }

    /// Messages stored before `before` whose event is still unwritten, oldest first.
    pub async fn pending_inbound_messages(
        &self,
        before: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<PendingInbound>, StoreError> {
        Ok(pending_before(&self.reads(), before, limit).await?)
    }

    /// Runs `insert` (one statement, `true` when it inserted `message`) until it did not
    /// lose its connection. After a lost connection an earlier attempt may have
    /// committed; the unique index then refuses the next, and the row's id tells whether
    /// the row is this message (stored by us: `true`) or a copy stored by another call.
    async fn store_once<F, Fut>(
        &self,
        message: &NewInboundMessage,
        insert: F,
    ) -> Result<bool, StoreError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<bool, OutboxError>>,
    {
        let mut delays = RETRY_DELAYS.iter();
        let mut maybe_written = false;
        loop {
            match insert().await {
                Ok(true) => return Ok(true),
                Ok(false) if !maybe_written => return Ok(false),
                Ok(false) => {
                    let ours = message.id.to_string();
                    return Ok(stored_id(&self.reads(), message).await? == Some(ours));
                }
                Err(OutboxError::Db(e)) if is_connection_lost(&e) => {
                    self.health.connection_lost();
                    maybe_written = true;
                    let Some(delay) = delays.next() else {
                        return Err(StoreError::from(e));
                    };
                    tracing::info!(error = %e, "storing an inbound message lost its database connection; storing it again");
                    tokio::time::sleep(*delay).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Tx<'_> {
    /// Records that the event of message `id` is written, clearing its pending data.
    /// `false` when it had been written already (by a concurrent recovery): then write
    /// no event.
    pub async fn mark_inbound_event_written(
        &self,
        id: Uuid,
        event_id: Uuid,
    ) -> Result<bool, StoreError> {
        self.db(mark_event_written(self.conn(), id, event_id).await)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests fail loudly on purpose

    use std::sync::atomic::{AtomicUsize, Ordering};

    use sea_orm::{RuntimeErr, sqlx};

    use super::*;
    use crate::testing::fresh_store;

    fn voice_note(provider_message_id: &str) -> NewInboundMessage {
        NewInboundMessage {
            id: Uuid::now_v7(),
            provider: MessageProvider::Twilio,
            provider_message_id: provider_message_id.to_owned(),
            channel: Channel::Whatsapp,
            from: PhoneNumber::parse("+573001234567", "57").unwrap(),
            to: None,
            received_at: Utc::now(),
            event_id: None,
            pending_event: Some("{}".to_owned()),
            provider_fields: None,
        }
    }

    fn lost_connection() -> OutboxError {
        OutboxError::Db(DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Io(
            std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"),
        ))))
    }

    /// The insert commits but its answer is lost with the connection (the server went
    /// away right after COMMIT): the next attempt finds the row, and its id says whose.
    #[tokio::test]
    async fn a_message_whose_insert_lost_its_answer_is_stored_once_and_reported_stored() {
        let store = fresh_store().await;
        let store = &store;
        let original = &voice_note("SMlostanswer000000000000000000000");
        let attempts = &AtomicUsize::new(0);
        let insert = |message: &NewInboundMessage| {
            let message = message.clone();
            async move {
                let inserted = insert_if_new(&store.db, &message).await?;
                if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err(lost_connection());
                }
                Ok(inserted)
            }
        };
        assert!(
            store
                .store_once(original, || insert(original))
                .await
                .unwrap(),
            "the row an earlier attempt wrote is this message's"
        );
        assert_eq!(attempts.load(Ordering::SeqCst), 2);

        // A copy of the delivery (our new id, the same provider id) in the same
        // situation is a duplicate: the row is the original's.
        attempts.store(0, Ordering::SeqCst);
        let copy = &NewInboundMessage {
            id: Uuid::now_v7(),
            ..original.clone()
        };
        assert!(!store.store_once(copy, || insert(copy)).await.unwrap());
        assert_eq!(
            count_for(
                &store.db,
                MessageProvider::Twilio,
                &original.provider_message_id
            )
            .await
            .unwrap(),
            1
        );
    }
}
