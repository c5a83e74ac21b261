//! The clinic's message templates: one text per purpose and locale (the clinic's, or
//! the built-in one), each purpose switchable off, each able to name the provider's
//! approved template used outside WhatsApp's 24-hour window (Twilio Content API
//! `ContentSid`, Meta template name and language), whose numbered variables are filled
//! from the same placeholders. Decisions: `docs/templates.md`.

use prm_domain::{
    Locale,
    conversation::Provider,
    templates::{self, PLACEHOLDERS, TemplatePurpose, TemplateVars},
};
use prm_platform::FieldError;
use prm_store::templates::{MessageTemplate, MetaTemplate, TemplateUse, TwilioContent};
use prm_twilio::{ContentTemplate, WhatsappTemplate};

use super::{App, ConversationError};

/// The locales a template is written in.
pub const LOCALES: [Locale; 2] = [Locale::Es, Locale::En];
/// The longest body (Twilio's limit for one message body).
pub const MAX_BODY_CHARS: usize = 1600;
/// The most numbered variables a provider template may list.
pub const MAX_VARIABLES: usize = 20;

/// The template in effect for a purpose and locale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveTemplate {
    pub template: MessageTemplate,
    /// True: the built-in text (the clinic has not written one).
    pub is_default: bool,
}

/// What the clinic writes for a purpose and locale (`PUT`).
#[derive(Debug, Clone)]
pub struct TemplateChange {
    pub body: String,
    pub enabled: bool,
    pub twilio: Option<TwilioContent>,
    pub meta: Option<MetaTemplate>,
}

/// A template rendered for one message: the text, and what a sender needs to send it
/// as the provider's approved template instead (outside WhatsApp's 24-hour window).
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedTemplate {
    pub purpose: TemplatePurpose,
    pub locale: Locale,
    pub body: String,
    pub vars: TemplateVars,
    /// The Twilio Content template with its `ContentVariables`, when the clinic named one.
    pub twilio: Option<ContentTemplate>,
    /// The Meta template with its parameters, when the clinic named one.
    pub meta: Option<WhatsappTemplate>,
}

impl RenderedTemplate {
    /// What the outbound message keeps of it (`messages.template`).
    pub fn usage(&self) -> TemplateUse {
        TemplateUse {
            purpose: self.purpose,
            locale: self.locale,
            vars: self.vars.clone(),
        }
    }

    /// The `purpose` of the outbound Message.
    pub fn message_purpose(&self) -> &'static str {
        self.purpose.message_purpose()
    }
}

/// The built-in template of a purpose and locale.
fn default_template(purpose: TemplatePurpose, locale: Locale) -> MessageTemplate {
    MessageTemplate {
        purpose,
        locale,
        body: templates::default_text(purpose, locale).to_owned(),
        enabled: true,
        twilio: None,
        meta: None,
        updated_at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
    }
}

fn effective(
    purpose: TemplatePurpose,
    locale: Locale,
    stored: Option<MessageTemplate>,
) -> EffectiveTemplate {
    match stored {
        Some(template) => EffectiveTemplate {
            template,
            is_default: false,
        },
        None => EffectiveTemplate {
            template: default_template(purpose, locale),
            is_default: true,
        },
    }
}

/// The values filling a provider template's `{{1}}`, `{{2}}`…: the listed placeholders,
/// or every placeholder in `PLACEHOLDERS` order.
fn numbered(variables: Option<&Vec<String>>, vars: &TemplateVars) -> Vec<String> {
    match variables {
        Some(names) => names
            .iter()
            .map(|name| vars.get(name).unwrap_or_default().to_owned())
            .collect(),
        None => vars.in_order().map(str::to_owned).to_vec(),
    }
}

/// Twilio's `ContentVariables`: `{"1": …, "2": …}`.
fn twilio_template(t: &TwilioContent, vars: &TemplateVars) -> ContentTemplate {
    let variables: serde_json::Map<String, serde_json::Value> =
        numbered(t.variables.as_ref(), vars)
            .into_iter()
            .enumerate()
            .map(|(i, v)| ((i + 1).to_string(), serde_json::Value::String(v)))
            .collect();
    ContentTemplate {
        content_sid: t.content_sid.clone(),
        variables: Some(serde_json::Value::Object(variables)),
    }
}

fn meta_template(t: &MetaTemplate, vars: &TemplateVars) -> WhatsappTemplate {
    WhatsappTemplate {
        name: t.name.clone(),
        language: t.language.clone(),
        variables: numbered(t.variables.as_ref(), vars),
    }
}

/// Every rule a template must meet, each failure naming its field.
fn check(change: &TemplateChange) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Err(e) = templates::validate(&change.body) {
        errors.push(FieldError::new("body", e.to_string()));
    }
    if let Err(message) = prm_platform::fields::no_control_characters(&change.body, true) {
        errors.push(FieldError::new("body", message));
    }
    if change.body.chars().count() > MAX_BODY_CHARS {
        errors.push(FieldError::new(
            "body",
            format!("at most {MAX_BODY_CHARS} characters"),
        ));
    }
    let check_variables = |field: &str, variables: Option<&Vec<String>>, errors: &mut Vec<_>| {
        let Some(names) = variables else { return };
        if names.len() > MAX_VARIABLES {
            errors.push(FieldError::new(
                field,
                format!("at most {MAX_VARIABLES} variables"),
            ));
        }
        for (i, name) in names.iter().enumerate() {
            if !PLACEHOLDERS.contains(&name.as_str()) {
                errors.push(FieldError::new(
                    format!("{field}[{i}]"),
                    format!(
                        "unknown placeholder `{{{name}}}` (known: {})",
                        PLACEHOLDERS.join(", ")
                    ),
                ));
            }
        }
    };
    if let Some(t) = &change.twilio {
        let sid = t.content_sid.as_bytes();
        if sid.len() != 34 || !sid.starts_with(b"HX") || !sid[2..].iter().all(u8::is_ascii_hexdigit)
        {
            errors.push(FieldError::new(
                "twilio.content_sid",
                "a Twilio Content SID: `HX` and 32 hexadecimal digits",
            ));
        }
        check_variables("twilio.variables", t.variables.as_ref(), &mut errors);
    }
    if let Some(t) = &change.meta {
        if t.name.is_empty()
            || t.name.len() > 512
            || !t
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            errors.push(FieldError::new(
                "meta.name",
                "a WhatsApp template name: 1 to 512 lowercase letters, digits and underscores",
            ));
        }
        if !is_language_code(&t.language) {
            errors.push(FieldError::new(
                "meta.language",
                "a WhatsApp template language code, e.g. `es`, `en_US` or `es_MX`",
            ));
        }
        check_variables("meta.variables", t.variables.as_ref(), &mut errors);
    }
    errors
}

/// `es`, `fil`, `en_US`, `pt_BR`… as WhatsApp names languages.
fn is_language_code(code: &str) -> bool {
    let (language, region) = match code.split_once('_') {
        Some((l, r)) => (l, Some(r)),
        None => (code, None),
    };
    (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_uppercase()))
}

/// The purpose and locale named in a path; anything else is no template (404).
pub fn template_key(
    purpose: &str,
    locale: &str,
) -> Result<(TemplatePurpose, Locale), ConversationError> {
    let purpose = purpose
        .parse::<TemplatePurpose>()
        .map_err(ConversationError::TemplateNotFound)?;
    let locale = LOCALES
        .into_iter()
        .find(|l| l.as_str() == locale)
        .ok_or_else(|| {
            ConversationError::TemplateNotFound(format!(
                "unknown template locale `{locale}` (es or en)"
            ))
        })?;
    Ok((purpose, locale))
}

impl App {
    /// Every purpose in every locale, as in effect (the clinic's or the built-in one).
    pub async fn templates(&self) -> Result<Vec<EffectiveTemplate>, ConversationError> {
        let mut stored = self.store.list_templates().await?;
        let mut all = Vec::with_capacity(TemplatePurpose::ALL.len() * LOCALES.len());
        for purpose in TemplatePurpose::ALL {
            for locale in LOCALES {
                let mine = stored
                    .iter()
                    .position(|t| t.purpose == purpose && t.locale == locale)
                    .map(|i| stored.swap_remove(i));
                all.push(effective(purpose, locale, mine));
            }
        }
        Ok(all)
    }

    /// The template in effect for a purpose and locale.
    pub async fn template(
        &self,
        purpose: TemplatePurpose,
        locale: Locale,
    ) -> Result<EffectiveTemplate, ConversationError> {
        let stored = self.store.get_template(purpose, locale).await?;
        Ok(effective(purpose, locale, stored))
    }

    /// Writes the clinic's template for a purpose and locale, after checking every
    /// field (nothing is stored when one fails).
    pub async fn save_template(
        &self,
        purpose: TemplatePurpose,
        locale: Locale,
        change: TemplateChange,
    ) -> Result<EffectiveTemplate, ConversationError> {
        let errors = check(&change);
        if !errors.is_empty() {
            return Err(ConversationError::Invalid(errors));
        }
        let template = MessageTemplate {
            purpose,
            locale,
            body: change.body,
            enabled: change.enabled,
            twilio: change.twilio,
            meta: change.meta,
            // As stored: PostgreSQL keeps microseconds, so the answer equals a read.
            updated_at: chrono::SubsecRound::trunc_subsecs(self.now(), 6),
        };
        self.store.save_template(&template).await?;
        tracing::info!(
            purpose = purpose.as_str(),
            locale = locale.as_str(),
            enabled = template.enabled,
            "message template saved"
        );
        Ok(EffectiveTemplate {
            template,
            is_default: false,
        })
    }

    /// Returns a purpose and locale to the built-in template.
    pub async fn reset_template(
        &self,
        purpose: TemplatePurpose,
        locale: Locale,
    ) -> Result<EffectiveTemplate, ConversationError> {
        if self.store.delete_template(purpose, locale).await? {
            tracing::info!(
                purpose = purpose.as_str(),
                locale = locale.as_str(),
                "message template back to the built-in text"
            );
        }
        Ok(effective(purpose, locale, None))
    }

    /// The clinic's template for `purpose` in `locale`, rendered with `vars`; `None`
    /// when the clinic switched the purpose off (then nothing is sent, nor recorded).
    ///
    /// Reads the store: call it before a [`prm_store::Store::write`], not inside one
    /// (the embedded SQLite store has a single connection).
    pub async fn render_template(
        &self,
        purpose: TemplatePurpose,
        locale: Locale,
        vars: &TemplateVars,
    ) -> Result<Option<RenderedTemplate>, ConversationError> {
        let t = self.template(purpose, locale).await?.template;
        if !t.enabled {
            return Ok(None);
        }
        Ok(Some(RenderedTemplate {
            purpose,
            locale,
            body: templates::render(&t.body, vars),
            vars: vars.clone(),
            twilio: t.twilio.as_ref().map(|x| twilio_template(x, vars)),
            meta: t.meta.as_ref().map(|x| meta_template(x, vars)),
        }))
    }

    /// The provider templates a message rendered from `usage` can go out as through
    /// `provider` (Twilio's, Meta's, or, for the recording sender, whichever the clinic
    /// named), from the clinic's current set-up; `None` when there is none.
    pub(super) async fn provider_template(
        &self,
        usage: &TemplateUse,
        provider: Provider,
    ) -> Result<Option<(Option<ContentTemplate>, Option<WhatsappTemplate>)>, ConversationError>
    {
        let Some(t) = self.store.get_template(usage.purpose, usage.locale).await? else {
            return Ok(None);
        };
        let twilio = t.twilio.as_ref().map(|x| twilio_template(x, &usage.vars));
        let meta = t.meta.as_ref().map(|x| meta_template(x, &usage.vars));
        Ok(match provider {
            Provider::Twilio => twilio.map(|t| (Some(t), None)),
            Provider::Meta => meta.map(|m| (None, Some(m))),
            Provider::Recording if twilio.is_some() || meta.is_some() => Some((twilio, meta)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(body: &str) -> TemplateChange {
        TemplateChange {
            body: body.to_owned(),
            enabled: true,
            twilio: None,
            meta: None,
        }
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut c = change("Hola {patient_name}, tu cita con {doctor}");
        c.twilio = Some(TwilioContent {
            content_sid: "HX123".into(),
            variables: Some(vec!["date".into(), "hora".into()]),
        });
        c.meta = Some(MetaTemplate {
            name: "Recordatorio Cita".into(),
            language: "spanish".into(),
            variables: None,
        });
        let fields: Vec<(String, String)> = check(&c)
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect();
        let names: Vec<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            names,
            [
                "body",
                "twilio.content_sid",
                "twilio.variables[1]",
                "meta.name",
                "meta.language"
            ]
        );
        assert!(fields[0].1.contains("`{doctor}`"), "{}", fields[0].1);
        assert!(fields[2].1.contains("`{hora}`"), "{}", fields[2].1);
    }

    #[test]
    fn a_body_may_break_lines_but_hold_no_other_control_character() {
        assert!(check(&change("Hola {patient_name}\n\nHasta pronto")).is_empty());
        let errors = check(&change("Hola\u{0}{patient_name}"));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "body");
        assert!(
            errors[0].message.contains("U+0000"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn numbered_variables_follow_the_list_or_the_placeholder_order() {
        let vars = TemplateVars {
            patient_name: "María".into(),
            date: "lunes 23 de noviembre".into(),
            time: "10:30 a. m.".into(),
            ..TemplateVars::default()
        };
        let t = twilio_template(
            &TwilioContent {
                content_sid: "HX0123456789abcdef0123456789abcdef".into(),
                variables: Some(vec!["date".into(), "time".into()]),
            },
            &vars,
        );
        assert_eq!(
            t.variables,
            Some(serde_json::json!({"1": "lunes 23 de noviembre", "2": "10:30 a. m."}))
        );
        let m = meta_template(
            &MetaTemplate {
                name: "recordatorio".into(),
                language: "es".into(),
                variables: None,
            },
            &vars,
        );
        assert_eq!(m.variables.len(), PLACEHOLDERS.len());
        assert_eq!(m.variables[0], "María");
        assert!(is_language_code("en_US") && is_language_code("es") && !is_language_code("EN"));
    }
}
