//! `prm-n8n-callbacks`: the n8n callbacks service on its own (port 8004).

static BINARY: prm_runtime::Binary = prm_runtime::Binary::single(
    &[&prm_n8n_callbacks::SERVICE],
    "PRM n8n callbacks: the n8n workflows' answers (intake, triage, booking) turned into events (port 8004)",
);

fn main() -> std::process::ExitCode {
    prm_runtime::cli::main(&BINARY)
}
