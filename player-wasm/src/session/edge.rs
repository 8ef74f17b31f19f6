//! Edge clock probes: `GET /api/time` on the edge worker, answered at the
//! member's nearest point of presence (`sync_core::clock::sources`). Each
//! probe is one fetch, bounded by a timeout; its answer or failure goes
//! back to the core. The core schedules them and rests a failing edge.

use std::cell::RefCell;
use std::rc::Weak;

use gloo_timers::callback::Timeout;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};

use super::{with, Shared};
use crate::dom::now_ms;

/// A probe without an answer by then has failed.
const TIMEOUT_MS: u32 = 5_000;

/// Send the probe the core asked for at `t0`.
pub(super) fn probe(weak: &Weak<RefCell<Shared>>, url: String, t0: f64) {
    let w = weak.clone();
    spawn_local(async move {
        let answer = fetch_time(&url).await;
        let now = now_ms();
        with(&w, |s| match answer {
            Some(t) => s.client.handle_edge_reply(now, t0, t, t),
            None => s.client.handle_edge_failed(now),
        });
    });
}

/// The edge's `{"t": ms}`, if it answered one in time.
async fn fetch_time(url: &str) -> Option<f64> {
    let window = web_sys::window()?;
    let abort = web_sys::AbortController::new().ok()?;
    let init = web_sys::RequestInit::new();
    init.set_signal(Some(&abort.signal()));
    // Dropped (cancelled) when this future ends, answered or not.
    let _deadline = Timeout::new(TIMEOUT_MS, move || abort.abort());
    let resp: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(url, &init)).await.ok()?.dyn_into().ok()?;
    if !resp.ok() {
        return None;
    }
    let text = JsFuture::from(resp.text().ok()?).await.ok()?.as_string()?;
    let t = js_sys::Reflect::get(&js_sys::JSON::parse(&text).ok()?, &"t".into()).ok()?.as_f64()?;
    t.is_finite().then_some(t)
}
