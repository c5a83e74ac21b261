use std::{future::Future, time::Duration};

/// How often [`eventually`] asks again.
const POLL: Duration = Duration::from_millis(20);

/// Waits until `check` answers true, asking every 20 ms; fails the test naming `what`
/// after `timeout`. Use it instead of a sleep long enough "on this machine": it returns
/// as soon as the condition holds, and a slow CI machine only makes it wait longer.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}
