//! HTTP routing and the JSON API. Errors are `{"error":{"code","message"}}`.

use serde_json::json;
use sync_core::protocol::valid_room_id;
use sync_core::room::CreateRequest;
use worker::*;

use crate::limits::{charge, client_key, too_many};

/// Largest `POST /api/rooms` body.
const MAX_CREATE_BYTES: usize = 16 * 1024;

pub fn error(status: u16, code: &str, message: &str) -> Result<Response> {
    Ok(Response::from_json(&json!({ "error": { "code": code, "message": message } }))?.with_status(status))
}

/// Origins allowed to call the API and open room sockets (`ALLOWED_ORIGINS`:
/// `*` or a comma-separated list of origins).
fn origin_allowed(env: &Env, origin: &str) -> bool {
    allow_origin_value(env, origin).is_some()
}

/// The `Access-Control-Allow-Origin` value for `origin`: `*` when the list
/// is `*`, the origin itself when it is listed, None when it is not.
pub fn allow_origin_value(env: &Env, origin: &str) -> Option<String> {
    let list = allowed_origins(env);
    let entry = list.split(',').map(str::trim).find(|o| *o == "*" || o.eq_ignore_ascii_case(origin))?;
    Some(if entry == "*" { "*".to_string() } else { origin.to_string() })
}

/// `ALLOWED_ORIGINS`: `*` (the default) or a comma-separated list of origins.
fn allowed_origins(env: &Env) -> String {
    env.var("ALLOWED_ORIGINS").map(|v| v.to_string()).unwrap_or_else(|_| "*".into())
}

/// Add CORS headers for an allowed cross-origin caller. (A response passed
/// on from a Durable Object has immutable headers: it is rebuilt.)
async fn with_cors(mut resp: Response, origin: Option<&str>, env: &Env) -> Result<Response> {
    if resp.status_code() == 101 {
        return Ok(resp);
    }
    if let Some(o) = origin.filter(|o| origin_allowed(env, o)) {
        let status = resp.status_code();
        let content_type = resp.headers().get("content-type")?.unwrap_or_else(|| "application/json".into());
        let body = resp.bytes().await?;
        resp = Response::from_bytes(body)?.with_status(status);
        let h = resp.headers_mut();
        h.set("content-type", &content_type)?;
        h.set("access-control-allow-origin", o)?;
        h.append("vary", "Origin")?;
        h.set("access-control-expose-headers", "content-length, content-range")?;
    }
    Ok(resp)
}

pub async fn route(req: Request, env: Env) -> Result<Response> {
    let path = req.path();
    if path.starts_with("/proxy/") {
        return crate::proxy::handle(req, &env).await;
    }
    // The media origin serves the proxy and nothing else: no page, no API.
    if let Some(media) = crate::proxy::media_origin(&env) {
        if req.url()?.origin().ascii_serialization().eq_ignore_ascii_case(&media) {
            return error(404, "not_found", "this origin serves the media proxy only");
        }
    }
    let origin = req.headers().get("origin")?;
    let is_api = path.starts_with("/api/") || path == "/healthz";
    if is_api && req.method() == Method::Options {
        // Preflight.
        let mut resp = Response::empty()?.with_status(204);
        if let Some(o) = origin.as_deref().filter(|o| origin_allowed(&env, o)) {
            let h = resp.headers_mut();
            h.set("access-control-allow-origin", o)?;
            h.set("access-control-allow-methods", "GET, POST, OPTIONS")?;
            // (`authorization`: a member's token, for the room's subtitle files.)
            h.set("access-control-allow-headers", "content-type, authorization")?;
            h.set("access-control-max-age", "86400")?;
            h.set("vary", "Origin")?;
        }
        return Ok(resp);
    }
    let resp = handle(req, &env, origin.as_deref()).await?;
    if is_api {
        with_cors(resp, origin.as_deref(), &env).await
    } else {
        page_headers(resp, &env).await
    }
}

/// The app's pages may be framed by the app itself and the origins in
/// `ALLOWED_ORIGINS` (when it is a list), by no other site: a framed room
/// page would let that site click the host's buttons.
async fn page_headers(mut resp: Response, env: &Env) -> Result<Response> {
    let html = resp.headers().get("content-type")?.is_some_and(|t| t.starts_with("text/html"));
    if !html {
        return Ok(resp);
    }
    let list = allowed_origins(env);
    let others: Vec<&str> = list.split(',').map(str::trim).filter(|o| *o != "*" && o.starts_with("http")).collect();
    let ancestors = std::iter::once("'self'").chain(others.iter().copied()).collect::<Vec<_>>().join(" ");
    // A response from the assets binding has immutable headers: copy it.
    let status = resp.status_code();
    let headers = resp.headers().clone();
    let body = resp.bytes().await?;
    let mut out = Response::from_bytes(body)?.with_status(status);
    let h = out.headers_mut();
    for (k, v) in headers.entries() {
        h.set(&k, &v)?;
    }
    h.set("content-security-policy", &format!("frame-ancestors {ancestors}"))?;
    if others.is_empty() {
        h.set("x-frame-options", "SAMEORIGIN")?;
    }
    Ok(out)
}

/// A cross-site page may not use the API unless `ALLOWED_ORIGINS` names it
/// (a browser always sends `Origin` on a cross-site POST or WebSocket).
fn origin_refused(req: &Request, env: &Env, origin: Option<&str>) -> bool {
    let Some(o) = origin else { return false };
    let own = req.url().ok().map(|u| u.origin().ascii_serialization());
    own.as_deref() != Some(o) && !origin_allowed(env, o)
}

async fn handle(req: Request, env: &Env, origin: Option<&str>) -> Result<Response> {
    let env = env.clone();
    let path = req.path();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (req.method(), segments.as_slice()) {
        (Method::Get, ["healthz"]) => Response::from_json(&json!({ "ok": true })),
        (Method::Get, ["api", "time"]) => {
            let upgrade = req.headers().get("Upgrade")?.unwrap_or_default();
            if !upgrade.eq_ignore_ascii_case("websocket") {
                return crate::time::http();
            }
            // As for a room's socket: pages we do not serve may not hold one.
            if origin_refused(&req, &env, origin) {
                return error(403, "origin_not_allowed", "this origin may not use the time endpoint here");
            }
            let client = format!("client:{}", client_key(&req));
            if !charge(&env, &[("TIME_SOCKETS", &client)], 1).await {
                return too_many("too_many_time_sockets", "too many time sockets from this address; try again shortly", 10);
            }
            crate::time::socket()
        }
        (Method::Post, ["api", "rooms"]) => {
            if origin_refused(&req, &env, origin) {
                return error(403, "origin_not_allowed", "this origin may not create rooms here");
            }
            create_room(req, env).await
        }
        (Method::Get, ["api", "rooms", id]) => forward(&env, id, req).await,
        (Method::Post, ["api", "rooms", id, "subtitles"]) => {
            if origin_refused(&req, &env, origin) {
                return error(403, "origin_not_allowed", "this origin may not add subtitles here");
            }
            // (Each upload is parsed and stored: 20 a minute per address.)
            let client = format!("client:{}", client_key(&req));
            if !charge(&env, &[("SUBTITLE_UPLOADS", &client)], 1).await {
                return too_many("too_many_uploads", "too many subtitle uploads from this address; try again in a minute", 60);
            }
            forward(&env, id, req).await
        }
        (Method::Get, ["api", "rooms", id, "subtitles", n]) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && n.len() <= 10 => {
            forward(&env, id, req).await
        }
        (Method::Get, ["api", "rooms", id, "ws"]) => {
            let upgrade = req.headers().get("Upgrade")?.unwrap_or_default();
            let url = req.url()?;
            let check = url.query_pairs().any(|(k, _)| k == "check");
            let password = url.query_pairs().any(|(k, _)| k == "password");
            if !check && !upgrade.eq_ignore_ascii_case("websocket") {
                return error(400, "upgrade_required", "this endpoint takes a WebSocket upgrade (or ?check to test a password)");
            }
            // Browsers send their page's origin with a WebSocket: refuse pages we do not serve.
            if origin_refused(&req, &env, origin) {
                return error(403, "origin_not_allowed", "this origin may not join rooms here");
            }
            let client = format!("client:{}", client_key(&req));
            if !check && !charge(&env, &[("ROOM_JOINS", &client)], 1).await {
                return too_many("too_many_joins", "too many room connections from this address; try again shortly", 10);
            }
            if password && !charge(&env, &[("PASSWORD_CHECKS", &client)], 1).await {
                return too_many("too_many_password_checks", "too many password checks from this address; try again in a minute", 60);
            }
            // `?check[&password=…]` without an upgrade: 204 if this password
            // opens the room, 401/403/404 as the upgrade would answer.
            forward(&env, id, req).await
        }
        (Method::Get, ["r", id]) if valid_room_id(id) => {
            let url = req.url()?;
            let page = format!("{}://{}/room.html", url.scheme(), url.host_str().unwrap_or("localhost"));
            env.assets("ASSETS")?.fetch(page, None).await
        }
        (_, ["api", ..]) => error(404, "not_found", "no such API endpoint"),
        (Method::Get | Method::Head, _) => env.assets("ASSETS")?.fetch_request(req).await,
        _ => error(404, "not_found", "not found"),
    }
}

async fn create_room(mut req: Request, env: Env) -> Result<Response> {
    let json_body = req.headers().get("content-type")?.is_some_and(|t| t.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if !json_body {
        // A form cannot send this type without a CORS preflight.
        return error(415, "json_required", "send the room as JSON (content-type: application/json)");
    }
    if req.headers().get("content-length")?.and_then(|n| n.parse::<usize>().ok()).is_some_and(|n| n > MAX_CREATE_BYTES) {
        return error(413, "too_large", &format!("a room is described in at most {MAX_CREATE_BYTES} bytes"));
    }
    let client = format!("client:{}", client_key(&req));
    if !charge(&env, &[("ROOM_CREATES", &client)], 1).await {
        return too_many("too_many_rooms", "too many rooms created from this address; try again in a minute", 60);
    }
    // Read no further than the bound, whatever length was declared (or none).
    // (A POST without a body asks for a room with the defaults.)
    let body = match req.stream() {
        Ok(stream) => match crate::proxy::read_limited(stream, MAX_CREATE_BYTES, None, None).await? {
            crate::proxy::Read::Body(body) => body,
            _ => return error(413, "too_large", &format!("a room is described in at most {MAX_CREATE_BYTES} bytes")),
        },
        Err(_) => Vec::new(),
    };
    let text = String::from_utf8_lossy(&body);
    let create: CreateRequest = if text.trim().is_empty() {
        CreateRequest::default()
    } else {
        match serde_json::from_str(&text) {
            Ok(c) => c,
            Err(e) => return error(400, "bad_request", &format!("body must be JSON {{name?, source?, title?, password?, mode?}}: {e}")),
        }
    };
    let mut raw = [0u8; 16];
    crate::random_bytes(&mut raw)?;
    let id = sync_core::secret::token_from_entropy(&raw);
    let mut token = [0u8; 16];
    crate::random_bytes(&mut token)?;
    let host_token = sync_core::secret::token_from_entropy(&token);
    let stub = env.durable_object("ROOMS")?.id_from_name(&id)?.get_stub()?;
    let init = crate::room::Init { request: create, host_token: host_token.clone() };
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("x-room-id", &id)?;
    let init = RequestInit { method: Method::Post, headers, body: Some(serde_json::to_string(&init)?.into()), ..RequestInit::default() };
    let resp = stub.fetch_with_request(Request::new_with_init("https://room/init", &init)?).await?;
    if resp.status_code() != 201 {
        return Ok(resp);
    }
    let url = format!("/r/{id}");
    Ok(Response::from_json(&json!({ "id": id, "hostToken": host_token, "url": url }))?.with_status(201))
}

/// Hand a request to the room's Durable Object (it routes on the path's last segment).
async fn forward(env: &Env, id: &str, req: Request) -> Result<Response> {
    if !valid_room_id(id) {
        return error(404, "room_not_found", "no such room");
    }
    let stub = env.durable_object("ROOMS")?.id_from_name(id)?.get_stub()?;
    stub.fetch_with_request(req).await
}
