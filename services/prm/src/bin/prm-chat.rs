//! `prm-chat` (`make demo`): a terminal chat in which you are the patient. It starts the
//! whole suite in this process on the embedded defaults with the demo clinic (a fresh
//! SQLite file, in-memory state, in-process bus), signs each line you type as Twilio
//! signs a WhatsApp message, posts it to the webhook, and prints the bot's replies and
//! the events that flow, until an appointment is booked. No Twilio account needed.
//!
//! `--url` talks to a running suite instead (then `--twilio-token`, `--api-key` and its
//! `--public-url` are needed; events are not visible from outside, stages are).

use std::{
    io::{BufRead, IsTerminal, Write},
    process::ExitCode,
    time::{Duration, Instant},
};

use clap::Parser;
use prm_bus::{EventType, Subscription, handler_fn};
use prm_platform::Settings;
use prm_twilio::RequestValidator;
use secrecy::SecretString;
use serde_json::Value;
use tokio::sync::mpsc;

/// A terminal chat with PRM's WhatsApp bot: you are the patient.
#[derive(Parser, Debug)]
#[command(name = "prm-chat", version)]
struct Cli {
    /// The patient's phone (any notation; Colombian when national).
    #[arg(long, default_value = "+57 300 123 4567")]
    phone: String,
    /// Talk to a running suite at this address instead of starting one.
    #[arg(long, requires_all = ["twilio_token", "api_key"])]
    url: Option<String>,
    /// The running suite's TWILIO_AUTH_TOKEN (to sign as Twilio does).
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    twilio_token: Option<String>,
    /// A key of the running suite's PRM_API_KEYS (to read the conversation).
    #[arg(long, env = "PRM_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The running suite's PUBLIC_BASE_URL (what Twilio signatures are computed over).
    #[arg(long)]
    public_url: Option<String>,
    /// Show the suite's logs (warnings and errors) on stderr.
    #[arg(long)]
    verbose: bool,
}

const CLINIC_NUMBER: &str = "+14155238886";
const WEBHOOK: &str = "/api/v1/prm/webhooks/twilio";
/// How long the chat waits for the bot after a message before asking for the next.
const QUIET: Duration = Duration::from_millis(600);
const PATIENCE: Duration = Duration::from_secs(30);

struct Target {
    url: String,
    public_url: String,
    validator: RequestValidator,
    api_key: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match actix_web::rt::System::new().block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(3),
        Err(e) => {
            eprintln!("prm-chat: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `Ok(true)` once an appointment was booked; `Ok(false)` when the input ended first.
async fn run(cli: Cli) -> anyhow::Result<bool> {
    let (events_tx, mut events) = mpsc::unbounded_channel::<String>();
    let mut _suite = None;
    let target = match &cli.url {
        Some(url) => Target {
            url: url.trim_end_matches('/').to_owned(),
            public_url: cli
                .public_url
                .clone()
                .unwrap_or_else(|| url.clone())
                .trim_end_matches('/')
                .to_owned(),
            validator: RequestValidator::new(SecretString::from(
                cli.twilio_token.clone().unwrap_or_default(),
            )),
            api_key: cli.api_key.clone().unwrap_or_default(),
        },
        None => {
            let (target, suite) = start_suite(cli.verbose, events_tx).await?;
            _suite = Some(suite);
            target
        }
    };
    let phone = prm_domain::PhoneNumber::parse(&cli.phone, "57")
        .map_err(|e| anyhow::anyhow!("--phone: {e}"))?;
    let client = reqwest::Client::new();
    let interactive = std::io::stdin().is_terminal();
    println!(
        "PRM demo: you are the patient {} writing on WhatsApp to the clinic's demo number.",
        phone.as_str()
    );
    println!(
        "Try \"Hola, necesito una cita con el cardiólogo\" or \"Hi, I need an appointment\". Ctrl-D ends.\n"
    );
    let mut seen = 0usize;
    let mut lines = std::io::stdin().lock().lines();
    loop {
        if interactive {
            print!("you  › ");
            let _ = std::io::stdout().flush();
        }
        let Some(line) = lines.next().transpose()? else {
            println!("\n(input ended before a booking)");
            return Ok(false);
        };
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if !interactive {
            println!("you  › {text}");
        }
        post_as_twilio(&client, &target, &phone, text).await?;
        let (replies, stage) =
            wait_for_replies(&client, &target, &phone, &mut seen, &mut events).await?;
        for reply in replies {
            for (i, l) in reply.lines().enumerate() {
                println!("{} {l}", if i == 0 { "bot  ›" } else { "      " });
            }
        }
        while let Ok(event) = events.try_recv() {
            println!("       · {event}");
        }
        if stage.as_deref() == Some("booked") {
            println!(
                "\n✔ Booked. The confirmation above went out as the WhatsApp reply; APPOINTMENT_CREATED is on the bus for journey orchestration."
            );
            return Ok(true);
        }
        if stage.as_deref() == Some("escalated") {
            println!("\n(the conversation was handed to staff: the bot does not book it)");
            return Ok(false);
        }
    }
}

/// The suite in this process with the demo clinic, on a fresh SQLite file.
async fn start_suite(
    verbose: bool,
    events: mpsc::UnboundedSender<String>,
) -> anyhow::Result<(Target, (prm_runtime::Running, prm_bus::ConsumerHandle))> {
    if verbose {
        let _ = prm_platform::telemetry::init(
            "prm-chat",
            None,
            prm_platform::telemetry::LogFormat::Pretty,
        )
        .map(std::mem::forget);
    } else {
        let _ = prm_platform::telemetry::init_for_tests(false).map(std::mem::forget);
    }
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let database = std::env::temp_dir().join(format!("prm-chat-{unique}.db"));
    let token = format!("chat-{unique}");
    let api_key = format!("chat-key-{unique}");
    let public_url = "http://localhost:8080".to_owned();
    let vars: std::collections::HashMap<String, String> = [
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", "0".to_owned()),
        (
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", database.display()),
        ),
        ("PRM_API_KEYS", api_key.clone()),
        ("TWILIO_AUTH_TOKEN", token.clone()),
        ("PUBLIC_BASE_URL", public_url.clone()),
        ("RATE_LIMIT_API_PER_SECOND", "0".to_owned()),
        ("RATE_LIMIT_WEBHOOKS_PER_SECOND", "0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let settings = Settings::from_map(prm::DEFAULT_PORT, &vars)?;
    let running = prm::start(settings, true).await?;
    let interesting = [
        EventType::MessageReceived,
        EventType::TriageCompleted,
        EventType::SlotsOffered,
        EventType::SlotSelectionReceived,
        EventType::AppointmentCreated,
        EventType::MessageSendRequested,
        EventType::ConversationOpened,
        EventType::ConversationEscalated,
    ];
    // Kept with the suite: dropping the handle would stop the consumer.
    let consumer = running
        .backends()
        .bus
        .subscribe(Subscription::to_events(
            "prm.chat.events",
            interesting,
            handler_fn(move |delivery| {
                let events = events.clone();
                async move {
                    let _ = events.send(describe(&delivery.envelope));
                    Ok(())
                }
            }),
        ))
        .await?;
    let url = format!("http://127.0.0.1:{}", running.port());
    Ok((
        Target {
            url,
            public_url,
            validator: RequestValidator::new(SecretString::from(token)),
            api_key,
        },
        (running, consumer),
    ))
}

/// One line about an event: its type and what matters in it (no message texts).
fn describe(envelope: &prm_bus::Envelope) -> String {
    let data = &envelope.data;
    let detail = match envelope.event_type.as_str() {
        "TRIAGE_COMPLETED" => format!(
            "department {}, urgency {}",
            data["department"].as_str().unwrap_or("?"),
            data["urgency"].as_str().unwrap_or("routine")
        ),
        "SLOTS_OFFERED" => format!("{} slots", data["slots"].as_array().map_or(0, Vec::len)),
        "APPOINTMENT_CREATED" => format!(
            "{} with {} at {}",
            data["start"].as_str().unwrap_or("?"),
            data["practitioner"]["name"].as_str().unwrap_or("?"),
            data["location"]["name"].as_str().unwrap_or("?")
        ),
        "CONVERSATION_ESCALATED" => format!("reason {}", data["reason"].as_str().unwrap_or("?")),
        _ => String::new(),
    };
    format!("{} {detail}", envelope.event_type)
        .trim_end()
        .to_owned()
}

/// Posts `text` as Twilio posts a WhatsApp message, signed over the public URL.
async fn post_as_twilio(
    client: &reqwest::Client,
    target: &Target,
    phone: &prm_domain::PhoneNumber,
    text: &str,
) -> anyhow::Result<()> {
    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    let params: Vec<(String, String)> = [
        ("MessageSid", sid.as_str()),
        ("SmsMessageSid", sid.as_str()),
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("From", &format!("whatsapp:{}", phone.as_str())),
        ("To", &format!("whatsapp:{CLINIC_NUMBER}")),
        ("Body", text),
        ("NumMedia", "0"),
        ("ProfileName", "Demo patient"),
        ("WaId", phone.as_str().trim_start_matches('+')),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let signature = target
        .validator
        .compute_signature(&format!("{}{WEBHOOK}", target.public_url), &params);
    let response = client
        .post(format!("{}{WEBHOOK}", target.url))
        .header("X-Twilio-Signature", signature)
        .form(&params)
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "the webhook answered {}: {}",
        response.status(),
        response.text().await.unwrap_or_default()
    );
    Ok(())
}

/// Waits until the bot has answered (new bot messages, then a quiet moment) and returns
/// them with the conversation's stage.
async fn wait_for_replies(
    client: &reqwest::Client,
    target: &Target,
    phone: &prm_domain::PhoneNumber,
    seen: &mut usize,
    events: &mut mpsc::UnboundedReceiver<String>,
) -> anyhow::Result<(Vec<String>, Option<String>)> {
    let started = Instant::now();
    let mut last_change = Instant::now();
    let mut replies = Vec::new();
    let mut stage = None;
    loop {
        while let Ok(event) = events.try_recv() {
            println!("       · {event}");
        }
        if let Some((conversation, messages)) = conversation(client, target, phone).await? {
            stage = conversation["stage"].as_str().map(str::to_owned);
            let bot: Vec<&Value> = messages
                .iter()
                .filter(|m| m["direction"] == "outbound")
                .collect();
            if bot.len() > *seen {
                for m in &bot[*seen..] {
                    replies.push(m["body"].as_str().unwrap_or_default().to_owned());
                }
                *seen = bot.len();
                last_change = Instant::now();
            }
        }
        let quiet = last_change.elapsed() >= QUIET;
        if (!replies.is_empty() && quiet) || started.elapsed() > PATIENCE {
            return Ok((replies, stage));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn conversation(
    client: &reqwest::Client,
    target: &Target,
    phone: &prm_domain::PhoneNumber,
) -> anyhow::Result<Option<(Value, Vec<Value>)>> {
    let list: Value = client
        .get(format!("{}/api/v1/prm/conversations", target.url))
        .query(&[("phone", phone.as_str()), ("status", "open")])
        .bearer_auth(&target.api_key)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let Some(id) = list["items"][0]["id"].as_str() else {
        return Ok(None);
    };
    let detail: Value = client
        .get(format!("{}/api/v1/prm/conversations/{id}", target.url))
        .bearer_auth(&target.api_key)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let messages = detail["messages"].as_array().cloned().unwrap_or_default();
    Ok(Some((detail, messages)))
}
