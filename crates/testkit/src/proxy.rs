use std::sync::{
    Arc, Mutex, PoisonError,
    atomic::{AtomicBool, Ordering},
};

use tokio::{net::TcpListener, task::JoinHandle};

/// A TCP proxy in front of a server (RabbitMQ, Redis, PostgreSQL) whose connections the
/// test can cut: a real outage for the client, without stopping the shared server.
pub struct FaultProxy {
    pub port: u16,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accepting: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free port of 127.0.0.1 and forwards each connection to `upstream`
    /// (`127.0.0.1:5672`).
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let open = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (accept_open, accepted) = (open.clone(), links.clone());
        let upstream = upstream.to_owned();
        let accepting = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !accept_open.load(Ordering::SeqCst) {
                    drop(inbound); // refused: the server is "down"
                    continue;
                }
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                accepted.lock().unwrap().push(link);
            }
        });
        Self {
            port,
            open,
            links,
            accepting,
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The AMQP URL of RabbitMQ through this proxy (guest/guest, default vhost).
    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Drops every open connection and refuses new ones. When this returns, both sides
    /// of every connection are closed: nothing the client writes afterwards (an ack…)
    /// can reach the server.
    pub async fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        let links: Vec<_> = self.links.lock().unwrap().drain(..).collect();
        for link in links {
            link.abort();
            let _ = link.await;
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accepting.abort();
        let mut links = self.links.lock().unwrap_or_else(PoisonError::into_inner);
        for link in links.drain(..) {
            link.abort();
        }
    }
}
