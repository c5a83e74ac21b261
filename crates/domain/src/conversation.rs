//! Conversations and their messages (ARCHITECTURE §5 resource shapes, §8): one open
//! conversation per patient phone, every message in and out recorded, and the journey
//! stage it has reached.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::{Channel, Locale, Media, PhoneNumber, events::MessageProvider};

/// Generates `as_str`, `ALL`, `Display` and `FromStr` for a unit-only enum whose wire
/// names are given (the serde names must be the same).
macro_rules! names {
    ($ty:ident { $($variant:ident = $name:literal),* $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| {
                        let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                        format!("`{s}` is not one of {}", names.join(", "))
                    })
            }
        }
    };
}

/// Whether staff still have to deal with a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ConversationStatus {
    Open,
    Pending,
    Snoozed,
    Closed,
}

names!(ConversationStatus {
    Open = "open",
    Pending = "pending",
    Snoozed = "snoozed",
    Closed = "closed",
});

/// Where the booking journey stands (§8): `intake` → `triage` → `offering` → `booked`;
/// `escalated` when a red flag needs staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Intake,
    Triage,
    Offering,
    Booked,
    Escalated,
}

names!(Stage {
    Intake = "intake",
    Triage = "triage",
    Offering = "offering",
    Booked = "booked",
    Escalated = "escalated",
});

impl Stage {
    /// The journey's order: a callback for a stage the conversation has left is late.
    pub fn rank(self) -> u8 {
        match self {
            Self::Intake => 0,
            Self::Triage => 1,
            Self::Offering => 2,
            Self::Booked => 3,
            Self::Escalated => 4,
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Author {
    Patient,
    Bot,
    Staff,
}

names!(Author {
    Patient = "patient",
    Bot = "bot",
    Staff = "staff",
});

/// `inbound` (from the patient) or `outbound` (to the patient).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

names!(Direction {
    Inbound = "inbound",
    Outbound = "outbound",
});

/// Who carried a message (§8): the patient's provider for inbound messages, the sender
/// for outbound ones; `staff` for a staff message no provider carries (a channel PRM
/// cannot send on), `recording` for the embedded sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Twilio,
    Meta,
    VoiceAgent,
    Staff,
    Recording,
}

names!(Provider {
    Twilio = "twilio",
    Meta = "meta",
    VoiceAgent = "voice_agent",
    Staff = "staff",
    Recording = "recording",
});

impl From<MessageProvider> for Provider {
    fn from(p: MessageProvider) -> Self {
        match p {
            MessageProvider::Twilio => Self::Twilio,
            MessageProvider::Meta => Self::Meta,
            MessageProvider::VoiceAgent => Self::VoiceAgent,
            MessageProvider::Recording => Self::Recording,
        }
    }
}

/// What became of an outbound message (§8). It only moves forward: queued → sent →
/// delivered → read; `failed` and `undelivered` are final whatever arrives later;
/// `recorded` is the embedded sender's (nothing left the process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Queued,
    Sent,
    Delivered,
    Read,
    Failed,
    Undelivered,
    Recorded,
}

names!(DeliveryStatus {
    Queued = "queued",
    Sent = "sent",
    Delivered = "delivered",
    Read = "read",
    Failed = "failed",
    Undelivered = "undelivered",
    Recorded = "recorded",
});

impl DeliveryStatus {
    /// Nothing changes a final status.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Failed | Self::Undelivered | Self::Recorded)
    }

    fn rank(self) -> u8 {
        match self {
            Self::Queued => 0,
            Self::Sent => 1,
            Self::Delivered => 2,
            Self::Read => 3,
            Self::Failed | Self::Undelivered | Self::Recorded => 4,
        }
    }

    /// The status after `reported` arrives, or `None` when it would move backwards
    /// (callbacks arrive in any order) or the current one is final.
    pub fn advance(current: Option<Self>, reported: Self) -> Option<Self> {
        match current {
            None => Some(reported),
            Some(c) if c.is_final() || reported.rank() <= c.rank() => None,
            Some(_) => Some(reported),
        }
    }
}

impl From<crate::events::DeliveryStatus> for DeliveryStatus {
    fn from(s: crate::events::DeliveryStatus) -> Self {
        use crate::events::DeliveryStatus as E;
        match s {
            E::Queued => Self::Queued,
            E::Sent => Self::Sent,
            E::Delivered => Self::Delivered,
            E::Read => Self::Read,
            E::Failed => Self::Failed,
            E::Undelivered => Self::Undelivered,
        }
    }
}

/// A conversation with one patient phone (§5 shape plus §8's fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: Uuid,
    pub patient_id: Option<Uuid>,
    pub phone: PhoneNumber,
    pub channel: Channel,
    pub status: ConversationStatus,
    pub stage: Stage,
    pub locale: Locale,
    pub bot_paused: bool,
    pub assignee: Option<String>,
    /// The provider the patient last wrote from: replies go out through it.
    pub reply_provider: Option<Provider>,
    /// When the patient last wrote (WhatsApp's 24-hour window starts there).
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One message in or out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub direction: Direction,
    pub author: Author,
    pub channel: Channel,
    pub provider: Provider,
    pub body: String,
    pub media: Vec<Media>,
    /// A voice note's text, when it was transcribed.
    pub transcription: Option<String>,
    /// What an outbound message is about (`intake_question`, `slot_offer`…).
    pub purpose: Option<String>,
    pub provider_message_id: Option<String>,
    pub delivery_status: Option<DeliveryStatus>,
    /// Why an outbound message failed: the provider's code (`63016`, `131047`…) or ours
    /// (`outcome_unknown`, `opted_out`…).
    pub error_code: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Message {
    /// The text the journey reads: the transcription of a voice note, else the body.
    pub fn text(&self) -> &str {
        match (&self.transcription, self.body.trim().is_empty()) {
            (Some(t), true) => t,
            _ => &self.body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_status_only_moves_forward() {
        use DeliveryStatus::*;
        assert_eq!(DeliveryStatus::advance(None, Sent), Some(Sent));
        assert_eq!(
            DeliveryStatus::advance(Some(Queued), Delivered),
            Some(Delivered)
        );
        assert_eq!(
            DeliveryStatus::advance(Some(Delivered), Sent),
            None,
            "late sent"
        );
        assert_eq!(DeliveryStatus::advance(Some(Read), Delivered), None);
        assert_eq!(
            DeliveryStatus::advance(Some(Read), Read),
            None,
            "nothing new"
        );
        assert_eq!(DeliveryStatus::advance(Some(Sent), Failed), Some(Failed));
        assert_eq!(DeliveryStatus::advance(Some(Failed), Read), None, "final");
        assert_eq!(DeliveryStatus::advance(Some(Undelivered), Delivered), None);
        assert_eq!(DeliveryStatus::advance(Some(Recorded), Sent), None);
        assert_eq!(
            DeliveryStatus::advance(Some(Read), Undelivered),
            Some(Undelivered)
        );
    }

    #[test]
    fn names_round_trip_and_match_serde() {
        for s in Stage::ALL {
            assert_eq!(s.as_str().parse::<Stage>(), Ok(*s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::json!(s.as_str()))
            );
        }
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(*p));
            assert_eq!(
                serde_json::to_value(p).ok(),
                Some(serde_json::json!(p.as_str()))
            );
        }
        for d in DeliveryStatus::ALL {
            assert_eq!(d.as_str().parse::<DeliveryStatus>(), Ok(*d));
            assert_eq!(
                serde_json::to_value(d).ok(),
                Some(serde_json::json!(d.as_str()))
            );
        }
        for a in Author::ALL {
            assert_eq!(
                serde_json::to_value(a).ok(),
                Some(serde_json::json!(a.as_str()))
            );
        }
        for s in ConversationStatus::ALL {
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::json!(s.as_str()))
            );
        }
        assert!("archived".parse::<ConversationStatus>().is_err());
    }

    #[test]
    fn the_journey_reads_a_voice_notes_transcription() {
        let mut m = Message {
            id: Uuid::nil(),
            conversation_id: Uuid::nil(),
            direction: Direction::Inbound,
            author: Author::Patient,
            channel: Channel::Whatsapp,
            provider: Provider::Twilio,
            body: String::new(),
            media: vec![],
            transcription: Some("necesito una cita".into()),
            purpose: None,
            provider_message_id: None,
            delivery_status: None,
            error_code: None,
            created_at: Utc::now(),
        };
        assert_eq!(m.text(), "necesito una cita");
        m.body = "hola".into();
        assert_eq!(m.text(), "hola", "typed text wins");
    }
}
