//! The room Durable Object: a thin shell over [`sync_core::room::Room`].
//!
//! Every event: read the clock once, make sure the core is loaded (from
//! storage plus the attachments of the hibernated sockets), hand the input
//! to the core, drain its outputs into a Vec and drop the borrow, then do the
//! I/O (storage, sends, closes) and set the storage alarm to the core's next
//! deadline. No RefCell borrow is ever held across an await; no setTimeout.

use std::cell::{Cell, RefCell};

use serde::Deserialize;
use serde_json::json;
use sync_core::protocol::{ErrorCode, PermissionMode, ServerMsg, SourceInfo};
use sync_core::room::{ConnId, CreateOptions, PersistedRoom, Room, RoomConfig, RoomOutput, SocketTag};
use worker::*;

use crate::api::error;
use crate::{now_ms, random_bytes};

/// Largest text frame accepted from a client.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
const STATE_KEY: &str = "room";

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

/// The body of the internal `/init` request.
#[derive(Deserialize)]
pub struct Init {
    pub name: Option<String>,
    pub source: Option<SourceInfo>,
    pub password: Option<String>,
    #[serde(default)]
    pub mode: PermissionMode,
    pub host_token: String,
}

impl RoomObject {
    /// Load the core if this instance just started (first use or wake-up).
    /// Returns false if the room does not exist.
    async fn ensure_loaded(&self) -> Result<bool> {
        if self.core.borrow().is_some() {
            return Ok(true);
        }
        let Some(stored) = self.state.storage().get::<PersistedRoom>(STATE_KEY).await? else {
            return Ok(false);
        };
        let sockets: Vec<SocketTag> = self.state.get_websockets().iter().filter_map(|ws| ws.deserialize_attachment::<SocketTag>().ok().flatten()).collect();
        let mut core = self.core.borrow_mut();
        if core.is_none() {
            *core = Some(Room::restore(config(&self.env), stored, sockets));
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
        let last_persist = outputs.iter().rposition(|o| matches!(o, RoomOutput::Persist(_)));
        let mut dead: Vec<ConnId> = Vec::new();
        for (i, out) in outputs.into_iter().enumerate() {
            match out {
                RoomOutput::Persist(p) => {
                    if Some(i) == last_persist {
                        self.state.storage().put(STATE_KEY, &*p).await?;
                    }
                }
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
                    for ws in &audience {
                        if ws.send_with_str(&text).is_err() {
                            if let Some(tag) = Self::tag_of(ws) {
                                dead.push(tag.conn);
                            }
                        }
                    }
                }
                RoomOutput::Attach(tag) => {
                    self.audience.borrow_mut().take();
                    for ws in self.sockets_of(tag.conn, new_socket) {
                        ws.serialize_attachment(tag)?;
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
                        let _ = ws.close(Some(1001), Some("room expired"));
                    }
                    self.state.storage().delete_alarm().await?;
                    self.state.storage().delete_all().await?;
                    *self.core.borrow_mut() = None;
                    self.audience.borrow_mut().take();
                    self.alarm_at.set(None);
                    console_log!("{}", json!({ "room": room_id, "event": "deleted" }));
                    return Ok(());
                }
                RoomOutput::Log { event, member, detail } => {
                    console_log!("{}", json!({ "room": room_id, "event": event, "member": member, "detail": detail }));
                }
            }
        }
        // A send that failed means a dead socket: drop its member now.
        for conn in dead {
            let now = now_ms();
            if let Some(((), more, deadline)) = self.with_core(|room| room.handle_disconnect(now, conn)) {
                Box::pin(self.perform(room_id, more, deadline, None)).await?;
            }
        }
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
            source.play_url = crate::proxy::sign_source(&self.env, room_id, &source.url);
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
        let mut salt = [0u8; 16];
        random_bytes(&mut salt)?;
        let opts = CreateOptions {
            name: init.name,
            source: init.source.map(|s| SourceInfo::new(s.url, s.title)),
            mode: init.mode,
            password: init.password.filter(|p| !p.is_empty()).map(|p| (p, salt)),
            host_token: Some(init.host_token),
        };
        let now = now_ms();
        *self.core.borrow_mut() = Some(Room::create(config(&self.env), now, opts));
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
        // Password at upgrade time: 401 without one, 403 with a wrong one.
        let password = req.url().ok().and_then(|u| u.query_pairs().find(|(k, _)| k == "password").map(|(_, v)| v.into_owned()));
        let check = self.with_core(|room| (room.has_password(), room.check_password(password.as_deref())));
        match check {
            Some(((true, _), _, _)) if password.is_none() => return error(401, "password_required", "this room needs a password"),
            Some(((_, false), _, _)) => return error(403, "wrong_password", "wrong password"),
            None => return error(404, "room_not_found", "no such room"),
            _ => {}
        }
        if req.url().is_ok_and(|u| u.query_pairs().any(|(k, _)| k == "check")) {
            return Ok(Response::empty()?.with_status(204));
        }
        let mut entropy = [0u8; 16];
        random_bytes(&mut entropy)?;
        let pair = WebSocketPair::new()?;
        let Some((conn, outputs, deadline)) = self.with_core(|room| room.handle_connect(now, &entropy)) else {
            return error(404, "room_not_found", "no such room");
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
        let _ = ws.serialize_attachment(SocketTag { conn: tag.conn, member: None });
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
        if path.ends_with("/ws") {
            self.accept(&req).await
        } else {
            let Some((info, _, _)) = self.with_core(|room| room.info()) else {
                return error(404, "room_not_found", "no such room");
            };
            let mut body = serde_json::to_value(&info)?;
            body["exists"] = json!(true);
            Response::from_json(&body)
        }
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        let now = now_ms();
        if !self.ensure_loaded().await? {
            let _ = ws.close(Some(1011), Some("room gone"));
            return Ok(());
        }
        let Some(tag) = Self::tag_of(&ws) else {
            let _ = ws.close(Some(1011), Some("unknown socket"));
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
