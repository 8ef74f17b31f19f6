//! The edge time endpoint, `GET /api/time`: this worker's clock, answered
//! where the member's request entered the network (its nearest point of
//! presence) — never by a Durable Object, with no state kept and no
//! storage. Members bound their clock estimate by it
//! (`sync_core::clock::sources`): a short path, so tight bounds.
//!
//! - Over a WebSocket (what the player uses: measured in Chromium on
//!   workerd, its probes' bounds are ~3 ms tighter than HTTP requests',
//!   `bench sync`'s transport line): every text message is answered with
//!   `{"t":ms}` at once. A socket is held to 10 messages a second (burst
//!   10) and 64 bytes a message, or closed; one quiet for a minute, or
//!   open for four hours, is closed too.
//! - Over plain HTTP: `{"t":ms}` once, `no-store` (for operators and tools).
//!
//! A worker's clock stands still until it does I/O, so `t` is both the
//! receive and the send time. Sockets are budgeted per address
//! (`TIME_SOCKETS`, as many as room sockets, 120 in 10 s: each holds a
//! worker open); plain requests
//! are not: answering one costs less than counting it, nothing is kept,
//! and an answer is smaller than the request that asked.

use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use worker::*;

/// Largest probe message.
const MAX_MESSAGE: usize = 64;
/// Probes a socket may send a second, and in a burst.
const RATE_PER_S: f64 = 10.0;
const BURST: f64 = 10.0;
/// A socket quiet this long is closed (the player reopens one at its next
/// probe; a rested edge is not probed for 30 s and more).
const IDLE_MS: f64 = 60_000.0;
/// No socket lives longer than this (the player reopens one).
const LIFETIME_MS: f64 = 4.0 * 3_600_000.0;

fn answer() -> String {
    format!("{{\"t\":{}}}", crate::now_ms())
}

/// `GET /api/time` without an upgrade.
pub fn http() -> Result<Response> {
    let mut resp = Response::ok(answer())?;
    let h = resp.headers_mut();
    h.set("content-type", "application/json")?;
    h.set("cache-control", "no-store")?;
    Ok(resp)
}

/// `GET /api/time` with `Upgrade: websocket`.
pub fn socket() -> Result<Response> {
    let pair = WebSocketPair::new()?;
    let server = pair.server;
    server.accept()?;
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(mut events) = server.events() else { return };
        let opened = crate::now_ms();
        let (mut tokens, mut refilled) = (BURST, opened);
        loop {
            let now = crate::now_ms();
            let wait = (LIFETIME_MS - (now - opened)).clamp(0.0, IDLE_MS);
            let quiet = Delay::from(Duration::from_millis(wait as u64));
            let event = match select(events.next(), quiet).await {
                Either::Left((Some(event), _)) => event,
                Either::Left((None, _)) => break,
                Either::Right(_) => {
                    let _ = server.close(Some(1000), Some("idle or too old: open another"));
                    break;
                }
            };
            let message = match event {
                Ok(WebsocketEvent::Message(m)) => m,
                Ok(WebsocketEvent::Close(_)) | Err(_) => break,
            };
            let now = crate::now_ms();
            tokens = (tokens + (now - refilled).max(0.0) / 1000.0 * RATE_PER_S).min(BURST);
            refilled = now;
            let refusal = match message.text() {
                None => Some((1003, "text probes only")),
                Some(t) if t.len() > MAX_MESSAGE => Some((1009, "a probe is at most 64 bytes")),
                Some(_) if tokens < 1.0 => Some((1008, "at most 10 probes a second")),
                Some(_) => None,
            };
            if let Some((code, reason)) = refusal {
                let _ = server.close(Some(code), Some(reason));
                break;
            }
            tokens -= 1.0;
            if server.send_with_str(answer()).is_err() {
                break;
            }
        }
    });
    Response::from_websocket(pair.client)
}
