//! Intake and triage through an OpenAI-compatible chat-completions endpoint
//! (async-openai): one request per turn with a strict JSON-schema response format, and
//! the answer validated before anything of it is used (`answer.rs`).
//!
//! `OPENAI_BASE_URL` (e.g. `http://127.0.0.1:8000/v1` for a local server) and
//! `OPENAI_MODEL` are honoured, so any OpenAI-compatible server works. Requests are not
//! retried here: a failed turn falls back to the built-in rules at once (see
//! [`crate::WithFallback`]), which is better for a patient waiting on WhatsApp than a
//! retry loop.

mod answer;
mod prompt;

use std::time::Duration;

use async_openai::{
    Client,
    config::OpenAIConfig,
    error::OpenAIError,
    types::chat::{
        ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
        CreateChatCompletionRequestArgs, ResponseFormat, ResponseFormatJsonSchema,
    },
};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    engine::{IntakeEngine, TriageEngine},
    error::AiError,
    intake::{IntakeReply, IntakeTurn},
    triage::{TriageDecision, TriageInput},
};

/// How to reach an OpenAI-compatible server (`OPENAI_*`).
#[derive(Clone)]
pub struct OpenAiConfig {
    pub api_key: SecretString,
    /// `OPENAI_BASE_URL`, up to `/v1`; `None`: OpenAI's own.
    pub base_url: Option<String>,
    /// `OPENAI_MODEL` (chat) or `OPENAI_TRANSCRIPTION_MODEL` (transcription).
    pub model: String,
    /// For one whole request.
    pub timeout: Duration,
}

impl std::fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl OpenAiConfig {
    /// An HTTP client bounded by the timeout.
    pub(crate) fn http(&self) -> Result<reqwest::Client, AiError> {
        reqwest::Client::builder()
            .connect_timeout(self.timeout.min(Duration::from_secs(5)))
            .timeout(self.timeout)
            .build()
            .map_err(|e| AiError::Unavailable(format!("HTTP client: {e}")))
    }

    /// An async-openai client on `http`, with async-openai's retries limited to
    /// `retry_for` (zero: none).
    pub(crate) fn client(
        &self,
        http: reqwest::Client,
        retry_for: Duration,
    ) -> Client<OpenAIConfig> {
        let mut config = OpenAIConfig::new().with_api_key(self.api_key.expose_secret());
        if let Some(base) = &self.base_url {
            config = config.with_api_base(base.trim_end_matches('/'));
        }
        let backoff = backoff::ExponentialBackoff {
            max_elapsed_time: Some(retry_for),
            ..Default::default()
        };
        Client::build(http, config, backoff)
    }
}

/// The OpenAI intake and triage engine.
#[derive(Clone)]
pub struct OpenAi {
    client: Client<OpenAIConfig>,
    model: String,
    timeout: Duration,
}

impl std::fmt::Debug for OpenAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAi")
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl OpenAi {
    pub const NAME: &'static str = "openai";

    pub fn new(config: &OpenAiConfig) -> Result<Self, AiError> {
        Ok(Self {
            client: config.client(config.http()?, Duration::ZERO),
            model: config.model.clone(),
            timeout: config.timeout,
        })
    }

    /// One chat completion whose answer must be a JSON object.
    async fn complete(
        &self,
        system: String,
        user: String,
        schema_name: &str,
        schema: Value,
    ) -> Result<Value, AiError> {
        let request = CreateChatCompletionRequestArgs::default()
            .model(self.model.clone())
            .messages([
                ChatCompletionRequestSystemMessage::from(system.as_str()).into(),
                ChatCompletionRequestUserMessage::from(user.as_str()).into(),
            ])
            .response_format(ResponseFormat::JsonSchema {
                json_schema: ResponseFormatJsonSchema {
                    description: None,
                    name: schema_name.to_owned(),
                    schema: Some(schema),
                    strict: Some(true),
                },
            })
            .build()
            .map_err(|e| AiError::Refused(format!("request: {e}")))?;
        // Only the answer's text is read: compatible servers do not all send the rest.
        #[derive(Deserialize)]
        struct Completion {
            choices: Vec<Choice>,
        }
        #[derive(Deserialize)]
        struct Choice {
            message: Message,
        }
        #[derive(Deserialize)]
        struct Message {
            content: Option<String>,
            #[serde(default)]
            refusal: Option<String>,
        }
        let chat = self.client.chat();
        let call = chat.create_byot::<_, Value>(request);
        let body = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| AiError::Timeout(self.timeout))?
            .map_err(|e| from_openai(e, self.timeout))?;
        let completion: Completion = serde_json::from_value(body)
            .map_err(|_| AiError::Malformed("not a chat completion".to_owned()))?;
        let message = completion
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| AiError::Malformed("no choices".to_owned()))?
            .message;
        if message.refusal.is_some_and(|r| !r.is_empty()) {
            return Err(AiError::Refused("the model refused to answer".to_owned()));
        }
        let content = message
            .content
            .ok_or_else(|| AiError::Malformed("no content".to_owned()))?;
        serde_json::from_str(&content)
            .map_err(|_| AiError::Malformed("the content is not JSON".to_owned()))
    }
}

/// async-openai's error, without anything the server echoed (it may repeat the patient's
/// words).
pub(crate) fn from_openai(error: OpenAIError, timeout: Duration) -> AiError {
    match error {
        OpenAIError::Reqwest(e) if e.is_timeout() => AiError::Timeout(timeout),
        OpenAIError::Reqwest(e) => AiError::Unavailable(e.without_url().to_string()),
        // Server errors come without a type or code (their body is not an error object).
        OpenAIError::ApiError(api) => match (api.r#type, api.code) {
            (None, None) => AiError::Unavailable("server error".to_owned()),
            (Some(kind), _) | (None, Some(kind)) => AiError::Refused(loggable(&kind)),
        },
        OpenAIError::JSONDeserialize(..) => {
            AiError::Malformed("the response is not JSON".to_owned())
        }
        OpenAIError::InvalidArgument(_) => AiError::Refused("invalid request".to_owned()),
        _ => AiError::Unavailable("request failed".to_owned()),
    }
}

fn loggable(kind: &str) -> String {
    kind.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(60)
        .collect()
}

#[async_trait]
impl IntakeEngine for OpenAi {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn turn(&self, turn: &IntakeTurn<'_>) -> Result<IntakeReply, AiError> {
        let (system, user) = prompt::intake(turn);
        let answer = self
            .complete(
                system,
                user,
                "intake_turn",
                answer::intake_schema(turn.clinic),
            )
            .await?;
        answer::intake_reply(answer, turn)
    }
}

#[async_trait]
impl TriageEngine for OpenAi {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn triage(&self, input: &TriageInput<'_>) -> Result<TriageDecision, AiError> {
        if input.clinic.departments.is_empty() {
            return Err(AiError::NoDepartments);
        }
        let (system, user) = prompt::triage(input);
        let answer = self
            .complete(system, user, "triage", answer::triage_schema(input.clinic))
            .await?;
        answer::triage_decision(answer, input)
    }
}
