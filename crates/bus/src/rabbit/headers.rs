//! Reading and writing AMQP header values.

use lapin::types::{AMQPValue, FieldTable, LongString};

pub(super) fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

/// `s` cut to at most `max` bytes, on a character boundary.
pub(super) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

pub(super) fn header_str(headers: &FieldTable, name: &str) -> Option<String> {
    match headers.inner().get(name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// A counter header of any integer type (brokers and clients differ); 0 when missing
/// or not a number.
pub(super) fn header_u32(headers: &FieldTable, name: &str) -> u32 {
    let value = match headers.inner().get(name) {
        Some(AMQPValue::ShortShortInt(v)) => i64::from(*v),
        Some(AMQPValue::ShortShortUInt(v)) => i64::from(*v),
        Some(AMQPValue::ShortInt(v)) => i64::from(*v),
        Some(AMQPValue::ShortUInt(v)) => i64::from(*v),
        Some(AMQPValue::LongInt(v)) => i64::from(*v),
        Some(AMQPValue::LongUInt(v)) => i64::from(*v),
        Some(AMQPValue::LongLongInt(v)) => *v,
        _ => 0,
    };
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HEADER_ATTEMPTS;

    #[test]
    fn attempts_header_tolerates_any_integer_and_garbage() {
        let mut h = FieldTable::default();
        assert_eq!(header_u32(&h, HEADER_ATTEMPTS), 0);
        h.insert(HEADER_ATTEMPTS.into(), AMQPValue::LongLongInt(3));
        assert_eq!(header_u32(&h, HEADER_ATTEMPTS), 3);
        h.insert(HEADER_ATTEMPTS.into(), AMQPValue::LongInt(-4));
        assert_eq!(header_u32(&h, HEADER_ATTEMPTS), 0);
        h.insert(HEADER_ATTEMPTS.into(), long_string("many"));
        assert_eq!(header_u32(&h, HEADER_ATTEMPTS), 0);
        assert_eq!(header_str(&h, HEADER_ATTEMPTS).as_deref(), Some("many"));
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("ñandú", 2), "ñ");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
