//! Providers' delivery reports (MESSAGE_STATUS_UPDATED) and other services' requests to
//! message a patient (MESSAGE_SEND_REQUESTED).

use std::sync::Arc;

use prm_bus::Delivery;
use prm_domain::{
    conversation::{Author, ConversationStatus, Provider},
    events::{MessageSendRequested, MessageStatusUpdated},
};

use super::{AfterCommit, App, ConversationError, PROCESSED};

impl App {
    /// MESSAGE_STATUS_UPDATED: the status only moves forward, whatever order the
    /// callbacks arrive in; a report about a send whose answer is not recorded yet is
    /// kept and applied when it is.
    pub async fn on_status_updated(
        self: &Arc<Self>,
        delivery: &Delivery,
    ) -> Result<(), ConversationError> {
        let data: MessageStatusUpdated = delivery.envelope.data_as()?;
        let (data, consumer, event_id) = (&data, delivery.consumer.as_str(), delivery.envelope.id);
        let now = self.now();
        let changed = self
            .store
            .write(&self.producer, |tx| {
                Box::pin(async move {
                    if !tx.record_processed(PROCESSED, consumer, event_id).await? {
                        return Ok::<_, ConversationError>(None);
                    }
                    Ok(tx
                        .apply_delivery_report(
                            Provider::from(data.provider),
                            &data.provider_message_id,
                            data.status.into(),
                            data.error_code.as_deref(),
                            now,
                        )
                        .await?)
                })
            })
            .await?;
        if let Some(message) = changed {
            tracing::debug!(message_id = %message.id, status = ?message.delivery_status, "delivery status updated");
            self.refresh_cache(message.conversation_id).await;
            self.stream.wake();
        }
        Ok(())
    }

    /// MESSAGE_SEND_REQUESTED: recorded once by its `message_id`, then sent like any
    /// reply, on the conversation it names or the phone's open one.
    pub async fn on_send_requested(
        self: &Arc<Self>,
        delivery: &Delivery,
    ) -> Result<(), ConversationError> {
        let data: MessageSendRequested = delivery.envelope.data_as()?;
        let conversation_id = match data.conversation_id {
            Some(id) => match self.store.get_conversation(id).await {
                Ok(r) if r.conversation.status != ConversationStatus::Closed => id,
                Ok(_) | Err(prm_store::StoreError::NotFound(_)) => {
                    self.ensure_conversation(&data.to, data.channel, "system", None)
                        .await?
                }
                Err(e) => return Err(ConversationError::from(e)),
            },
            None => {
                self.ensure_conversation(&data.to, data.channel, "system", None)
                    .await?
            }
        };
        let (app, data, consumer, event_id) = (
            self,
            &data,
            delivery.consumer.as_str(),
            delivery.envelope.id,
        );
        let after = self
            .store
            .write(&self.producer, |tx| {
                Box::pin(async move {
                    let mut after = AfterCommit::default();
                    if !tx.record_processed(PROCESSED, consumer, event_id).await? {
                        return Ok(after);
                    }
                    let record = tx.lock_conversation(conversation_id).await?;
                    if tx.message_exists(data.message_id).await? {
                        return Ok(after);
                    }
                    let mut c = record.conversation;
                    app.record_outbound(
                        tx,
                        &c,
                        data.message_id,
                        Author::Bot,
                        &data.body,
                        data.media.clone(),
                        data.purpose.clone(),
                        None,
                        &mut after,
                    )
                    .await?;
                    c.last_message_at = Some(app.now());
                    c.updated_at = app.now();
                    tx.save_conversation(&c, record.journey.as_ref()).await?;
                    Ok::<_, ConversationError>(after)
                })
            })
            .await?;
        self.after_commit(after).await;
        Ok(())
    }
}
