//! AMQP topic matching, for the in-process bus (RabbitMQ does its own).

/// True when `routing_key` matches the binding `pattern`: words are separated by `.`,
/// `*` stands for exactly one word and `#` for zero or more words.
pub fn routing_key_matches(pattern: &str, routing_key: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('.').collect();
    let key: Vec<&str> = routing_key.split('.').collect();
    matches(&pattern, &key)
}

fn matches(pattern: &[&str], key: &[&str]) -> bool {
    match pattern.split_first() {
        None => key.is_empty(),
        Some((&"#", rest)) => (0..=key.len()).any(|skip| matches(rest, &key[skip..])),
        Some((&word, rest)) => match key.split_first() {
            Some((&k, key_rest)) => (word == "*" || word == k) && matches(rest, key_rest),
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::routing_key_matches as m;

    #[test]
    fn topic_wildcards_behave_like_rabbitmq() {
        assert!(m("appointment.created", "appointment.created"));
        assert!(!m("appointment.created", "appointment.cancelled"));
        assert!(m("appointment.*", "appointment.created"));
        assert!(!m("appointment.*", "message.send.requested"));
        assert!(!m("*", "appointment.created"));
        assert!(m("#", "appointment.created"));
        assert!(m("message.#", "message.send.requested"));
        assert!(m("message.#", "message"));
        assert!(m("#.requested", "message.send.requested"));
        assert!(m("*.send.*", "message.send.requested"));
        assert!(!m("appointment.created.x", "appointment.created"));
    }
}
