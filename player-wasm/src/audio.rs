//! WebAudio for the element: exactly one `MediaElementAudioSourceNode` per
//! element for its whole life (the [`Graph`] registry), loudness
//! normalisation (a compressor plus make-up gain, switchable), and
//! AudioContext recovery driven by `sync_core::audio::Recovery`.
//!
//! An element routed into a context that is not running is silent, so the
//! context is resumed before every play, on `statechange`, when the tab
//! becomes visible and on the next user gesture, with bounded retries.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use sync_core::audio::{AudioState, Recovery, RecoveryConfig, RecoveryOutput, Trigger};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{AudioContext, AudioContextState, DynamicsCompressorNode, EventTarget, GainNode, HtmlMediaElement, MediaElementAudioSourceNode};

use crate::dom::{emit, now_ms, Listener};
use crate::events::Event;

/// How long a resume() may take before it counts as failed (without a user
/// gesture Chromium leaves the promise pending).
const RESUME_DEADLINE_MS: u32 = 300;
/// Make-up gain after the compressor (about +4 dB).
const MAKEUP_GAIN: f32 = 1.6;

thread_local! {
    /// Every element's graph while the element is in a document (a source
    /// node cannot be detached from its element, and a second one throws).
    /// An idle graph is suspended; the graph of an element that left the
    /// document is closed and forgotten (see [`sweep`]).
    static GRAPHS: RefCell<Vec<Rc<Graph>>> = const { RefCell::new(Vec::new()) };
}

/// One element's audio path: element → source → [compressor → make-up] → speakers.
pub struct Graph {
    element: HtmlMediaElement,
    ctx: AudioContext,
    source: MediaElementAudioSourceNode,
    compressor: DynamicsCompressorNode,
    makeup: GainNode,
    normalize: Cell<bool>,
}

#[derive(Debug)]
pub enum AudioError {
    /// The element already has its source node (made by [`Graph::register`]).
    AlreadyRegistered,
    /// The browser refused to build the graph.
    WebAudio(String),
}

impl From<AudioError> for JsValue {
    fn from(e: AudioError) -> JsValue {
        let msg = match e {
            AudioError::AlreadyRegistered => "this element already has its MediaElementAudioSourceNode".to_string(),
            AudioError::WebAudio(m) => format!("WebAudio: {m}"),
        };
        JsValue::from_str(&msg)
    }
}

impl Graph {
    /// The element's graph: the registered one, or a new one.
    pub fn for_element(element: &HtmlMediaElement) -> Result<Rc<Graph>, AudioError> {
        sweep(Some(element));
        match Self::find(element) {
            Some(g) => Ok(g),
            None => Self::register(element),
        }
    }

    fn find(element: &HtmlMediaElement) -> Option<Rc<Graph>> {
        GRAPHS.with(|g| g.borrow().iter().find(|x| js_sys::Object::is(&x.element, element)).cloned())
    }

    /// Make the element's one source node; an error if it has one already.
    pub fn register(element: &HtmlMediaElement) -> Result<Rc<Graph>, AudioError> {
        if Self::find(element).is_some() {
            return Err(AudioError::AlreadyRegistered);
        }
        let err = |e: JsValue| AudioError::WebAudio(crate::dom::error_name(&e));
        let ctx = AudioContext::new().map_err(err)?;
        let source = ctx.create_media_element_source(element).map_err(err)?;
        let compressor = ctx.create_dynamics_compressor().map_err(err)?;
        compressor.threshold().set_value(-24.0);
        compressor.knee().set_value(12.0);
        compressor.ratio().set_value(4.0);
        compressor.attack().set_value(0.005);
        compressor.release().set_value(0.25);
        let makeup = ctx.create_gain().map_err(err)?;
        makeup.gain().set_value(MAKEUP_GAIN);
        compressor.connect_with_audio_node(&makeup).map_err(err)?;
        makeup.connect_with_audio_node(&ctx.destination()).map_err(err)?;
        let graph = Rc::new(Graph { element: element.clone(), ctx, source, compressor, makeup, normalize: Cell::new(false) });
        graph.set_normalize(true);
        GRAPHS.with(|g| g.borrow_mut().push(graph.clone()));
        Ok(graph)
    }

    /// Route through the compressor (on) or straight to the speakers (off).
    pub fn set_normalize(&self, on: bool) {
        let _ = self.source.disconnect();
        let to = if on { self.compressor.clone().unchecked_into::<web_sys::AudioNode>() } else { self.ctx.destination().unchecked_into() };
        let _ = self.source.connect_with_audio_node(&to);
        self.normalize.set(on);
    }

    pub fn normalize(&self) -> bool {
        self.normalize.get()
    }

    fn state(&self) -> AudioState {
        AudioState::parse(match self.ctx.state() {
            AudioContextState::Running => "running",
            AudioContextState::Closed => "closed",
            _ => {
                // "interrupted" (Safari) is not in web-sys' enum: read the string.
                let raw = js_sys::Reflect::get(&self.ctx, &"state".into()).ok().and_then(|s| s.as_string());
                return AudioState::parse(raw.as_deref().unwrap_or("suspended"));
            }
        })
    }

    fn makeup(&self) -> &GainNode {
        &self.makeup
    }
}

/// Close the graphs of elements no longer in a document, except `keep`'s:
/// an AudioContext that is only suspended is never garbage-collected, so a
/// page that makes a new element per session would otherwise gather them.
/// (Such an element, put back into a page and joined again, plays without
/// WebAudio: its one source node belongs to the closed context.)
fn sweep(keep: Option<&HtmlMediaElement>) {
    GRAPHS.with(|g| {
        g.borrow_mut().retain(|x| {
            let gone = !x.element.is_connected() && keep.is_none_or(|k| !js_sys::Object::is(&x.element, k));
            if gone {
                let _ = x.ctx.close();
            }
            !gone
        })
    });
}

/// The session's audio: the element's graph plus recovery, with its
/// listeners and timers (all dropped with it).
#[derive(Clone)]
pub struct Audio {
    inner: Rc<RefCell<Inner>>,
}

struct Inner {
    graph: Rc<Graph>,
    recovery: Recovery,
    events: EventTarget,
    timer: Option<Timeout>,
    deadline: Option<Timeout>,
    /// What the page was last told (`audio` is dispatched on a change only:
    /// every key press and tap drives the machine).
    reported: Option<(AudioState, u64, bool)>,
    _listeners: Vec<Listener>,
}

type Weakly = Weak<RefCell<Inner>>;

impl Drop for Inner {
    /// The session is over: an idle context still runs its audio thread,
    /// so suspend it (the next session resumes it before playing), and
    /// close it if the element has left the document.
    fn drop(&mut self) {
        let _ = self.graph.ctx.suspend();
        sweep(None);
    }
}

impl Audio {
    pub fn new(element: &HtmlMediaElement, events: EventTarget, normalize: bool) -> Result<Audio, JsValue> {
        let graph = Graph::for_element(element)?;
        graph.set_normalize(normalize);
        let recovery = Recovery::new(RecoveryConfig::default(), graph.state());
        let inner =
            Rc::new(RefCell::new(Inner { graph: graph.clone(), recovery, events, timer: None, deadline: None, reported: None, _listeners: Vec::new() }));
        let weak = Rc::downgrade(&inner);
        let mut listeners = Vec::new();
        let w = weak.clone();
        let ctx = graph.ctx.clone();
        listeners.push(Listener::new(ctx.as_ref(), "statechange", move |_| {
            with(&w, |s| {
                let st = s.graph.state();
                s.recovery.handle_state(now_ms(), st);
            })
        })?);
        if let Some(window) = web_sys::window() {
            let target: &EventTarget = window.as_ref();
            for kind in ["pointerdown", "keydown", "touchend"] {
                let w = weak.clone();
                listeners.push(Listener::new(target, kind, move |_| with(&w, |s| s.recovery.handle_trigger(now_ms(), Trigger::Gesture)))?);
            }
            if let Some(doc) = window.document() {
                let w = weak.clone();
                let d = doc.clone();
                listeners.push(Listener::new(doc.as_ref(), "visibilitychange", move |_| {
                    if d.visibility_state() == web_sys::VisibilityState::Visible {
                        with(&w, |s| s.recovery.handle_trigger(now_ms(), Trigger::Visible));
                    }
                })?);
            }
        }
        inner.borrow_mut()._listeners = listeners;
        drive(&weak);
        Ok(Audio { inner })
    }

    /// Resume the context if it is not running, waiting at most the
    /// resume deadline; call before every play(). False: still not running
    /// (the element will be silent until a gesture).
    pub async fn before_play(&self) -> bool {
        let weak = Rc::downgrade(&self.inner);
        with(&weak, |s| s.recovery.handle_trigger(now_ms(), Trigger::BeforePlay));
        let ctx = self.inner.borrow().graph.ctx.clone();
        let mut waited = 0;
        while ctx.state() != AudioContextState::Running && waited < RESUME_DEADLINE_MS {
            gloo_timers::future::TimeoutFuture::new(50).await;
            waited += 50;
        }
        ctx.state() == AudioContextState::Running
    }

    pub fn set_normalize(&self, on: bool) {
        self.inner.borrow().graph.set_normalize(on);
        report(&Rc::downgrade(&self.inner));
    }

    /// `{state, resumeAttempts, normalize, makeupGain}`.
    pub fn status(&self) -> JsValue {
        status(&self.inner.borrow())
    }
}

fn with(weak: &Weakly, f: impl FnOnce(&mut Inner)) {
    let Some(rc) = weak.upgrade() else { return };
    {
        let Ok(mut s) = rc.try_borrow_mut() else { return };
        f(&mut s);
    }
    drive(weak);
}

/// Carry out the machine's resume()s and arm its timer.
fn drive(weak: &Weakly) {
    let Some(rc) = weak.upgrade() else { return };
    {
        let Ok(mut s) = rc.try_borrow_mut() else { return };
        let mut resume = false;
        while let Some(RecoveryOutput::Resume) = s.recovery.poll_output() {
            resume = true;
        }
        if resume {
            if let Ok(p) = s.graph.ctx.resume() {
                // Swallow a rejection; the deadline below reads the outcome.
                spawn_local(async move {
                    let _ = JsFuture::from(p).await;
                });
            }
            let w = weak.clone();
            s.deadline = Some(Timeout::new(RESUME_DEADLINE_MS, move || {
                with(&w, |s| {
                    let st = s.graph.state();
                    s.recovery.handle_resume_result(now_ms(), st);
                })
            }));
        }
        s.timer = s.recovery.poll_timeout().map(|t| {
            let w = weak.clone();
            Timeout::new((t - now_ms()).max(0.0).min(60_000.0) as u32, move || with(&w, |s| s.recovery.handle_timeout(now_ms())))
        });
    }
    report(weak);
}

/// Tell the page the status if it changed since it was last told.
fn report(weak: &Weakly) {
    let Some(rc) = weak.upgrade() else { return };
    let Ok(mut s) = rc.try_borrow_mut() else { return };
    let now = Some((s.recovery.state(), s.recovery.attempts(), s.graph.normalize()));
    if s.reported == now {
        return;
    }
    s.reported = now;
    let (events, detail) = (s.events.clone(), status(&s));
    drop(s);
    emit(&events, Event::Audio, &detail);
}

fn status(s: &Inner) -> JsValue {
    let o = js_sys::Object::new();
    let state = match s.recovery.state() {
        AudioState::Running => "running",
        AudioState::Suspended => "suspended",
        AudioState::Interrupted => "interrupted",
        AudioState::Closed => "closed",
    };
    let _ = js_sys::Reflect::set(&o, &"state".into(), &state.into());
    let _ = js_sys::Reflect::set(&o, &"resumeAttempts".into(), &(s.recovery.attempts() as f64).into());
    let _ = js_sys::Reflect::set(&o, &"normalize".into(), &s.graph.normalize().into());
    let _ = js_sys::Reflect::set(&o, &"makeupGain".into(), &f64::from(s.graph.makeup().gain().value()).into());
    o.into()
}
