//! "Everyone opens their own copy": the host sets a local file as the
//! room's source (only what identifies it goes to the room), each member
//! opens theirs and hears at once whether it is the same file.

use std::cell::RefCell;
use std::rc::Weak;

use sync_core::protocol::Command;
use sync_core::source::{LocalFile, LocalMatch};
use wasm_bindgen::prelude::*;
use web_sys::File;

use super::{with, Shared};
use crate::backend::{local, Backend};
use crate::dom::emit;
use crate::events::Event;

/// The `local-file` event's detail: `{match, name, roomName}` with `match`
/// one of "same", "other-version" (same duration, other bytes),
/// "different".
pub fn verdict(room: &LocalFile, picked: &File, m: LocalMatch) -> JsValue {
    let o = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&o, &"match".into(), &m.as_str().into());
    let _ = js_sys::Reflect::set(&o, &"name".into(), &picked.name().into());
    let _ = js_sys::Reflect::set(&o, &"roomName".into(), &room.name.as_str().into());
    o.into()
}

/// Open this member's copy of the room's local file: fingerprinted, compared,
/// then played whatever the verdict (a warning is the page's to show).
pub async fn open(weak: Weak<RefCell<Shared>>, file: File) -> Result<JsValue, JsValue> {
    let fingerprint = local::fingerprint(&file).await?;
    let duration = local::duration(&file).await.ok();
    let Some(rc) = weak.upgrade() else { return Err(JsValue::from_str("the session has ended")) };
    let (events, detail) = {
        let mut s = rc.try_borrow_mut().map_err(|_| JsValue::from_str("session busy"))?;
        let room = s.local.clone().ok_or_else(|| JsValue::from_str("the room is not playing a local file"))?;
        let m = room.compare(&fingerprint, duration);
        if let Backend::Element(e) = &mut s.backend {
            e.open_file(&file)?;
        }
        s.own_file = Some((file.clone(), fingerprint));
        (s.events.clone(), verdict(&room, &file, m))
    };
    emit(&events, Event::LocalFile, &detail);
    Ok(detail)
}

/// Make a file on this device the room's source: its name, size, duration
/// and fingerprint go to the room, the bytes stay here.
pub async fn share(weak: Weak<RefCell<Shared>>, file: File) -> Result<(), JsValue> {
    let described = local::describe(&file).await?;
    let url = described.canonical();
    with(&weak, |s| {
        s.own_file = Some((file, described.fingerprint.clone()));
        s.command(Command::SetSource { url, title: Some(described.name.clone()) });
    });
    Ok(())
}
