//! The waitlist (owned by the appointments service): conversations waiting for a slot of
//! a department, and the freed slots offered to them. Writes are operations of a
//! transaction ([`Tx`]), so that an entry and the messages announcing it commit together
//! with the record that the event was processed.

use chrono::{DateTime, Utc};
use prm_domain::{Locale, PhoneNumber, scheduling::SlotPreferences, specialty_key};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, OnConflict},
};
use uuid::Uuid;

use crate::{Store, StoreError, Tx};

pub(crate) mod entry {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "waitlist_entries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub conversation_id: Uuid,
        pub patient_id: Option<Uuid>,
        pub phone: Option<String>,
        pub department: String,
        pub department_key: String,
        pub preferences: String,
        pub locale: String,
        pub reason: Option<String>,
        pub status: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod offer {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "waitlist_offers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub entry_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_id: Uuid,
        pub offer_id: Uuid,
        pub practitioner_id: Uuid,
        pub slot_start: DateTimeUtc,
        pub status: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitlistStatus {
    /// Waiting for a slot to free up.
    Waiting,
    /// A freed slot was offered; no answer yet.
    Offered,
    /// The patient booked a freed slot.
    Fulfilled,
    /// Past `expires_at` without a slot.
    Expired,
}

impl WaitlistStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Offered => "offered",
            Self::Fulfilled => "fulfilled",
            Self::Expired => "expired",
        }
    }

    fn parse(raw: &str) -> Result<Self, StoreError> {
        Ok(match raw {
            "waiting" => Self::Waiting,
            "offered" => Self::Offered,
            "fulfilled" => Self::Fulfilled,
            "expired" => Self::Expired,
            other => return Err(StoreError::corrupt("waitlist status", other)),
        })
    }
}

/// The statuses of an entry still looking for a slot.
const OPEN: [WaitlistStatus; 2] = [WaitlistStatus::Waiting, WaitlistStatus::Offered];

/// A conversation that wants a slot of `department` sooner than it was offered one.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitlistEntry {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub patient_id: Option<Uuid>,
    pub phone: Option<PhoneNumber>,
    pub department: String,
    pub preferences: SlotPreferences,
    pub locale: Locale,
    /// The chief complaint, carried to the appointment a freed slot books.
    pub reason: Option<String>,
    pub status: WaitlistStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// How a freed slot offered to entries ended once someone booked it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlotSettled {
    /// The open entries of the patient or conversation that booked it (now `fulfilled`).
    pub won: Vec<WaitlistEntry>,
    /// The other open entries it was offered to (back to `waiting`), to be told it is
    /// gone.
    pub taken: Vec<WaitlistEntry>,
}

fn entry_from(m: entry::Model) -> Result<WaitlistEntry, StoreError> {
    Ok(WaitlistEntry {
        id: m.id,
        conversation_id: m.conversation_id,
        patient_id: m.patient_id,
        phone: m
            .phone
            .map(|p| PhoneNumber::parse(&p, "1").map_err(|e| StoreError::corrupt("phone", e)))
            .transpose()?,
        department: m.department,
        preferences: serde_json::from_str(&m.preferences)
            .map_err(|e| StoreError::corrupt("waitlist preferences", e))?,
        locale: m
            .locale
            .parse()
            .map_err(|e| StoreError::corrupt("locale", e))?,
        reason: m.reason,
        status: WaitlistStatus::parse(&m.status)?,
        created_at: m.created_at,
        expires_at: m.expires_at,
    })
}

async fn join(conn: &impl ConnectionTrait, e: &WaitlistEntry) -> Result<bool, StoreError> {
    let preferences = serde_json::to_string(&e.preferences)
        .map_err(|err| StoreError::corrupt("waitlist preferences", err))?;
    let row = entry::ActiveModel {
        id: Set(e.id),
        conversation_id: Set(e.conversation_id),
        patient_id: Set(e.patient_id),
        phone: Set(e.phone.as_ref().map(|p| p.as_str().to_owned())),
        department: Set(e.department.clone()),
        department_key: Set(specialty_key(&e.department)),
        preferences: Set(preferences),
        locale: Set(e.locale.as_str().to_owned()),
        reason: Set(e.reason.clone()),
        status: Set(WaitlistStatus::Waiting.as_str().to_owned()),
        created_at: Set(e.created_at),
        updated_at: Set(e.created_at),
        expires_at: Set(e.expires_at),
    };
    // The partial unique index (one open entry per conversation and department) decides.
    let inserted = entry::Entity::insert(row)
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?;
    Ok(inserted == 1)
}

async fn set_status(
    conn: &impl ConnectionTrait,
    ids: &[Uuid],
    from: &[WaitlistStatus],
    to: WaitlistStatus,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let result = entry::Entity::update_many()
        .col_expr(entry::Column::Status, Expr::value(to.as_str()))
        .col_expr(entry::Column::UpdatedAt, Expr::value(now))
        .filter(entry::Column::Id.is_in(ids.iter().copied()))
        .filter(entry::Column::Status.is_in(from.iter().map(|s| s.as_str())))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

async fn entries(
    conn: &impl ConnectionTrait,
    ids: Vec<Uuid>,
) -> Result<Vec<WaitlistEntry>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    entry::Entity::find()
        .filter(entry::Column::Id.is_in(ids))
        .order_by_asc(entry::Column::CreatedAt)
        .all(conn)
        .await?
        .into_iter()
        .map(entry_from)
        .collect()
}

impl Store {
    /// The open entries of `department` at `now` (waiting, or offered a slot nobody
    /// booked yet; not expired), oldest first.
    pub async fn waiting_entries(
        &self,
        department: &str,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<WaitlistEntry>, StoreError> {
        entry::Entity::find()
            .filter(entry::Column::DepartmentKey.eq(specialty_key(department)))
            .filter(entry::Column::Status.is_in(OPEN.iter().map(|s| s.as_str())))
            .filter(entry::Column::ExpiresAt.gt(now))
            .order_by_asc(entry::Column::CreatedAt)
            .order_by_asc(entry::Column::Id)
            .limit(limit)
            .all(self.connection())
            .await?
            .into_iter()
            .map(entry_from)
            .collect()
    }

    /// Every entry of a conversation, oldest first.
    pub async fn waitlist_entries_of(
        &self,
        conversation_id: Uuid,
    ) -> Result<Vec<WaitlistEntry>, StoreError> {
        entry::Entity::find()
            .filter(entry::Column::ConversationId.eq(conversation_id))
            .order_by_asc(entry::Column::CreatedAt)
            .all(self.connection())
            .await?
            .into_iter()
            .map(entry_from)
            .collect()
    }
}

impl Tx<'_> {
    /// Puts `entry` on the waitlist (`waiting`); `false` when the conversation already
    /// has an open entry for the department (that one stays).
    pub async fn join_waitlist(&self, entry: &WaitlistEntry) -> Result<bool, StoreError> {
        self.check(join(self.conn(), entry).await)
    }

    /// Marks the open entries past their `expires_at` as expired.
    pub async fn expire_waitlist(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let result = entry::Entity::update_many()
            .col_expr(
                entry::Column::Status,
                Expr::value(WaitlistStatus::Expired.as_str()),
            )
            .col_expr(entry::Column::UpdatedAt, Expr::value(now))
            .filter(entry::Column::Status.is_in(OPEN.iter().map(|s| s.as_str())))
            .filter(entry::Column::ExpiresAt.lte(now))
            .exec(self.conn())
            .await;
        self.db(result).map(|r| r.rows_affected)
    }

    /// Records that the slot `practitioner_id`/`slot_start`, freed by event `event_id`,
    /// is offered to `entry_id` as offer `offer_id`, and moves the entry to `offered`.
    /// `false` (nothing written) when the entry is no longer open (fulfilled, expired) or
    /// was offered this freed slot already (a redelivery).
    pub async fn offer_from_waitlist(
        &self,
        entry_id: Uuid,
        event_id: Uuid,
        offer_id: Uuid,
        practitioner_id: Uuid,
        slot_start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let conn = self.conn();
        let row = offer::ActiveModel {
            entry_id: Set(entry_id),
            event_id: Set(event_id),
            offer_id: Set(offer_id),
            practitioner_id: Set(practitioner_id),
            slot_start: Set(slot_start),
            status: Set("offered".to_owned()),
            created_at: Set(now),
        };
        let inserted = offer::Entity::insert(row)
            .on_conflict(OnConflict::new().do_nothing().to_owned())
            .exec_without_returning(conn)
            .await;
        if self.db(inserted)? == 0 {
            return Ok(false);
        }
        let moved =
            self.check(set_status(conn, &[entry_id], &OPEN, WaitlistStatus::Offered, now).await)?;
        if moved == 0 {
            return Err(StoreError::Conflict(crate::Conflict::Stale));
        }
        Ok(true)
    }

    /// The slot `practitioner_id`/`slot_start` was booked for `patient_id` (through
    /// `conversation_id`, when a conversation booked it): its open waitlist offers end.
    /// That patient's or conversation's entries are fulfilled; the others go back to
    /// waiting, and are returned to be told.
    pub async fn settle_waitlist_slot(
        &self,
        practitioner_id: Uuid,
        slot_start: DateTime<Utc>,
        patient_id: Uuid,
        conversation_id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<SlotSettled, StoreError> {
        let conn = self.conn();
        let open = offer::Entity::find()
            .filter(offer::Column::PractitionerId.eq(practitioner_id))
            .filter(offer::Column::SlotStart.eq(slot_start))
            .filter(offer::Column::Status.eq("offered"))
            .lock_exclusive()
            .all(conn)
            .await;
        let open = self.db(open)?;
        if open.is_empty() {
            return Ok(SlotSettled::default());
        }
        let offered = self.check(entries(conn, open.iter().map(|o| o.entry_id).collect()).await)?;
        let (won, taken): (Vec<_>, Vec<_>) = offered.into_iter().partition(|e| {
            Some(e.conversation_id) == conversation_id || e.patient_id == Some(patient_id)
        });
        for (entries, offer_status, from, to) in [
            (&won, "won", &OPEN[..], WaitlistStatus::Fulfilled),
            (
                &taken,
                "taken",
                &[WaitlistStatus::Offered][..],
                WaitlistStatus::Waiting,
            ),
        ] {
            let ids: Vec<Uuid> = entries.iter().map(|e| e.id).collect();
            if ids.is_empty() {
                continue;
            }
            let result = offer::Entity::update_many()
                .col_expr(offer::Column::Status, Expr::value(offer_status))
                .filter(offer::Column::PractitionerId.eq(practitioner_id))
                .filter(offer::Column::SlotStart.eq(slot_start))
                .filter(offer::Column::Status.eq("offered"))
                .filter(offer::Column::EntryId.is_in(ids.clone()))
                .exec(conn)
                .await;
            self.db(result)?;
            self.check(set_status(conn, &ids, from, to, now).await)?;
        }
        // An entry fulfilled or expired meanwhile has nothing more to hear about this slot.
        let open_only = |entries: Vec<WaitlistEntry>| {
            entries
                .into_iter()
                .filter(|e| OPEN.contains(&e.status))
                .collect()
        };
        Ok(SlotSettled {
            won: open_only(won),
            taken: open_only(taken),
        })
    }
}
