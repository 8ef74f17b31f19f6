//! The room Durable Object: a thin shell over [`sync_core::room::Room`].
//!
//! Every event: read the clock once, make sure the core is loaded (from
//! storage plus the attachments of the hibernated sockets), hand the input
//! to the core, drain its outputs into a Vec and drop the borrow, then do the
//! I/O. No RefCell borrow is ever held across an await.

use std::cell::RefCell;

use serde::Deserialize;
use serde_json::json;
use sync_core::protocol::{ErrorCode, MemberId};
use sync_core::room::{PersistedRoom, Room, RoomConfig, RoomOutput, SocketMember};
use worker::*;

use crate::api::error;
use crate::now_ms;

/// Largest text frame accepted from a client.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
const STATE_KEY: &str = "room";

#[durable_object]
pub struct RoomObject {
    state: State,
    core: RefCell<Option<Room>>,
}

fn member_tag(id: MemberId) -> String {
    format!("m{id}")
}

impl RoomObject {
    /// Load the core if this instance just started (first use or wake-up).
    /// Returns false if the room was never created.
    async fn ensure_loaded(&self) -> Result<bool> {
        if self.core.borrow().is_some() {
            return Ok(true);
        }
        let Some(stored) = self.state.storage().get::<PersistedRoom>(STATE_KEY).await? else {
            return Ok(false);
        };
        let sockets: Vec<SocketMember> = self
            .state
            .get_websockets()
            .iter()
            .filter_map(|ws| ws.deserialize_attachment::<SocketMember>().ok().flatten())
            .collect();
        let mut core = self.core.borrow_mut();
        if core.is_none() {
            *core = Some(Room::restore(RoomConfig::default(), stored, sockets));
        }
        Ok(true)
    }

    /// Run `f` on the core and drain its outputs; the borrow ends here.
    fn with_core<T>(&self, f: impl FnOnce(&mut Room) -> T) -> Option<(T, Vec<RoomOutput>)> {
        let mut guard = self.core.borrow_mut();
        let room = guard.as_mut()?;
        let value = f(room);
        let outputs = std::iter::from_fn(|| room.poll_output()).collect();
        Some((value, outputs))
    }

    /// Carry out the core's outputs, in order (persist before telling anyone).
    async fn perform(&self, outputs: Vec<RoomOutput>, new_socket: Option<&WebSocket>) -> Result<()> {
        // Only the last state in a batch needs writing.
        let last_persist = outputs.iter().rposition(|o| matches!(o, RoomOutput::Persist(_)));
        for (i, out) in outputs.into_iter().enumerate() {
            match out {
                RoomOutput::Persist(p) => {
                    if Some(i) == last_persist {
                        self.state.storage().put(STATE_KEY, &p).await?;
                    }
                }
                RoomOutput::Send { to, msg } => {
                    let text = msg.encode();
                    for ws in self.sockets_of(to, new_socket) {
                        let _ = ws.send_with_str(&text);
                    }
                }
                RoomOutput::Broadcast { msg } => {
                    let text = msg.encode();
                    for ws in self.state.get_websockets() {
                        let joined = ws.deserialize_attachment::<SocketMember>().ok().flatten().is_some_and(|m| m.name.is_some());
                        if joined {
                            let _ = ws.send_with_str(&text);
                        }
                    }
                }
                RoomOutput::Attach(member) => {
                    for ws in self.sockets_of(member.id, new_socket) {
                        ws.serialize_attachment(&member)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn sockets_of(&self, id: MemberId, new_socket: Option<&WebSocket>) -> Vec<WebSocket> {
        let mut found = self.state.get_websockets_with_tag(&member_tag(id));
        if found.is_empty() {
            if let Some(ws) = new_socket {
                found.push(ws.clone());
            }
        }
        found
    }

    fn member_of(ws: &WebSocket) -> Option<MemberId> {
        ws.deserialize_attachment::<SocketMember>().ok().flatten().map(|m| m.id)
    }

    async fn init(&self, mut req: Request) -> Result<Response> {
        #[derive(Deserialize)]
        struct Init {
            source: String,
        }
        if self.ensure_loaded().await? {
            return error(409, "room_exists", "room already exists");
        }
        let init: Init = match req.json().await {
            Ok(i) => i,
            Err(e) => return error(400, "bad_request", &format!("bad init body: {e}")),
        };
        let now = now_ms();
        let mut room = Room::restore(RoomConfig::default(), PersistedRoom::default(), []);
        room.handle_set_source(now, init.source, None);
        *self.core.borrow_mut() = Some(room);
        if let Some(((), outputs)) = self.with_core(|_| ()) {
            self.perform(outputs, None).await?;
        }
        Ok(Response::from_json(&json!({ "created": true }))?.with_status(201))
    }

    async fn info(&self) -> Result<Response> {
        let Some((info, _)) = self.with_core(|room| {
            json!({
                "exists": true,
                "members": room.member_count(),
                "source": room.state().source,
                "playing": room.state().playback.playing,
            })
        }) else {
            return error(404, "room_not_found", "no such room");
        };
        Response::from_json(&info)
    }

    async fn accept(&self) -> Result<Response> {
        let now = now_ms();
        let pair = WebSocketPair::new()?;
        let Some((member, outputs)) = self.with_core(|room| room.handle_connect(now)) else {
            return error(404, "room_not_found", "no such room");
        };
        self.state.accept_websocket_with_tags(&pair.server, &[&member_tag(member)]);
        self.perform(outputs, Some(&pair.server)).await?;
        Response::from_websocket(pair.client)
    }
}

impl DurableObject for RoomObject {
    fn new(state: State, _env: Env) -> Self {
        RoomObject { state, core: RefCell::new(None) }
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
            self.accept().await
        } else {
            self.info().await
        }
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        let now = now_ms();
        if !self.ensure_loaded().await? {
            let _ = ws.close(Some(1011), Some("room gone"));
            return Ok(());
        }
        let Some(member) = Self::member_of(&ws) else {
            let _ = ws.close(Some(1011), Some("unknown socket"));
            return Ok(());
        };
        let result = self.with_core(|room| match message {
            WebSocketIncomingMessage::String(text) if text.len() > MAX_FRAME_BYTES => {
                room.handle_refused(member, ErrorCode::TooLarge, format!("message larger than {MAX_FRAME_BYTES} bytes"))
            }
            WebSocketIncomingMessage::String(text) => room.handle_text(now, member, &text),
            WebSocketIncomingMessage::Binary(_) => {
                room.handle_refused(member, ErrorCode::BinaryNotSupported, "binary frames are not supported; send JSON text".into())
            }
        });
        if let Some(((), outputs)) = result {
            self.perform(outputs, Some(&ws)).await?;
        }
        Ok(())
    }

    async fn websocket_close(&self, ws: WebSocket, _code: usize, _reason: String, _was_clean: bool) -> Result<()> {
        self.socket_gone(ws).await
    }

    async fn websocket_error(&self, ws: WebSocket, _error: Error) -> Result<()> {
        self.socket_gone(ws).await
    }
}

impl RoomObject {
    async fn socket_gone(&self, ws: WebSocket) -> Result<()> {
        let now = now_ms();
        let _ = ws.close(Some(1000), Some("bye"));
        if !self.ensure_loaded().await? {
            return Ok(());
        }
        let Some(member) = Self::member_of(&ws) else { return Ok(()) };
        // The closing socket must not receive the member-list broadcast.
        let _ = ws.serialize_attachment(SocketMember { id: member, name: None });
        if let Some(((), outputs)) = self.with_core(|room| room.handle_disconnect(now, member)) {
            self.perform(outputs, None).await?;
        }
        Ok(())
    }
}
