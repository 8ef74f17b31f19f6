//! Edge clock probes over a WebSocket of their own to `/api/time` on the
//! edge worker, answered at the member's nearest point of presence
//! (`sync_core::clock::sources`). The core schedules the probes and rests
//! a failing edge; this only carries them: the socket opens at the first
//! probe, every probe is one short text message answered in order by
//! `{"t":ms}`, and a socket that closes, errs or leaves a probe unanswered
//! for 5 s fails every probe in flight (the next probe opens a new one).
//! (A WebSocket rather than HTTP requests: in Chromium on workerd its
//! probes' bounds are ~3 ms tighter, `bench sync`'s transport line.)

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Weak;

use gloo_timers::callback::Timeout;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, WebSocket};

use super::{with, Shared};
use crate::dom::{now_ms, Listener};

/// A probe without an answer by then has failed.
const TIMEOUT_MS: u32 = 5_000;

/// One open socket; dropping it closes it and removes its listeners.
struct Socket {
    ws: WebSocket,
    open: bool,
    _listeners: Vec<Listener>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = self.ws.close();
    }
}

pub(super) struct EdgeSocket {
    url: String,
    socket: Option<Socket>,
    /// The `t0` of every probe asked and not yet answered, oldest first
    /// (answers come in order).
    pending: VecDeque<f64>,
    /// Fails what is in flight if the oldest probe goes unanswered.
    deadline: Option<Timeout>,
}

impl EdgeSocket {
    /// `url`: the endpoint's `ws:`/`wss:` URL.
    pub(super) fn new(url: String) -> Self {
        EdgeSocket { url, socket: None, pending: VecDeque::new(), deadline: None }
    }

    /// Send the probe the core asked for at `t0` (opening the socket first
    /// if there is none). False: no socket could be made (the probe failed).
    pub(super) fn probe(&mut self, weak: &Weak<RefCell<Shared>>, t0: f64) -> bool {
        if self.socket.is_none() {
            match open(&self.url, weak) {
                Ok(s) => self.socket = Some(s),
                Err(_) => return false,
            }
        }
        self.pending.push_back(t0);
        if let Some(s) = self.socket.as_ref().filter(|s| s.open) {
            let _ = s.ws.send_with_str("t");
        }
        if self.deadline.is_none() {
            self.deadline = Some(deadline(weak));
        }
        true
    }
}

fn deadline(weak: &Weak<RefCell<Shared>>) -> Timeout {
    let w = weak.clone();
    Timeout::new(TIMEOUT_MS, move || with(&w, |s| gone(s, now_ms())))
}

fn open(url: &str, weak: &Weak<RefCell<Shared>>) -> Result<Socket, wasm_bindgen::JsValue> {
    let ws = WebSocket::new(url)?;
    let mut listeners = Vec::new();
    let w = weak.clone();
    listeners.push(Listener::new(ws.as_ref(), "open", move |_| {
        with(&w, |s| {
            let Some(edge) = &mut s.edge else { return };
            let Some(socket) = &mut edge.socket else { return };
            socket.open = true;
            for _ in 0..edge.pending.len() {
                let _ = socket.ws.send_with_str("t");
            }
        })
    })?);
    let w = weak.clone();
    listeners.push(Listener::new(ws.as_ref(), "message", move |e| {
        let now = now_ms();
        let text = e.dyn_ref::<MessageEvent>().and_then(|m| m.data().as_string());
        let weak = w.clone();
        with(&w, |s| {
            let Some(edge) = &mut s.edge else { return };
            let Some(t0) = edge.pending.pop_front() else { return };
            edge.deadline = (!edge.pending.is_empty()).then(|| deadline(&weak));
            match text.as_deref().and_then(parse_time) {
                Some(t) => s.client.handle_edge_reply(now, t0, t, t),
                None => s.client.handle_edge_failed(now),
            }
        })
    })?);
    for kind in ["close", "error"] {
        let w = weak.clone();
        listeners.push(Listener::new(ws.as_ref(), kind, move |_| with(&w, |s| gone(s, now_ms())))?);
    }
    Ok(Socket { ws, open: false, _listeners: listeners })
}

/// The socket closed, erred or went quiet: drop it and fail what was in flight.
fn gone(s: &mut Shared, now: f64) {
    let Some(edge) = &mut s.edge else { return };
    edge.socket = None;
    edge.deadline = None;
    for _ in edge.pending.drain(..) {
        s.client.handle_edge_failed(now);
    }
}

/// The `t` of `{"t": ms}`, if it is a finite number.
fn parse_time(text: &str) -> Option<f64> {
    let value = js_sys::JSON::parse(text).ok()?;
    let t = js_sys::Reflect::get(&value, &"t".into()).ok()?.as_f64()?;
    t.is_finite().then_some(t)
}
