//! `prm-webhooks`: the webhooks service on its own (port 8001).

static BINARY: prm_runtime::Binary = prm_runtime::Binary::single(
    &[&prm_webhooks::SERVICE],
    "PRM webhooks: Twilio, Meta WhatsApp and voice-agent webhooks → MESSAGE_RECEIVED (port 8001)",
);

fn main() -> std::process::ExitCode {
    prm_runtime::cli::main(&BINARY)
}
