//! What reaches the logs, captured for assertions ("no patient data above debug").
//!
//! Capture in a test binary of its own: tracing caches per call site whether anyone
//! listens, and subscribers installed by parallel tests make that cache flaky.

use std::{
    io,
    sync::{Arc, Mutex, PoisonError},
};

use tracing::subscriber::DefaultGuard;

/// The log lines written while a capture lives.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn bytes(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    /// Everything captured since the last call.
    pub fn take(&self) -> String {
        let bytes = std::mem::take(&mut *self.bytes());
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn subscriber(&self, level: tracing::Level) -> impl tracing::Subscriber + Send + Sync {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
    }
}

/// Captures this thread's logs at `level` and above while the guard lives.
pub fn capture(level: tracing::Level) -> (Captured, DefaultGuard) {
    let captured = Captured::default();
    let guard = tracing::subscriber::set_default(captured.subscriber(level));
    (captured, guard)
}

/// Captures every thread's logs at `level` and above for the rest of the process (an
/// app's workers log on threads of their own); call it before anything logs.
pub fn capture_globally(level: tracing::Level) -> Captured {
    let captured = Captured::default();
    tracing::subscriber::set_global_default(captured.subscriber(level))
        .expect("the only subscriber of this test binary");
    captured
}
