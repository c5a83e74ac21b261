//! Transactional outboxes and processed-event (inbox) tables, one of each per owning
//! service (ARCHITECTURE §4: "the outbox table is per owner"; event-bus work).
//!
//! * [`Outbox`] names one service's outbox table (`appointments_outbox`,
//!   `webhooks_outbox`). A producer calls [`Outbox::enqueue`] with the transaction that
//!   makes the change the event announces: both commit or neither does, so an event can
//!   never be lost or announce a change that was rolled back. That service's relay
//!   (`prm_bus::OutboxRelay`) then claims unpublished rows in `seq` order
//!   ([`Outbox::claim_batch`]), publishes them with confirms and marks them
//!   ([`Outbox::mark_published`]). A crash between publish and mark republishes:
//!   duplicates are possible, which consumers absorb by event id.
//! * [`ProcessedEvents`] names one service's processed-events table: its consumers record
//!   each event id in the transaction of their work ([`ProcessedEvents::record`]).
//!
//! * [`Producer`] is a service's outbox as its code holds it: the table and the
//!   [`RelayNotifier`] of its relay. `Store::write` takes it, so that a change and the
//!   events announcing it commit together and the relay wakes right after.
//!
//! Table names are fixed here (they come from the migrations), never from input.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use prm_domain::events::Envelope;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, DeriveIden, QueryResult, Statement,
    sea_query::{
        Alias, Expr, Func, LockBehavior, LockType, OnConflict, Order, Query, SelectStatement,
    },
};
use tokio::sync::Notify;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use uuid::Uuid;

use crate::StoreError;

/// Wakes a relay right after a commit that wrote to its outbox, instead of leaving the
/// events to its next poll. Cheap to clone; every clone wakes the same relay. The relay
/// (`prm_bus::OutboxRelay`) waits on [`notified`](Self::notified).
#[derive(Debug, Clone, Default)]
pub struct RelayNotifier(Arc<Notify>);

impl RelayNotifier {
    pub fn notify(&self) {
        self.0.notify_one();
    }

    /// Resolves at the next [`notify`](Self::notify), or at once if one came since the
    /// last wait (a wake-up is never lost between two waits).
    pub async fn notified(&self) {
        self.0.notified().await;
    }
}

/// A service that announces its changes: the outbox its events go to, and the relay to
/// wake once they are committed (`None`: the relay finds them at its next poll).
#[derive(Debug, Clone)]
pub struct Producer {
    outbox: Outbox,
    relay: Option<RelayNotifier>,
}

impl Producer {
    pub fn new(outbox: Outbox, relay: Option<RelayNotifier>) -> Self {
        Self { outbox, relay }
    }

    pub fn outbox(&self) -> Outbox {
        self.outbox
    }

    /// Tells the relay that committed events wait.
    pub fn wake_relay(&self) {
        if let Some(relay) = &self.relay {
            relay.notify();
        }
    }
}

/// The current span's W3C `traceparent`, if tracing with OpenTelemetry is on and the
/// span is sampled into a valid trace. Outbox rows keep it so that the relay forwards
/// it and consumers continue the producer's trace (`prm_bus` re-exports this).
pub fn current_traceparent() -> Option<String> {
    use opentelemetry::propagation::TextMapPropagator;
    let context = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    // W3C is the suite's contract, whatever global propagator the binary installed.
    opentelemetry_sdk::propagation::TraceContextPropagator::new()
        .inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// An event written to an outbox and not yet confirmed by the broker.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingEvent {
    /// Insertion order within its outbox; the relay publishes in this order.
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

impl From<OutboxError> for StoreError {
    fn from(error: OutboxError) -> Self {
        match error {
            OutboxError::Db(e) => Self::from(e),
            OutboxError::Serialize(e) => Self::corrupt("event envelope", e),
        }
    }
}

#[derive(DeriveIden)]
enum Col {
    Seq,
    EventId,
    EventType,
    RoutingKey,
    Payload,
    Headers,
    CreatedAt,
    PublishedAt,
    Attempts,
    LastError,
    Consumer,
    ProcessedAt,
}

/// Where SQLite relays keep their leases (see [`Outbox::lock_relay`]).
const RELAY_LOCKS: &str = "outbox_relay_locks";

/// Rows deleted per statement by [`Outbox::purge_published`], so that a first purge
/// after a long time does not hold one huge transaction.
const PURGE_CHUNK: u64 = 5_000;

/// One service's outbox table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Outbox {
    owner: &'static str,
    table: &'static str,
    lock_key: i64,
}

impl Outbox {
    /// Events of the appointments service (APPOINTMENT_*, SLOTS_OFFERED…).
    pub const APPOINTMENTS: Self = Self::new("appointments", "appointments_outbox");
    /// Events of the webhooks service (MESSAGE_RECEIVED, MESSAGE_STATUS_UPDATED).
    pub const WEBHOOKS: Self = Self::new("webhooks", "webhooks_outbox");
    /// Events of the conversations service (MESSAGE_SENT, CONVERSATION_*, TRIAGE_COMPLETED…).
    pub const CONVERSATIONS: Self = Self::new("conversations", "conversations_outbox");
    /// Events of the n8n-callbacks service (INTAKE_UPDATED, BOOKING_ACTION…).
    pub const N8N_CALLBACKS: Self = Self::new("n8n-callbacks", "n8n_callbacks_outbox");
    /// Every outbox the migrations create.
    pub const ALL: [Self; 4] = [
        Self::APPOINTMENTS,
        Self::WEBHOOKS,
        Self::CONVERSATIONS,
        Self::N8N_CALLBACKS,
    ];

    const fn new(owner: &'static str, table: &'static str) -> Self {
        Self {
            owner,
            table,
            lock_key: relay_lock_key(table),
        }
    }

    /// The owning service (`appointments`).
    pub fn owner(&self) -> &'static str {
        self.owner
    }

    /// The table (`appointments_outbox`).
    pub fn table(&self) -> &'static str {
        self.table
    }

    /// The PostgreSQL advisory-lock key under which one relay at a time publishes this
    /// table, derived from the table name (so every replica agrees on it).
    pub fn relay_lock_key(&self) -> i64 {
        self.lock_key
    }

    fn iden(&self) -> Alias {
        Alias::new(self.table)
    }

    /// Writes `envelope` to the outbox. Call it with the transaction of the change the
    /// event announces; `traceparent` is usually `prm_bus::current_traceparent()`. A
    /// second event with the same id violates the table's unique `event_id`.
    pub async fn enqueue(
        &self,
        conn: &impl ConnectionTrait,
        envelope: &Envelope,
        traceparent: Option<String>,
    ) -> Result<(), OutboxError> {
        let insert = Query::insert()
            .into_table(self.iden())
            .columns(Self::ROW_COLUMNS)
            .values(Self::row_values(envelope, traceparent)?.map(Into::into))
            .map_err(|e| DbErr::Custom(format!("outbox insert: {e}")))?
            .to_owned();
        conn.execute(conn.get_database_backend().build(&insert))
            .await?;
        Ok(())
    }

    /// Writes `envelopes`, in order, in one statement (see [`enqueue`](Self::enqueue)).
    pub(crate) async fn enqueue_all(
        &self,
        conn: &impl ConnectionTrait,
        envelopes: &[Envelope],
        traceparent: Option<String>,
    ) -> Result<(), OutboxError> {
        if envelopes.is_empty() {
            return Ok(());
        }
        let mut insert = Query::insert();
        insert.into_table(self.iden()).columns(Self::ROW_COLUMNS);
        for envelope in envelopes {
            insert
                .values(Self::row_values(envelope, traceparent.clone())?.map(Into::into))
                .map_err(|e| DbErr::Custom(format!("outbox insert: {e}")))?;
        }
        conn.execute(conn.get_database_backend().build(&insert))
            .await?;
        Ok(())
    }

    /// The columns [`enqueue`](Self::enqueue) writes, in the order of
    /// [`row_values`](Self::row_values).
    const ROW_COLUMNS: [Col; 7] = [
        Col::EventId,
        Col::EventType,
        Col::RoutingKey,
        Col::Payload,
        Col::Headers,
        Col::CreatedAt,
        Col::Attempts,
    ];

    /// The SQL names of [`ROW_COLUMNS`](Self::ROW_COLUMNS), for statements written out
    /// (`crate::inbound_messages::insert_with_event`).
    pub(crate) const ROW_COLUMN_NAMES: &'static str =
        "event_id, event_type, routing_key, payload, headers, created_at, attempts";

    /// The values of a new row announcing `envelope`.
    pub(crate) fn row_values(
        envelope: &Envelope,
        traceparent: Option<String>,
    ) -> Result<[sea_orm::Value; 7], OutboxError> {
        let headers = match traceparent {
            Some(tp) => serde_json::json!({ "traceparent": tp }),
            None => serde_json::json!({}),
        };
        Ok([
            envelope.id.to_string().into(),
            envelope.event_type.clone().into(),
            envelope.routing_key().into(),
            serde_json::to_string(envelope)?.into(),
            headers.to_string().into(),
            Utc::now().into(),
            0i32.into(),
        ])
    }

    /// Takes the right to relay this outbox. Call it first thing in `txn`.
    ///
    /// * PostgreSQL: `pg_try_advisory_xact_lock(relay_lock_key)`, held until `txn` ends.
    /// * SQLite: writes `lease` into the table's row of `outbox_relay_locks` unless another
    ///   holder's lease is still running. Being the transaction's first statement, the
    ///   write takes SQLite's write lock before anything is read (the transaction is
    ///   IMMEDIATE in effect, and sees every earlier commit); the lease then keeps every
    ///   other relay on the same file out after `txn` commits, until
    ///   [`release_relay`](Self::release_relay) or until it runs out (a crashed relay).
    ///
    /// `false`: another relay holds it.
    pub async fn lock_relay(
        &self,
        txn: &DatabaseTransaction,
        lease: &RelayLease<'_>,
    ) -> Result<bool, DbErr> {
        match txn.get_database_backend() {
            DbBackend::Postgres => {
                let row = txn
                    .query_one(Statement::from_string(
                        DbBackend::Postgres,
                        format!(
                            "SELECT pg_try_advisory_xact_lock({}) AS locked",
                            self.lock_key
                        ),
                    ))
                    .await?;
                Ok(row
                    .map(|r| r.try_get::<bool>("", "locked"))
                    .transpose()?
                    .unwrap_or(false))
            }
            backend => {
                let now = epoch_ms(Utc::now());
                let until = now.saturating_add(duration_ms(lease.duration));
                let result = txn
                    .execute(Statement::from_sql_and_values(
                        backend,
                        format!(
                            "INSERT INTO {RELAY_LOCKS} (outbox_table, holder, lease_until_ms) VALUES (?, ?, ?) \
                             ON CONFLICT (outbox_table) DO UPDATE \
                             SET holder = excluded.holder, lease_until_ms = excluded.lease_until_ms \
                             WHERE {RELAY_LOCKS}.holder IS NULL OR {RELAY_LOCKS}.holder = excluded.holder \
                             OR {RELAY_LOCKS}.lease_until_ms < ?"
                        ),
                        [
                            self.table.into(),
                            lease.holder.into(),
                            until.into(),
                            now.into(),
                        ],
                    ))
                    .await?;
                Ok(result.rows_affected() == 1)
            }
        }
    }

    /// Extends `lease` while a long publish is in progress (SQLite; a no-op on
    /// PostgreSQL, whose lock lasts as long as the claiming transaction). `false` when
    /// the lease was lost (it ran out and another relay took the outbox).
    pub async fn renew_relay(
        &self,
        conn: &impl ConnectionTrait,
        lease: &RelayLease<'_>,
    ) -> Result<bool, DbErr> {
        let backend = conn.get_database_backend();
        if backend == DbBackend::Postgres {
            return Ok(true);
        }
        let until = epoch_ms(Utc::now()).saturating_add(duration_ms(lease.duration));
        let result = conn
            .execute(Statement::from_sql_and_values(
                backend,
                format!(
                    "UPDATE {RELAY_LOCKS} SET lease_until_ms = ? WHERE outbox_table = ? AND holder = ?"
                ),
                [until.into(), self.table.into(), lease.holder.into()],
            ))
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Gives up `holder`'s lease (SQLite; a no-op on PostgreSQL). Another holder's lease
    /// is left alone.
    pub async fn release_relay(
        &self,
        conn: &impl ConnectionTrait,
        holder: &str,
    ) -> Result<(), DbErr> {
        let backend = conn.get_database_backend();
        if backend == DbBackend::Postgres {
            return Ok(());
        }
        conn.execute(Statement::from_sql_and_values(
            backend,
            format!(
                "UPDATE {RELAY_LOCKS} SET holder = NULL, lease_until_ms = 0 WHERE outbox_table = ? AND holder = ?"
            ),
            [self.table.into(), holder.into()],
        ))
        .await?;
        Ok(())
    }

    /// Locks this outbox for `txn` ([`lock_relay`](Self::lock_relay)) and returns up to
    /// `limit` unpublished events, oldest `seq` first; `None` when another relay holds it.
    ///
    /// On PostgreSQL keep `txn` open while publishing: the advisory lock and the rows'
    /// `FOR UPDATE SKIP LOCKED` locks go with it. On SQLite commit it before publishing
    /// (SQLite has one writer: holding it would stop the very handlers the in-process bus
    /// waits for) — the lease keeps other relays out — and release the lease when the
    /// batch is marked.
    pub async fn claim_batch(
        &self,
        txn: &DatabaseTransaction,
        lease: &RelayLease<'_>,
        limit: u64,
    ) -> Result<Option<Vec<PendingEvent>>, DbErr> {
        if !self.lock_relay(txn, lease).await? {
            return Ok(None);
        }
        let mut query = self.unpublished_query();
        query.limit(limit);
        if txn.get_database_backend() == DbBackend::Postgres {
            query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = txn
            .query_all(txn.get_database_backend().build(&query))
            .await?;
        rows.iter()
            .map(pending_event)
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    fn unpublished_query(&self) -> SelectStatement {
        Query::select()
            .columns([
                Col::Seq,
                Col::EventId,
                Col::EventType,
                Col::RoutingKey,
                Col::Payload,
                Col::Headers,
                Col::Attempts,
                Col::CreatedAt,
            ])
            .from(self.iden())
            .and_where(Expr::col(Col::PublishedAt).is_null())
            .order_by(Col::Seq, Order::Asc)
            .to_owned()
    }

    /// The unpublished events, oldest first, without locking anything (operations, tests).
    pub async fn unpublished(
        &self,
        conn: &impl ConnectionTrait,
        limit: u64,
    ) -> Result<Vec<PendingEvent>, DbErr> {
        let mut query = self.unpublished_query();
        query.limit(limit);
        let rows = conn
            .query_all(conn.get_database_backend().build(&query))
            .await?;
        rows.iter().map(pending_event).collect()
    }

    /// Stamps the rows as published (after the broker confirmed them).
    pub async fn mark_published(
        &self,
        conn: &impl ConnectionTrait,
        seqs: &[i64],
        at: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        if seqs.is_empty() {
            return Ok(());
        }
        let update = Query::update()
            .table(self.iden())
            .value(Col::PublishedAt, at)
            .and_where(Expr::col(Col::Seq).is_in(seqs.iter().copied()))
            .to_owned();
        conn.execute(conn.get_database_backend().build(&update))
            .await?;
        Ok(())
    }

    /// Counts a failed publish of the row and keeps the latest error (no patient data:
    /// bus errors only).
    pub async fn record_failure(
        &self,
        conn: &impl ConnectionTrait,
        seq: i64,
        error: &str,
    ) -> Result<(), DbErr> {
        let error: String = error.chars().take(2000).collect();
        let update = Query::update()
            .table(self.iden())
            .value(Col::Attempts, Expr::col(Col::Attempts).add(1))
            .value(Col::LastError, error)
            .and_where(Expr::col(Col::Seq).eq(seq))
            .to_owned();
        conn.execute(conn.get_database_backend().build(&update))
            .await?;
        Ok(())
    }

    /// How many events wait for the relay (readiness, metrics, tests).
    pub async fn unpublished_count(&self, conn: &impl ConnectionTrait) -> Result<u64, DbErr> {
        self.count(conn, Some(Expr::col(Col::PublishedAt).is_null()))
            .await
    }

    /// How many events wait for the relay, and when the oldest of them was committed
    /// (metrics: a backlog that grows or ages means events are not reaching the broker).
    pub async fn backlog(
        &self,
        conn: &impl ConnectionTrait,
    ) -> Result<(u64, Option<DateTime<Utc>>), DbErr> {
        let count = self.unpublished_count(conn).await?;
        if count == 0 {
            return Ok((0, None));
        }
        let query = Query::select()
            .column(Col::CreatedAt)
            .from(self.iden())
            .and_where(Expr::col(Col::PublishedAt).is_null())
            .order_by(Col::Seq, Order::Asc)
            .limit(1)
            .to_owned();
        let oldest = conn
            .query_one(conn.get_database_backend().build(&query))
            .await?
            .map(|row| row.try_get::<DateTime<Utc>>("", "created_at"))
            .transpose()?;
        Ok((count, oldest))
    }

    /// How many rows the table holds, published or not.
    pub async fn row_count(&self, conn: &impl ConnectionTrait) -> Result<u64, DbErr> {
        self.count(conn, None).await
    }

    async fn count(
        &self,
        conn: &impl ConnectionTrait,
        condition: Option<sea_orm::sea_query::SimpleExpr>,
    ) -> Result<u64, DbErr> {
        let mut query = Query::select()
            .expr_as(Func::count(Expr::col(Col::Seq)), Alias::new("n"))
            .from(self.iden())
            .to_owned();
        if let Some(condition) = condition {
            query.and_where(condition);
        }
        let n = conn
            .query_one(conn.get_database_backend().build(&query))
            .await?
            .map(|row| row.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// True when the table holds the event `event_id`, published or not (until
    /// [`purge_published`](Self::purge_published) removes it): producers whose event
    /// ids derive from their input answer a repeated input with the event already
    /// written instead of violating the unique `event_id`.
    pub async fn contains(
        &self,
        conn: &impl ConnectionTrait,
        event_id: Uuid,
    ) -> Result<bool, DbErr> {
        let query = Query::select()
            .column(Col::Seq)
            .from(self.iden())
            .and_where(Expr::col(Col::EventId).eq(event_id.to_string()))
            .limit(1)
            .to_owned();
        Ok(conn
            .query_one(conn.get_database_backend().build(&query))
            .await?
            .is_some())
    }

    /// True when at least one event waits (a cheap look before claiming).
    pub async fn has_unpublished(&self, conn: &impl ConnectionTrait) -> Result<bool, DbErr> {
        let query = Query::select()
            .column(Col::Seq)
            .from(self.iden())
            .and_where(Expr::col(Col::PublishedAt).is_null())
            .limit(1)
            .to_owned();
        Ok(conn
            .query_one(conn.get_database_backend().build(&query))
            .await?
            .is_some())
    }

    /// Deletes rows published before `before` (the relay's housekeeping), a chunk per
    /// statement; returns how many. Unpublished rows are never deleted.
    pub async fn purge_published(
        &self,
        conn: &impl ConnectionTrait,
        before: DateTime<Utc>,
    ) -> Result<u64, DbErr> {
        let mut total = 0;
        loop {
            let chunk = Query::select()
                .column(Col::Seq)
                .from(self.iden())
                .and_where(Expr::col(Col::PublishedAt).lt(before))
                .order_by(Col::Seq, Order::Asc)
                .limit(PURGE_CHUNK)
                .to_owned();
            let delete = Query::delete()
                .from_table(self.iden())
                .and_where(Expr::col(Col::Seq).in_subquery(chunk))
                .to_owned();
            let deleted = conn
                .execute(conn.get_database_backend().build(&delete))
                .await?
                .rows_affected();
            total += deleted;
            if deleted < PURGE_CHUNK {
                return Ok(total);
            }
        }
    }
}

/// Who holds an outbox and for how long without renewal (SQLite relays; PostgreSQL
/// ignores it: its lock ends with the claiming transaction).
#[derive(Debug, Clone, Copy)]
pub struct RelayLease<'a> {
    /// Unique per relay instance.
    pub holder: &'a str,
    pub duration: Duration,
}

/// FNV-1a (64 bit) of `prm-outbox-relay:<table>`: stable across builds and platforms,
/// unlike `std`'s hasher.
const fn relay_lock_key(table: &str) -> i64 {
    const PREFIX: &[u8] = b"prm-outbox-relay:";
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < PREFIX.len() + table.len() {
        let byte = if i < PREFIX.len() {
            PREFIX[i]
        } else {
            table.as_bytes()[i - PREFIX.len()]
        };
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash as i64
}

fn epoch_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn pending_event(row: &QueryResult) -> Result<PendingEvent, DbErr> {
    let seq: i64 = row.try_get("", "seq")?;
    let event_id: String = row.try_get("", "event_id")?;
    let event_id = Uuid::parse_str(&event_id)
        .map_err(|e| DbErr::Type(format!("outbox row {seq} has a malformed event_id: {e}")))?;
    let headers: String = row.try_get("", "headers")?;
    let traceparent = serde_json::from_str::<serde_json::Value>(&headers)
        .ok()
        .and_then(|h| {
            h.get("traceparent")
                .and_then(|t| t.as_str())
                .map(str::to_owned)
        });
    Ok(PendingEvent {
        seq,
        event_id,
        event_type: row.try_get("", "event_type")?,
        routing_key: row.try_get("", "routing_key")?,
        payload: row.try_get("", "payload")?,
        traceparent,
        attempts: row.try_get("", "attempts")?,
        created_at: row.try_get("", "created_at")?,
    })
}

/// One service's processed-events table: the event ids its consumers have committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcessedEvents {
    owner: &'static str,
    table: &'static str,
}

impl ProcessedEvents {
    pub const APPOINTMENTS: Self = Self {
        owner: "appointments",
        table: "appointments_processed_events",
    };
    pub const WEBHOOKS: Self = Self {
        owner: "webhooks",
        table: "webhooks_processed_events",
    };
    pub const CONVERSATIONS: Self = Self {
        owner: "conversations",
        table: "conversations_processed_events",
    };
    pub const N8N_CALLBACKS: Self = Self {
        owner: "n8n-callbacks",
        table: "n8n_callbacks_processed_events",
    };
    pub const ALL: [Self; 4] = [
        Self::APPOINTMENTS,
        Self::WEBHOOKS,
        Self::CONVERSATIONS,
        Self::N8N_CALLBACKS,
    ];

    pub fn owner(&self) -> &'static str {
        self.owner
    }

    pub fn table(&self) -> &'static str {
        self.table
    }

    /// Records that `consumer` processed `event_id`. Returns `false` when it already had:
    /// the caller then skips the work. Call it in the transaction of that work, so the
    /// record commits (or rolls back) with it; on PostgreSQL a concurrent duplicate waits
    /// for the first transaction and then sees the conflict.
    pub async fn record(
        &self,
        conn: &impl ConnectionTrait,
        consumer: &str,
        event_id: Uuid,
    ) -> Result<bool, DbErr> {
        let insert = Query::insert()
            .into_table(Alias::new(self.table))
            .columns([Col::Consumer, Col::EventId, Col::ProcessedAt])
            .values([
                consumer.into(),
                event_id.to_string().into(),
                Utc::now().into(),
            ])
            .map_err(|e| DbErr::Custom(format!("processed-events insert: {e}")))?
            .on_conflict(
                OnConflict::columns([Col::Consumer, Col::EventId])
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        let result = conn
            .execute(conn.get_database_backend().build(&insert))
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// True when `consumer` has processed `event_id`.
    pub async fn contains(
        &self,
        conn: &impl ConnectionTrait,
        consumer: &str,
        event_id: Uuid,
    ) -> Result<bool, DbErr> {
        let query = Query::select()
            .column(Col::EventId)
            .from(Alias::new(self.table))
            .and_where(Expr::col(Col::Consumer).eq(consumer))
            .and_where(Expr::col(Col::EventId).eq(event_id.to_string()))
            .to_owned();
        Ok(conn
            .query_one(conn.get_database_backend().build(&query))
            .await?
            .is_some())
    }
}

impl crate::Tx<'_> {
    /// Whether `outbox` holds the event `event_id` (see [`Outbox::contains`]).
    pub async fn outbox_contains(
        &self,
        outbox: Outbox,
        event_id: Uuid,
    ) -> Result<bool, crate::StoreError> {
        self.db(outbox.contains(self.conn(), event_id).await)
    }

    /// Records that `consumer` processed event `event_id` in this transaction (see
    /// [`ProcessedEvents::record`]): `false` when it did already, and the work is to be
    /// skipped.
    pub async fn record_processed(
        &self,
        table: ProcessedEvents,
        consumer: &str,
        event_id: Uuid,
    ) -> Result<bool, crate::StoreError> {
        self.db(table.record(self.conn(), consumer, event_id).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outbox_has_its_own_stable_relay_lock() {
        assert_ne!(
            Outbox::APPOINTMENTS.relay_lock_key(),
            Outbox::WEBHOOKS.relay_lock_key()
        );
        // Replicas built from different versions must agree: the key is part of the
        // deployed contract between them.
        assert_eq!(
            Outbox::APPOINTMENTS.relay_lock_key(),
            0x0c45_9bd9_20f5_5a18_u64 as i64
        );
        assert_eq!(
            Outbox::WEBHOOKS.relay_lock_key(),
            0xcdf5_a629_72cc_12f4_u64 as i64
        );
    }

    #[test]
    fn tables_are_named_after_their_owner() {
        for outbox in Outbox::ALL {
            let owner = outbox.owner().replace('-', "_");
            assert_eq!(outbox.table(), format!("{owner}_outbox"));
        }
        for processed in ProcessedEvents::ALL {
            assert_eq!(
                processed.table(),
                format!("{}_processed_events", processed.owner().replace('-', "_"))
            );
        }
    }

    #[tokio::test]
    #[allow(clippy::unwrap_used)] // tests fail loudly on purpose
    async fn an_event_is_found_in_its_own_outbox_published_or_not() {
        use prm_domain::events::{EventData, TriageProposed};
        let store = crate::testing::fresh_store().await;
        let db = store.connection();
        let envelope = Envelope::new("n8n-callbacks", TriageProposed::example());
        let outbox = Outbox::N8N_CALLBACKS;
        assert!(!outbox.contains(db, envelope.id).await.unwrap());
        outbox.enqueue(db, &envelope, None).await.unwrap();
        assert!(outbox.contains(db, envelope.id).await.unwrap());
        assert!(
            !Outbox::CONVERSATIONS
                .contains(db, envelope.id)
                .await
                .unwrap()
        );
        let seqs: Vec<i64> = outbox
            .unpublished(db, 10)
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        outbox.mark_published(db, &seqs, Utc::now()).await.unwrap();
        assert!(outbox.contains(db, envelope.id).await.unwrap(), "published");
    }
}
