//! `prm-conversations`: the conversations service on its own (port 8002).

static BINARY: prm_runtime::Binary = prm_runtime::Binary::single(
    &[&prm_conversations::SERVICE],
    "PRM conversations: one conversation per patient phone, the booking journey, a staff inbox (port 8002)",
);

fn main() -> std::process::ExitCode {
    prm_runtime::cli::main(&BINARY)
}
