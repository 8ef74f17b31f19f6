//! Loading a third party's player API script once, and waiting until what
//! it defines is there (YouTube's defines `YT.Player` only after a second
//! script of its own has loaded).

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::future::TimeoutFuture;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::dom::Listener;

thread_local! {
    /// Scripts added to the page (kept, with their error listener, for the page's life).
    static ADDED: RefCell<Vec<Added>> = const { RefCell::new(Vec::new()) };
}

struct Added {
    url: String,
    failed: Rc<RefCell<bool>>,
    _on_error: Listener,
}

/// How long an API may take to appear (ms).
const WAIT_MS: u32 = 20_000;
const POLL_MS: u32 = 50;

/// `window.a.b…`, if every step is there.
fn lookup(path: &[&str]) -> Option<JsValue> {
    let mut v: JsValue = web_sys::window()?.into();
    for p in path {
        v = js_sys::Reflect::get(&v, &(*p).into()).ok()?;
        if v.is_undefined() || v.is_null() {
            return None;
        }
    }
    Some(v)
}

/// The constructor at `path` (e.g. `["YT", "Player"]`), adding the script
/// at `url` to the page first if it is not there yet.
pub async fn constructor(url: &str, path: &[&str]) -> Result<js_sys::Function, JsValue> {
    if let Some(f) = lookup(path).and_then(|v| v.dyn_into().ok()) {
        return Ok(f);
    }
    let failed = add(url)?;
    let mut waited = 0;
    while waited < WAIT_MS {
        if *failed.borrow() {
            return Err(JsValue::from_str(&format!("the player API at {url} could not be loaded")));
        }
        if let Some(f) = lookup(path).and_then(|v| v.dyn_into().ok()) {
            return Ok(f);
        }
        TimeoutFuture::new(POLL_MS).await;
        waited += POLL_MS;
    }
    Err(JsValue::from_str(&format!("the player API at {url} did not start within {} s", WAIT_MS / 1000)))
}

/// Add `<script src=url>` once; its failure flag.
fn add(url: &str) -> Result<Rc<RefCell<bool>>, JsValue> {
    if let Some(flag) = ADDED.with(|a| a.borrow().iter().find(|s| s.url == url).map(|s| s.failed.clone())) {
        return Ok(flag);
    }
    let doc = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let script: web_sys::HtmlScriptElement = doc.create_element("script")?.dyn_into()?;
    script.set_src(url);
    script.set_async(true);
    let failed = Rc::new(RefCell::new(false));
    let flag = failed.clone();
    let on_error = Listener::new(script.as_ref(), "error", move |_| *flag.borrow_mut() = true)?;
    doc.head().ok_or("no head")?.append_child(&script)?;
    ADDED.with(|a| a.borrow_mut().push(Added { url: url.to_string(), failed: failed.clone(), _on_error: on_error }));
    Ok(failed)
}
