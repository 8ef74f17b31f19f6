//! Watch Together edge worker.
//!
//! - `POST /api/rooms` creates a room, `GET /api/rooms/:id` describes it and
//!   `GET /api/rooms/:id/ws` joins it over a WebSocket, routed to the room's
//!   Durable Object ([`room::RoomObject`]).
//! - `/r/:id` serves the room page; everything else is static assets (`www/`).
//! - `GET /healthz` answers `{"ok":true}`; `GET /api/time` answers the
//!   worker's clock `{"t":ms}`, over HTTP or per message of a WebSocket
//!   (the edge time endpoint members probe: [`time`]).
//! - `GET|HEAD /proxy/...` is the signed, caching media proxy ([`proxy`]).

use wasm_bindgen::prelude::*;
use worker::*;

mod api;
mod limits;
mod proxy;
mod room;
mod time;

pub use room::RoomObject;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buf: &mut [u8]) -> std::result::Result<JsValue, JsValue>;
}

/// Fill `buf` from the platform's cryptographic random source.
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<()> {
    get_random_values(buf).map(|_| ()).map_err(|e| Error::RustError(format!("crypto.getRandomValues failed: {e:?}")))
}

/// Server time in milliseconds. The only place the worker reads a clock:
/// called once per event and handed to the core.
pub(crate) fn now_ms() -> f64 {
    Date::now().as_millis() as f64
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    api::route(req, env).await
}
