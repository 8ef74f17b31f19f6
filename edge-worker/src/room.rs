//! The room Durable Object: a thin shell over [`sync_core::room::Room`].
//!
//! Every event: read the clock once, make sure the core is loaded (from
//! storage plus the attachments of the hibernated sockets), hand the input
//! to the core, drain its outputs into a Vec and drop the borrow, then do the
//! I/O (storage, sends, closes) and set the storage alarm to the core's next
//! deadline. No RefCell borrow is ever held across an await; no setTimeout.

use std::cell::{Cell, RefCell};

use serde::{Deserialize, Serialize};
use serde_json::json;
use sync_core::protocol::{close, ErrorCode, ServerMsg};
use sync_core::room::store::{self, Part, StoreChanges};
use sync_core::room::{ConnId, ConnectRefused, CreateRequest, PersistedRoom, Room, RoomConfig, RoomOutput, SocketTag};
use worker::*;

use crate::api::error;

mod subtitles;
use crate::{now_ms, random_bytes};

/// Largest text frame accepted from a client.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
/// Keys per storage call (the platform's limit).
const KEYS_PER_CALL: usize = 128;

#[durable_object]
pub struct RoomObject {
    state: State,
    env: Env,
    core: RefCell<Option<Room>>,
    /// The alarm time last set (to avoid rewriting it on every event).
    alarm_at: Cell<Option<i64>>,
    /// The sockets that receive broadcasts (those with a member), so a
    /// broadcast does not list and decode every attachment. Dropped whenever
    /// an attachment changes or a socket goes; rebuilt on the next broadcast.
    audience: RefCell<Option<Vec<WebSocket>>>,
    /// The room id, read from storage once per instance.
    id: RefCell<Option<String>>,
}

fn conn_tag(id: ConnId) -> String {
    format!("c{id}")
}

fn config(env: &Env) -> RoomConfig {
    let mut cfg = RoomConfig::default();
    if let Some(ms) = env.var("ROOM_IDLE_EXPIRY_MS").ok().and_then(|v| v.to_string().parse::<f64>().ok()) {
        cfg.idle_expiry_ms = ms;
    }
    if let Some(ms) = env.var("ROOM_GRACE_MS").ok().and_then(|v| v.to_string().parse::<f64>().ok()) {
        cfg.grace_ms = ms;
    }
    if let Some(ms) = env.var("ROOM_HELLO_TIMEOUT_MS").ok().and_then(|v| v.to_string().parse::<f64>().ok()) {
        cfg.hello_timeout_ms = ms;
    }
    if let Some(n) = env.var("ROOM_MEMBERS_PER_ADDRESS").ok().and_then(|v| v.to_string().parse::<usize>().ok()) {
        cfg.max_members_per_address = n;
        cfg.max_pending_per_address = cfg.max_pending_per_address.max(n.min(cfg.max_pending));
    }
    cfg.source_guard = Some(if crate::proxy::allow_loopback(env) { guard_allowing_loopback } else { guard });
    cfg
}

/// The media proxy's SSRF guard as the room's source check: a source no
/// member's browser (nor the proxy) may be sent to is refused.
fn guard(url: &str) -> std::result::Result<(), String> {
    media_core::proxy::guard::check_upstream(url, false).map(|_| ()).map_err(|e| e.to_string())
}

/// [`guard`] for local tests (`PROXY_ALLOW_LOOPBACK`): loopback allowed.
fn guard_allowing_loopback(url: &str) -> std::result::Result<(), String> {
    media_core::proxy::guard::check_upstream(url, true).map(|_| ()).map_err(|e| e.to_string())
}

/// The body of the internal `/init` request: the creator's request as the
/// API read it, and the host token the API hands back.
#[derive(Serialize, Deserialize)]
pub struct Init {
    pub request: CreateRequest,
    pub host_token: String,
}

fn seed() -> Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    random_bytes(&mut seed)?;
    Ok(seed)
}

/// Every value stored under `prefix` (JSON text), parsed as `T`.
async fn list_parts<T: serde::de::DeserializeOwned>(storage: &Storage, prefix: &str) -> Result<Vec<T>> {
    let map = storage.list_with_options(ListOptions::new().prefix(prefix)).await?;
    let mut out = Vec::new();
    let mut bad = 0usize;
    map.for_each(&mut |value, _key| match value.as_string().and_then(|t| serde_json::from_str::<T>(&t).ok()) {
        Some(v) => out.push(v),
        None => bad += 1,
    });
    if bad > 0 {
        console_log!("{}", json!({ "event": "storage_unreadable", "prefix": prefix, "count": bad }));
    }
    Ok(out)
}

/// One input's writes as one batch: every call is made before any is
/// awaited, so the runtime commits them together.
async fn write(storage: &Storage, changes: StoreChanges) -> Result<()> {
    let mut calls = Vec::new();
    for chunk in changes.put.chunks(KEYS_PER_CALL) {
        let obj = js_sys::Object::new();
        for (key, part) in chunk {
            let text = serde_json::to_string(part)?;
            js_sys::Reflect::set(&obj, &key.as_str().into(), &text.into()).map_err(|e| Error::RustError(format!("{e:?}")))?;
        }
        calls.push(futures_util::future::Either::Left(storage.put_multiple_raw(obj)));
    }
    for chunk in changes.delete.chunks(KEYS_PER_CALL) {
        let keys: Vec<String> = chunk.to_vec();
        calls.push(futures_util::future::Either::Right(async move { storage.delete_multiple(keys).await.map(|_| ()) }));
    }
    futures_util::future::try_join_all(calls).await?;
    Ok(())
}

impl RoomObject {
    /// Load the core if this instance just started (first use or wake-up).
    /// Returns false if the room does not exist.
    async fn ensure_loaded(&self) -> Result<bool> {
        if self.core.borrow().is_some() {
            return Ok(true);
        }
        let storage = self.state.storage();
        let (stored, legacy) = match storage.get::<String>(store::META_KEY).await? {
            Some(meta) => {
                let meta: PersistedRoom = serde_json::from_str(&meta)?;
                let mut parts: Vec<Part> =
                    list_parts::<sync_core::room::StoredMember>(&storage, store::MEMBER_PREFIX).await?.into_iter().map(Part::Member).collect();
                parts.extend(list_parts(&storage, store::ITEM_PREFIX).await?.into_iter().map(Part::Item));
                parts.extend(list_parts(&storage, store::LINE_PREFIX).await?.into_iter().map(Part::Line));
                (store::assemble(meta, parts), false)
            }
            // A room stored whole, before parts.
            None => match storage.get::<PersistedRoom>(store::LEGACY_KEY).await? {
                Some(whole) => (whole, true),
                None => return Ok(false),
            },
        };
        let sockets: Vec<SocketTag> = self.state.get_websockets().iter().filter_map(|ws| ws.deserialize_attachment::<SocketTag>().ok().flatten()).collect();
        let seed = seed()?;
        let now = now_ms();
        {
            let mut core = self.core.borrow_mut();
            if core.is_none() {
                *core = Some(Room::restore(config(&self.env), stored, sockets, now, seed, legacy));
            }
        }
        // Waking may change the room (a room stored whole moves into parts;
        // members whose sockets went are away; a wait for them ends): carry
        // that out now, written first and then told, before the event that
        // woke it is handled (a read-only request would carry nothing out).
        if let Some(((), outputs, deadline)) = self.with_core(|_| ()) {
            if !outputs.is_empty() {
                self.perform(&self.stored_id().await, outputs, deadline, None).await?;
            }
        }
        Ok(true)
    }

    /// Run `f` on the core and drain its outputs; the borrow ends here.
    fn with_core<T>(&self, f: impl FnOnce(&mut Room) -> T) -> Option<(T, Vec<RoomOutput>, Option<f64>)> {
        let mut guard = self.core.borrow_mut();
        let room = guard.as_mut()?;
        let value = f(room);
        let outputs = std::iter::from_fn(|| room.poll_output()).collect();
        Some((value, outputs, room.poll_timeout()))
    }

    /// Carry out the core's outputs in order (persist before telling anyone),
    /// then point the alarm at the next deadline.
    async fn perform(&self, room_id: &str, outputs: Vec<RoomOutput>, deadline: Option<f64>, new_socket: Option<(ConnId, &WebSocket)>) -> Result<()> {
        let mut dead: Vec<ConnId> = Vec::new();
        for out in outputs {
            match out {
                // At most one per input, and first: written before anyone hears of it.
                RoomOutput::Persist(changes) => write(&self.state.storage(), *changes).await?,
                RoomOutput::Send { to, mut msg } => {
                    self.sign_sources(room_id, &mut msg);
                    let text = msg.encode();
                    for ws in self.sockets_of(to, new_socket) {
                        if ws.send_with_str(&text).is_err() {
                            dead.push(to);
                        }
                    }
                }
                RoomOutput::Broadcast { mut msg } => {
                    self.sign_sources(room_id, &mut msg);
                    let text = msg.encode();
                    let audience = self.audience();
                    // One JS string for every socket (not one copy per send),
                    // handed to the sockets' own `send`.
                    let js_text = wasm_bindgen::JsValue::from_str(&text);
                    let send = audience
                        .first()
                        .and_then(|ws| js_sys::Reflect::get(ws.as_ref(), &"send".into()).ok())
                        .and_then(|f| wasm_bindgen::JsCast::dyn_into::<js_sys::Function>(f).ok());
                    for ws in &audience {
                        let sent = match &send {
                            Some(f) => f.call1(ws.as_ref(), &js_text).is_ok(),
                            None => ws.send_with_str(&text).is_ok(),
                        };
                        if !sent {
                            if let Some(tag) = Self::tag_of(ws) {
                                dead.push(tag.conn);
                            }
                        }
                    }
                }
                RoomOutput::Attach(tag) => {
                    self.audience.borrow_mut().take();
                    for ws in self.sockets_of(tag.conn, new_socket) {
                        ws.serialize_attachment(&tag)?;
                    }
                }
                RoomOutput::Close { conn, code, reason } => {
                    self.audience.borrow_mut().take();
                    for ws in self.sockets_of(conn, new_socket) {
                        let _ = ws.close(Some(code), Some(&reason));
                    }
                }
                RoomOutput::Expire => {
                    for ws in self.state.get_websockets() {
                        let _ = ws.close(Some(close::EXPIRED), Some("room expired"));
                    }
                    self.state.storage().delete_alarm().await?;
                    self.state.storage().delete_all().await?;
                    *self.core.borrow_mut() = None;
                    self.audience.borrow_mut().take();
                    self.alarm_at.set(None);
                    console_log!("{}", json!({ "room": room_id, "event": "deleted" }));
                    return Ok(());
                }
                RoomOutput::DropSubtitle { id } => self.drop_subtitle(id).await?,
                RoomOutput::Log { event, member, detail } => {
                    console_log!("{}", json!({ "room": room_id, "event": event, "member": member, "detail": detail }));
                }
            }
        }
        // A send that failed means a dead socket: drop its member now.
        let cleaned = !dead.is_empty();
        for conn in dead {
            let now = now_ms();
            if let Some(((), more, deadline)) = self.with_core(|room| room.handle_disconnect(now, conn)) {
                Box::pin(self.perform(room_id, more, deadline, None)).await?;
            }
        }
        // After a cleanup the core's deadline is newer than the one this
        // batch came with (an away member's grace): never set the older one.
        let deadline = if cleaned { self.core.borrow().as_ref().and_then(Room::poll_timeout) } else { deadline };
        self.set_alarm(deadline).await
    }

    async fn set_alarm(&self, deadline: Option<f64>) -> Result<()> {
        let want = deadline.map(|d| d.ceil() as i64);
        if want == self.alarm_at.get() {
            return Ok(());
        }
        match want {
            // An absolute time: `set_alarm(i64)` would be an offset from now.
            Some(t) => self.state.storage().set_alarm(ScheduledTime::new(js_sys::Date::new(&(t as f64).into()))).await?,
            None => self.state.storage().delete_alarm().await?,
        }
        self.alarm_at.set(want);
        Ok(())
    }

    /// Give every absolute http(s) source a media-proxy link of this room to play.
    fn sign_sources(&self, room_id: &str, msg: &mut ServerMsg) {
        for source in msg.sources_mut() {
            // YouTube, Vimeo and local files are never fetched through the proxy.
            if source.kind() == sync_core::source::SourceKind::Media {
                source.play_url = crate::proxy::sign_source(&self.env, room_id, &source.url);
            }
        }
    }

    /// The sockets with a member, from the cache or listed anew.
    fn audience(&self) -> Vec<WebSocket> {
        if let Some(list) = self.audience.borrow().as_ref() {
            return list.clone();
        }
        let list: Vec<WebSocket> = self.state.get_websockets().into_iter().filter(|ws| Self::tag_of(ws).is_some_and(|t| t.member.is_some())).collect();
        *self.audience.borrow_mut() = Some(list.clone());
        list
    }

    fn sockets_of(&self, conn: ConnId, new_socket: Option<(ConnId, &WebSocket)>) -> Vec<WebSocket> {
        if let Some((c, ws)) = new_socket {
            if c == conn {
                return vec![ws.clone()];
            }
        }
        self.state.get_websockets_with_tag(&conn_tag(conn))
    }

    fn tag_of(ws: &WebSocket) -> Option<SocketTag> {
        ws.deserialize_attachment::<SocketTag>().ok().flatten()
    }

    fn room_id(req: Option<&Request>) -> String {
        req.and_then(|r| r.headers().get("x-room-id").ok().flatten()).unwrap_or_default()
    }

    async fn init(&self, mut req: Request) -> Result<Response> {
        if self.ensure_loaded().await? {
            return error(409, "room_exists", "room already exists");
        }
        let room_id = Self::room_id(Some(&req));
        let init: Init = match req.json().await {
            Ok(i) => i,
            Err(e) => return error(400, "bad_request", &format!("bad init body: {e}")),
        };
        let demo = self.env.var("DEMO_SOURCE").map(|v| v.to_string()).unwrap_or_else(|_| "/media/demo/manifest.mpd".into());
        let opts = init.request.into_options((&demo, "Demo stream"), init.host_token);
        let now = now_ms();
        let room = match Room::create(config(&self.env), now, opts, seed()?) {
            Ok(room) => room,
            Err(e) => return error(400, &format!("bad_{}", e.field), &format!("{}: {}", e.field, e.message)),
        };
        *self.core.borrow_mut() = Some(room);
        self.state.storage().put("id", &room_id).await?;
        *self.id.borrow_mut() = Some(room_id.clone());
        if let Some(((), outputs, deadline)) = self.with_core(|_| ()) {
            self.perform(&room_id, outputs, deadline, None).await?;
        }
        Ok(Response::from_json(&json!({ "created": true }))?.with_status(201))
    }

    async fn accept(&self, req: &Request) -> Result<Response> {
        let now = now_ms();
        let room_id = self.stored_id().await;
        // Password at upgrade time: 401 without one, 403 with a wrong one,
        // 429 past the room's budget of wrong passwords.
        let password = req.url().ok().and_then(|u| u.query_pairs().find(|(k, _)| k == "password").map(|(_, v)| v.into_owned()));
        let addr = crate::limits::client_key(req);
        let Some((check, outputs, deadline)) = self.with_core(|room| {
            let key = room.address_key(&addr);
            room.handle_password_check(now, &key, password.as_deref())
        }) else {
            return error(404, "room_not_found", "no such room");
        };
        self.perform(&room_id, outputs, deadline, None).await?;
        match check {
            Err((ErrorCode::RateLimited, message)) => return crate::limits::too_many("too_many_wrong_passwords", &message, 60),
            Err(_) if password.is_none() => return error(401, "password_required", "this room needs a password"),
            Err(_) => return error(403, "wrong_password", "wrong password"),
            Ok(()) => {}
        }
        if req.url().is_ok_and(|u| u.query_pairs().any(|(k, _)| k == "check")) {
            return Ok(Response::empty()?.with_status(204));
        }
        let pair = WebSocketPair::new()?;
        let Some((conn, outputs, deadline)) = self.with_core(|room| {
            let key = room.address_key(&addr);
            let conn = room.handle_connect(now, key);
            if let (Ok(conn), Some(p)) = (conn, password.as_deref()) {
                room.handle_password_checked(conn, p);
            }
            conn
        }) else {
            return error(404, "room_not_found", "no such room");
        };
        let conn = match conn {
            Ok(conn) => conn,
            Err(ConnectRefused::Busy) => {
                return crate::limits::too_many("room_busy", "too many connections are waiting to join this room; try again shortly", 5)
            }
        };
        self.state.accept_websocket_with_tags(&pair.server, &[&conn_tag(conn)]);
        self.perform(&room_id, outputs, deadline, Some((conn, &pair.server))).await?;
        Response::from_websocket(pair.client)
    }

    async fn stored_id(&self) -> String {
        if let Some(id) = self.id.borrow().as_ref() {
            return id.clone();
        }
        let id = self.state.storage().get::<String>("id").await.ok().flatten().unwrap_or_default();
        *self.id.borrow_mut() = Some(id.clone());
        id
    }

    async fn socket_gone(&self, ws: WebSocket) -> Result<()> {
        let now = now_ms();
        let _ = ws.close(Some(1000), Some("bye"));
        self.audience.borrow_mut().take();
        if !self.ensure_loaded().await? {
            return Ok(());
        }
        let Some(tag) = Self::tag_of(&ws) else { return Ok(()) };
        // The closing socket must not receive the member-list broadcast.
        let _ = ws.serialize_attachment(SocketTag { member: None, ..tag.clone() });
        let room_id = self.stored_id().await;
        if let Some(((), outputs, deadline)) = self.with_core(|room| room.handle_disconnect(now, tag.conn)) {
            self.perform(&room_id, outputs, deadline, None).await?;
        }
        Ok(())
    }
}

impl DurableObject for RoomObject {
    fn new(state: State, env: Env) -> Self {
        RoomObject { state, env, core: RefCell::new(None), alarm_at: Cell::new(None), audience: RefCell::new(None), id: RefCell::new(None) }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let path = req.path();
        if path == "/init" && req.method() == Method::Post {
            return self.init(req).await;
        }
        if !self.ensure_loaded().await? {
            return error(404, "room_not_found", "no such room");
        }
        // (Exact paths: `…/subtitles/ws` is not a socket.)
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (req.method(), segments.as_slice()) {
            (_, ["api", "rooms", _, "ws"]) => return self.accept(&req).await,
            (Method::Post, ["api", "rooms", _, "subtitles"]) => return self.add_subtitle(req).await,
            (Method::Get, ["api", "rooms", _, "subtitles", n]) => {
                let n = n.to_string();
                return self.get_subtitle(req, &n).await;
            }
            _ => {}
        }
        // Read only (what waking the room changed, `ensure_loaded` carried out).
        let Some(info) = self.core.borrow().as_ref().map(Room::info) else {
            return error(404, "room_not_found", "no such room");
        };
        let mut body = serde_json::to_value(&info)?;
        body["exists"] = json!(true);
        Response::from_json(&body)
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        let now = now_ms();
        if !self.ensure_loaded().await? {
            let _ = ws.close(Some(close::EXPIRED), Some("room gone"));
            return Ok(());
        }
        let Some(tag) = Self::tag_of(&ws) else {
            let _ = ws.close(Some(close::ERROR), Some("unknown socket"));
            return Ok(());
        };
        let conn = tag.conn;
        let result = self.with_core(|room| match message {
            WebSocketIncomingMessage::String(text) if text.len() > MAX_FRAME_BYTES => {
                room.handle_refused(now, conn, ErrorCode::TooLarge, format!("message larger than {MAX_FRAME_BYTES} bytes"))
            }
            WebSocketIncomingMessage::String(text) => room.handle_text(now, conn, &text),
            WebSocketIncomingMessage::Binary(_) => {
                room.handle_refused(now, conn, ErrorCode::BinaryNotSupported, "binary frames are not supported; send JSON text".into())
            }
        });
        if let Some(((), outputs, deadline)) = result {
            let room_id = self.stored_id().await;
            self.perform(&room_id, outputs, deadline, Some((conn, &ws))).await?;
        }
        Ok(())
    }

    async fn websocket_close(&self, ws: WebSocket, _code: usize, _reason: String, _was_clean: bool) -> Result<()> {
        self.socket_gone(ws).await
    }

    async fn websocket_error(&self, ws: WebSocket, _error: Error) -> Result<()> {
        self.socket_gone(ws).await
    }

    async fn alarm(&self) -> Result<Response> {
        let now = now_ms();
        self.alarm_at.set(None);
        if !self.ensure_loaded().await? {
            return Response::empty();
        }
        let room_id = self.stored_id().await;
        if let Some(((), outputs, deadline)) = self.with_core(|room| room.handle_timeout(now)) {
            self.perform(&room_id, outputs, deadline, None).await?;
        }
        Response::empty()
    }
}
