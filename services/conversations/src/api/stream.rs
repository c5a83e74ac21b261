//! `GET /api/v1/prm/conversations/stream`: Server-Sent Events for a staff inbox.

use std::{sync::Arc, time::Duration};

use actix_web::{HttpRequest, Responder, get, http::header, web};
use actix_web_lab::sse;
use futures::StreamExt;
use prm_platform::{ApiError, auth::ApiKeys};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

use super::views::{ConversationView, MessageView};
use crate::app::{App, stream::StreamEvent};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// The API key, for clients that cannot send headers (a browser's EventSource).
    #[param(example = "prm_dev_0123456789abcdefghijklmnopqrstuv")]
    pub api_key: Option<String>,
}

/// Live inbox: Server-Sent Events of messages and conversation changes
///
/// `event: message` with a Message for every message stored or updated (delivery status), `event: conversation` with a Conversation for every
/// change; JSON data. Authenticate with the Bearer header or `?api_key=`.
#[utoipa::path(get, operation_id = "stream_conversations", path = "/api/v1/prm/conversations/stream", tag = "conversations",
    params(StreamQuery), security(("api_key" = [])),
    responses(
        (status = 200, description = "An endless `text/event-stream`: `event: message` / `event: conversation` with JSON data", content_type = "text/event-stream", body = String,
            example = "event: message\ndata: {\"id\":\"0193a5e4-5555-7000-8000-000000000001\",\"direction\":\"inbound\",\"body\":\"Hola\"}\n\n"),
        (status = 401, description = "No valid key", body = prm_platform::error::Problem, content_type = "application/problem+json")))]
#[get("/api/v1/prm/conversations/stream")]
pub async fn stream(
    req: HttpRequest,
    app: web::Data<Arc<App>>,
    keys: web::Data<ApiKeys>,
    query: web::Query<StreamQuery>,
) -> Result<impl Responder, ApiError> {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let key = bearer.or_else(|| query.api_key.clone());
    match key {
        None => {
            return Err(ApiError::unauthorized(
                prm_platform::auth::MISSING_KEY_DETAIL,
            ));
        }
        Some(key) if !keys.verify(&key) => {
            return Err(ApiError::unauthorized("The API key is not valid."));
        }
        Some(_) => {}
    }
    let subscription = app.stream.subscribe();
    let events = futures::stream::unfold(subscription, |mut sub| async move {
        loop {
            match sub.receiver.recv().await {
                Ok(event) => {
                    let sent = match event {
                        StreamEvent::Message(m) => {
                            sse::Data::new_json(MessageView::from(*m)).map(|d| d.event("message"))
                        }
                        StreamEvent::Conversation(c) => {
                            sse::Data::new_json(ConversationView::from(*c))
                                .map(|d| d.event("conversation"))
                        }
                    };
                    match sent {
                        Ok(data) => {
                            return Some((
                                Ok::<_, std::convert::Infallible>(sse::Event::Data(data)),
                                sub,
                            ));
                        }
                        Err(error) => tracing::warn!(%error, "stream event not serializable"),
                    }
                }
                // A slow client missed some: it goes on with the next ones.
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "staff stream client lagged");
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
    .boxed();
    Ok(sse::Sse::from_stream(events).with_keep_alive(Duration::from_secs(15)))
}
