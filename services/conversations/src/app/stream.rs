//! The staff inbox's live feed: every message stored or updated and every conversation
//! changed, within a second, to every connected client.
//!
//! The feed reads the database (what changed since the last look, a few seconds of
//! overlap, duplicates dropped), so a staff member connected to one replica also sees
//! what another replica stored. It looks right away when this process commits something
//! and otherwise every [`POLL_EVERY`], and only while a client is connected: an idle
//! inbox costs nothing, and a client that disconnects just stops receiving.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, TimeDelta, Utc};
use prm_domain::clock::SharedClock;
use prm_domain::conversation::{Conversation, Message};
use prm_runtime::CancellationToken;
use prm_store::Store;
use tokio::sync::{Notify, broadcast};
use uuid::Uuid;

/// How often the feed looks for changes made elsewhere.
pub const POLL_EVERY: Duration = Duration::from_millis(250);
/// How far back each look reaches again: transactions commit out of order.
const OVERLAP: TimeDelta = TimeDelta::seconds(3);
/// How many recently sent (id, version) pairs are remembered to drop duplicates.
const REMEMBERED: usize = 20_000;

/// One item of the feed.
#[derive(Debug, Clone)]
pub enum StreamEvent {
    Message(Box<Message>),
    Conversation(Box<Conversation>),
}

pub struct StreamHub {
    sender: broadcast::Sender<StreamEvent>,
    clients: AtomicUsize,
    wake: Notify,
}

impl Default for StreamHub {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(1024);
        Self {
            sender,
            clients: AtomicUsize::new(0),
            wake: Notify::new(),
        }
    }
}

/// A connected client; dropping it (the client went away) disconnects it.
pub struct Subscription {
    pub receiver: broadcast::Receiver<StreamEvent>,
    hub: Arc<StreamHub>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.clients.fetch_sub(1, Ordering::SeqCst);
    }
}

impl StreamHub {
    pub fn subscribe(self: &Arc<Self>) -> Subscription {
        self.clients.fetch_add(1, Ordering::SeqCst);
        self.wake.notify_one();
        Subscription {
            receiver: self.sender.subscribe(),
            hub: self.clone(),
        }
    }

    pub fn clients(&self) -> usize {
        self.clients.load(Ordering::SeqCst)
    }

    /// Something was committed here: look now rather than at the next tick.
    pub fn wake(&self) {
        if self.clients() > 0 {
            self.wake.notify_one();
        }
    }

    /// The poller, until `stop`.
    pub fn spawn(
        self: &Arc<Self>,
        store: Store,
        clock: SharedClock,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let hub = self.clone();
        tokio::spawn(async move {
            let mut seen = Seen::default();
            let mut since: Option<DateTime<Utc>> = None;
            loop {
                if hub.clients() == 0 {
                    since = None;
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = hub.wake.notified() => {}
                    }
                    continue;
                }
                let now = clock.now();
                // A client that connects sees what happens from then on.
                let from = since.unwrap_or(now) - OVERLAP;
                since = Some(now);
                hub.look(&store, from, &mut seen).await;
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = hub.wake.notified() => {}
                    () = tokio::time::sleep(POLL_EVERY) => {}
                }
            }
        })
    }

    async fn look(&self, store: &Store, from: DateTime<Utc>, seen: &mut Seen) {
        match store.conversations_changed_since(from, 500).await {
            Ok(changed) => {
                for c in changed {
                    if seen.first_time(c.id, c.updated_at) {
                        let _ = self.sender.send(StreamEvent::Conversation(Box::new(c)));
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "staff stream: could not read conversations"),
        }
        match store.messages_changed_since(from, 1000).await {
            Ok(changed) => {
                for m in changed {
                    let version = (m.delivery_status, m.error_code.clone());
                    if seen.first_time_message(m.id, &version) {
                        let _ = self.sender.send(StreamEvent::Message(Box::new(m)));
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "staff stream: could not read messages"),
        }
    }
}

/// What was already sent, to drop the overlap's duplicates.
#[derive(Default)]
struct Seen {
    versions: HashMap<Uuid, String>,
    order: VecDeque<Uuid>,
}

impl Seen {
    fn first_time(&mut self, id: Uuid, at: DateTime<Utc>) -> bool {
        self.remember(id, at.to_rfc3339())
    }

    fn first_time_message<V: std::fmt::Debug>(&mut self, id: Uuid, version: &V) -> bool {
        self.remember(id, format!("{version:?}"))
    }

    fn remember(&mut self, id: Uuid, version: String) -> bool {
        if self.versions.get(&id) == Some(&version) {
            return false;
        }
        if self.versions.insert(id, version).is_none() {
            self.order.push_back(id);
            if self.order.len() > REMEMBERED
                && let Some(old) = self.order.pop_front()
            {
                self.versions.remove(&old);
            }
        }
        true
    }
}
