//! `prm-appointments`: the appointments service on its own (port 8003).

static BINARY: prm_runtime::Binary = prm_runtime::Binary::single(
    &[&prm_appointments::SERVICE],
    "PRM appointments: clinic set-up, slot search and booking (port 8003)",
);

fn main() -> std::process::ExitCode {
    prm_runtime::cli::main(&BINARY)
}
