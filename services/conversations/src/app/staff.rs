//! What clinic staff do through the API: open a conversation, change it (close, pause
//! the bot, assign, set the locale or patient), write to the patient, read and restart
//! the conversation state. Nothing is written when a request fails.

use std::sync::Arc;

use prm_ai::{IntakeField, IntakeState};
use prm_domain::{
    Channel, Locale, Media, PhoneNumber,
    conversation::{Author, Conversation, ConversationStatus, Message, Stage},
    events::{ConversationClosed, ConversationUpdated, Envelope},
};
use prm_platform::FieldError;
use prm_store::{
    Conflict, StoreError,
    audit::{Actor, AuditChange, conversation_snapshot},
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{AfterCommit, App, ConversationError, clinic};
use crate::journey::{JourneyState, PATIENT_TEXTS_KEPT};

const SOURCE: &str = "conversations";
/// WhatsApp's limit for a text message.
pub const MAX_BODY_CHARS: usize = 4096;
const MAX_ASSIGNEE_CHARS: usize = 200;
const MAX_MEDIA: usize = 10;

/// A conversation staff open.
#[derive(Debug, Clone)]
pub struct NewConversationRequest {
    pub phone: String,
    pub channel: String,
    pub patient_id: Option<Uuid>,
    pub locale: Option<String>,
}

/// The fields of a PATCH; absent means unchanged. `assignee: Some(None)` (JSON null)
/// clears it.
#[derive(Debug, Clone, Default)]
pub struct ConversationChanges {
    pub status: Option<String>,
    pub bot_paused: Option<bool>,
    pub locale: Option<String>,
    pub patient_id: Option<Option<Uuid>>,
    pub assignee: Option<Option<String>>,
}

/// The conversation state as `GET …/state` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StateView {
    pub conversation_id: Uuid,
    pub stage: Stage,
    pub required_fields: Vec<String>,
    pub extracted_data: Map<String, Value>,
    pub locale: Locale,
    pub expires_in_seconds: u64,
    /// Redis had nothing (expired, flushed or unreachable): rebuilt from the database.
    pub rebuilt: bool,
}

fn locale_of(raw: Option<&str>, field: &str, errors: &mut Vec<FieldError>) -> Option<Locale> {
    match raw.map(str::parse::<Locale>) {
        None => None,
        Some(Ok(l)) => Some(l),
        Some(Err(e)) => {
            errors.push(FieldError::new(field, e));
            None
        }
    }
}

impl App {
    pub async fn create_conversation(
        self: &Arc<Self>,
        req: NewConversationRequest,
        actor: &Actor,
    ) -> Result<Conversation, ConversationError> {
        let mut errors = Vec::new();
        let phone = PhoneNumber::parse(req.phone.trim(), &self.config.default_country_code)
            .map_err(|e| errors.push(FieldError::new("phone", e.to_string())))
            .ok();
        let channel = req
            .channel
            .trim()
            .parse::<Channel>()
            .map_err(|e| errors.push(FieldError::new("channel", e)))
            .ok();
        let locale = locale_of(req.locale.as_deref(), "locale", &mut errors);
        if let Some(id) = req.patient_id {
            self.check_patient(id, &mut errors).await?;
        }
        let (Some(phone), Some(channel)) = (phone, channel) else {
            return Err(ConversationError::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(ConversationError::Invalid(errors));
        }
        if let Some(existing) = self.store.open_conversation_of(&phone).await? {
            return Err(ConversationError::Exists {
                existing: Some(existing.conversation.id),
            });
        }
        match self
            .open_conversation_as(
                &phone,
                channel,
                "staff",
                req.patient_id,
                locale.unwrap_or(self.config.default_locale),
                Some(actor),
            )
            .await
        {
            Ok(c) => Ok(c),
            Err(ConversationError::Store(StoreError::Conflict(Conflict::ConversationExists))) => {
                let existing = self
                    .store
                    .open_conversation_of(&phone)
                    .await?
                    .map(|r| r.conversation.id);
                Err(ConversationError::Exists { existing })
            }
            Err(e) => Err(e),
        }
    }

    async fn check_patient(
        &self,
        id: Uuid,
        errors: &mut Vec<FieldError>,
    ) -> Result<(), ConversationError> {
        match self.store.get_patient(id).await {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound(_)) => {
                errors.push(FieldError::new("patient_id", "no patient has this id"));
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn conversation(&self, id: Uuid) -> Result<Conversation, ConversationError> {
        Ok(self.store.get_conversation(id).await?.conversation)
    }

    /// PATCH: every change validated before anything is written; closing publishes
    /// CONVERSATION_CLOSED, any change CONVERSATION_UPDATED; resuming the bot of an
    /// escalated conversation returns the journey to the stage it had.
    pub async fn change_conversation(
        self: &Arc<Self>,
        id: Uuid,
        changes: ConversationChanges,
        actor: &Actor,
    ) -> Result<Conversation, ConversationError> {
        let mut errors = Vec::new();
        let status = changes.status.as_deref().and_then(|s| {
            s.parse::<ConversationStatus>()
                .map_err(|e| errors.push(FieldError::new("status", e)))
                .ok()
        });
        let locale = locale_of(changes.locale.as_deref(), "locale", &mut errors);
        let assignee = changes
            .assignee
            .clone()
            .map(|a| a.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()));
        if let Some(Some(a)) = &assignee
            && (a.chars().count() > MAX_ASSIGNEE_CHARS || a.chars().any(char::is_control))
        {
            errors.push(FieldError::new(
                "assignee",
                format!(
                    "must be at most {MAX_ASSIGNEE_CHARS} characters, without control characters"
                ),
            ));
        }
        if let Some(Some(patient_id)) = changes.patient_id {
            self.check_patient(patient_id, &mut errors).await?;
        }
        if !errors.is_empty() {
            return Err(ConversationError::Invalid(errors));
        }
        let (app, status, locale, assignee, changes) =
            (self, &status, &locale, &assignee, &changes);
        let (c, changed) = self
            .store
            .write(&self.producer, |tx| {
                Box::pin(async move {
                    let record = match tx.lock_conversation(id).await {
                        Err(StoreError::NotFound(_)) => return Err(ConversationError::NotFound),
                        other => other?,
                    };
                    let before = record.conversation.clone();
                    let mut c = record.conversation;
                    let mut journey = JourneyState::from_json(record.journey.as_ref());
                    let mut changed = Vec::new();
                    if let Some(status) = *status
                        && status != c.status
                    {
                        c.status = status;
                        changed.push("status");
                    }
                    if let Some(paused) = changes.bot_paused
                        && paused != c.bot_paused
                    {
                        c.bot_paused = paused;
                        changed.push("bot_paused");
                        if !paused && c.stage == Stage::Escalated {
                            c.stage = journey.resume_stage.take().unwrap_or(Stage::Intake);
                            journey.escalation_reason = None;
                        }
                    }
                    if let Some(locale) = *locale
                        && locale != c.locale
                    {
                        c.locale = locale;
                        if let Some(intake) = journey.intake.as_mut() {
                            intake.locale = locale;
                        }
                        changed.push("locale");
                    }
                    if let Some(patient_id) = changes.patient_id
                        && patient_id != c.patient_id
                    {
                        c.patient_id = patient_id;
                        changed.push("patient_id");
                    }
                    if let Some(assignee) = assignee
                        && *assignee != c.assignee
                    {
                        c.assignee = assignee.clone();
                        changed.push("assignee");
                    }
                    if changed.is_empty() {
                        return Ok((before, changed));
                    }
                    let now = app.now();
                    c.updated_at = now;
                    if let Err(e) = tx
                        .save_conversation_awaiting(
                            &c,
                            Some(&journey.to_json()),
                            journey.awaiting.as_ref().map(|a| a.deadline),
                        )
                        .await
                    {
                        return Err(match e {
                            StoreError::Conflict(Conflict::ConversationExists) => {
                                ConversationError::Exists { existing: None }
                            }
                            e => e.into(),
                        });
                    }
                    let change = AuditChange::of("conversation.updated", "conversation", c.id)
                        .with(
                            Some(conversation_snapshot(&before)),
                            Some(conversation_snapshot(&c)),
                        );
                    tx.record_audit(actor, &change).await?;
                    tx.announce(Envelope::new(
                        SOURCE,
                        ConversationUpdated {
                            conversation_id: c.id,
                            changed: changed.iter().map(|s| (*s).to_owned()).collect(),
                            status: c.status.as_str().to_owned(),
                            bot_paused: c.bot_paused,
                            assignee: c.assignee.clone(),
                            locale: c.locale,
                            patient_id: c.patient_id,
                            updated_at: now,
                        },
                    ));
                    if c.status == ConversationStatus::Closed
                        && before.status != ConversationStatus::Closed
                    {
                        tx.announce(Envelope::new(
                            SOURCE,
                            ConversationClosed {
                                conversation_id: c.id,
                                patient_id: c.patient_id,
                                stage: c.stage.as_str().to_owned(),
                                closed_at: now,
                            },
                        ));
                    }
                    Ok((c, changed))
                })
            })
            .await?;
        if changed.is_empty() {
            return Ok(c);
        }
        tracing::info!(conversation_id = %c.id, changed = ?changed, "conversation changed by staff");
        let mut after = AfterCommit::default();
        after.touch(c.id);
        self.after_commit(after).await;
        Ok(c)
    }

    /// A message written by staff: recorded, then sent on the conversation's channel.
    pub async fn staff_message(
        self: &Arc<Self>,
        id: Uuid,
        body: String,
        media: Vec<Media>,
        actor: &Actor,
    ) -> Result<Message, ConversationError> {
        // The length as sent, as the schema's `maxLength` counts it.
        let too_long = body.chars().count() > MAX_BODY_CHARS;
        let body = body.trim().to_owned();
        let mut errors = Vec::new();
        if body.is_empty() && media.is_empty() {
            errors.push(FieldError::new("body", "write a message (or attach media)"));
        } else if too_long {
            errors.push(FieldError::new(
                "body",
                format!("must be at most {MAX_BODY_CHARS} characters"),
            ));
        } else if body
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
        {
            errors.push(FieldError::new(
                "body",
                "must not contain control characters",
            ));
        }
        if media.len() > MAX_MEDIA {
            errors.push(FieldError::new(
                "media",
                format!("at most {MAX_MEDIA} attachments"),
            ));
        }
        for (i, m) in media.iter().enumerate() {
            if !is_media_url(&m.url) {
                errors.push(FieldError::new(
                    format!("media[{i}].url"),
                    "must be an http(s) URL of a host name, in printable ASCII, of at most 2000 characters",
                ));
            }
            if m.content_type.trim().is_empty() || m.content_type.len() > 100 {
                errors.push(FieldError::new(
                    format!("media[{i}].content_type"),
                    "must be a media type such as image/jpeg",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ConversationError::Invalid(errors));
        }
        let (app, body, media) = (self, &body, &media);
        let (message, after) = self
            .store
            .write(&self.producer, |tx| {
                Box::pin(async move {
                    let mut after = AfterCommit::default();
                    let record = match tx.lock_conversation(id).await {
                        Err(StoreError::NotFound(_)) => return Err(ConversationError::NotFound),
                        other => other?,
                    };
                    let mut c = record.conversation;
                    if c.status == ConversationStatus::Closed {
                        return Err(ConversationError::Closed);
                    }
                    let message = app
                        .record_outbound(
                            tx,
                            &c,
                            Uuid::now_v7(),
                            Author::Staff,
                            body,
                            media.clone(),
                            Some("staff_message".to_owned()),
                            None,
                            &mut after,
                        )
                        .await?;
                    // That a message was sent, and which: never its body.
                    let change = AuditChange::of("message.sent", "message", message.id).with(
                        None,
                        Some(serde_json::json!({
                            "id": message.id,
                            "conversation_id": c.id,
                            "media": media.len(),
                        })),
                    );
                    tx.record_audit(actor, &change).await?;
                    c.last_message_at = Some(app.now());
                    c.updated_at = app.now();
                    tx.save_conversation(&c, record.journey.as_ref()).await?;
                    Ok((message, after))
                })
            })
            .await?;
        self.after_commit(after).await;
        Ok(message)
    }

    /// The state from Redis, or rebuilt from the database (and cached again) when Redis
    /// has none or does not answer.
    pub async fn state(&self, id: Uuid) -> Result<StateView, ConversationError> {
        if let Some(cached) = self.cache.load(id).await {
            let stage = cached.fields.get("stage").and_then(|s| s.parse().ok());
            let locale = cached.fields.get("locale").and_then(|s| s.parse().ok());
            if let (Some(stage), Some(locale)) = (stage, locale) {
                let extracted_data = cached
                    .fields
                    .get("extracted_data")
                    .and_then(|e| serde_json::from_str::<Value>(e).ok())
                    .and_then(|v| v.as_object().cloned())
                    .unwrap_or_default();
                return Ok(StateView {
                    conversation_id: id,
                    stage,
                    required_fields: cached.required_fields,
                    extracted_data,
                    locale,
                    expires_in_seconds: cached.expires_in.map_or(0, |d| d.as_secs()),
                    rebuilt: false,
                });
            }
        }
        let record = match self.store.get_conversation(id).await {
            Err(StoreError::NotFound(_)) => return Err(ConversationError::NotFound),
            other => other?,
        };
        self.refresh_cache(id).await;
        Ok(view_of(
            &record.conversation,
            &JourneyState::from_json(record.journey.as_ref()),
            self.cache.ttl().as_secs(),
            true,
        ))
    }

    /// (Re)starts the intake, asking `required_fields` (default: every §8 field a known
    /// patient has not already given), in §8 order.
    pub async fn initialize_state(
        self: &Arc<Self>,
        id: Uuid,
        required_fields: Option<Vec<String>>,
        actor: &Actor,
    ) -> Result<StateView, ConversationError> {
        let fields = match required_fields {
            None => None,
            Some(names) => {
                let mut errors = Vec::new();
                let mut fields = Vec::new();
                for (i, name) in names.iter().enumerate() {
                    match name.parse::<IntakeField>() {
                        Ok(f) if !fields.contains(&f) => fields.push(f),
                        Ok(_) => errors.push(FieldError::new(
                            format!("required_fields[{i}]"),
                            "is listed twice",
                        )),
                        Err(_) => errors.push(FieldError::new(
                            format!("required_fields[{i}]"),
                            format!(
                                "`{name}` is not an intake field ({})",
                                IntakeField::ORDER.map(|f| f.as_str()).join(", ")
                            ),
                        )),
                    }
                }
                if !errors.is_empty() {
                    return Err(ConversationError::Invalid(errors));
                }
                Some(fields)
            }
        };
        let phone = match self.store.get_conversation(id).await {
            Err(StoreError::NotFound(_)) => return Err(ConversationError::NotFound),
            other => other?.conversation.phone,
        };
        // Read before the transaction: on SQLite it holds the only connection.
        let known = clinic::known_patient(&self.store, &phone).await?;
        let (app, known, fields) = (self, &known, &fields);
        let (c, journey) = self
            .store
            .write(&self.producer, |tx| {
                Box::pin(async move {
                    let record = match tx.lock_conversation(id).await {
                        Err(StoreError::NotFound(_)) => return Err(ConversationError::NotFound),
                        other => other?,
                    };
                    let mut c = record.conversation;
                    if c.status == ConversationStatus::Closed {
                        return Err(ConversationError::Closed);
                    }
                    let before = conversation_snapshot(&c);
                    let previous = JourneyState::from_json(record.journey.as_ref());
                    let mut intake =
                        IntakeState::start(c.locale, known.as_ref().map(clinic::as_known).as_ref());
                    if let Some(fields) = fields {
                        intake.required_fields.retain(|f| fields.contains(f));
                    }
                    let mut journey = JourneyState {
                        intake: Some(intake),
                        ..JourneyState::default()
                    };
                    journey.patient_texts = previous
                        .patient_texts
                        .into_iter()
                        .rev()
                        .take(PATIENT_TEXTS_KEPT)
                        .rev()
                        .collect();
                    c.stage = Stage::Intake;
                    c.updated_at = app.now();
                    tx.save_conversation_awaiting(&c, Some(&journey.to_json()), None)
                        .await?;
                    let change =
                        AuditChange::of("conversation.state_initialized", "conversation", c.id)
                            .with(Some(before), Some(conversation_snapshot(&c)));
                    tx.record_audit(actor, &change).await?;
                    Ok::<_, ConversationError>((c, journey))
                })
            })
            .await?;
        let mut after = AfterCommit::default();
        after.touch(c.id);
        self.after_commit(after).await;
        Ok(view_of(&c, &journey, self.cache.ttl().as_secs(), false))
    }
}

fn view_of(
    c: &Conversation,
    journey: &JourneyState,
    expires_in_seconds: u64,
    rebuilt: bool,
) -> StateView {
    let (required_fields, extracted_data) = match &journey.intake {
        Some(intake) => (
            intake
                .required_fields
                .iter()
                .map(|f| f.as_str().to_owned())
                .collect(),
            intake.extracted.to_json(),
        ),
        None => (
            IntakeField::ORDER
                .iter()
                .map(|f| f.as_str().to_owned())
                .collect(),
            Map::new(),
        ),
    };
    StateView {
        conversation_id: c.id,
        stage: c.stage,
        required_fields,
        extracted_data,
        locale: c.locale,
        expires_in_seconds,
        rebuilt,
    }
}

/// A media URL staff may attach (the schema's `Media.url` pattern says the same): `http`
/// or `https`, a host name whose last label starts with a letter, an optional port, then
/// anything in printable ASCII; at most 2000 characters. IP literals, user info and
/// spaces are refused: the URL is handed to the provider and shown to people.
fn is_media_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    if url.len() > 2000 || !url.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok =
        |l: &&str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    labels.iter().all(label_ok)
        && labels
            .last()
            .is_some_and(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
        && port.is_none_or(|p| {
            !p.is_empty()
                && p.len() <= 5
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok()
        })
}

#[cfg(test)]
mod media_url_tests {
    use super::is_media_url;

    #[test]
    fn media_urls_are_http_urls_of_host_names() {
        for good in [
            "https://cdn.example.com/a.jpg",
            "http://media:8080/x?y=1#z",
            "https://a-b.example/x[1]",
            "https://host:65535",
        ] {
            assert!(is_media_url(good), "{good}");
        }
        for bad in [
            "ftp://x/y",
            "http://[",
            "http://[::1]/a",
            "http://user@host/a",
            "http://1.2.3.4/a",
            "http://host:65536/",
            "http://host:/",
            "http://ho st/",
            "http:///a",
            "https://café.example/",
        ] {
            assert!(!is_media_url(bad), "{bad}");
        }
        assert!(!is_media_url(&format!(
            "https://a.example/{}",
            "x".repeat(2000)
        )));
    }
}
