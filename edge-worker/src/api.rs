//! HTTP routing and the JSON API. Errors are `{"error":{"code","message"}}`.

use serde::Deserialize;
use serde_json::json;
use sync_core::protocol::PermissionMode;
use worker::*;

/// Length of a room id: 16 random bytes, base64url without padding.
pub const ROOM_ID_LEN: usize = 22;

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
    let list = env.var("ALLOWED_ORIGINS").map(|v| v.to_string()).unwrap_or_else(|_| "*".into());
    let entry = list.split(',').map(str::trim).find(|o| *o == "*" || o.eq_ignore_ascii_case(origin))?;
    Some(if entry == "*" { "*".to_string() } else { origin.to_string() })
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
            h.set("access-control-allow-headers", "content-type")?;
            h.set("access-control-max-age", "86400")?;
            h.set("vary", "Origin")?;
        }
        return Ok(resp);
    }
    let resp = handle(req, &env, origin.as_deref()).await?;
    if is_api {
        with_cors(resp, origin.as_deref(), &env).await
    } else {
        Ok(resp)
    }
}

async fn handle(req: Request, env: &Env, origin: Option<&str>) -> Result<Response> {
    let env = env.clone();
    let path = req.path();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (req.method(), segments.as_slice()) {
        (Method::Get, ["healthz"]) => Response::from_json(&json!({ "ok": true })),
        (Method::Post, ["api", "rooms"]) => create_room(req, env).await,
        (Method::Get, ["api", "rooms", id]) => forward(&env, id, req).await,
        (Method::Get, ["api", "rooms", id, "ws"]) => {
            let upgrade = req.headers().get("Upgrade")?.unwrap_or_default();
            let check = req.url()?.query_pairs().any(|(k, _)| k == "check");
            if check {
                // `?check[&password=…]` without an upgrade: 204 if this password
                // opens the room, 401/403/404 as the upgrade would answer.
                return forward(&env, id, req).await;
            }
            if !upgrade.eq_ignore_ascii_case("websocket") {
                return error(400, "upgrade_required", "this endpoint takes a WebSocket upgrade (or ?check to test a password)");
            }
            // Browsers send their page's origin with a WebSocket: refuse pages we do not serve.
            if let Some(o) = origin {
                let own = req.url().ok().map(|u| u.origin().ascii_serialization());
                if own.as_deref() != Some(o) && !origin_allowed(&env, o) {
                    return error(403, "origin_not_allowed", "this origin may not join rooms here");
                }
            }
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

#[derive(Deserialize, Default)]
struct CreateRoom {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    mode: Option<PermissionMode>,
}

async fn create_room(mut req: Request, env: Env) -> Result<Response> {
    let body = req.text().await.unwrap_or_default();
    let create: CreateRoom = if body.trim().is_empty() {
        CreateRoom::default()
    } else {
        match serde_json::from_str(&body) {
            Ok(c) => c,
            Err(e) => return error(400, "bad_request", &format!("body must be JSON {{name?, source?, title?, password?, mode?}}: {e}")),
        }
    };
    let (url, title) = match create.source {
        Some(s) => (s, create.title),
        None => (env.var("DEMO_SOURCE").map(|v| v.to_string()).unwrap_or_else(|_| "/media/demo/manifest.mpd".into()), Some("Demo stream".to_string())),
    };
    let unreadable = url.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    if !(url.starts_with("https://") || url.starts_with("http://") || (url.starts_with('/') && !url.starts_with("//"))) || url.len() > 2048 || unreadable {
        return error(400, "bad_source", "source must be an http(s) URL or a path on this server (no spaces, control characters or backslashes)");
    }
    if !url.starts_with('/') {
        if let Err(e) = media_core::proxy::guard::check_upstream(&url, crate::proxy::allow_loopback(&env)) {
            return error(400, "bad_source", &format!("this source is not allowed: {e}"));
        }
    }
    if create.password.as_ref().is_some_and(|p| p.len() > 200) {
        return error(400, "bad_password", "password too long (200 bytes at most)");
    }
    let mut raw = [0u8; 16];
    crate::random_bytes(&mut raw)?;
    let id = base64url(&raw);
    let mut token = [0u8; 16];
    crate::random_bytes(&mut token)?;
    let host_token = base64url(&token);
    let stub = env.durable_object("ROOMS")?.id_from_name(&id)?.get_stub()?;
    let init = json!({
        "name": create.name,
        "source": { "url": url, "title": title },
        "password": create.password,
        "mode": create.mode.unwrap_or_default(),
        "host_token": host_token,
    });
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

pub fn valid_room_id(id: &str) -> bool {
    id.len() == ROOM_ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 2);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
