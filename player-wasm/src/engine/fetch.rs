//! What one load may fetch (its [`Scope`], from `media_core::fetch_scope`)
//! and the fetches that go through it.

use std::cell::Cell;

use js_sys::ArrayBuffer;
use media_core::fetch_scope::FetchScope;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::EventTarget;

use crate::dom::{emit, error_detail};
use crate::events::Event;

/// What one load may fetch, and whether a refusal was reported yet.
pub(crate) struct Scope {
    pub(super) rule: FetchScope,
    pub(super) events: EventTarget,
    pub(super) reported: Cell<bool>,
}

impl Scope {
    /// Whether `url` may be fetched (or given to the element); why not.
    pub(crate) fn check(&self, url: &str) -> Result<(), JsValue> {
        self.rule.check(url).map_err(|e| {
            self.reported.set(true);
            JsValue::from_str(&e.to_string())
        })
    }

    /// Whether `url` may be fetched. A refusal where the load goes on (a
    /// variant playlist, a segment, a reload) is reported as an `error`
    /// event, the first one of the load only: `outbox` takes it when given
    /// (a caller holding a borrow dispatches it later), else it is emitted.
    pub(crate) fn allows(&self, url: &str, outbox: Option<&mut Vec<(Event, JsValue)>>) -> bool {
        let Err(e) = self.rule.check(url) else { return true };
        if !self.reported.replace(true) {
            let detail = error_detail("media", &e.to_string());
            match outbox {
                Some(o) => o.push((Event::Error, detail)),
                None => emit(&self.events, Event::Error, &detail),
            }
        }
        false
    }
}

/// Send a GET now, if `scope` allows `url` (the request runs while other
/// work goes on).
pub(super) fn start_fetch(scope: &Scope, url: &str) -> Result<JsFuture, JsValue> {
    scope.check(url)?;
    Ok(JsFuture::from(web_sys::window().ok_or("no window")?.fetch_with_str(url)))
}

/// The response of a started fetch, if it is a 2xx.
pub(super) async fn finish_response(started: Result<JsFuture, JsValue>, url: &str) -> Result<web_sys::Response, JsValue> {
    let resp: web_sys::Response = started?.await?.dyn_into()?;
    if !resp.ok() {
        return Err(JsValue::from_str(&format!("HTTP {} for {url}", resp.status())));
    }
    Ok(resp)
}

pub(super) async fn finish_text(started: Result<JsFuture, JsValue>, url: &str) -> Result<String, JsValue> {
    let resp = finish_response(started, url).await?;
    JsFuture::from(resp.text()?).await?.as_string().ok_or_else(|| JsValue::from_str("body is not text"))
}

pub(crate) async fn fetch_text(scope: &Scope, url: &str) -> Result<String, JsValue> {
    finish_text(start_fetch(scope, url), url).await
}

/// Fetch `url` (a byte range when given); `Err(Some(status))` for an HTTP
/// error, `Err(None)` for the network or an abort.
pub(crate) async fn fetch_range(url: &str, range: Option<(u64, u64)>, signal: &web_sys::AbortSignal) -> Result<ArrayBuffer, Option<u16>> {
    let window = web_sys::window().ok_or(None)?;
    let init = web_sys::RequestInit::new();
    init.set_signal(Some(signal));
    if let Some((a, b)) = range {
        let headers = web_sys::Headers::new().map_err(|_| None)?;
        let value = if b == u64::MAX { format!("bytes={a}-") } else { format!("bytes={a}-{b}") };
        headers.set("range", &value).map_err(|_| None)?;
        init.set_headers(&headers);
    }
    let resp: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(url, &init)).await.map_err(|_| None)?.dyn_into().map_err(|_| None)?;
    if !resp.ok() {
        return Err(Some(resp.status()));
    }
    JsFuture::from(resp.array_buffer().map_err(|_| None)?).await.map_err(|_| None)?.dyn_into::<ArrayBuffer>().map_err(|_| None)
}
