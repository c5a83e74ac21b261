//! Reminder jobs: the messages due after a booking (a reminder before it, a follow-up,
//! a no-show note), kept in the database so that a restart loses none.
//!
//! A job is `scheduled` until it ends once, as `sent`, `skipped` or `cancelled`. A
//! runner [claims](Store::claim_due_reminders) due jobs with a lease, then
//! [finishes](Tx::finish_reminder) each in the transaction that announces it: the
//! finish only changes a job still scheduled and still leased to that runner, so of
//! two replicas (or one whose lease ran out and was retaken) only one announces it.

use chrono::{DateTime, TimeDelta, Utc};
use prm_domain::events::ReminderKind;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, LockBehavior, LockType},
};
use uuid::Uuid;

use crate::{Store, StoreError, Tx, entities::reminder_job};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderStatus {
    /// Waiting for its due time.
    Scheduled,
    /// REMINDER_DUE was announced.
    Sent,
    /// Not sent, and never will be (`outcome` says why: `late`…).
    Skipped,
    /// Called off before it was due (the appointment was cancelled, moved, changed).
    Cancelled,
}

impl ReminderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Sent => "sent",
            Self::Skipped => "skipped",
            Self::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "scheduled" => Self::Scheduled,
            "sent" => Self::Sent,
            "skipped" => Self::Skipped,
            "cancelled" => Self::Cancelled,
            other => return Err(StoreError::corrupt("reminder status", other)),
        })
    }
}

fn kind_of(s: &str) -> Result<ReminderKind, StoreError> {
    Ok(match s {
        "reminder" => ReminderKind::Reminder,
        "follow_up" => ReminderKind::FollowUp,
        "no_show" => ReminderKind::NoShow,
        other => return Err(StoreError::corrupt("reminder kind", other)),
    })
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ReminderJob {
    pub id: Uuid,
    pub appointment_id: Uuid,
    pub kind: ReminderKind,
    /// The configured rule a reminder came from (`1d@10:00`, `30m`); none for the others.
    pub rule: Option<String>,
    pub due_at: DateTime<Utc>,
    /// How late it may still be sent; later, it is skipped as `late`.
    pub window: TimeDelta,
    pub status: ReminderStatus,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    /// How often a runner claimed it.
    pub attempts: u32,
    /// Why it ended as it did (`late`, `appointment_cancelled`…); none when sent.
    pub outcome: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A job to schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReminderJob {
    pub id: Uuid,
    pub appointment_id: Uuid,
    pub kind: ReminderKind,
    pub rule: Option<String>,
    pub due_at: DateTime<Utc>,
    pub window: TimeDelta,
}

fn job_from(m: reminder_job::Model) -> Result<ReminderJob, StoreError> {
    Ok(ReminderJob {
        id: m.id,
        appointment_id: m.appointment_id,
        kind: kind_of(&m.kind)?,
        rule: m.rule,
        due_at: m.due_at,
        window: TimeDelta::minutes(i64::from(m.window_minutes)),
        status: ReminderStatus::parse(&m.status)?,
        lease_owner: m.lease_owner,
        lease_until: m.lease_until,
        attempts: u32::try_from(m.attempts).unwrap_or(0),
        outcome: m.outcome,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn scheduled() -> &'static str {
    ReminderStatus::Scheduled.as_str()
}

impl Tx<'_> {
    /// Schedules `job` (at `now`, the service's clock).
    pub async fn schedule_reminder(
        &self,
        job: &NewReminderJob,
        now: DateTime<Utc>,
    ) -> Result<ReminderJob, StoreError> {
        let row = reminder_job::ActiveModel {
            id: Set(job.id),
            appointment_id: Set(job.appointment_id),
            kind: Set(job.kind.as_str().to_owned()),
            rule: Set(job.rule.clone()),
            due_at: Set(job.due_at),
            window_minutes: Set(i32::try_from(job.window.num_minutes()).unwrap_or(i32::MAX)),
            status: Set(scheduled().to_owned()),
            lease_owner: Set(None),
            lease_until: Set(None),
            attempts: Set(0),
            outcome: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.conn())
        .await;
        job_from(self.db(row)?)
    }

    /// The appointment's jobs of `kind` that are still scheduled.
    pub async fn scheduled_reminders(
        &self,
        appointment_id: Uuid,
        kind: ReminderKind,
    ) -> Result<Vec<ReminderJob>, StoreError> {
        let rows = reminder_job::Entity::find()
            .filter(reminder_job::Column::AppointmentId.eq(appointment_id))
            .filter(reminder_job::Column::Kind.eq(kind.as_str()))
            .filter(reminder_job::Column::Status.eq(scheduled()))
            .order_by_asc(reminder_job::Column::DueAt)
            .all(self.conn())
            .await;
        self.db(rows)?.into_iter().map(job_from).collect()
    }

    /// Moves a scheduled job to `due_at` (a lease taken on the old time is dropped).
    /// False when it is no longer scheduled.
    pub async fn move_reminder(
        &self,
        id: Uuid,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = reminder_job::Entity::update_many()
            .col_expr(reminder_job::Column::DueAt, Expr::value(due_at))
            .col_expr(
                reminder_job::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                reminder_job::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(reminder_job::Column::UpdatedAt, Expr::value(now))
            .filter(reminder_job::Column::Id.eq(id))
            .filter(reminder_job::Column::Status.eq(scheduled()))
            .exec(self.conn())
            .await;
        Ok(self.db(result)?.rows_affected == 1)
    }

    /// Ends job `id` as `status` with `outcome`, if it is still scheduled (whoever holds
    /// it: a runner that claimed it then finds it ended and announces nothing).
    pub async fn end_reminder(
        &self,
        id: Uuid,
        status: ReminderStatus,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = reminder_job::Entity::update_many()
            .col_expr(reminder_job::Column::Status, Expr::value(status.as_str()))
            .col_expr(reminder_job::Column::Outcome, Expr::value(outcome))
            .col_expr(
                reminder_job::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(reminder_job::Column::UpdatedAt, Expr::value(now))
            .filter(reminder_job::Column::Id.eq(id))
            .filter(reminder_job::Column::Status.eq(scheduled()))
            .exec(self.conn())
            .await;
        Ok(self.db(result)?.rows_affected == 1)
    }

    /// Ends every scheduled job of the appointment whose kind is in `kinds` as `status`
    /// with `outcome`; the jobs it ended.
    pub async fn end_reminders(
        &self,
        appointment_id: Uuid,
        kinds: &[ReminderKind],
        status: ReminderStatus,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<ReminderJob>, StoreError> {
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let rows = reminder_job::Entity::find()
            .filter(reminder_job::Column::AppointmentId.eq(appointment_id))
            .filter(reminder_job::Column::Kind.is_in(kinds))
            .filter(reminder_job::Column::Status.eq(scheduled()))
            .all(self.conn())
            .await;
        let mut ended = Vec::new();
        for row in self.db(rows)? {
            let mut job = row.into_active_model();
            job.status = Set(status.as_str().to_owned());
            job.outcome = Set(Some(outcome.to_owned()));
            job.lease_owner = Set(None);
            job.lease_until = Set(None);
            job.updated_at = Set(now);
            ended.push(job_from(self.db(job.update(self.conn()).await)?)?);
        }
        Ok(ended)
    }

    /// Ends job `id` as `status` (with `outcome`), provided it is still scheduled and
    /// leased to `owner`: false when another runner took it (its lease ran out) or it
    /// was ended meanwhile. The one runner that gets true announces it.
    pub async fn finish_reminder(
        &self,
        id: Uuid,
        owner: &str,
        status: ReminderStatus,
        outcome: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = reminder_job::Entity::update_many()
            .col_expr(reminder_job::Column::Status, Expr::value(status.as_str()))
            .col_expr(
                reminder_job::Column::Outcome,
                Expr::value(outcome.map(str::to_owned)),
            )
            .col_expr(
                reminder_job::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(reminder_job::Column::UpdatedAt, Expr::value(now))
            .filter(reminder_job::Column::Id.eq(id))
            .filter(reminder_job::Column::Status.eq(scheduled()))
            .filter(reminder_job::Column::LeaseOwner.eq(owner))
            .exec(self.conn())
            .await;
        Ok(self.db(result)?.rows_affected == 1)
    }
}

impl Store {
    /// Claims up to `limit` scheduled jobs due at `now` that no runner holds (or whose
    /// runner's lease ran out: a crashed replica's jobs are taken over), leasing them to
    /// `owner` until `now + lease`. On PostgreSQL the rows are picked `FOR UPDATE SKIP
    /// LOCKED`, so replicas polling at once claim different jobs; SQLite has one writer
    /// at a time, and a runner that read before another's claim committed is refused
    /// (busy) and claims again on the fresh rows.
    pub async fn claim_due_reminders(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: u64,
    ) -> Result<Vec<ReminderJob>, StoreError> {
        self.transaction(|tx| {
            Box::pin(async move {
                let rows = reminder_job::Entity::find()
                    .filter(reminder_job::Column::Status.eq(scheduled()))
                    .filter(reminder_job::Column::DueAt.lte(now))
                    .filter(
                        Condition::any()
                            .add(reminder_job::Column::LeaseUntil.is_null())
                            .add(reminder_job::Column::LeaseUntil.lt(now)),
                    )
                    .order_by_asc(reminder_job::Column::DueAt)
                    .limit(limit)
                    .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
                    .all(tx.conn())
                    .await;
                let mut claimed = Vec::new();
                for row in tx.db(rows)? {
                    let attempts = row.attempts.saturating_add(1);
                    let mut job = row.into_active_model();
                    job.lease_owner = Set(Some(owner.to_owned()));
                    job.lease_until = Set(Some(now + lease));
                    job.attempts = Set(attempts);
                    job.updated_at = Set(now);
                    claimed.push(job_from(tx.db(job.update(tx.conn()).await)?)?);
                }
                Ok(claimed)
            })
        })
        .await
    }

    /// Every job of the appointment, by due time.
    pub async fn reminders_of(&self, appointment_id: Uuid) -> Result<Vec<ReminderJob>, StoreError> {
        let rows = reminder_job::Entity::find()
            .filter(reminder_job::Column::AppointmentId.eq(appointment_id))
            .order_by_asc(reminder_job::Column::DueAt)
            .order_by_asc(reminder_job::Column::Id)
            .all(&self.reads())
            .await?;
        rows.into_iter().map(job_from).collect()
    }

    /// How many scheduled jobs are due at `now` and not sent yet.
    pub async fn due_reminder_count(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(reminder_job::Entity::find()
            .filter(reminder_job::Column::Status.eq(scheduled()))
            .filter(reminder_job::Column::DueAt.lte(now))
            .count(&self.reads())
            .await?)
    }
}
