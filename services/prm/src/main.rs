//! `prm`: the whole suite in one process on one port (8080), with embedded defaults
//! (SQLite at ./data/prm.db) so a newcomer runs it with one command. `prm --demo` also
//! seeds a demo clinic; `prm --help` lists the commands.

fn main() -> std::process::ExitCode {
    prm_runtime::cli::main(&prm::BINARY)
}
