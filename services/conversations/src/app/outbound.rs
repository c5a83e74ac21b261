//! Sending what was recorded. Each outbound message was written `pending` in the
//! transaction that decided it; here one sender at a time per conversation claims the
//! oldest, hands it to the provider and records the answer:
//!
//! * accepted → the provider's id and status (and MESSAGE_SENT);
//! * refused for now and surely not sent (rate limit, provider unavailable) → pending
//!   again after the provider's `Retry-After` or a backoff, up to a few attempts;
//! * refused for good → `failed` with the provider's code;
//! * unknown (a timeout after the request went out) → `failed` / `outcome_unknown`,
//!   never sent again: a patient must not get a message twice.
//!
//! Before it goes out:
//!
//! * a WhatsApp message outside the 24-hour session window (the patient never wrote, or
//!   last did over 24 h ago) goes out as its purpose's approved provider
//!   template (Twilio `ContentSid` + `ContentVariables`, Meta template), or, with none,
//!   is `failed` / `outside_session_window` without reaching the provider;
//! * a bulk message (reminders, follow-ups, no-shows) whose sender number has used its
//!   pace goes back to `pending` until its turn (`pacing`).
//!
//! A crash between claim and answer leaves the message claimed; the sweeper gives it up
//! as `outcome_unknown` after a while, and sends whatever is still pending.

use std::{sync::Arc, time::Duration};

use chrono::TimeDelta;
use prm_domain::{
    Channel,
    conversation::{DeliveryStatus, Provider},
    events::{Envelope, MessageProvider, MessageSent},
};
use prm_runtime::CancellationToken;
use prm_store::conversations::OutboundClaim;
use prm_twilio::{MessageStatus, OutboundMessage, SendError};
use uuid::Uuid;

use super::{AfterCommit, App, ConversationError, pacing};

const SOURCE: &str = "conversations";
/// Why a WhatsApp message outside the 24-hour window was not sent: it has no approved
/// provider template to go out as.
pub const OUTSIDE_SESSION_WINDOW: &str = "outside_session_window";
/// WhatsApp's customer service window: free-form messages only this long after the
/// patient last wrote.
const SESSION_WINDOW: TimeDelta = TimeDelta::hours(24);

/// Whether WhatsApp would refuse a free-form message now: the patient never wrote, or
/// last did more than 24 hours ago. Any channel counts, so a voice call continued on
/// WhatsApp gets its text (if WhatsApp still refuses it, the provider's code shows).
fn outside_session_window(claim: &OutboundClaim, now: chrono::DateTime<chrono::Utc>) -> bool {
    claim
        .last_inbound_at
        .is_none_or(|at| now - at > SESSION_WINDOW)
}

impl App {
    /// Sends the conversation's pending messages in order, until none is left or
    /// another sender holds the conversation.
    pub async fn send_pending(self: &Arc<Self>, conversation_id: Uuid) {
        loop {
            let claim = match self.store.claim_outbound(conversation_id, self.now()).await {
                Ok(Some(claim)) => claim,
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(%conversation_id, %error, "could not claim an outbound message; the sweeper retries");
                    return;
                }
            };
            if let Err(error) = self.send_claimed(claim).await {
                tracing::warn!(%conversation_id, %error, "could not record a send's outcome");
                return;
            }
        }
    }

    async fn send_claimed(self: &Arc<Self>, claim: OutboundClaim) -> Result<(), ConversationError> {
        let message_id = claim.message.id;
        let channel = claim.message.channel;
        let (provider, sender) = self.senders.route(claim.reply_provider);
        let now = self.now();
        let mut after = AfterCommit::default();
        after.touch(claim.message.conversation_id);
        let mut outbound = match channel {
            Channel::Sms => OutboundMessage::sms(claim.to.clone(), claim.message.body.clone()),
            _ => OutboundMessage::whatsapp(claim.to.clone(), claim.message.body.clone()),
        };
        if channel == Channel::Whatsapp && outside_session_window(&claim, now) {
            // WhatsApp takes only an approved template: the purpose's, or nothing.
            let template = match &claim.template {
                Some(usage) => self.provider_template(usage, provider).await?,
                None => None,
            };
            let Some((twilio, meta)) = template else {
                tracing::warn!(%message_id, provider = provider.as_str(), "outside the 24-hour window and no provider template for this message; marked failed, not sent");
                metrics::counter!(
                    "prm_messages_failed_total",
                    "provider" => provider.as_str(),
                    "reason" => OUTSIDE_SESSION_WINDOW
                )
                .increment(1);
                self.store
                    .outbound_failed(message_id, provider, OUTSIDE_SESSION_WINDOW, now)
                    .await?;
                self.after_send(after).await;
                return Ok(());
            };
            outbound.body = None;
            outbound.template = twilio;
            outbound.whatsapp_template = meta;
        } else {
            for media in &claim.message.media {
                outbound = outbound.with_media(media.url.clone());
            }
        }
        if pacing::is_bulk(claim.message.purpose.as_deref())
            && let Err(wait) = self.pacer.check(provider)
        {
            // Its turn has not come: back to pending until it has, not counted as an
            // attempt; the sweeper sends it then.
            let until = now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::seconds(1));
            tracing::debug!(%message_id, provider = provider.as_str(), wait_ms = wait.as_millis() as u64, "bulk send paced");
            self.store.outbound_defer(message_id, until, now).await?;
            return Ok(());
        }
        if provider == Provider::Twilio {
            outbound = outbound.with_status_callback(self.config.status_callback_url());
        }
        let result = sender.send(outbound).await;
        let now = self.now();
        match result {
            Ok(sent) => {
                let status = if provider == Provider::Recording {
                    DeliveryStatus::Recorded
                } else {
                    delivery_status(sent.status)
                };
                let (to, sent) = (&claim.to, &sent);
                self.store
                    .write(&self.producer, |tx| {
                        Box::pin(async move {
                            let message = tx
                                .outbound_accepted(
                                    message_id,
                                    provider,
                                    &sent.provider_message_id,
                                    status,
                                    now,
                                )
                                .await?;
                            tx.announce(Envelope::new(
                                SOURCE,
                                MessageSent {
                                    message_id,
                                    conversation_id: Some(message.conversation_id),
                                    provider: message_provider(provider),
                                    provider_message_id: Some(sent.provider_message_id.clone()),
                                    channel,
                                    to: to.clone(),
                                    sent_at: now,
                                },
                            ));
                            Ok::<_, ConversationError>(())
                        })
                    })
                    .await?;
                tracing::info!(%message_id, provider = provider.as_str(), status = status.as_str(), "message handed to the provider");
                metrics::counter!("prm_messages_sent_total", "provider" => provider.as_str())
                    .increment(1);
            }
            Err(error) => {
                self.send_failed(&claim, provider, &error, now).await?;
            }
        }
        self.after_send(after).await;
        Ok(())
    }

    async fn send_failed(
        &self,
        claim: &OutboundClaim,
        provider: Provider,
        error: &SendError,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ConversationError> {
        let message_id = claim.message.id;
        let code = error.provider_code().unwrap_or(error.reason());
        if error.is_transient() && claim.attempt < self.config.max_send_attempts {
            let wait = error
                .retry_after()
                .unwrap_or_else(|| backoff(claim.attempt));
            let retry_at = now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::seconds(5));
            tracing::warn!(%message_id, provider = provider.as_str(), code, attempt = claim.attempt, retry_in_ms = wait.as_millis() as u64, "provider did not take the message; it is sent again later");
            self.store
                .outbound_retry_later(message_id, Some(code), retry_at, now)
                .await?;
            return Ok(());
        }
        tracing::warn!(%message_id, provider = provider.as_str(), code, reason = error.reason(), "message not sent; marked failed");
        metrics::counter!(
            "prm_messages_failed_total",
            "provider" => provider.as_str(),
            "reason" => error.reason()
        )
        .increment(1);
        self.store
            .outbound_failed(message_id, provider, code, now)
            .await?;
        Ok(())
    }

    async fn after_send(self: &Arc<Self>, after: AfterCommit) {
        for id in &after.conversations {
            self.refresh_cache(*id).await;
        }
        self.stream.wake();
    }

    /// Sends what a crash or a provider's delay left pending, and gives up on sends
    /// that never got an answer, until `stop`.
    pub fn spawn_sweeper(self: &Arc<Self>, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let app = self.clone();
        tokio::spawn(async move {
            loop {
                app.sweep().await;
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(app.config.sweep_every) => {}
                }
            }
        })
    }

    /// One sweep (tests call it directly).
    pub async fn sweep(self: &Arc<Self>) {
        let now = self.now();
        let stuck_after =
            TimeDelta::from_std(self.config.stuck_send_after).unwrap_or(TimeDelta::minutes(2));
        match self.store.abandon_stuck_sends(now - stuck_after, now).await {
            Ok(abandoned) if !abandoned.is_empty() => {
                for m in &abandoned {
                    tracing::warn!(message_id = %m.id, "a send never got its answer recorded; marked failed (outcome_unknown), not sent again");
                }
                self.stream.wake();
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "sweep of stuck sends failed"),
        }
        // Written a few seconds ago and still pending: its turn's own send did not run.
        let written_before = now - TimeDelta::seconds(5);
        match self
            .store
            .conversations_with_due_messages(written_before, now, 100)
            .await
        {
            Ok(conversations) => {
                for conversation_id in conversations {
                    self.send_pending(conversation_id).await;
                }
            }
            Err(error) => tracing::warn!(%error, "sweep of pending messages failed"),
        }
        self.expire_awaited_turns().await;
    }
}

/// 2 s, 4 s, 8 s… between attempts a provider refused for now without saying how long.
fn backoff(attempt: i32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(u32::try_from(attempt).unwrap_or(1).clamp(1, 8)))
}

/// The provider's answer to a send, as a delivery status.
fn delivery_status(status: MessageStatus) -> DeliveryStatus {
    match status {
        MessageStatus::Sent => DeliveryStatus::Sent,
        MessageStatus::Delivered => DeliveryStatus::Delivered,
        MessageStatus::Read => DeliveryStatus::Read,
        MessageStatus::Failed | MessageStatus::Canceled => DeliveryStatus::Failed,
        MessageStatus::Undelivered => DeliveryStatus::Undelivered,
        _ => DeliveryStatus::Queued,
    }
}

fn message_provider(p: Provider) -> MessageProvider {
    match p {
        Provider::Twilio => MessageProvider::Twilio,
        Provider::Meta => MessageProvider::Meta,
        Provider::VoiceAgent => MessageProvider::VoiceAgent,
        Provider::Staff | Provider::Recording => MessageProvider::Recording,
    }
}
