//! Conversations and messages (owned by the conversations service). Writes take the
//! caller's connection or transaction so that a change, its messages and the events
//! announcing them commit together.
//!
//! Sending is split in two so a crash can neither send a message twice nor lose it: the
//! message is written `pending` in the transaction of the turn that decided it; then one
//! sender at a time per conversation claims the oldest pending message
//! ([`Store::claim_outbound`]), sends it and records the provider's answer.

use chrono::{DateTime, Utc};
use prm_domain::{
    Channel, Locale, Media, PhoneNumber,
    conversation::{
        Author, Conversation, ConversationStatus, DeliveryStatus, Direction, Message, Provider,
        Stage,
    },
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use uuid::Uuid;

use crate::{Page, Paged, Store, StoreError, Tx, clinic, templates::TemplateUse};

pub(crate) mod conversation {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "conversations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub phone: String,
        pub patient_id: Option<Uuid>,
        pub channel: String,
        pub status: String,
        pub stage: String,
        pub locale: String,
        pub bot_paused: bool,
        pub assignee: Option<String>,
        pub reply_provider: Option<String>,
        pub journey: Option<String>,
        pub awaiting_until: Option<DateTimeUtc>,
        pub last_inbound_at: Option<DateTimeUtc>,
        pub last_message_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod message {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "messages")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub seq: i64,
        pub id: Uuid,
        pub conversation_id: Uuid,
        pub direction: String,
        pub author: String,
        pub channel: String,
        pub provider: String,
        pub body: String,
        pub media: String,
        pub transcription: Option<String>,
        pub purpose: Option<String>,
        pub inbound_message_id: Option<Uuid>,
        pub provider_message_id: Option<String>,
        pub dispatch: String,
        pub delivery_status: Option<String>,
        pub error_code: Option<String>,
        pub send_attempts: i32,
        pub next_attempt_at: Option<DateTimeUtc>,
        pub template: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod delivery_report {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "delivery_reports")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub provider: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub provider_message_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub status: String,
        pub error_code: Option<String>,
        pub reported_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Our side of sending an outbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// Written, waiting for its turn (or for `next_attempt_at` after a refusal to wait).
    Pending,
    /// Claimed by a sender: the provider may or may not have it.
    Sending,
    /// The provider answered (or the message failed for good): nothing left to do.
    Done,
    /// Inbound messages are not sent.
    Inbound,
}

impl Dispatch {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Done => "done",
            Self::Inbound => "inbound",
        }
    }
}

/// A conversation and the journey state kept with it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRecord {
    pub conversation: Conversation,
    /// The journey's state as JSON (the conversations service owns its shape).
    pub journey: Option<serde_json::Value>,
}

/// A conversation to open.
#[derive(Debug, Clone)]
pub struct NewConversation {
    pub id: Uuid,
    pub phone: PhoneNumber,
    pub channel: Channel,
    pub patient_id: Option<Uuid>,
    pub locale: Locale,
    pub stage: Stage,
    pub at: DateTime<Utc>,
}

/// A message to record.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub direction: Direction,
    pub author: Author,
    pub channel: Channel,
    pub provider: Provider,
    pub body: String,
    pub media: Vec<Media>,
    pub transcription: Option<String>,
    pub purpose: Option<String>,
    /// The webhooks service's id of an inbound message (stored once).
    pub inbound_message_id: Option<Uuid>,
    pub provider_message_id: Option<String>,
    /// `Pending` for a message to send; `Done` with a status for one recorded as it is.
    pub dispatch: Dispatch,
    pub delivery_status: Option<DeliveryStatus>,
    /// The template it was rendered from, so it can go out as the provider's approved
    /// template outside WhatsApp's 24-hour window; `None` for any other message.
    pub template: Option<TemplateUse>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub phone: Option<PhoneNumber>,
    pub status: Option<ConversationStatus>,
    pub stage: Option<Stage>,
    pub patient_id: Option<Uuid>,
    pub channel: Option<Channel>,
    pub bot_paused: Option<bool>,
}

/// What a sender claimed: the message and where to send it.
#[derive(Debug, Clone)]
pub struct OutboundClaim {
    pub message: Message,
    pub to: PhoneNumber,
    /// The provider the patient last wrote from, if any.
    pub reply_provider: Option<Provider>,
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// The template the message was rendered from, if any.
    pub template: Option<TemplateUse>,
    pub attempt: i32,
}

fn parse<T: std::str::FromStr<Err = String>>(what: &str, raw: &str) -> Result<T, StoreError> {
    raw.parse().map_err(|e| StoreError::corrupt(what, e))
}

fn conversation_from(m: conversation::Model) -> Result<ConversationRecord, StoreError> {
    let journey = m
        .journey
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| StoreError::corrupt("conversation journey", e))?;
    Ok(ConversationRecord {
        conversation: Conversation {
            id: m.id,
            patient_id: m.patient_id,
            phone: PhoneNumber::parse(&m.phone, "1")
                .map_err(|e| StoreError::corrupt("conversation phone", e))?,
            channel: parse("conversation channel", &m.channel)?,
            status: parse("conversation status", &m.status)?,
            stage: parse("conversation stage", &m.stage)?,
            locale: parse("conversation locale", &m.locale)?,
            bot_paused: m.bot_paused,
            assignee: m.assignee,
            reply_provider: m
                .reply_provider
                .as_deref()
                .map(|p| parse("reply provider", p))
                .transpose()?,
            last_inbound_at: m.last_inbound_at,
            last_message_at: m.last_message_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        },
        journey,
    })
}

fn message_from(m: message::Model) -> Result<Message, StoreError> {
    Ok(Message {
        id: m.id,
        conversation_id: m.conversation_id,
        direction: parse("message direction", &m.direction)?,
        author: parse("message author", &m.author)?,
        channel: parse("message channel", &m.channel)?,
        provider: parse("message provider", &m.provider)?,
        body: m.body,
        media: serde_json::from_str(&m.media).map_err(|e| StoreError::corrupt("media", e))?,
        transcription: m.transcription,
        purpose: m.purpose,
        provider_message_id: m.provider_message_id,
        delivery_status: m
            .delivery_status
            .as_deref()
            .map(|s| parse("delivery status", s))
            .transpose()?,
        error_code: m.error_code,
        created_at: m.created_at,
    })
}

impl Store {
    pub async fn get_conversation(&self, id: Uuid) -> Result<ConversationRecord, StoreError> {
        let row = conversation::Entity::find_by_id(id)
            .one(self.connection())
            .await?;
        conversation_from(row.ok_or(StoreError::NotFound("conversation"))?)
    }

    /// Newest `last_message_at` first (conversations without messages last, newest
    /// first among them).
    pub async fn list_conversations(
        &self,
        f: &ConversationFilter,
        page: Page,
    ) -> Result<Paged<Conversation>, StoreError> {
        let mut q = conversation::Entity::find();
        if let Some(phone) = &f.phone {
            q = q.filter(conversation::Column::Phone.eq(phone.as_str()));
        }
        if let Some(status) = f.status {
            q = q.filter(conversation::Column::Status.eq(status.as_str()));
        }
        if let Some(stage) = f.stage {
            q = q.filter(conversation::Column::Stage.eq(stage.as_str()));
        }
        if let Some(id) = f.patient_id {
            q = q.filter(conversation::Column::PatientId.eq(id));
        }
        if let Some(channel) = f.channel {
            q = q.filter(conversation::Column::Channel.eq(channel.as_str()));
        }
        if let Some(paused) = f.bot_paused {
            q = q.filter(conversation::Column::BotPaused.eq(paused));
        }
        let q = q
            .order_by(
                Expr::col(conversation::Column::LastMessageAt).is_null(),
                sea_orm::Order::Asc,
            )
            .order_by_desc(conversation::Column::LastMessageAt)
            .order_by_desc(conversation::Column::CreatedAt)
            .order_by_asc(conversation::Column::Id);
        clinic::paged(self.connection(), q, page, |m| {
            conversation_from(m).map(|r| r.conversation)
        })
        .await
    }

    /// Conversations whose awaited turn is due (`awaiting_until` ≤ `now`).
    pub async fn conversations_awaiting_before(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Uuid>, StoreError> {
        Ok(conversation::Entity::find()
            .select_only()
            .column(conversation::Column::Id)
            .filter(conversation::Column::AwaitingUntil.lte(now))
            .limit(limit)
            .into_tuple()
            .all(self.connection())
            .await?)
    }

    /// Conversations changed at or after `since` (the staff stream), oldest change first.
    pub async fn conversations_changed_since(
        &self,
        since: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Conversation>, StoreError> {
        let rows = conversation::Entity::find()
            .filter(conversation::Column::UpdatedAt.gte(since))
            .order_by_asc(conversation::Column::UpdatedAt)
            .limit(limit)
            .all(self.connection())
            .await?;
        rows.into_iter()
            .map(|m| conversation_from(m).map(|r| r.conversation))
            .collect()
    }

    pub async fn get_message(&self, id: Uuid) -> Result<Message, StoreError> {
        let row = message::Entity::find()
            .filter(message::Column::Id.eq(id))
            .one(self.connection())
            .await?;
        message_from(row.ok_or(StoreError::NotFound("message"))?)
    }

    /// A conversation's messages, oldest first.
    pub async fn list_messages(
        &self,
        conversation_id: Uuid,
        page: Page,
    ) -> Result<Paged<Message>, StoreError> {
        let q = message::Entity::find()
            .filter(message::Column::ConversationId.eq(conversation_id))
            .order_by_asc(message::Column::Seq);
        clinic::paged(self.connection(), q, page, message_from).await
    }

    /// Messages written or updated at or after `since` (the staff stream).
    pub async fn messages_changed_since(
        &self,
        since: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Message>, StoreError> {
        let rows = message::Entity::find()
            .filter(message::Column::UpdatedAt.gte(since))
            .order_by_asc(message::Column::UpdatedAt)
            .order_by_asc(message::Column::Seq)
            .limit(limit)
            .all(self.connection())
            .await?;
        rows.into_iter().map(message_from).collect()
    }

    /// Claims the oldest pending message of a conversation for sending, unless another
    /// of its messages is being sent (then that sender sends this one next) or it must
    /// wait until `next_attempt_at`. The conversation row is locked for the decision, so
    /// two senders never claim messages of one conversation at once.
    pub async fn claim_outbound(
        &self,
        conversation_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<OutboundClaim>, StoreError> {
        use sea_orm::TransactionTrait;
        let txn = self.connection().begin().await?;
        let record = Ops.lock_conversation(&txn, conversation_id).await?;
        let sending = message::Entity::find()
            .filter(message::Column::ConversationId.eq(conversation_id))
            .filter(message::Column::Dispatch.eq(Dispatch::Sending.as_str()))
            .one(&txn)
            .await?;
        if sending.is_some() {
            txn.rollback().await?;
            return Ok(None);
        }
        let next = message::Entity::find()
            .filter(message::Column::ConversationId.eq(conversation_id))
            .filter(message::Column::Dispatch.eq(Dispatch::Pending.as_str()))
            .order_by_asc(message::Column::Seq)
            .one(&txn)
            .await?;
        let Some(next) = next else {
            txn.rollback().await?;
            return Ok(None);
        };
        if next.next_attempt_at.is_some_and(|at| at > now) {
            txn.rollback().await?;
            return Ok(None);
        }
        let template = next
            .template
            .as_deref()
            .map(serde_json::from_str::<TemplateUse>)
            .transpose()
            .map_err(|e| StoreError::corrupt("message template", e))?;
        let attempt = next.send_attempts + 1;
        let mut row = next.into_active_model();
        row.dispatch = Set(Dispatch::Sending.as_str().to_owned());
        row.send_attempts = Set(attempt);
        row.updated_at = Set(now);
        let claimed = row.update(&txn).await?;
        txn.commit().await?;
        Ok(Some(OutboundClaim {
            message: message_from(claimed)?,
            to: record.conversation.phone,
            reply_provider: record.conversation.reply_provider,
            last_inbound_at: record.conversation.last_inbound_at,
            template,
            attempt,
        }))
    }

    /// The provider surely did not take the message and asked us to wait: pending again
    /// from `retry_at`.
    pub async fn outbound_retry_later(
        &self,
        id: Uuid,
        code: Option<&str>,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        message::Entity::update_many()
            .col_expr(
                message::Column::Dispatch,
                Expr::value(Dispatch::Pending.as_str()),
            )
            .col_expr(message::Column::NextAttemptAt, Expr::value(Some(retry_at)))
            .col_expr(
                message::Column::ErrorCode,
                Expr::value(code.map(|c| c.chars().take(64).collect::<String>())),
            )
            .col_expr(message::Column::UpdatedAt, Expr::value(now))
            .filter(message::Column::Id.eq(id))
            .filter(message::Column::Dispatch.eq(Dispatch::Sending.as_str()))
            .exec(self.connection())
            .await?;
        Ok(())
    }

    /// A claimed message must wait its turn (outbound pacing): pending again from
    /// `until`, and the claim does not count as an attempt.
    pub async fn outbound_defer(
        &self,
        id: Uuid,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        message::Entity::update_many()
            .col_expr(
                message::Column::Dispatch,
                Expr::value(Dispatch::Pending.as_str()),
            )
            .col_expr(message::Column::NextAttemptAt, Expr::value(Some(until)))
            .col_expr(
                message::Column::SendAttempts,
                Expr::col(message::Column::SendAttempts).sub(1),
            )
            .col_expr(message::Column::UpdatedAt, Expr::value(now))
            .filter(message::Column::Id.eq(id))
            .filter(message::Column::Dispatch.eq(Dispatch::Sending.as_str()))
            .exec(self.connection())
            .await?;
        Ok(())
    }

    /// Conversations with a message due to be sent (written more than `older_than` ago
    /// and still pending, or waiting out a provider's delay that has passed): what a
    /// crash or a refusal to wait left behind.
    pub async fn conversations_with_due_messages(
        &self,
        written_before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Uuid>, StoreError> {
        let rows: Vec<Uuid> = message::Entity::find()
            .select_only()
            .column(message::Column::ConversationId)
            .distinct()
            .filter(message::Column::Dispatch.eq(Dispatch::Pending.as_str()))
            .filter(
                Condition::any()
                    .add(
                        Condition::all()
                            .add(message::Column::NextAttemptAt.is_null())
                            .add(message::Column::CreatedAt.lt(written_before)),
                    )
                    .add(message::Column::NextAttemptAt.lte(now)),
            )
            .limit(limit)
            .into_tuple()
            .all(self.connection())
            .await?;
        Ok(rows)
    }

    /// Messages claimed for sending before `claimed_before` that never got an answer
    /// recorded (the sender crashed, or could not record it): whether the provider has
    /// them cannot be known, so they are not sent again but marked failed with
    /// `outcome_unknown` for staff to see. Returns them.
    pub async fn abandon_stuck_sends(
        &self,
        claimed_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Message>, StoreError> {
        let stuck = message::Entity::find()
            .filter(message::Column::Dispatch.eq(Dispatch::Sending.as_str()))
            .filter(message::Column::UpdatedAt.lt(claimed_before))
            .limit(100)
            .all(self.connection())
            .await?;
        let mut abandoned = Vec::with_capacity(stuck.len());
        for row in stuck {
            let mut row = row.into_active_model();
            row.dispatch = Set(Dispatch::Done.as_str().to_owned());
            row.delivery_status = Set(Some(DeliveryStatus::Failed.as_str().to_owned()));
            row.error_code = Set(Some("outcome_unknown".to_owned()));
            row.updated_at = Set(now);
            abandoned.push(message_from(row.update(self.connection()).await?)?);
        }
        Ok(abandoned)
    }
}

/// The operations that run on a caller's connection or transaction; [`Tx`] and
/// [`Store`] expose them.
pub(crate) struct Ops;

impl Ops {
    /// Opens a conversation. A phone that already has one that is not closed is refused
    /// by the schema: `Conflict::ConversationExists`.
    pub async fn insert_conversation(
        &self,
        conn: &impl ConnectionTrait,
        new: &NewConversation,
    ) -> Result<Conversation, StoreError> {
        let row = conversation::ActiveModel {
            id: Set(new.id),
            phone: Set(new.phone.as_str().to_owned()),
            patient_id: Set(new.patient_id),
            channel: Set(new.channel.as_str().to_owned()),
            status: Set(ConversationStatus::Open.as_str().to_owned()),
            stage: Set(new.stage.as_str().to_owned()),
            locale: Set(new.locale.as_str().to_owned()),
            bot_paused: Set(false),
            assignee: Set(None),
            reply_provider: Set(None),
            journey: Set(None),
            awaiting_until: Set(None),
            last_inbound_at: Set(None),
            last_message_at: Set(None),
            created_at: Set(new.at),
            updated_at: Set(new.at),
        }
        .insert(conn)
        .await?;
        Ok(conversation_from(row)?.conversation)
    }

    /// The conversation of `phone` that is not closed, if any.
    pub async fn open_conversation_of(
        &self,
        conn: &impl ConnectionTrait,
        phone: &PhoneNumber,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        conversation::Entity::find()
            .filter(conversation::Column::Phone.eq(phone.as_str()))
            .filter(conversation::Column::Status.ne(ConversationStatus::Closed.as_str()))
            .one(conn)
            .await?
            .map(conversation_from)
            .transpose()
    }

    /// Reads a conversation inside `txn` and locks it until `txn` ends (PostgreSQL
    /// `FOR UPDATE`; SQLite has one writer at a time), so that the turns of one
    /// conversation are decided one after the other.
    pub async fn lock_conversation(
        &self,
        conn: &impl ConnectionTrait,
        id: Uuid,
    ) -> Result<ConversationRecord, StoreError> {
        let row = conversation::Entity::find_by_id(id)
            .lock_exclusive()
            .one(conn)
            .await?;
        conversation_from(row.ok_or(StoreError::NotFound("conversation"))?)
    }

    /// Writes every field of `c` and its journey (read it under
    /// [`Store::lock_conversation`] first).
    pub async fn save_conversation(
        &self,
        conn: &impl ConnectionTrait,
        c: &Conversation,
        journey: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        self.write_conversation(conn, c, journey, None).await
    }

    /// [`Store::save_conversation`], also setting when a turn waiting for an outside
    /// engine is due to be answered without it (`None`: nothing is awaited).
    pub async fn save_conversation_awaiting(
        &self,
        conn: &impl ConnectionTrait,
        c: &Conversation,
        journey: Option<&serde_json::Value>,
        awaiting_until: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.write_conversation(conn, c, journey, Some(awaiting_until))
            .await
    }

    async fn write_conversation(
        &self,
        conn: &impl ConnectionTrait,
        c: &Conversation,
        journey: Option<&serde_json::Value>,
        awaiting_until: Option<Option<DateTime<Utc>>>,
    ) -> Result<(), StoreError> {
        let journey = journey
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::corrupt("conversation journey", e))?;
        let mut update = conversation::Entity::update_many();
        if let Some(awaiting_until) = awaiting_until {
            update = update.col_expr(
                conversation::Column::AwaitingUntil,
                Expr::value(awaiting_until),
            );
        }
        let result = update
            .col_expr(conversation::Column::PatientId, Expr::value(c.patient_id))
            .col_expr(conversation::Column::Status, Expr::value(c.status.as_str()))
            .col_expr(conversation::Column::Stage, Expr::value(c.stage.as_str()))
            .col_expr(conversation::Column::Locale, Expr::value(c.locale.as_str()))
            .col_expr(conversation::Column::BotPaused, Expr::value(c.bot_paused))
            .col_expr(
                conversation::Column::Assignee,
                Expr::value(c.assignee.clone()),
            )
            .col_expr(
                conversation::Column::ReplyProvider,
                Expr::value(c.reply_provider.map(|p| p.as_str().to_owned())),
            )
            .col_expr(conversation::Column::Journey, Expr::value(journey))
            .col_expr(
                conversation::Column::LastInboundAt,
                Expr::value(c.last_inbound_at),
            )
            .col_expr(
                conversation::Column::LastMessageAt,
                Expr::value(c.last_message_at),
            )
            .col_expr(conversation::Column::UpdatedAt, Expr::value(c.updated_at))
            .filter(conversation::Column::Id.eq(c.id))
            .exec(conn)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::NotFound("conversation"));
        }
        Ok(())
    }

    /// Records a message. A second inbound message with the same webhooks id, or a
    /// second message with the same id, is refused: `Conflict::Duplicate`.
    pub async fn insert_message(
        &self,
        conn: &impl ConnectionTrait,
        m: &NewMessage,
    ) -> Result<Message, StoreError> {
        let media = serde_json::to_string(&m.media).map_err(|e| StoreError::corrupt("media", e))?;
        let template = m
            .template
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::corrupt("message template", e))?;
        let row = message::ActiveModel {
            seq: sea_orm::NotSet,
            id: Set(m.id),
            conversation_id: Set(m.conversation_id),
            direction: Set(m.direction.as_str().to_owned()),
            author: Set(m.author.as_str().to_owned()),
            channel: Set(m.channel.as_str().to_owned()),
            provider: Set(m.provider.as_str().to_owned()),
            body: Set(m.body.clone()),
            media: Set(media),
            transcription: Set(m.transcription.clone()),
            purpose: Set(m.purpose.clone()),
            inbound_message_id: Set(m.inbound_message_id),
            provider_message_id: Set(m.provider_message_id.clone()),
            dispatch: Set(m.dispatch.as_str().to_owned()),
            delivery_status: Set(m.delivery_status.map(|s| s.as_str().to_owned())),
            error_code: Set(None),
            send_attempts: Set(0),
            next_attempt_at: Set(None),
            template: Set(template),
            created_at: Set(m.at),
            updated_at: Set(m.at),
        }
        .insert(conn)
        .await?;
        message_from(row)
    }

    /// Whether a message with this id exists (a redelivered request to send it).
    pub async fn message_exists(
        &self,
        conn: &impl ConnectionTrait,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        Ok(message::Entity::find()
            .filter(message::Column::Id.eq(id))
            .one(conn)
            .await?
            .is_some())
    }

    /// Whether the inbound message with this webhooks id is stored already.
    pub async fn inbound_message_stored(
        &self,
        conn: &impl ConnectionTrait,
        inbound_message_id: Uuid,
    ) -> Result<bool, StoreError> {
        Ok(message::Entity::find()
            .filter(message::Column::InboundMessageId.eq(inbound_message_id))
            .one(conn)
            .await?
            .is_some())
    }

    /// The latest `n` messages of a conversation, oldest first.
    pub async fn latest_messages(
        &self,
        conn: &impl ConnectionTrait,
        conversation_id: Uuid,
        n: u64,
    ) -> Result<Vec<Message>, StoreError> {
        let mut rows = message::Entity::find()
            .filter(message::Column::ConversationId.eq(conversation_id))
            .order_by_desc(message::Column::Seq)
            .limit(n)
            .all(conn)
            .await?;
        rows.reverse();
        rows.into_iter().map(message_from).collect()
    }

    /// The provider took the message: records its id and status, and applies any
    /// status report that arrived before this answer.
    pub async fn outbound_accepted(
        &self,
        conn: &impl ConnectionTrait,
        id: Uuid,
        provider: Provider,
        provider_message_id: &str,
        status: DeliveryStatus,
        at: DateTime<Utc>,
    ) -> Result<Message, StoreError> {
        let early = delivery_report::Entity::find()
            .filter(delivery_report::Column::Provider.eq(provider.as_str()))
            .filter(delivery_report::Column::ProviderMessageId.eq(provider_message_id))
            .all(conn)
            .await?;
        let mut current = Some(status);
        let mut error_code = None;
        for report in &early {
            let reported: DeliveryStatus = parse("delivery status", &report.status)?;
            if let Some(next) = DeliveryStatus::advance(current, reported) {
                current = Some(next);
                if report.error_code.is_some() {
                    error_code.clone_from(&report.error_code);
                }
            }
        }
        if !early.is_empty() {
            delivery_report::Entity::delete_many()
                .filter(delivery_report::Column::Provider.eq(provider.as_str()))
                .filter(delivery_report::Column::ProviderMessageId.eq(provider_message_id))
                .exec(conn)
                .await?;
        }
        self.finish_outbound(conn, id, |row| {
            row.provider = Set(provider.as_str().to_owned());
            row.provider_message_id = Set(Some(provider_message_id.to_owned()));
            row.delivery_status = Set(current.map(|s| s.as_str().to_owned()));
            row.error_code = Set(error_code);
            row.updated_at = Set(at);
        })
        .await
    }

    /// The message will not go out: `failed` with the reason (a provider code or ours).
    pub async fn outbound_failed(
        &self,
        conn: &impl ConnectionTrait,
        id: Uuid,
        provider: Provider,
        code: &str,
        at: DateTime<Utc>,
    ) -> Result<Message, StoreError> {
        self.finish_outbound(conn, id, |row| {
            row.provider = Set(provider.as_str().to_owned());
            row.delivery_status = Set(Some(DeliveryStatus::Failed.as_str().to_owned()));
            row.error_code = Set(Some(code.chars().take(64).collect()));
            row.updated_at = Set(at);
        })
        .await
    }

    async fn finish_outbound(
        &self,
        conn: &impl ConnectionTrait,
        id: Uuid,
        change: impl FnOnce(&mut message::ActiveModel),
    ) -> Result<Message, StoreError> {
        let row = message::Entity::find()
            .filter(message::Column::Id.eq(id))
            .one(conn)
            .await?
            .ok_or(StoreError::NotFound("message"))?;
        let mut row = row.into_active_model();
        row.dispatch = Set(Dispatch::Done.as_str().to_owned());
        row.next_attempt_at = Set(None);
        change(&mut row);
        message_from(row.update(conn).await?)
    }

    /// A provider's status report. Moves the message's status forward only; a report
    /// for a message whose send has not returned yet is kept until it does. Returns
    /// the message when it changed.
    pub async fn apply_delivery_report(
        &self,
        conn: &impl ConnectionTrait,
        provider: Provider,
        provider_message_id: &str,
        reported: DeliveryStatus,
        error_code: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Option<Message>, StoreError> {
        let row = message::Entity::find()
            .filter(message::Column::Provider.eq(provider.as_str()))
            .filter(message::Column::ProviderMessageId.eq(provider_message_id))
            .one(conn)
            .await?;
        let Some(row) = row else {
            let report = delivery_report::ActiveModel {
                provider: Set(provider.as_str().to_owned()),
                provider_message_id: Set(provider_message_id.to_owned()),
                status: Set(reported.as_str().to_owned()),
                error_code: Set(error_code.map(str::to_owned)),
                reported_at: Set(at),
            };
            delivery_report::Entity::insert(report)
                .on_conflict(
                    sea_orm::sea_query::OnConflict::columns([
                        delivery_report::Column::Provider,
                        delivery_report::Column::ProviderMessageId,
                        delivery_report::Column::Status,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .do_nothing()
                .exec(conn)
                .await?;
            return Ok(None);
        };
        let current = row
            .delivery_status
            .as_deref()
            .map(|s| parse::<DeliveryStatus>("delivery status", s))
            .transpose()?;
        let Some(next) = DeliveryStatus::advance(current, reported) else {
            return Ok(None);
        };
        let mut row = row.into_active_model();
        row.delivery_status = Set(Some(next.as_str().to_owned()));
        if let Some(code) = error_code {
            row.error_code = Set(Some(code.chars().take(64).collect()));
        }
        row.updated_at = Set(at);
        Ok(Some(message_from(row.update(conn).await?)?))
    }
}

/// The conversations' writes, inside [`Store::write`].
impl Tx<'_> {
    /// Opens a conversation. A phone that already has one that is not closed is refused
    /// by the schema: `Conflict::ConversationExists`.
    pub async fn insert_conversation(
        &self,
        new: &NewConversation,
    ) -> Result<Conversation, StoreError> {
        self.check(Ops.insert_conversation(self.conn(), new).await)
    }

    /// Reads a conversation and locks it until the transaction ends (PostgreSQL
    /// `FOR UPDATE`; SQLite has one writer at a time), so that the turns of one
    /// conversation are decided one after the other.
    pub async fn lock_conversation(&self, id: Uuid) -> Result<ConversationRecord, StoreError> {
        self.check(Ops.lock_conversation(self.conn(), id).await)
    }

    /// Writes every field of `c` and its journey (locked first).
    pub async fn save_conversation(
        &self,
        c: &Conversation,
        journey: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        self.check(Ops.save_conversation(self.conn(), c, journey).await)
    }

    /// [`Tx::save_conversation`], also setting when a turn waiting for an outside engine
    /// is due to be answered without it (`None`: nothing is awaited).
    pub async fn save_conversation_awaiting(
        &self,
        c: &Conversation,
        journey: Option<&serde_json::Value>,
        awaiting_until: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.check(
            Ops.save_conversation_awaiting(self.conn(), c, journey, awaiting_until)
                .await,
        )
    }

    /// Records a message. A second inbound message with the same webhooks id, or a
    /// second message with the same id, is refused: `Conflict::Duplicate`.
    pub async fn insert_message(&self, m: &NewMessage) -> Result<Message, StoreError> {
        self.check(Ops.insert_message(self.conn(), m).await)
    }

    /// Whether a message with this id exists (a redelivered request to send it).
    pub async fn message_exists(&self, id: Uuid) -> Result<bool, StoreError> {
        self.check(Ops.message_exists(self.conn(), id).await)
    }

    /// Whether the inbound message with this webhooks id is stored already.
    pub async fn inbound_message_stored(&self, id: Uuid) -> Result<bool, StoreError> {
        self.check(Ops.inbound_message_stored(self.conn(), id).await)
    }

    /// The provider took the message (see [`Store::outbound_accepted`]).
    pub async fn outbound_accepted(
        &self,
        id: Uuid,
        provider: Provider,
        provider_message_id: &str,
        status: DeliveryStatus,
        at: DateTime<Utc>,
    ) -> Result<Message, StoreError> {
        self.check(
            Ops.outbound_accepted(self.conn(), id, provider, provider_message_id, status, at)
                .await,
        )
    }

    /// A provider's status report: moves the status forward only; a report for a send
    /// whose answer is not recorded yet is kept until it is. The message when it changed.
    pub async fn apply_delivery_report(
        &self,
        provider: Provider,
        provider_message_id: &str,
        reported: DeliveryStatus,
        error_code: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Option<Message>, StoreError> {
        self.check(
            Ops.apply_delivery_report(
                self.conn(),
                provider,
                provider_message_id,
                reported,
                error_code,
                at,
            )
            .await,
        )
    }
}

/// Reads on the pool.
impl Store {
    /// The conversation of `phone` that is not closed, if any.
    pub async fn open_conversation_of(
        &self,
        phone: &PhoneNumber,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        Ops.open_conversation_of(self.connection(), phone).await
    }

    /// The latest `n` messages of a conversation, oldest first.
    pub async fn latest_messages(
        &self,
        conversation_id: Uuid,
        n: u64,
    ) -> Result<Vec<Message>, StoreError> {
        Ops.latest_messages(self.connection(), conversation_id, n)
            .await
    }

    /// The message will not go out: `failed` with the reason (a provider code or ours).
    pub async fn outbound_failed(
        &self,
        id: Uuid,
        provider: Provider,
        code: &str,
        at: DateTime<Utc>,
    ) -> Result<Message, StoreError> {
        Ops.outbound_failed(self.connection(), id, provider, code, at)
            .await
    }
}
