//! The catalog: every event type with its payload struct, tied together once.

use super::*;

macro_rules! catalog {
    ($($variant:ident($ty:ident)),* $(,)?) => {
        /// Any event of the catalog, typed.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $($variant($ty),)*
        }

        impl Event {
            pub fn event_type(&self) -> EventType {
                match self {
                    $(Self::$variant(_) => EventType::$variant,)*
                }
            }

            pub fn into_envelope(self, source: impl Into<String>) -> Envelope {
                match self {
                    $(Self::$variant(data) => Envelope::new(source, data),)*
                }
            }

            pub(super) fn from_envelope(envelope: &Envelope) -> Result<Self, EventDecodeError> {
                match envelope.kind()? {
                    $(EventType::$variant => envelope.data_as::<$ty>().map(Self::$variant),)*
                }
            }

            /// The catalog's example envelope of `event_type` (fixed id and time).
            pub fn example_envelope(event_type: EventType) -> Envelope {
                let occurred_at = DateTime::parse_from_rfc3339("2026-11-22T14:03:07Z")
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_default();
                match event_type {
                    $(EventType::$variant => Envelope::at(
                        event_type.producer(),
                        $ty::example(),
                        example_id(event_type as u128),
                        occurred_at,
                    ),)*
                }
            }
        }

        $(
            impl EventData for $ty {
                const TYPE: EventType = EventType::$variant;
                fn example() -> Self {
                    examples::$variant()
                }
            }

            impl From<$ty> for Event {
                fn from(data: $ty) -> Self {
                    Self::$variant(data)
                }
            }
        )*
    };
}

catalog! {
    MessageReceived(MessageReceived),
    IntakeUpdated(IntakeUpdated),
    TriageCompleted(TriageCompleted),
    BookingAction(BookingAction),
    SlotSelectionReceived(SlotSelectionReceived),
    SlotsOffered(SlotsOffered),
    AppointmentCreated(AppointmentCreated),
    AppointmentCancelled(AppointmentCancelled),
    AppointmentRescheduled(AppointmentRescheduled),
    MessageSendRequested(MessageSendRequested),
    MessageSent(MessageSent),
    MessageStatusUpdated(MessageStatusUpdated),
    ConversationOpened(ConversationOpened),
    ConversationUpdated(ConversationUpdated),
    ConversationClosed(ConversationClosed),
    ConversationEscalated(ConversationEscalated),
    TriageProposed(TriageProposed),
    ReminderDue(ReminderDue),
}

fn example_id(n: u128) -> Uuid {
    Uuid::from_u128(0x0193_5a2e_7c40_7000_8000_0000_0000_0000 | (n + 1))
}
