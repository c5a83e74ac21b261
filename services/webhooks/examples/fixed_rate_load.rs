//! Fixed-rate load generator for the webhook benchmark (`bench/webhooks-load.sh` with
//! `RATE=…`; wrk2 is not packaged here).
//!
//! Posts pre-signed Twilio webhooks (`bench/webhooks-sign.py` writes one
//! `<signature>\t<form body>` per line) at a fixed arrival rate over keep-alive
//! HTTP/1.1 connections, and measures each request's latency from when it was *due*,
//! not from when it was sent: a server that stalls cannot hide the queue it builds (no
//! coordinated omission). The generator's own lag (due → written) is reported too.
//! One thread, so it takes at most one core from the server it measures.
//!
//! ```text
//! cargo run --release -p prm-webhooks --example fixed_rate_load -- \
//!     http://127.0.0.1:18001/api/v1/prm/webhooks/twilio signed.txt --rate 1000 --duration 30
//! ```

use std::{
    collections::BTreeMap,
    process::ExitCode,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{Context, bail};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::mpsc,
    time::Instant,
};

struct Options {
    host: String,
    port: u16,
    path: String,
    signed: String,
    rate: f64,
    duration: f64,
    connections: usize,
}

fn parse_options() -> anyhow::Result<Options> {
    let mut positional = Vec::new();
    let (mut rate, mut duration, mut connections) = (1000.0, 30.0, 64);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--rate" => rate = value("--rate")?.parse().context("--rate")?,
            "--duration" => duration = value("--duration")?.parse().context("--duration")?,
            "--connections" => {
                connections = value("--connections")?.parse().context("--connections")?
            }
            _ if arg.starts_with("--") => bail!("unknown option {arg}"),
            _ => positional.push(arg),
        }
    }
    let [url, signed] = <[String; 2]>::try_from(positional).map_err(|_| {
        anyhow::anyhow!(
            "usage: fixed_rate_load URL SIGNED_FILE [--rate 1000] [--duration 30] [--connections 64]"
        )
    })?;
    let rest = url
        .strip_prefix("http://")
        .context("the URL must start with http://")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), port.parse().context("URL port")?),
        None => (authority.to_owned(), 80),
    };
    if !(rate > 0.0 && duration > 0.0 && connections > 0) {
        bail!("--rate, --duration and --connections must be positive");
    }
    Ok(Options {
        host,
        port,
        path: if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
        signed,
        rate,
        duration,
        connections,
    })
}

/// What the run saw, shared by the connection tasks.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    lags: Vec<Duration>,
    statuses: BTreeMap<u16, usize>,
    errors: Vec<String>,
}

/// Reads one HTTP/1.1 response (status line, headers, `Content-Length` body) and
/// returns its status. `buffer` keeps nothing between responses: requests are not
/// pipelined.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> anyhow::Result<u16> {
    buffer.clear();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed before the response head");
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buffer[..head_end]).context("response head")?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("status line")?;
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed inside the response body");
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    Ok(status)
}

async fn connection(
    address: (String, u16),
    requests: Arc<Vec<Vec<u8>>>,
    jobs: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<(usize, Instant)>>>,
    tally: Arc<Mutex<Tally>>,
) {
    let mut stream: Option<TcpStream> = None;
    let mut buffer = Vec::with_capacity(8192);
    loop {
        let Some((index, due)) = jobs.lock().await.recv().await else {
            return;
        };
        let outcome = async {
            let s = match stream.as_mut() {
                Some(s) => s,
                None => {
                    let s = TcpStream::connect(address.clone()).await?;
                    s.set_nodelay(true)?;
                    stream.insert(s)
                }
            };
            let lag = due.elapsed();
            s.write_all(&requests[index]).await?;
            let status = read_response(s, &mut buffer).await?;
            anyhow::Ok((status, lag))
        }
        .await;
        let mut tally = tally.lock().unwrap_or_else(|p| p.into_inner());
        match outcome {
            Ok((status, lag)) => {
                tally.latencies.push(due.elapsed());
                tally.lags.push(lag);
                *tally.statuses.entry(status).or_default() += 1;
            }
            Err(error) => {
                tally.errors.push(format!("{error:#}"));
                stream = None;
            }
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<ExitCode> {
    let options = parse_options()?;
    let total = (options.rate * options.duration).round() as usize;
    let text = std::fs::read_to_string(&options.signed)
        .with_context(|| format!("reading {}", options.signed))?;
    // Every request is encoded before the clock starts: the run only writes and reads.
    let requests: Vec<Vec<u8>> = text
        .lines()
        .take(total)
        .map(|line| {
            let (signature, body) = line.split_once('\t').context("a line without a tab")?;
            let mut request = format!(
                "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                 X-Twilio-Signature: {signature}\r\nContent-Length: {}\r\n\r\n",
                options.path,
                options.host,
                options.port,
                body.len()
            )
            .into_bytes();
            request.extend_from_slice(body.as_bytes());
            Ok(request)
        })
        .collect::<anyhow::Result<_>>()?;
    if requests.len() < total {
        bail!(
            "{} has {} requests; {total} are needed (each MessageSid is sent once)",
            options.signed,
            requests.len()
        );
    }
    let requests = Arc::new(requests);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let (jobs, queue) = mpsc::unbounded_channel();
    let queue = Arc::new(tokio::sync::Mutex::new(queue));
    let workers: Vec<_> = (0..options.connections)
        .map(|_| {
            tokio::spawn(connection(
                (options.host.clone(), options.port),
                requests.clone(),
                queue.clone(),
                tally.clone(),
            ))
        })
        .collect();

    let start = Instant::now() + Duration::from_millis(200);
    let interval = Duration::from_secs_f64(1.0 / options.rate);
    for index in 0..total {
        let due = start + interval.mul_f64(index as f64);
        tokio::time::sleep_until(due).await;
        if jobs.send((index, due)).is_err() {
            bail!("every connection task ended");
        }
    }
    drop(jobs);
    for worker in workers {
        worker.await?;
    }
    let elapsed = start.elapsed().as_secs_f64();

    let mut tally = std::mem::take(&mut *tally.lock().unwrap_or_else(|p| p.into_inner()));
    tally.latencies.sort();
    tally.lags.sort();
    let done = tally.latencies.len();
    println!(
        "fixed rate {}/s for {}s: {total} requests over {} connections",
        options.rate, options.duration, options.connections
    );
    println!(
        "completed {done} in {elapsed:.2} s ({:.0} requests/s); statuses {:?}; errors {}",
        done as f64 / elapsed,
        tally.statuses,
        tally.errors.len()
    );
    let l = |p| percentile(&tally.latencies, p);
    println!(
        "latency from the due time: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        l(50.0),
        l(90.0),
        l(99.0),
        l(99.9),
        l(100.0)
    );
    println!(
        "generator lag (due -> written): p99 {:.2} ms, max {:.2} ms",
        percentile(&tally.lags, 99.0),
        percentile(&tally.lags, 100.0)
    );
    if let Some(first) = tally.errors.first() {
        println!("first error: {first}");
    }
    let failed = tally.errors.len()
        + tally
            .statuses
            .iter()
            .filter(|(status, _)| !(200..300).contains(*status))
            .map(|(_, n)| n)
            .sum::<usize>();
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
