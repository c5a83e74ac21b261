//! TwiML answers to Twilio webhooks.
//!
//! Webhooks answer at once with [`EMPTY_RESPONSE`] and send replies through the REST
//! API; [`MessagingResponse`] is for the rare reply that can go back inline.

/// The `Content-Type` of a TwiML answer.
pub const CONTENT_TYPE: &str = "text/xml";

/// "Received, nothing to say": what a webhook answers before doing the work.
pub const EMPTY_RESPONSE: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#;

/// A `<Response>` of `<Message>` replies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessagingResponse {
    messages: Vec<Reply>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    body: String,
    media: Vec<String>,
}

impl MessagingResponse {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a text reply.
    pub fn message(self, body: impl Into<String>) -> Self {
        self.message_with_media(body, Vec::new())
    }

    /// Adds a reply with media attachments (public URLs).
    pub fn message_with_media(mut self, body: impl Into<String>, media: Vec<String>) -> Self {
        self.messages.push(Reply {
            body: body.into(),
            media,
        });
        self
    }

    /// The TwiML document; [`EMPTY_RESPONSE`] when there are no replies.
    pub fn to_xml(&self) -> String {
        if self.messages.is_empty() {
            return EMPTY_RESPONSE.to_owned();
        }
        let mut xml = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#);
        for reply in &self.messages {
            if reply.media.is_empty() {
                xml.push_str("<Message>");
                xml.push_str(&escape_xml(&reply.body));
                xml.push_str("</Message>");
            } else {
                xml.push_str("<Message><Body>");
                xml.push_str(&escape_xml(&reply.body));
                xml.push_str("</Body>");
                for url in &reply.media {
                    xml.push_str("<Media>");
                    xml.push_str(&escape_xml(url));
                    xml.push_str("</Media>");
                }
                xml.push_str("</Message>");
            }
        }
        xml.push_str("</Response>");
        xml
    }
}

/// Escapes text for XML content and attributes, and drops the control characters
/// XML 1.0 cannot carry at all (a stray one would make Twilio reject the document).
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_response_is_exact() {
        assert_eq!(
            EMPTY_RESPONSE,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>"
        );
        assert_eq!(CONTENT_TYPE, "text/xml");
        assert_eq!(MessagingResponse::new().to_xml(), EMPTY_RESPONSE);
    }

    #[test]
    fn replies_are_escaped() {
        let xml = MessagingResponse::new()
            .message("Café <b>&</b> \"2\" 'pm'\u{0}")
            .to_xml();
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>Café &lt;b&gt;&amp;&lt;/b&gt; &quot;2&quot; &apos;pm&apos;</Message></Response>"
        );
    }

    #[test]
    fn media_replies_use_body_and_media_elements() {
        let xml = MessagingResponse::new()
            .message("one")
            .message_with_media("two", vec!["https://x/a.jpg?x=1&y=2".into()])
            .to_xml();
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>one</Message><Message><Body>two</Body><Media>https://x/a.jpg?x=1&amp;y=2</Media></Message></Response>"
        );
    }
}
