//! With OTEL_EXPORTER_OTLP_ENDPOINT set, spans reach an OTLP/HTTP collector.
//! The collector here is a small local server speaking the OTLP/HTTP protocol
//! (POST /v1/traces, protobuf body); the test runs in its own process because
//! telemetry installs a global subscriber.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpListener,
    sync::mpsc,
    time::Duration,
};

struct Received {
    request_line: String,
    content_type: String,
    body: Vec<u8>,
}

fn fake_collector() -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let (mut length, mut content_type) = (0usize, String::new());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if let Some(v) = lower.strip_prefix("content-type:") {
                    content_type = v.trim().to_owned();
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let mut stream = reader.into_inner();
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n");
            let _ = tx.send(Received {
                request_line: request_line.trim().to_owned(),
                content_type,
                body,
            });
        }
    });
    (address, rx)
}

#[test]
fn spans_are_exported_over_otlp_http() {
    let (endpoint, received) = fake_collector();
    let guard = prm_platform::telemetry::init(
        "prm-otlp-test",
        Some(&endpoint),
        prm_platform::telemetry::LogFormat::Json,
    )
    .unwrap();
    tracing::info_span!("booking.find_slots_probe").in_scope(|| tracing::info!("inside the span"));
    guard.flush();
    let request = received
        .recv_timeout(Duration::from_secs(10))
        .expect("the collector received spans");
    assert_eq!(
        request.request_line.split(' ').take(2).collect::<Vec<_>>(),
        ["POST", "/v1/traces"]
    );
    assert_eq!(request.content_type, "application/x-protobuf");
    let contains = |needle: &[u8]| request.body.windows(needle.len()).any(|w| w == needle);
    assert!(
        contains(b"prm-otlp-test"),
        "service.name is in the resource"
    );
    assert!(
        contains(b"booking.find_slots_probe"),
        "the span is exported"
    );
    drop(guard);
}
