//! Twilio webhooks: inbound WhatsApp/SMS messages and status callbacks.
//!
//! Every request must carry a valid `X-Twilio-Signature` computed over
//! `PUBLIC_BASE_URL` + path + query (never the `Host` header) and the posted parameters,
//! unless `TWILIO_VALIDATE_SIGNATURE=false`. A missing signature is 400, a wrong one 403,
//! and nothing is stored or published; the log says why, never what was posted.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use prm_domain::{
    Channel, Media, PhoneNumber,
    events::{DeliveryStatus, MessageProvider, SharedLocation},
};
use prm_platform::{ApiError, ErrorCode};
use prm_store::inbound_messages::{MAX_PROVIDER_MESSAGE_ID_CHARS, is_storable_provider_message_id};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    AppState,
    http::{empty_twiml, header, read_body},
    inbox::{InboundMessage, StatusReport},
    voice_notes::{AudioSource, is_audio},
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/twilio", web::post().to(inbound))
        .route("/twilio/status", web::post().to(status));
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(inbound, status),
    components(schemas(TwilioInboundForm, TwilioStatusForm)),
    tags((name = "webhooks", description = "Inbound provider webhooks: Twilio, Meta WhatsApp Cloud API and the voice agent. Not behind the API key: each is signed by its sender (see the security schemes)."))
)]
pub struct Doc;

/// Twilio's inbound message form (the documented fields; others are accepted and kept).
///
/// Every posted parameter that MESSAGE_RECEIVED does not carry under a name of its own
/// (all but `MessageSid`, `From`, `To`, `Body`, `NumMedia`, `MediaUrlN`,
/// `MediaContentTypeN`, `ProfileName`, `WaId`) is stored with the message and passed on
/// in the event's `provider_fields`; `Latitude`/`Longitude` (with `Address`, `Label`)
/// also become its `location`. A JSON body (signed with `bodySHA256`) is read as the
/// same fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
#[schema(example = json!({
    "MessageSid": "SM0123456789abcdef0123456789abcdef",
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "From": "whatsapp:+573001234567",
    "To": "whatsapp:+14155238886",
    "Body": "Hola, quiero agendar una cita",
    "NumMedia": "0",
    "ProfileName": "María Pérez",
    "WaId": "573001234567"
}))]
pub struct TwilioInboundForm {
    /// Twilio's id of the message (`SM…`/`MM…`); each is processed once.
    pub message_sid: String,
    /// Legacy alias of `MessageSid`.
    pub sms_sid: Option<String>,
    /// Legacy alias of `MessageSid`.
    pub sms_message_sid: Option<String>,
    /// The Twilio account (`AC…`).
    pub account_sid: Option<String>,
    /// The Messaging Service (`MG…`), when one sent it.
    pub messaging_service_sid: Option<String>,
    /// `whatsapp:+E164` or `+E164`.
    pub from: String,
    /// The clinic's number the patient wrote to, `whatsapp:+E164` or `+E164`.
    pub to: Option<String>,
    /// The message text; empty for media only.
    pub body: Option<String>,
    /// How many media files (`MediaUrlN`) come with it, as text.
    pub num_media: Option<String>,
    /// `MediaUrl0`, `MediaUrl1`… with `MediaContentType0`…
    #[schema(value_type = Option<String>)]
    pub media_url0: Option<String>,
    /// MIME type of `MediaUrl0` (and so on for each `N`).
    #[schema(value_type = Option<String>)]
    pub media_content_type0: Option<String>,
    /// SMS segments (or WhatsApp messages) that made up the body.
    pub num_segments: Option<String>,
    /// The sender's WhatsApp profile name.
    pub profile_name: Option<String>,
    /// The sender's WhatsApp id (digits of their number).
    pub wa_id: Option<String>,
    /// `true` when the WhatsApp message was forwarded.
    pub forwarded: Option<String>,
    /// `true` when WhatsApp marks it as forwarded many times.
    pub frequently_forwarded: Option<String>,
    /// The text of a quick-reply button the patient pressed.
    pub button_text: Option<String>,
    /// The payload of a quick-reply button the patient pressed.
    pub button_payload: Option<String>,
    /// A shared location (WhatsApp), with `Address` and `Label` for a named place.
    pub latitude: Option<String>,
    /// Longitude of a shared location (see `Latitude`).
    pub longitude: Option<String>,
    /// Address of a shared named place.
    pub address: Option<String>,
    /// Name of a shared named place.
    pub label: Option<String>,
    /// Twilio API version of the request.
    pub api_version: Option<String>,
    /// Media count of a click-to-WhatsApp ad referral.
    pub referral_num_media: Option<String>,
    /// Sender's city, when Twilio knows it (SMS).
    pub from_city: Option<String>,
    /// Sender's state or region, when Twilio knows it (SMS).
    pub from_state: Option<String>,
    /// Sender's postal code, when Twilio knows it (SMS).
    pub from_zip: Option<String>,
    /// Sender's country code, when Twilio knows it.
    pub from_country: Option<String>,
    /// City of the clinic's number, when Twilio knows it (SMS).
    pub to_city: Option<String>,
    /// State or region of the clinic's number, when Twilio knows it (SMS).
    pub to_state: Option<String>,
    /// Postal code of the clinic's number, when Twilio knows it (SMS).
    pub to_zip: Option<String>,
    /// Country code of the clinic's number, when Twilio knows it.
    pub to_country: Option<String>,
    /// Every parameter not listed above, as posted.
    #[serde(skip)]
    pub other: BTreeMap<String, String>,
    #[serde(skip)]
    pub media: Vec<Media>,
    /// Every parameter the event does not carry by name, as posted (first value of each).
    #[serde(skip)]
    pub provider_fields: BTreeMap<String, String>,
}

/// Twilio's status callback form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
#[schema(example = json!({
    "MessageSid": "SMfedcba9876543210fedcba9876543210",
    "MessageStatus": "delivered",
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "From": "whatsapp:+14155238886",
    "To": "whatsapp:+573001234567"
}))]
pub struct TwilioStatusForm {
    /// Twilio's id of the outbound message whose status changed.
    pub message_sid: String,
    /// queued, sending, sent, delivered, read, failed, undelivered…
    pub message_status: String,
    /// Twilio's error code when `failed` or `undelivered` (e.g. `63016`).
    pub error_code: Option<String>,
    /// Twilio's description of the error, when it sends one.
    pub error_message: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormError {
    #[error("the form lacks `{0}`")]
    Missing(&'static str),
    #[error("`{0}` is not a phone number")]
    InvalidPhone(&'static str),
    #[error(
        "`{0}` must be 1 to {MAX_PROVIDER_MESSAGE_ID_CHARS} characters without control characters"
    )]
    InvalidId(&'static str),
}

impl From<FormError> for ApiError {
    fn from(e: FormError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// A message sid we can store and key on (Twilio's are 34 characters).
fn message_sid(value: Option<String>) -> Result<String, FormError> {
    let sid = non_empty(value).ok_or(FormError::Missing("MessageSid"))?;
    if is_storable_provider_message_id(&sid) {
        Ok(sid)
    } else {
        Err(FormError::InvalidId("MessageSid"))
    }
}

/// Parameters MESSAGE_RECEIVED carries under names of its own (media are checked apart).
const CARRIED: [&str; 7] = [
    "MessageSid",
    "From",
    "To",
    "Body",
    "NumMedia",
    "ProfileName",
    "WaId",
];

impl TwilioInboundForm {
    /// Reads the posted pairs. A repeated name keeps its first value (Twilio never repeats
    /// the fields we read; the signature covers every value anyway).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, FormError> {
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in pairs {
            fields.entry(name).or_insert(value);
        }
        let mut provider_fields = fields.clone();
        provider_fields.retain(|name, _| !CARRIED.contains(&name.as_str()));
        let mut take = |name: &str| fields.remove(name);
        let mut form = Self {
            message_sid: message_sid(take("MessageSid"))?,
            from: non_empty(take("From")).ok_or(FormError::Missing("From"))?,
            sms_sid: take("SmsSid"),
            sms_message_sid: take("SmsMessageSid"),
            account_sid: take("AccountSid"),
            messaging_service_sid: take("MessagingServiceSid"),
            to: non_empty(take("To")),
            body: take("Body"),
            num_media: take("NumMedia"),
            media_url0: None,
            media_content_type0: None,
            num_segments: take("NumSegments"),
            profile_name: non_empty(take("ProfileName")),
            wa_id: non_empty(take("WaId")),
            forwarded: take("Forwarded"),
            frequently_forwarded: take("FrequentlyForwarded"),
            button_text: take("ButtonText"),
            button_payload: take("ButtonPayload"),
            latitude: take("Latitude"),
            longitude: take("Longitude"),
            address: take("Address"),
            label: take("Label"),
            api_version: take("ApiVersion"),
            referral_num_media: take("ReferralNumMedia"),
            from_city: take("FromCity"),
            from_state: take("FromState"),
            from_zip: take("FromZip"),
            from_country: take("FromCountry"),
            to_city: take("ToCity"),
            to_state: take("ToState"),
            to_zip: take("ToZip"),
            to_country: take("ToCountry"),
            other: BTreeMap::new(),
            media: Vec::new(),
            provider_fields: BTreeMap::new(),
        };
        // Twilio sends at most 10 media per message; NumMedia says how many.
        let declared = form
            .num_media
            .as_deref()
            .and_then(|n| n.trim().parse::<usize>().ok())
            .unwrap_or(0);
        for i in 0..declared.min(10) {
            let (url_name, type_name) = (format!("MediaUrl{i}"), format!("MediaContentType{i}"));
            let url = non_empty(take(&url_name));
            let content_type = take(&type_name).unwrap_or_default();
            if let Some(url) = url {
                form.media.push(Media { url, content_type });
                // In the event's `media`; a media beyond NumMedia stays a provider field.
                provider_fields.remove(&url_name);
                provider_fields.remove(&type_name);
            }
        }
        form.media_url0 = form.media.first().map(|m| m.url.clone());
        form.media_content_type0 = form.media.first().map(|m| m.content_type.clone());
        form.other = fields;
        form.provider_fields = provider_fields;
        Ok(form)
    }

    /// The message in our terms: numbers in E.164, the channel from the `whatsapp:` prefix,
    /// the first audio attachment as the voice note to transcribe.
    /// `received_at`: the service clock's now.
    pub fn into_message(
        self,
        default_country_code: &str,
        received_at: DateTime<Utc>,
    ) -> Result<InboundMessage, FormError> {
        let channel = if self
            .from
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("whatsapp:")
        {
            Channel::Whatsapp
        } else {
            Channel::Sms
        };
        let from = PhoneNumber::parse(&self.from, default_country_code)
            .map_err(|_| FormError::InvalidPhone("From"))?;
        let to = self.to.as_deref().ok_or(FormError::Missing("To"))?;
        let to = PhoneNumber::parse(to, default_country_code)
            .map_err(|_| FormError::InvalidPhone("To"))?;
        let voice_note = self
            .media
            .iter()
            .find(|m| is_audio(&m.content_type))
            .map(|m| AudioSource::TwilioUrl {
                url: m.url.clone(),
                content_type: m.content_type.clone(),
            });
        let location = match (&self.latitude, &self.longitude) {
            (Some(latitude), Some(longitude)) => {
                SharedLocation::parse(latitude, longitude, self.address, self.label)
            }
            _ => None,
        };
        let provider_fields = (!self.provider_fields.is_empty()).then(|| {
            self.provider_fields
                .into_iter()
                .map(|(name, value)| (name, serde_json::Value::String(value)))
                .collect()
        });
        Ok(InboundMessage {
            provider: MessageProvider::Twilio,
            provider_message_id: self.message_sid,
            channel,
            from,
            to,
            // Verbatim: no trimming, no normalization.
            body: self.body.unwrap_or_default(),
            media: self.media,
            profile_name: self.profile_name,
            wa_id: self.wa_id,
            transcription: None,
            voice_note,
            received_at,
            intent: None,
            extracted_data: None,
            location,
            provider_fields,
        })
    }
}

impl TwilioStatusForm {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, FormError> {
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in pairs {
            fields.entry(name).or_insert(value);
        }
        Ok(Self {
            message_sid: message_sid(
                fields
                    .remove("MessageSid")
                    .or_else(|| fields.remove("SmsSid")),
            )?,
            message_status: non_empty(
                fields
                    .remove("MessageStatus")
                    .or_else(|| fields.remove("SmsStatus")),
            )
            .ok_or(FormError::Missing("MessageStatus"))?,
            error_code: non_empty(fields.remove("ErrorCode")),
            error_message: non_empty(fields.remove("ErrorMessage")),
        })
    }
}

/// Twilio's status words in the catalog's terms; `None` for states that say nothing
/// about an outbound message (`receiving`, `received`…).
pub fn delivery_status(twilio_status: &str) -> Option<DeliveryStatus> {
    match twilio_status.trim().to_ascii_lowercase().as_str() {
        "accepted" | "scheduled" | "queued" => Some(DeliveryStatus::Queued),
        "sending" | "sent" => Some(DeliveryStatus::Sent),
        "delivered" => Some(DeliveryStatus::Delivered),
        "read" => Some(DeliveryStatus::Read),
        "failed" | "canceled" => Some(DeliveryStatus::Failed),
        "undelivered" => Some(DeliveryStatus::Undelivered),
        _ => None,
    }
}

/// The 503's detail while validation is on and `TWILIO_AUTH_TOKEN` unset.
const OFF: &str = "Twilio signature validation is on but TWILIO_AUTH_TOKEN is not configured; the webhook refuses unsigned traffic.";

fn invalid_signature() -> ApiError {
    ApiError::new(ErrorCode::InvalidSignature).with_detail(
        "The X-Twilio-Signature does not match this request (check PUBLIC_BASE_URL and the auth token).",
    )
}

/// Checks the signature of a Twilio request and returns its parameters.
///
/// A form post is signed over the URL and its sorted parameters. When the URL carries
/// `bodySHA256`, Twilio signed a JSON body: the signature covers the URL, the hash binds
/// the body, and the body's top-level fields are the parameters.
fn verified_params(
    req: &HttpRequest,
    state: &AppState,
    body: &[u8],
    route: &'static str,
) -> Result<Vec<(String, String)>, ApiError> {
    let config = &state.config;
    let url = public_url(&config.public_base_url, req);
    let signed_json = prm_twilio::body_sha256(&url).is_some();
    // Unsigned (validation off): the content type says which it is.
    let json = signed_json
        || (!config.validate_twilio_signature
            && header(req, "content-type")
                .and_then(|ct| ct.split(';').next())
                .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json")));
    let params = if json {
        None
    } else {
        Some(prm_twilio::parse_form(body).map_err(|_| {
            ApiError::bad_request("The body is not a valid application/x-www-form-urlencoded form.")
        }))
    };
    if config.validate_twilio_signature {
        let Some(validator) = &config.twilio_validator else {
            tracing::warn!(
                route,
                "Twilio webhook refused: TWILIO_AUTH_TOKEN is not configured"
            );
            prm_platform::signed::count_rejection(route, "not_configured");
            return Err(ApiError::unavailable(OFF));
        };
        let Some(signature) = header(req, prm_twilio::SIGNATURE_HEADER) else {
            tracing::warn!(
                route,
                reason = "missing X-Twilio-Signature",
                "Twilio webhook rejected"
            );
            prm_platform::signed::count_rejection(route, "missing_signature");
            return Err(ApiError::bad_request(
                "The X-Twilio-Signature header is missing.",
            ));
        };
        let valid = match &params {
            None => validator.validate_json(&url, body, signature),
            Some(Ok(params)) => validator.validate_form(&url, params, signature),
            // Not a form: nothing Twilio signed.
            Some(Err(_)) => false,
        };
        if !valid {
            tracing::warn!(
                route,
                reason = if signed_json {
                    "signature or bodySHA256 mismatch"
                } else {
                    "signature mismatch"
                },
                "Twilio webhook rejected"
            );
            prm_platform::signed::count_rejection(route, "signature_mismatch");
            return Err(invalid_signature());
        }
    }
    match params {
        Some(params) => params,
        None => json_params(body),
    }
}

/// The top-level fields of a JSON body as parameters: strings as they are, numbers and
/// booleans in their JSON spelling, nested values as JSON text, nulls left out.
fn json_params(body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let object: serde_json::Map<String, serde_json::Value> =
        prm_platform::extract::parse_json(body)?;
    Ok(object
        .into_iter()
        .filter_map(|(name, value)| {
            let value = match value {
                serde_json::Value::Null => return None,
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            Some((name, value))
        })
        .collect())
}

/// `PUBLIC_BASE_URL` + the request's path and query, as Twilio called it.
pub fn public_url(public_base_url: &str, req: &HttpRequest) -> String {
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_owned(), |pq| pq.as_str().to_owned());
    format!(
        "{}{}",
        public_base_url.trim_end_matches('/'),
        path_and_query
    )
}

/// Inbound WhatsApp or SMS message from Twilio.
///
/// Signed with `X-Twilio-Signature`. Each `MessageSid` produces exactly one
/// MESSAGE_RECEIVED however often Twilio delivers it; the answer is always empty TwiML.
#[utoipa::path(
    post,
    operation_id = "webhooks_inbound",
    path = "/api/v1/prm/webhooks/twilio",
    tag = "webhooks",
    security(("twilio_signature" = [])),
    params(("X-Twilio-Signature" = String, Header, description = "Base64 HMAC-SHA1 of PUBLIC_BASE_URL + path + query and the sorted parameters, keyed with the auth token", example = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")),
    request_body(content = TwilioInboundForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Accepted (or a duplicate, ignored)", content_type = "text/xml", body = String,
            example = json!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>")),
        (status = 400, description = "Missing signature; MessageSid, From or To missing or invalid (a MessageSid over 255 characters or with control characters); a malformed form or JSON body", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(ApiError::from(FormError::Missing("MessageSid")).example())),
        (status = 403, description = "Wrong signature", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(invalid_signature().example())),
        (status = 413, description = "Body over 64 KiB", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(ApiError::payload_too_large(crate::TWILIO_BODY_LIMIT).example())),
        (status = 503, description = "TWILIO_AUTH_TOKEN is not configured", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(ApiError::unavailable(OFF).example())),
    )
)]
pub async fn inbound(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&req, payload).await?;
    let pairs = verified_params(&req, &state, &body, "twilio")?;
    let form = TwilioInboundForm::from_pairs(pairs)?;
    if !form.other.is_empty() {
        // Names only: values may be patient data.
        tracing::debug!(fields = ?form.other.keys().collect::<Vec<_>>(), "Twilio sent fields we do not use");
    }
    let message = form.into_message(&state.config.default_country_code, state.clock.now())?;
    state
        .inbox
        .accept_message(message)
        .await
        .map_err(ApiError::from)?;
    Ok(empty_twiml())
}

/// Delivery status callback for a message we sent through Twilio.
///
/// Signed like every Twilio request. Each (MessageSid, MessageStatus) produces one
/// MESSAGE_STATUS_UPDATED; states that say nothing about delivery (`receiving`,
/// `received`) are acknowledged without an event.
#[utoipa::path(
    post,
    operation_id = "webhooks_status",
    path = "/api/v1/prm/webhooks/twilio/status",
    tag = "webhooks",
    security(("twilio_signature" = [])),
    params(("X-Twilio-Signature" = String, Header, description = "As for the inbound webhook: base64 HMAC-SHA1 of PUBLIC_BASE_URL + /api/v1/prm/webhooks/twilio/status (+ query) and the sorted parameters, keyed with the auth token",
        example = "jeTfbUg2I/erQ0XlvtxqPCAgB5A=")),
    request_body(content = TwilioStatusForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Accepted (or a duplicate, ignored)", content_type = "text/xml", body = String,
            example = json!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>")),
        (status = 400, description = "Missing signature; MessageSid or MessageStatus missing, or a MessageSid over 255 characters or with control characters; a malformed body", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(ApiError::from(FormError::Missing("MessageStatus")).example())),
        (status = 403, description = "Wrong signature", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(invalid_signature().example())),
        (status = 413, description = "Body over 64 KiB", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(ApiError::payload_too_large(crate::TWILIO_BODY_LIMIT).example())),
        (status = 503, description = "TWILIO_AUTH_TOKEN is not configured", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(ApiError::unavailable(OFF).example())),
    )
)]
pub async fn status(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&req, payload).await?;
    let pairs = verified_params(&req, &state, &body, "twilio/status")?;
    let form = TwilioStatusForm::from_pairs(pairs)?;
    let Some(status) = delivery_status(&form.message_status) else {
        tracing::info!(status = %form.message_status, "Twilio status without a delivery meaning; acknowledged");
        return Ok(empty_twiml());
    };
    let report = StatusReport {
        provider: MessageProvider::Twilio,
        provider_message_id: form.message_sid,
        status,
        raw_status: form.message_status,
        error_code: form.error_code,
        updated_at: state.clock.now(),
    };
    state
        .inbox
        .accept_status(report)
        .await
        .map_err(ApiError::from)?;
    Ok(empty_twiml())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parses_media_and_keeps_unknown_fields() {
        let form = TwilioInboundForm::from_pairs(pairs(&[
            ("MessageSid", "SM1"),
            ("From", "whatsapp:+573001234567"),
            ("To", "whatsapp:+14155238886"),
            ("Body", "  hola  "),
            ("NumMedia", "2"),
            ("MediaUrl0", "https://api.twilio.com/m/0"),
            ("MediaContentType0", "image/jpeg"),
            ("MediaUrl1", "https://api.twilio.com/m/1"),
            ("MediaContentType1", "audio/ogg"),
            ("ChannelMetadata", "{}"),
        ]))
        .unwrap();
        assert_eq!(form.media.len(), 2);
        assert_eq!(
            form.other.get("ChannelMetadata").map(String::as_str),
            Some("{}")
        );
        let message = form.into_message("57", Utc::now()).unwrap();
        assert_eq!(message.channel, Channel::Whatsapp);
        assert_eq!(message.from.as_str(), "+573001234567");
        assert_eq!(message.to.as_str(), "+14155238886");
        assert_eq!(message.body, "  hola  ");
        assert!(
            matches!(message.voice_note, Some(AudioSource::TwilioUrl { ref url, .. }) if url.ends_with("/1"))
        );
    }

    #[test]
    fn required_fields_and_numbers_are_checked() {
        assert_eq!(
            TwilioInboundForm::from_pairs(pairs(&[("From", "+573001234567")])).unwrap_err(),
            FormError::Missing("MessageSid")
        );
        assert_eq!(
            TwilioInboundForm::from_pairs(pairs(&[("MessageSid", "SM1"), ("From", " ")]))
                .unwrap_err(),
            FormError::Missing("From")
        );
        let bad = TwilioInboundForm::from_pairs(pairs(&[
            ("MessageSid", "SM1"),
            ("From", "whatsapp:abc"),
            ("To", "+14155238886"),
        ]))
        .unwrap();
        assert_eq!(
            bad.into_message("57", Utc::now()).unwrap_err(),
            FormError::InvalidPhone("From")
        );
        let sms = TwilioInboundForm::from_pairs(pairs(&[
            ("MessageSid", "SM1"),
            ("From", "3001234567"),
            ("To", "+14155238886"),
        ]))
        .unwrap();
        let sms = sms.into_message("57", Utc::now()).unwrap();
        assert_eq!(
            (sms.channel, sms.from.as_str()),
            (Channel::Sms, "+573001234567")
        );
    }

    #[test]
    fn media_beyond_num_media_or_ten_is_ignored() {
        let mut items = vec![
            ("MessageSid", "SM1"),
            ("From", "+573001234567"),
            ("NumMedia", "99999999999"),
        ];
        let urls: Vec<String> = (0..12).map(|i| format!("MediaUrl{i}")).collect();
        for url in &urls {
            items.push((url.as_str(), "https://api.twilio.com/x"));
        }
        let form = TwilioInboundForm::from_pairs(pairs(&items)).unwrap();
        assert_eq!(form.media.len(), 10);
    }

    #[test]
    fn twilio_statuses_map_to_the_catalog() {
        assert_eq!(
            delivery_status("delivered"),
            Some(DeliveryStatus::Delivered)
        );
        assert_eq!(delivery_status("SENDING"), Some(DeliveryStatus::Sent));
        assert_eq!(
            delivery_status("undelivered"),
            Some(DeliveryStatus::Undelivered)
        );
        assert_eq!(delivery_status("read"), Some(DeliveryStatus::Read));
        assert_eq!(delivery_status("queued"), Some(DeliveryStatus::Queued));
        assert_eq!(delivery_status("failed"), Some(DeliveryStatus::Failed));
        assert_eq!(delivery_status("received"), None);
    }
}
