//! The conversation-state keys of ARCHITECTURE §5, built in one place so no
//! caller spells them by hand. Users inspect these names with `redis-cli`, so
//! they are a contract: exactly these, behind the adapter's `REDIS_KEY_PREFIX`
//! (which the adapters add; these builders never do).

use uuid::Uuid;

/// `conversation:{id}:state`: the hash of the journey in flight (stage,
/// extracted data, locale…).
pub fn conversation_state(conversation_id: Uuid) -> String {
    format!("conversation:{conversation_id}:state")
}

/// `conversation:{id}:required_fields`: the list of intake fields still to ask.
pub fn required_fields(conversation_id: Uuid) -> String {
    format!("conversation:{conversation_id}:required_fields")
}

/// `conversation:{id}:messages`: the recent history (a capped list).
pub fn recent_messages(conversation_id: Uuid) -> String {
    format!("conversation:{conversation_id}:messages")
}

/// `phone_to_convo:{phone}`: which conversation a patient's number is in.
/// `phone` is the normalized E.164 number, as the conversations service keeps it.
pub fn phone_to_conversation(phone: &str) -> String {
    format!("phone_to_convo:{phone}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_exactly_those_of_the_architecture() {
        let id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_002a);
        let id_text = "01900000-0000-7000-8000-00000000002a";
        assert_eq!(
            conversation_state(id),
            format!("conversation:{id_text}:state")
        );
        assert_eq!(
            required_fields(id),
            format!("conversation:{id_text}:required_fields")
        );
        assert_eq!(
            recent_messages(id),
            format!("conversation:{id_text}:messages")
        );
        assert_eq!(
            phone_to_conversation("+573001112233"),
            "phone_to_convo:+573001112233"
        );
    }
}
