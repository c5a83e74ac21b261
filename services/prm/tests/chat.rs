//! `make demo` (`prm-chat`): a typed conversation books an appointment on the embedded
//! defaults, with nothing but this binary: the all-in-one suite in one process.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::{
    io::Write,
    process::{Command, Stdio},
    time::Duration,
};

const CHAT: &str = env!("CARGO_BIN_EXE_prm-chat");

/// What a patient types, line by line, in Spanish and in English.
const SPANISH: &str = "Hola, necesito una cita con el cardiólogo
Soy Ana Ruiz, nací el 3 de mayo de 1985
me duele el pecho al subir escaleras
me canso mucho
ninguna
ninguno
cualquiera
lo antes posible
2
";

const ENGLISH: &str = "Hi, I need an appointment with a dermatologist
My name is John Smith, born May 3rd 1985
a rash on my arm
it itches
none
none
any
any day 10am
1
";

fn chat(script: &str) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("prm-chat-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(CHAT)
        .current_dir(&dir)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), stdout)
}

#[test]
fn a_spanish_conversation_books_in_at_most_ten_messages() {
    let (booked, out) = chat(SPANISH);
    assert!(booked, "no booking:\n{out}");
    let typed = out.lines().filter(|l| l.starts_with("you  ›")).count();
    assert!(typed <= 10, "{typed} messages:\n{out}");
    assert!(out.contains("APPOINTMENT_CREATED"), "{out}");
    assert!(
        out.contains("TRIAGE_COMPLETED department Cardiology"),
        "{out}"
    );
    assert!(
        out.contains("Tu cita de Cardiology quedó agendada"),
        "{out}"
    );
}

#[test]
fn an_english_conversation_books_too() {
    let (booked, out) = chat(ENGLISH);
    assert!(booked, "no booking:\n{out}");
    assert!(
        out.contains("TRIAGE_COMPLETED department Dermatology"),
        "{out}"
    );
    assert!(
        out.contains("Your Dermatology appointment is booked"),
        "{out}"
    );
}

#[test]
fn the_chat_refuses_unknown_flags_and_tells_its_usage() {
    let out = Command::new(CHAT).arg("--nope").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let help = Command::new(CHAT).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("you are the patient"));
}
