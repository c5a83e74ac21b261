//! The clinic's numbers over a date range: messages per day and channel, active
//! patients, the bot's median response time, intake completion, bookings,
//! cancellations and no-shows.
//!
//! The queries are plain selects and counts that read the same on PostgreSQL and
//! SQLite; days, medians and distinct phones are computed here in Rust, so no
//! dialect's date functions are involved and days are the clinic's local days.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use prm_domain::{
    AppointmentStatus, TimeZone,
    conversation::{Author, Direction, Stage},
    events::ReminderKind,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::{
    Store, StoreError,
    conversations::{conversation, message},
    entities::{appointment, reminder_job},
};

/// What to count: messages, conversations and appointments of `[from, to)`, days in
/// `timezone`; active patients relative to `now`.
#[derive(Debug, Clone)]
pub struct StatsQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub timezone: TimeZone,
    pub now: DateTime<Utc>,
}

/// Messages of one local day on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyMessages {
    pub date: NaiveDate,
    pub channel: String,
    pub inbound: u64,
    pub outbound: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClinicStats {
    /// By date, then channel.
    pub messages_per_day: Vec<DailyMessages>,
    pub inbound_messages: u64,
    pub outbound_messages: u64,
    /// Distinct phones that wrote in the last 24 hours / 7 days before `now`.
    pub active_patients_24h: u64,
    pub active_patients_7d: u64,
    /// Median seconds from a patient's message to the bot's next message; `None`
    /// without any answered message.
    pub median_bot_response_seconds: Option<f64>,
    pub bot_responses: u64,
    pub conversations_opened: u64,
    /// Of those, the ones that reached triage or a later stage.
    pub conversations_triaged: u64,
    pub bookings: u64,
    pub cancellations: u64,
    pub no_shows: u64,
    /// Reminders (kind `reminder`) sent in the range.
    pub reminders_sent: u64,
    /// Of the appointments those reminders were about, the ones the patient confirmed.
    pub reminders_confirmed: u64,
}

/// One message as the figures need it (never its body).
#[derive(Debug, Clone)]
pub struct MessageFact {
    pub conversation_id: Uuid,
    pub direction: Direction,
    pub author: Author,
    pub channel: String,
    pub at: DateTime<Utc>,
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

/// Seconds the bot took to answer, per answered patient message run: from the first
/// patient message not yet answered to the next outbound message of the conversation,
/// counted when that message is the bot's (a staff answer ends the wait without a
/// sample). `messages` are in conversation order.
pub fn bot_response_times(messages: &[MessageFact]) -> Vec<f64> {
    let mut waiting: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
    let mut samples = Vec::new();
    for m in messages {
        match (m.direction, m.author) {
            (Direction::Inbound, Author::Patient) => {
                waiting.entry(m.conversation_id).or_insert(m.at);
            }
            (Direction::Outbound, author) => {
                if let Some(since) = waiting.remove(&m.conversation_id)
                    && author == Author::Bot
                {
                    samples.push((m.at - since).num_milliseconds() as f64 / 1000.0);
                }
            }
            _ => {}
        }
    }
    samples
}

/// Messages per local day and channel.
pub fn per_day(messages: &[MessageFact], timezone: &TimeZone) -> Vec<DailyMessages> {
    let mut days: BTreeMap<(NaiveDate, String), (u64, u64)> = BTreeMap::new();
    for m in messages {
        let date = m.at.with_timezone(&timezone.tz()).date_naive();
        let counts = days.entry((date, m.channel.clone())).or_default();
        match m.direction {
            Direction::Inbound => counts.0 += 1,
            Direction::Outbound => counts.1 += 1,
        }
    }
    days.into_iter()
        .map(|((date, channel), (inbound, outbound))| DailyMessages {
            date,
            channel,
            inbound,
            outbound,
        })
        .collect()
}

fn parse<T: std::str::FromStr<Err = String>>(what: &str, raw: &str) -> Result<T, StoreError> {
    raw.parse().map_err(|e| StoreError::corrupt(what, e))
}

impl Store {
    pub async fn clinic_stats(&self, q: &StatsQuery) -> Result<ClinicStats, StoreError> {
        let rows: Vec<(Uuid, String, String, String, DateTime<Utc>)> = message::Entity::find()
            .select_only()
            .column(message::Column::ConversationId)
            .column(message::Column::Direction)
            .column(message::Column::Author)
            .column(message::Column::Channel)
            .column(message::Column::CreatedAt)
            .filter(message::Column::CreatedAt.gte(q.from))
            .filter(message::Column::CreatedAt.lt(q.to))
            .order_by_asc(message::Column::ConversationId)
            .order_by_asc(message::Column::Seq)
            .into_tuple()
            .all(&self.reads())
            .await?;
        let messages = rows
            .into_iter()
            .map(|(conversation_id, direction, author, channel, at)| {
                Ok(MessageFact {
                    conversation_id,
                    direction: parse("message direction", &direction)?,
                    author: parse("message author", &author)?,
                    channel,
                    at,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let inbound_messages = messages
            .iter()
            .filter(|m| m.direction == Direction::Inbound)
            .count() as u64;
        let mut response_times = bot_response_times(&messages);

        let week_ago = q.now - Duration::days(7);
        let day_ago = q.now - Duration::hours(24);
        let writers: Vec<(String, Option<DateTime<Utc>>)> = conversation::Entity::find()
            .select_only()
            .column(conversation::Column::Phone)
            .column(conversation::Column::LastInboundAt)
            .filter(conversation::Column::LastInboundAt.gte(week_ago))
            .filter(conversation::Column::LastInboundAt.lte(q.now))
            .into_tuple()
            .all(&self.reads())
            .await?;
        let mut week: HashSet<&str> = HashSet::new();
        let mut day: HashSet<&str> = HashSet::new();
        for (phone, last) in &writers {
            week.insert(phone);
            if last.is_some_and(|t| t >= day_ago) {
                day.insert(phone);
            }
        }

        let stages: Vec<String> = conversation::Entity::find()
            .select_only()
            .column(conversation::Column::Stage)
            .filter(conversation::Column::CreatedAt.gte(q.from))
            .filter(conversation::Column::CreatedAt.lt(q.to))
            .into_tuple()
            .all(&self.reads())
            .await?;
        let mut conversations_triaged = 0;
        for stage in &stages {
            if matches!(
                parse::<Stage>("conversation stage", stage)?,
                Stage::Triage | Stage::Offering | Stage::Booked
            ) {
                conversations_triaged += 1;
            }
        }

        let bookings = appointment::Entity::find()
            .filter(appointment::Column::CreatedAt.gte(q.from))
            .filter(appointment::Column::CreatedAt.lt(q.to))
            .count(&self.reads())
            .await?;
        let cancellations = appointment::Entity::find()
            .filter(appointment::Column::Status.eq(AppointmentStatus::Cancelled.as_str()))
            .filter(appointment::Column::UpdatedAt.gte(q.from))
            .filter(appointment::Column::UpdatedAt.lt(q.to))
            .count(&self.reads())
            .await?;
        let no_shows = appointment::Entity::find()
            .filter(appointment::Column::Status.eq(AppointmentStatus::Noshow.as_str()))
            .filter(appointment::Column::StartAt.gte(q.from))
            .filter(appointment::Column::StartAt.lt(q.to))
            .count(&self.reads())
            .await?;

        // Reminders sent in the range, and how many of their appointments the patient
        // confirmed (`confirmed_at`, set by a reminder's "1").
        let reminded: Vec<Uuid> = reminder_job::Entity::find()
            .select_only()
            .column(reminder_job::Column::AppointmentId)
            .filter(reminder_job::Column::Kind.eq(ReminderKind::Reminder.as_str()))
            .filter(reminder_job::Column::Status.eq("sent"))
            .filter(reminder_job::Column::UpdatedAt.gte(q.from))
            .filter(reminder_job::Column::UpdatedAt.lt(q.to))
            .into_tuple()
            .all(&self.reads())
            .await?;
        let mut appointments: Vec<Uuid> = reminded.clone();
        appointments.sort_unstable();
        appointments.dedup();
        let mut reminders_confirmed = 0;
        for ids in appointments.chunks(500) {
            reminders_confirmed += appointment::Entity::find()
                .filter(appointment::Column::Id.is_in(ids.iter().copied()))
                .filter(appointment::Column::ConfirmedAt.is_not_null())
                .count(&self.reads())
                .await?;
        }

        Ok(ClinicStats {
            reminders_sent: reminded.len() as u64,
            reminders_confirmed,
            messages_per_day: per_day(&messages, &q.timezone),
            inbound_messages,
            outbound_messages: messages.len() as u64 - inbound_messages,
            active_patients_24h: day.len() as u64,
            active_patients_7d: week.len() as u64,
            bot_responses: response_times.len() as u64,
            median_bot_response_seconds: median(&mut response_times),
            conversations_opened: stages.len() as u64,
            conversations_triaged,
            bookings,
            cancellations,
            no_shows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(conversation: u128, direction: Direction, author: Author, secs: i64) -> MessageFact {
        MessageFact {
            conversation_id: Uuid::from_u128(conversation),
            direction,
            author,
            channel: "whatsapp".to_owned(),
            at: DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn median_of_odd_even_and_none() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn bot_response_is_measured_from_the_first_unanswered_patient_message() {
        use Author::*;
        use Direction::*;
        let messages = [
            fact(1, Inbound, Patient, 0),
            fact(1, Inbound, Patient, 5),
            fact(1, Outbound, Bot, 12),
            fact(1, Outbound, Bot, 13),
            fact(1, Inbound, Patient, 100),
            fact(1, Outbound, Staff, 110),
            fact(1, Outbound, Bot, 500),
            fact(2, Inbound, Patient, 0),
            fact(2, Outbound, Bot, 3),
            fact(3, Inbound, Patient, 0),
        ];
        assert_eq!(bot_response_times(&messages), vec![12.0, 3.0]);
    }
}
