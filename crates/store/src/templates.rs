//! The clinic's message templates (owned by the conversations service): one row per
//! purpose and locale the clinic wrote. A purpose and locale without a row is the
//! built-in text; the service decides that, the store only keeps what was written.

use chrono::{DateTime, Utc};
use prm_domain::{
    Locale,
    templates::{TemplatePurpose, TemplateVars},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set, sea_query::OnConflict};
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

pub(crate) mod message_template {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "message_templates")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub purpose: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub locale: String,
        pub body: String,
        pub enabled: bool,
        pub twilio_content_sid: Option<String>,
        pub twilio_variables: Option<String>,
        pub meta_name: Option<String>,
        pub meta_language: Option<String>,
        pub meta_variables: Option<String>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A Twilio Content API template (`HX…`) and the placeholders filling its numbered
/// variables (`None`: every placeholder in `PLACEHOLDERS` order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioContent {
    pub content_sid: String,
    pub variables: Option<Vec<String>>,
}

/// A template approved in Meta's WhatsApp Manager, and the placeholders filling its
/// `{{1}}`, `{{2}}`… (`None`: every placeholder in `PLACEHOLDERS` order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaTemplate {
    pub name: String,
    pub language: String,
    pub variables: Option<Vec<String>>,
}

/// A template the clinic wrote for one purpose and locale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTemplate {
    pub purpose: TemplatePurpose,
    pub locale: Locale,
    pub body: String,
    /// False: messages of this purpose are not sent at all.
    pub enabled: bool,
    pub twilio: Option<TwilioContent>,
    pub meta: Option<MetaTemplate>,
    pub updated_at: DateTime<Utc>,
}

/// What an outbound message rendered from a template keeps (`messages.template`), so it
/// can go out as the provider's approved template with the same values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateUse {
    pub purpose: TemplatePurpose,
    pub locale: Locale,
    pub vars: TemplateVars,
}

fn variables_to_json(v: Option<&Vec<String>>) -> Result<Option<String>, StoreError> {
    v.map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::corrupt("template variables", e))
}

fn variables_from_json(raw: Option<&str>) -> Result<Option<Vec<String>>, StoreError> {
    raw.map(serde_json::from_str)
        .transpose()
        .map_err(|e| StoreError::corrupt("template variables", e))
}

fn template_from(m: message_template::Model) -> Result<MessageTemplate, StoreError> {
    let purpose = m
        .purpose
        .parse()
        .map_err(|e: String| StoreError::corrupt("template purpose", e))?;
    let locale = m
        .locale
        .parse()
        .map_err(|e: String| StoreError::corrupt("template locale", e))?;
    let twilio = match m.twilio_content_sid {
        Some(content_sid) => Some(TwilioContent {
            content_sid,
            variables: variables_from_json(m.twilio_variables.as_deref())?,
        }),
        None => None,
    };
    let meta = match (m.meta_name, m.meta_language) {
        (Some(name), Some(language)) => Some(MetaTemplate {
            name,
            language,
            variables: variables_from_json(m.meta_variables.as_deref())?,
        }),
        _ => None,
    };
    Ok(MessageTemplate {
        purpose,
        locale,
        body: m.body,
        enabled: m.enabled,
        twilio,
        meta,
        updated_at: m.updated_at,
    })
}

impl Store {
    /// Every template the clinic wrote.
    pub async fn list_templates(&self) -> Result<Vec<MessageTemplate>, StoreError> {
        message_template::Entity::find()
            .all(self.connection())
            .await?
            .into_iter()
            .map(template_from)
            .collect()
    }

    /// The clinic's template for a purpose and locale, if it wrote one.
    pub async fn get_template(
        &self,
        purpose: TemplatePurpose,
        locale: Locale,
    ) -> Result<Option<MessageTemplate>, StoreError> {
        message_template::Entity::find_by_id((
            purpose.as_str().to_owned(),
            locale.as_str().to_owned(),
        ))
        .one(self.connection())
        .await?
        .map(template_from)
        .transpose()
    }

    /// Writes the template of its purpose and locale, replacing any before it.
    pub async fn save_template(&self, t: &MessageTemplate) -> Result<(), StoreError> {
        use message_template::Column as C;
        let row = message_template::ActiveModel {
            purpose: Set(t.purpose.as_str().to_owned()),
            locale: Set(t.locale.as_str().to_owned()),
            body: Set(t.body.clone()),
            enabled: Set(t.enabled),
            twilio_content_sid: Set(t.twilio.as_ref().map(|x| x.content_sid.clone())),
            twilio_variables: Set(variables_to_json(
                t.twilio.as_ref().and_then(|x| x.variables.as_ref()),
            )?),
            meta_name: Set(t.meta.as_ref().map(|x| x.name.clone())),
            meta_language: Set(t.meta.as_ref().map(|x| x.language.clone())),
            meta_variables: Set(variables_to_json(
                t.meta.as_ref().and_then(|x| x.variables.as_ref()),
            )?),
            updated_at: Set(t.updated_at),
        };
        message_template::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([C::Purpose, C::Locale])
                    .update_columns([
                        C::Body,
                        C::Enabled,
                        C::TwilioContentSid,
                        C::TwilioVariables,
                        C::MetaName,
                        C::MetaLanguage,
                        C::MetaVariables,
                        C::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(self.connection())
            .await?;
        Ok(())
    }

    /// Forgets the clinic's template of a purpose and locale (the built-in text is used
    /// again). Whether there was one.
    pub async fn delete_template(
        &self,
        purpose: TemplatePurpose,
        locale: Locale,
    ) -> Result<bool, StoreError> {
        let result = message_template::Entity::delete_many()
            .filter(message_template::Column::Purpose.eq(purpose.as_str()))
            .filter(message_template::Column::Locale.eq(locale.as_str()))
            .exec(self.connection())
            .await?;
        Ok(result.rows_affected > 0)
    }
}
