//! What one load may fetch (its [`Scope`], from `media_core::fetch_scope`)
//! and the fetches that go through it.

use std::cell::Cell;

use media_core::fetch_scope::FetchScope;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::EventTarget;

use crate::dom::{emit, error_detail};

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
    pub(crate) fn allows(&self, url: &str, outbox: Option<&mut Vec<(&'static str, JsValue)>>) -> bool {
        let Err(e) = self.rule.check(url) else { return true };
        if !self.reported.replace(true) {
            let detail = error_detail("media", &e.to_string());
            match outbox {
                Some(o) => o.push(("error", detail)),
                None => emit(&self.events, "error", &detail),
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
