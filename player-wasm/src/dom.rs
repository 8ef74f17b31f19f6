//! Small RAII wrappers for browser callbacks: dropping the guard removes
//! the listener, so nothing outlives the struct that owns it.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::EventTarget;

use crate::events::Event;

/// An event listener that is removed when dropped.
pub struct Listener {
    target: EventTarget,
    kind: &'static str,
    callback: Closure<dyn FnMut(web_sys::Event)>,
}

impl Listener {
    pub fn new(target: &EventTarget, kind: &'static str, f: impl FnMut(web_sys::Event) + 'static) -> Result<Self, JsValue> {
        let callback = Closure::<dyn FnMut(web_sys::Event)>::new(f);
        target.add_event_listener_with_callback(kind, callback.as_ref().unchecked_ref())?;
        Ok(Listener { target: target.clone(), kind, callback })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback(self.kind, self.callback.as_ref().unchecked_ref());
    }
}

/// Monotonic milliseconds (performance.now()), the client's clock for the core.
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

/// Dispatch `CustomEvent(event, { detail })` on `target`: only an event of
/// the one list ([`Event`]) can be dispatched.
pub fn emit(target: &EventTarget, event: Event, detail: &JsValue) {
    let init = web_sys::CustomEventInit::new();
    init.set_detail(detail);
    if let Ok(ev) = web_sys::CustomEvent::new_with_event_init_dict(event.name(), &init) {
        let _ = target.dispatch_event(&ev);
    }
}

/// Dispatch an event once the current task is done: never while the
/// caller's state (or the session holding it) is borrowed, so a listener
/// may call back into the player.
pub fn emit_later(target: &EventTarget, event: Event, detail: JsValue) {
    let target = target.clone();
    wasm_bindgen_futures::spawn_local(async move { emit(&target, event, &detail) });
}

/// Human text for a media element error.
#[cfg(feature = "room")]
pub fn media_error_text(e: &web_sys::MediaError) -> String {
    let m = e.message();
    format!("media error {}{}", e.code(), if m.is_empty() { String::new() } else { format!(": {m}") })
}

/// `err.name` of a JS exception, if it has one.
pub fn error_name(e: &JsValue) -> String {
    js_sys::Reflect::get(e, &JsValue::from_str("name")).ok().and_then(|n| n.as_string()).unwrap_or_default()
}

pub fn error_detail(code: &str, message: &str) -> JsValue {
    let o = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&o, &"code".into(), &code.into());
    let _ = js_sys::Reflect::set(&o, &"message".into(), &message.into());
    o.into()
}

/// A JS error as one line of text.
pub fn describe(e: &JsValue) -> String {
    if let Some(s) = e.as_string() {
        return s;
    }
    let msg = js_sys::Reflect::get(e, &"message".into()).ok().and_then(|m| m.as_string()).unwrap_or_default();
    format!("{} {}", error_name(e), msg).trim().to_string()
}

/// Resolve when `target` fires `kind`, reject on `error`; both listeners
/// are removed when this returns.
pub async fn once(target: &EventTarget, kind: &'static str) -> Result<(), JsValue> {
    let mut fns = None;
    let promise = Promise::new(&mut |resolve, reject| fns = Some((resolve, reject)));
    let (resolve, reject) = fns.ok_or_else(|| JsValue::from_str("Promise executor did not run"))?;
    let _ok = Listener::new(target, kind, move |_| {
        let _ = resolve.call0(&JsValue::NULL);
    })?;
    let _err = Listener::new(target, "error", move |e| {
        let _ = reject.call1(&JsValue::NULL, &e);
    })?;
    JsFuture::from(promise).await.map(|_| ())
}
