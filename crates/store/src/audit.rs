//! The audit trail of changes made through the clinic API: who (the API key's id, never
//! the key), what (`appointment.updated`…), on which record, when, and for appointments
//! and conversations a before/after snapshot.
//!
//! An entry is written by the transaction of the change it records ([`Tx::record_audit`],
//! or the clinic set-up writes of [`Audited`]), so a change that fails leaves no entry and
//! an entry never names a change that was not saved. The table is append-only (no
//! update or delete here, and a trigger refuses both).
//!
//! Snapshots are built here, in one place, so what they leave out is decided once: no
//! message bodies, no health data (reason, notes, cancellation reason: only whether there
//! are any), no names and no phone numbers.

use chrono::{DateTime, Utc};
use prm_domain::{
    Appointment, Location, Patient, Practitioner, PractitionerSchedule, conversation::Conversation,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{Page, Paged, Store, StoreError, Tx, clinic};

pub(crate) mod entry {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub occurred_at: DateTimeUtc,
        pub actor: String,
        pub action: String,
        pub entity_type: String,
        pub entity_id: Uuid,
        pub before: Option<String>,
        pub after: Option<String>,
        pub request_id: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Who made a change: the API key's id (`key_` + 12 hex characters of its SHA-256) and
/// the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub key_id: String,
    pub request_id: Option<String>,
}

/// A change to record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditChange {
    /// `<entity type>.<verb>`, e.g. `appointment.updated`.
    pub action: &'static str,
    pub entity_type: &'static str,
    pub entity_id: Uuid,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl AuditChange {
    /// A change without snapshots (clinic set-up, messages).
    pub fn of(action: &'static str, entity_type: &'static str, entity_id: Uuid) -> Self {
        Self {
            action,
            entity_type,
            entity_id,
            before: None,
            after: None,
        }
    }

    pub fn with(mut self, before: Option<Value>, after: Option<Value>) -> Self {
        self.before = before;
        self.after = after;
        self
    }
}

/// A recorded entry, as `GET /audit` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    pub actor: Option<String>,
    /// Entries at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this instant.
    pub to: Option<DateTime<Utc>>,
}

/// An appointment as the audit trail keeps it: ids, status, times and flags; never the
/// reason, notes or cancellation reason (health data), only whether there are any.
pub fn appointment_snapshot(a: &Appointment) -> Value {
    json!({
        "id": a.id,
        "status": a.status.as_str(),
        "start": a.start,
        "end": a.end,
        "patient_id": a.patient_id,
        "practitioner_id": a.practitioner_id,
        "location_id": a.location_id,
        "conversation_id": a.conversation_id,
        "channel": a.channel.map(|c| c.as_str()),
        "has_reason": a.reason.is_some(),
        "has_notes": a.notes.is_some(),
        "has_cancellation_reason": a.cancellation_reason.is_some(),
    })
}

/// A conversation as the audit trail keeps it: ids, status, stage, flags; never the
/// phone number or the assignee's name (only whether there is one).
pub fn conversation_snapshot(c: &Conversation) -> Value {
    json!({
        "id": c.id,
        "patient_id": c.patient_id,
        "channel": c.channel.as_str(),
        "status": c.status.as_str(),
        "stage": c.stage.as_str(),
        "locale": c.locale.as_str(),
        "bot_paused": c.bot_paused,
        "assigned": c.assignee.is_some(),
    })
}

fn to_text(value: Option<&Value>) -> Option<String> {
    value.map(Value::to_string)
}

fn from_text(raw: Option<String>) -> Result<Option<Value>, StoreError> {
    raw.map(|r| serde_json::from_str(&r).map_err(|e| StoreError::corrupt("audit snapshot", e)))
        .transpose()
}

fn entry_from(m: entry::Model) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: m.id,
        occurred_at: m.occurred_at,
        actor: m.actor,
        action: m.action,
        entity_type: m.entity_type,
        entity_id: m.entity_id,
        before: from_text(m.before)?,
        after: from_text(m.after)?,
        request_id: m.request_id,
    })
}

pub(crate) async fn insert(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    change: &AuditChange,
) -> Result<(), StoreError> {
    entry::ActiveModel {
        id: Set(Uuid::now_v7()),
        occurred_at: Set(Utc::now()),
        actor: Set(actor.key_id.clone()),
        action: Set(change.action.to_owned()),
        entity_type: Set(change.entity_type.to_owned()),
        entity_id: Set(change.entity_id),
        before: Set(to_text(change.before.as_ref())),
        after: Set(to_text(change.after.as_ref())),
        request_id: Set(actor.request_id.clone()),
    }
    .insert(conn)
    .await?;
    Ok(())
}

impl Tx<'_> {
    /// Records `change` by `actor` in this transaction: saved if and only if the change is.
    pub async fn record_audit(
        &self,
        actor: &Actor,
        change: &AuditChange,
    ) -> Result<(), StoreError> {
        self.check(insert(self.conn(), actor, change).await)
    }
}

impl Store {
    /// As [`Tx::record_audit`], for the writes that still hold a raw transaction.
    #[doc(hidden)]
    pub async fn record_audit(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        actor: &Actor,
        change: &AuditChange,
    ) -> Result<(), StoreError> {
        insert(txn, actor, change).await
    }

    /// The clinic set-up writes, each recorded in the audit trail as done by `actor`.
    pub fn audited<'s>(&'s self, actor: &'s Actor) -> Audited<'s> {
        Audited { store: self, actor }
    }

    /// Entries, newest first.
    pub async fn list_audit(
        &self,
        f: &AuditFilter,
        page: Page,
    ) -> Result<Paged<AuditEntry>, StoreError> {
        let mut q = entry::Entity::find();
        if let Some(t) = &f.entity_type {
            q = q.filter(entry::Column::EntityType.eq(t.as_str()));
        }
        if let Some(id) = f.entity_id {
            q = q.filter(entry::Column::EntityId.eq(id));
        }
        if let Some(actor) = &f.actor {
            q = q.filter(entry::Column::Actor.eq(actor.as_str()));
        }
        if let Some(from) = f.from {
            q = q.filter(entry::Column::OccurredAt.gte(from));
        }
        if let Some(to) = f.to {
            q = q.filter(entry::Column::OccurredAt.lt(to));
        }
        let q = q
            .order_by_desc(entry::Column::OccurredAt)
            .order_by_desc(entry::Column::Id);
        clinic::paged(&self.reads(), q, page, entry_from).await
    }
}

/// The clinic set-up writes of [`Store`], each with an audit entry in its transaction
/// (see [`Store::audited`]). The store's own methods of the same names record nothing:
/// they are for the journey, the demo data and tests.
#[derive(Debug, Clone, Copy)]
pub struct Audited<'s> {
    pub(crate) store: &'s Store,
    pub(crate) actor: &'s Actor,
}

impl Audited<'_> {
    pub async fn insert_location(&self, l: &Location) -> Result<Location, StoreError> {
        self.store.insert_location_as(l, Some(self.actor)).await
    }

    pub async fn update_location(&self, l: &Location) -> Result<Location, StoreError> {
        self.store
            .update_location_as(l, Some(self.actor), "location.updated")
            .await
    }

    pub async fn delete_location(&self, id: Uuid) -> Result<(), StoreError> {
        self.store.delete_location_as(id, Some(self.actor)).await
    }

    pub async fn insert_practitioner(&self, p: &Practitioner) -> Result<Practitioner, StoreError> {
        self.store.insert_practitioner_as(p, Some(self.actor)).await
    }

    pub async fn update_practitioner(&self, p: &Practitioner) -> Result<Practitioner, StoreError> {
        self.store
            .update_practitioner_as(p, Some(self.actor), "practitioner.updated")
            .await
    }

    pub async fn deactivate_practitioner(&self, id: Uuid) -> Result<Practitioner, StoreError> {
        self.store
            .deactivate_practitioner_as(id, Some(self.actor))
            .await
    }

    pub async fn save_schedule(
        &self,
        s: &PractitionerSchedule,
        replace: bool,
    ) -> Result<PractitionerSchedule, StoreError> {
        self.store
            .save_schedule_as(s, replace, Some(self.actor))
            .await
    }

    pub async fn delete_schedule(&self, practitioner_id: Uuid, id: Uuid) -> Result<(), StoreError> {
        self.store
            .delete_schedule_as(practitioner_id, id, Some(self.actor))
            .await
    }

    pub async fn insert_patient(&self, p: &Patient) -> Result<Patient, StoreError> {
        self.store.insert_patient_as(p, Some(self.actor)).await
    }

    pub async fn update_patient(&self, p: &Patient) -> Result<Patient, StoreError> {
        self.store
            .update_patient_as(p, Some(self.actor), "patient.updated")
            .await
    }

    pub async fn delete_patient(&self, id: Uuid) -> Result<(), StoreError> {
        self.store.delete_patient_as(id, Some(self.actor)).await
    }
}
