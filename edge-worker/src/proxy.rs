//! `GET|HEAD /proxy/<sig>/<room>/<expires>/<scope>/<prefix64>/<rest>`: the
//! signed, caching media proxy. The decisions are pure and live in
//! `media_core::proxy` (path decoding, signatures, the SSRF guard, the
//! media-only filter, detection, cache keys, lifetimes and ranges) and
//! `media_core::rewrite`; this module only carries the I/O.
//!
//! Flow: (on the media origin, when `MEDIA_ORIGIN` is set) decode and
//! verify the path (403 on a missing, tampered or expired signature; the
//! link is bound to its room) → guard the upstream URL (403) → the room's
//! and the client's request budgets (429) → narrow the client's Range to
//! [`MAX_RESPONSE_BYTES`] → the Cache API (key: SHA-256 of the normalised
//! URL plus the Range) → on a miss, fetch upstream by hand, re-checking every
//! redirect (at most 5) under one deadline (504) → upstream errors become a
//! fixed JSON error (never the runtime's text) → manifests (at most 16 MiB)
//! are checked for markup and rewritten so every reference is a signed link
//! of the same room, the rewrite bounded against amplification (413) and
//! cached per link-expiry window → anything else must be media (by type and
//! by its first bytes; else 415), is labelled with a media type, and passes
//! through: bodies up to [`MAX_CACHED_BYTES`] buffered and cached (for no
//! longer than the upstream allows), larger ones streamed uncached and cut at
//! [`MAX_RESPONSE_BYTES`] → the byte budgets (429). Every response carries
//! `nosniff`, a `sandbox` CSP and `Content-Disposition: attachment`, and
//! CORS headers only for the origins `ALLOWED_ORIGINS` allows.

use futures_util::future::{select, Either};
use futures_util::{stream, StreamExt};
use media_core::proxy::cache::{bound_range, cache_key, freshness, CachePolicy, RangeRequest, Resource, MAX_RESPONSE_BYTES};
use media_core::proxy::detect::{self, Kind};
use media_core::proxy::filter::{check_media, manifest_markup, Served, SECURITY_HEADERS};
use media_core::proxy::guard::{check_upstream, GuardError};
use media_core::proxy::sign::{decode_proxy_path, source_path, Linker, SignError};
use media_core::rewrite::{self, rewrite_dash, rewrite_hls, RewriteError, MAX_MANIFEST_BYTES, MAX_REFERENCES};
use serde_json::json;
use worker::*;

use crate::limits::{charge, client_key};

use crate::api::error as fail;

/// Bodies up to this size are buffered (to check their first bytes and to
/// cache them); larger ones stream through uncached.
pub const MAX_CACHED_BYTES: usize = 8 * 1024 * 1024;
/// Redirects followed (each re-checked by the guard).
pub const MAX_REDIRECTS: usize = 5;
const CACHE_ORIGIN: &str = "https://proxy-cache.watch-together.invalid/";
const USER_AGENT: &str = "WatchTogether-MediaProxy/0.1 (+https://github.com/watch-together)";
const MIB: u64 = 1024 * 1024;

/// The proxy's settings, all from the worker's environment.
pub struct ProxyConfig {
    /// `PROXY_SECRET` (a secret): the HMAC key. Without it the proxy is off.
    pub secret: Vec<u8>,
    /// `PROXY_ALLOW_LOOPBACK = "1"`: let local tests use a loopback upstream.
    pub allow_loopback: bool,
    /// `PROXY_TIMEOUT_MS` (default 15 s): the whole upstream exchange.
    pub timeout_ms: u64,
    /// `PROXY_LINK_TTL_SECS` (default 6 h): lifetime of signed links.
    pub link_ttl_secs: u64,
    /// `MEDIA_ORIGIN` (e.g. `https://media.watch.example`): the origin the
    /// proxy answers on, apart from the app's; links are made absolute on it.
    pub media_origin: Option<String>,
    pub policy: CachePolicy,
}

impl ProxyConfig {
    pub fn from_env(env: &Env) -> Option<ProxyConfig> {
        let secret = env.secret("PROXY_SECRET").map(|s| s.to_string()).or_else(|_| env.var("PROXY_SECRET").map(|v| v.to_string())).ok()?;
        if secret.len() < 16 {
            return None;
        }
        let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
        Some(ProxyConfig {
            secret: secret.into_bytes(),
            allow_loopback: allow_loopback(env),
            timeout_ms: var("PROXY_TIMEOUT_MS").and_then(|v| v.parse().ok()).unwrap_or(15_000),
            link_ttl_secs: var("PROXY_LINK_TTL_SECS").and_then(|v| v.parse().ok()).unwrap_or(6 * 3600),
            media_origin: media_origin(env),
            policy: CachePolicy::default(),
        })
    }

    /// Expiry for links made now: `now + ttl`, rounded up to the hour so a
    /// manifest rewritten twice within the hour is byte-identical (and its
    /// rewrite can be cached until then).
    fn expires(&self, now_secs: u64) -> u64 {
        (now_secs + self.link_ttl_secs).div_ceil(3600) * 3600
    }
}

/// `PROXY_ALLOW_LOOPBACK = "1"` (local tests only).
pub fn allow_loopback(env: &Env) -> bool {
    env.var("PROXY_ALLOW_LOOPBACK").is_ok_and(|v| matches!(v.to_string().as_str(), "1" | "true"))
}

/// `MEDIA_ORIGIN`, without a trailing slash, when set.
pub fn media_origin(env: &Env) -> Option<String> {
    env.var("MEDIA_ORIGIN").ok().map(|v| v.to_string().trim().trim_end_matches('/').to_string()).filter(|v| !v.is_empty())
}

fn now_secs() -> u64 {
    Date::now().as_millis() / 1000
}

/// The signed link (a path, or an absolute URL on `MEDIA_ORIGIN`) for a
/// room's absolute http(s) source, or `None` when the proxy is off or the
/// URL is not one it would fetch.
pub fn sign_source(env: &Env, room: &str, url: &str) -> Option<String> {
    let cfg = ProxyConfig::from_env(env)?;
    if room.is_empty() || !rewrite::is_http(url) || check_upstream(url, cfg.allow_loopback).is_err() {
        return None;
    }
    let path = source_path(&cfg.secret, room, url, cfg.expires(now_secs()));
    Some(match &cfg.media_origin {
        Some(o) => format!("{o}{path}"),
        None => path,
    })
}

/// The origins the proxy answers CORS requests from: those `ALLOWED_ORIGINS`
/// allows (the same rule as the API and the embed; a `*` there is answered
/// with the caller's origin and `Vary: Origin`, never a literal `*`) and
/// `APP_ORIGIN`.
fn cors_origin(env: &Env, origin: &str) -> Option<String> {
    let app = env.var("APP_ORIGIN").map(|v| v.to_string()).unwrap_or_default();
    let is_app = !app.trim().is_empty() && app.trim().trim_end_matches('/').eq_ignore_ascii_case(origin);
    (is_app || crate::api::allow_origin_value(env, origin).is_some()).then(|| origin.to_string())
}

fn add_headers(resp: &mut Response, cors: Option<&str>) -> Result<()> {
    let h = resp.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        h.set(name, value)?;
    }
    h.append("vary", "Origin")?;
    if let Some(o) = cors {
        h.set("access-control-allow-origin", o)?;
        h.set("access-control-expose-headers", "content-length, content-range, accept-ranges, etag, x-cache")?;
    }
    Ok(())
}

pub async fn handle(req: Request, env: &Env) -> Result<Response> {
    let origin = req.headers().get("origin")?;
    let cors = origin.as_deref().and_then(|o| cors_origin(env, o));
    let mut resp = match req.method() {
        Method::Options => {
            let mut r = Response::empty()?.with_status(204);
            if cors.is_some() {
                let h = r.headers_mut();
                h.set("access-control-allow-methods", "GET, HEAD, OPTIONS")?;
                h.set("access-control-allow-headers", "range, if-none-match, if-modified-since")?;
                h.set("access-control-max-age", "86400")?;
            }
            r
        }
        Method::Get | Method::Head => serve(&req, env).await?,
        _ => fail(405, "method_not_allowed", "the proxy answers GET and HEAD")?,
    };
    add_headers(&mut resp, cors.as_deref())?;
    Ok(resp)
}

fn over_budget(what: &str) -> Result<Response> {
    let mut r = fail(429, "budget_exceeded", &format!("this room's or this client's {what} budget for the proxy is spent; try again shortly"))?;
    r.headers_mut().set("retry-after", "10")?;
    Ok(r)
}

/// The origin links in a rewritten manifest are made on.
fn link_origin(cfg: &ProxyConfig, url: &Url) -> String {
    cfg.media_origin.clone().unwrap_or_else(|| url.origin().ascii_serialization())
}

async fn serve(req: &Request, env: &Env) -> Result<Response> {
    let Some(cfg) = ProxyConfig::from_env(env) else {
        return fail(503, "proxy_not_configured", "the media proxy needs the PROXY_SECRET secret (16 bytes or more)");
    };
    let url = req.url()?;
    if let Some(media) = &cfg.media_origin {
        if !url.origin().ascii_serialization().eq_ignore_ascii_case(media) {
            return fail(404, "not_found", "the media proxy answers on its own origin only");
        }
    }
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let preq = match decode_proxy_path(&path) {
        Ok(p) => p,
        Err(e) => return fail(400, "bad_proxy_path", &e.to_string()),
    };
    if let Err(e) = preq.verify(&cfg.secret, now_secs()) {
        let code = match e {
            SignError::Missing => "missing_signature",
            SignError::Malformed | SignError::BadSignature => "bad_signature",
            SignError::Expired { .. } => "signature_expired",
            SignError::NotTemplateExpansion => "bad_proxy_path",
        };
        let status = if matches!(e, SignError::NotTemplateExpansion) { 400 } else { 403 };
        return fail(status, code, &e.to_string());
    }
    let upstream = match check_upstream(&preq.upstream(), cfg.allow_loopback) {
        Ok(u) => u,
        Err(e) => return fail(403, "forbidden_upstream", &e.to_string()),
    };
    let client = client_key(req);
    let (room_key, client_key) = (format!("room:{}", preq.room), format!("client:{client}"));
    if !charge(env, &[("PROXY_ROOM_REQUESTS", &room_key), ("PROXY_CLIENT_REQUESTS", &client_key)], 1).await {
        return over_budget("request");
    }
    let byte_budgets = [("PROXY_ROOM_MIB", room_key.as_str()), ("PROXY_CLIENT_MIB", client_key.as_str())];
    let range = match bound_range(req.headers().get("range")?.as_deref()) {
        RangeRequest::Whole => None,
        RangeRequest::Bounded(r) => Some(r),
        RangeRequest::Unsupported => return fail(416, "range_not_supported", "the proxy takes one byte range (bytes=a-b, bytes=a- or bytes=-n)"),
    };
    let head = req.method() == Method::Head;
    let key = format!("{CACHE_ORIGIN}{}", cache_key(&upstream.url, range.as_deref()));
    let cache = Cache::default();
    let ctx = Ctx { cfg: &cfg, env, budgets: &byte_budgets, origin: link_origin(&cfg, &url), room: preq.room.clone(), key: key.clone() };

    if !head {
        // Body and metadata come back together from one `match`.
        if let Some(mut hit) = cache.get(key.as_str(), false).await? {
            let stored = Stored::read(&hit)?;
            // Manifests are charged what their rewrite sends.
            if stored.kind == Kind::Other && !charge(env, &byte_budgets, u64::from(stored.len).div_ceil(MIB)).await {
                return over_budget("byte");
            }
            return from_stored(&mut hit, stored, req, &ctx).await;
        }
    }

    let (final_url, mut up) = match fetch_upstream(&upstream.url, req, range.as_deref(), &cfg, head).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let status = up.status_code();
    if status == 206 && range.is_none() {
        // Partial content nobody asked for would skip the check of the first bytes.
        return fail(502, "upstream_error", "the upstream answered part of a body nobody asked a range of");
    }
    match status {
        200 | 206 => {}
        304 => return passthrough_headers(&up, Response::empty()?.with_status(304)),
        416 => return passthrough_headers(&up, Response::empty()?.with_status(416)),
        s => return fail_upstream(s),
    }
    let content_type = up.headers().get("content-type")?;
    let length: Option<u64> = up.headers().get("content-length")?.and_then(|v| v.trim().parse().ok());
    let starts_at_zero = status == 200 || up.headers().get("content-range")?.is_some_and(|r| r.trim_start().starts_with("bytes 0-"));
    let hinted = match content_type.as_deref().map(detect::by_content_type) {
        Some(Kind::Other) | None => detect::by_extension(&final_url),
        Some(k) => k,
    };
    if head {
        let served = if hinted != Kind::Other { Ok(Served::Media(manifest_type(hinted))) } else { check_media(content_type.as_deref(), None) };
        let Served::Media(ct) = match served {
            Ok(s) => s,
            Err(e) => return fail(415, "not_media", &e.to_string()),
        };
        let mut r = passthrough_headers(&up, Response::empty()?.with_status(status))?;
        r.headers_mut().set("content-type", ct)?;
        if let Some(l) = length {
            r.headers_mut().set("content-length", &l.to_string())?;
        }
        r.headers_mut().set("x-cache", "MISS")?;
        return Ok(r);
    }
    if hinted != Kind::Other && length.is_some_and(|l| l > MAX_MANIFEST_BYTES as u64) {
        return fail(413, "manifest_too_large", &format!("manifest of {} bytes; the limit is {MAX_MANIFEST_BYTES}", length.unwrap_or(0)));
    }
    let buffer = hinted != Kind::Other || length.is_some_and(|l| l <= MAX_CACHED_BYTES as u64);
    if !buffer {
        return stream_through(&mut up, status, content_type.as_deref(), length, range.is_some(), starts_at_zero, env, &byte_budgets).await;
    }
    let limit = if hinted != Kind::Other { MAX_MANIFEST_BYTES } else { MAX_CACHED_BYTES };
    let deadline = Delay::from(std::time::Duration::from_millis(cfg.timeout_ms));
    // A playlist with far more lines than a rewrite may map references is
    // refused while it is read, not after all of it is held.
    let max_lines = (hinted == Kind::Hls).then_some(3 * MAX_REFERENCES);
    let bytes = match select(Box::pin(read_limited(up.stream()?, limit, max_lines, length)), deadline).await {
        Either::Left((Ok(Read::Body(b)), _)) => b,
        Either::Left((Ok(Read::TooManyLines(n)), _)) => {
            let why = format!("the upstream playlist has more than {n} lines; a rewrite maps at most {MAX_REFERENCES} references");
            return fail(413, "manifest_amplification", &why);
        }
        Either::Left((Ok(Read::TooLarge), _)) if hinted != Kind::Other => {
            return fail(413, "manifest_too_large", &format!("manifest larger than {limit} bytes"))
        }
        Either::Left((Ok(Read::TooLarge), _)) => return fail(413, "too_large", &format!("upstream body larger than {limit} bytes")),
        Either::Left((Err(e), _)) => return unreachable_upstream(&e.to_string()),
        Either::Right(_) => return fail(504, "upstream_timeout", &format!("upstream did not finish within {} ms", cfg.timeout_ms)),
    };
    let head_bytes = bytes.get(..1024).unwrap_or(&bytes);
    let kind = detect::detect(&final_url, content_type.as_deref(), head_bytes);
    let served = match kind {
        Kind::Other => match check_media(content_type.as_deref(), starts_at_zero.then_some(head_bytes)) {
            Ok(Served::Media(ct)) => ct,
            Err(e) => return fail(415, "not_media", &e.to_string()),
        },
        k => manifest_type(k),
    };
    if kind != Kind::Other && bytes.len() > MAX_MANIFEST_BYTES {
        return fail(413, "manifest_too_large", &format!("manifest larger than {MAX_MANIFEST_BYTES} bytes"));
    }
    let resource = match kind {
        Kind::Other => Resource::Segment,
        k => Resource::classify(k, std::str::from_utf8(&bytes).unwrap_or("")),
    };
    let h = up.headers();
    let upstream_fresh =
        freshness(h.get("cache-control")?.as_deref(), h.get("expires")?.as_deref(), h.get("date")?.as_deref(), h.get("age")?.as_deref(), now_secs());
    let ttl = cfg.policy.ttl_for(resource, upstream_fresh);
    let stored = Stored {
        status,
        kind,
        final_url: final_url.clone(),
        ttl,
        expires_at: now_secs() + u64::from(ttl),
        content_type: served,
        len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
    };
    if kind == Kind::Other {
        if !charge(env, &byte_budgets, (bytes.len() as u64).div_ceil(MIB)).await {
            return over_budget("byte");
        }
        // One copy out of the worker: the cache stores a clone of the response.
        let mut out = respond(&stored, bytes, &up)?;
        if ttl > 0 {
            store(&cache, &key, stored.entry(&up, out.cloned()?)?).await;
        }
        out.headers_mut().set("x-cache", "MISS")?;
        return Ok(out);
    }
    // A manifest is stored (its upstream bytes, not the rewrite: the links
    // carry the room) only once it rewrote: a refused one is not kept.
    let mut out = rewrite(&stored, &bytes, &ctx).await?;
    if ttl > 0 && out.status_code() == 200 {
        store(&cache, &key, stored.entry(&up, Response::from_bytes(bytes)?)?).await;
    }
    out.headers_mut().set("x-cache", "MISS")?;
    Ok(out)
}

async fn store(cache: &Cache, key: &str, entry: Response) {
    if let Err(e) = cache.put(key, entry).await {
        console_log!("{}", json!({ "event": "cache_put_failed", "error": e.to_string() }));
    }
}

/// What one request needs to answer from stored or fetched bytes.
struct Ctx<'a> {
    cfg: &'a ProxyConfig,
    env: &'a Env,
    /// The byte budgets (binding, key) a response is charged to.
    budgets: &'a [(&'a str, &'a str)],
    /// The origin rewritten links are made on.
    origin: String,
    /// The room the request's link was made for: rewritten links carry it.
    room: String,
    /// The cache key of the upstream bytes.
    key: String,
}

fn manifest_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Hls => "application/vnd.apple.mpegurl",
        _ => "application/dash+xml",
    }
}

/// A body too large to buffer: checked by its type and first chunk, then
/// streamed uncached and cut at [`MAX_RESPONSE_BYTES`].
#[allow(clippy::too_many_arguments)]
async fn stream_through(
    up: &mut Response,
    status: u16,
    content_type: Option<&str>,
    length: Option<u64>,
    ranged: bool,
    starts_at_zero: bool,
    env: &Env,
    budgets: &[(&str, &str)],
) -> Result<Response> {
    if !ranged && length.is_some_and(|l| l > MAX_RESPONSE_BYTES) {
        return fail(413, "too_large", &format!("a body of {} bytes; ask for byte ranges of at most {MAX_RESPONSE_BYTES} bytes", length.unwrap_or(0)));
    }
    let mut body = up.stream()?;
    // At least 1 KiB (or the whole body) before the first bytes are judged.
    let mut first = Vec::new();
    while first.len() < 1024 {
        match body.next().await {
            Some(Ok(chunk)) => first.extend_from_slice(&chunk),
            Some(Err(e)) => return unreachable_upstream(&e.to_string()),
            None => break,
        }
    }
    let Served::Media(ct) = match check_media(content_type, starts_at_zero.then_some(first.get(..1024).unwrap_or(&first))) {
        Ok(s) => s,
        Err(e) => return fail(415, "not_media", &e.to_string()),
    };
    let units = length.unwrap_or(MAX_RESPONSE_BYTES).min(MAX_RESPONSE_BYTES).div_ceil(MIB);
    if !charge(env, budgets, units).await {
        return over_budget("byte");
    }
    let mut sent = 0u64;
    let capped = stream::once(async move { Ok::<Vec<u8>, Error>(first) }).chain(body).map(move |chunk| {
        let chunk = chunk?;
        sent += chunk.len() as u64;
        if sent > MAX_RESPONSE_BYTES {
            return Err(Error::RustError(format!("response cut at {MAX_RESPONSE_BYTES} bytes")));
        }
        Ok(chunk)
    });
    let mut r = passthrough_headers(up, Response::from_stream(capped)?.with_status(status))?;
    r.headers_mut().set("content-type", ct)?;
    r.headers_mut().set("cache-control", "no-store")?;
    r.headers_mut().set("x-cache", "BYPASS")?;
    Ok(r)
}

/// An upstream error status, as a fixed code.
fn fail_upstream(status: u16) -> Result<Response> {
    let body = json!({ "error": { "code": "upstream_error", "message": format!("upstream answered {status}"), "upstream_status": status } });
    Ok(Response::from_json(&body)?.with_status(502))
}

/// The upstream could not be reached or read: one fixed answer whatever the
/// runtime said (its text would tell a prober which ports are open); the
/// text goes to the log.
fn unreachable_upstream(detail: &str) -> Result<Response> {
    console_log!("{}", json!({ "event": "upstream_unreachable", "detail": detail }));
    fail(502, "upstream_unreachable", "the upstream could not be reached")
}

/// What the cache entry records next to the upstream bytes.
struct Stored {
    status: u16,
    kind: Kind,
    /// The URL the bytes came from, after redirects: the base for a manifest's references.
    final_url: String,
    /// Seconds left to live (for a cache hit: from `expires_at`, so nothing
    /// made from the entry outlives it).
    ttl: u32,
    /// When the entry stops being fresh (Unix seconds).
    expires_at: u64,
    /// The type the bytes are served as.
    content_type: &'static str,
    len: u32,
}

const PASSED_HEADERS: [&str; 4] = ["content-range", "etag", "last-modified", "accept-ranges"];

impl Stored {
    /// The cache entry: the upstream bytes (a response holding them) with
    /// their headers and this record.
    fn entry(&self, up: &Response, body: Response) -> Result<Response> {
        let mut entry = passthrough_headers(up, body.with_status(200))?;
        let h = entry.headers_mut();
        h.set("cache-control", &format!("public, max-age={}", self.ttl))?;
        h.set("content-type", self.content_type)?;
        h.set("x-wt-status", &self.status.to_string())?;
        h.set("x-wt-kind", kind_name(self.kind))?;
        h.set("x-wt-url", &self.final_url)?;
        h.set("x-wt-len", &self.len.to_string())?;
        h.set("x-wt-expires", &self.expires_at.to_string())?;
        Ok(entry)
    }

    fn read(entry: &Response) -> Result<Stored> {
        let h = entry.headers();
        let status = h.get("x-wt-status")?.and_then(|s| s.parse().ok()).unwrap_or(200);
        let kind = match h.get("x-wt-kind")?.as_deref() {
            Some("hls") => Kind::Hls,
            Some("dash") => Kind::Dash,
            _ => Kind::Other,
        };
        let final_url = h.get("x-wt-url")?.unwrap_or_default();
        let expires_at: u64 = h.get("x-wt-expires")?.and_then(|s| s.parse().ok()).unwrap_or(0);
        let ttl = u32::try_from(expires_at.saturating_sub(now_secs())).unwrap_or(u32::MAX);
        // Stored types were checked on the way in; anything else reads as bytes.
        let content_type = match kind {
            Kind::Other => match check_media(h.get("content-type")?.as_deref(), None) {
                Ok(Served::Media(ct)) => ct,
                Err(_) => "application/octet-stream",
            },
            k => manifest_type(k),
        };
        let len = h.get("x-wt-len")?.and_then(|s| s.parse().ok()).unwrap_or(0);
        Ok(Stored { status, kind, final_url, ttl, expires_at, content_type, len })
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Hls => "hls",
        Kind::Dash => "dash",
        Kind::Other => "other",
    }
}

async fn from_stored(hit: &mut Response, stored: Stored, req: &Request, ctx: &Ctx<'_>) -> Result<Response> {
    // A conditional request the cached entity satisfies.
    if stored.kind == Kind::Other {
        let etag = hit.headers().get("etag")?;
        let inm = req.headers().get("if-none-match")?;
        if let (Some(e), Some(i)) = (etag.as_deref(), inm.as_deref()) {
            if i.split(',').any(|t| t.trim() == e || t.trim() == "*") {
                let mut r = passthrough_headers(hit, Response::empty()?.with_status(304))?;
                r.headers_mut().set("x-cache", "HIT")?;
                return Ok(r);
            }
        }
        // Media is streamed from the cache as it is: never copied into the worker.
        let mut r = passthrough_headers(hit, Response::from_body(clone_body(hit.body()))?.with_status(stored.status))?;
        let h = r.headers_mut();
        h.set("content-type", stored.content_type)?;
        h.set("cache-control", &format!("public, max-age={}", stored.ttl))?;
        h.set("x-cache", "HIT")?;
        return Ok(r);
    } else if let Some(mut r) = cached_rewrite(&stored, ctx).await? {
        // The rewrite is cached: the upstream bytes are not even read.
        r.headers_mut().set("x-cache", "HIT")?;
        return Ok(r);
    }
    let bytes = hit.bytes().await?;
    let mut out = rewrite(&stored, &bytes, ctx).await?;
    out.headers_mut().set("x-cache", "HIT")?;
    Ok(out)
}

/// Where the rewrite of these upstream bytes for this room, origin and link
/// expiry is cached: it is the same until the links expire.
fn rewrite_key(ctx: &Ctx<'_>, expires: u64) -> String {
    format!("{CACHE_ORIGIN}rw/{}", cache_key(&format!("{}\n{}\n{}\n{expires}", ctx.key, ctx.room, ctx.origin), None))
}

/// The cached rewrite, streamed through as it is stored (no copy, no re-encoding).
async fn cached_rewrite(stored: &Stored, ctx: &Ctx<'_>) -> Result<Option<Response>> {
    if stored.ttl == 0 {
        return Ok(None);
    }
    let key = rewrite_key(ctx, ctx.cfg.expires(now_secs()));
    let Some(hit) = Cache::default().get(key.as_str(), false).await? else { return Ok(None) };
    let len: u64 = hit.headers().get("content-length")?.and_then(|l| l.parse().ok()).unwrap_or(MIB);
    if !charge(ctx.env, ctx.budgets, len.div_ceil(MIB)).await {
        return Ok(Some(over_budget("byte")?));
    }
    Ok(Some(manifest_response(stored, Response::from_body(clone_body(hit.body()))?, "HIT", 0)?))
}

/// A response body to hand on (a stream is handed on, not read).
fn clone_body(body: &ResponseBody) -> ResponseBody {
    match body {
        ResponseBody::Stream(s) => ResponseBody::Stream(s.clone()),
        ResponseBody::Body(b) => ResponseBody::Body(b.clone()),
        ResponseBody::Empty => ResponseBody::Empty,
    }
}

/// The client's response for media: the bytes as they came.
fn respond(stored: &Stored, bytes: Vec<u8>, meta: &Response) -> Result<Response> {
    let mut r = passthrough_headers(meta, Response::from_bytes(bytes)?.with_status(stored.status))?;
    r.headers_mut().set("content-type", stored.content_type)?;
    r.headers_mut().set("cache-control", &format!("public, max-age={}", stored.ttl))?;
    Ok(r)
}

/// The client's response for a manifest: its rewrite for this request's room.
async fn rewrite(stored: &Stored, bytes: &[u8], ctx: &Ctx<'_>) -> Result<Response> {
    let expires = ctx.cfg.expires(now_secs());
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(_) => return fail(502, "bad_manifest", "the upstream manifest is not UTF-8"),
    };
    if stored.kind == Kind::Dash {
        if let Some(what) = manifest_markup(text) {
            return fail(415, "not_media", &format!("the upstream manifest carries {what}; the proxy serves no document that could run script"));
        }
    }
    let mut linker = Linker::new(&ctx.origin, &ctx.cfg.secret, &ctx.room, expires);
    let mut map = |r: rewrite::UrlRef<'_>| linker.link(r);
    let result = match stored.kind {
        Kind::Hls => rewrite_hls(text, &stored.final_url, &mut map),
        _ => rewrite_dash(text, &stored.final_url, &mut map),
    };
    let out = match result {
        Ok(out) => out,
        Err(e) => {
            let status = if matches!(e, RewriteError::TooLarge(_) | RewriteError::Amplification { .. }) { 413 } else { 502 };
            return fail(status, rewrite_code(&e), &format!("the upstream manifest cannot be proxied: {e}"));
        }
    };
    let warnings = out.warnings.len();
    if !charge(ctx.env, ctx.budgets, (out.text.len() as u64).div_ceil(MIB)).await {
        return over_budget("byte");
    }
    // One copy out of the worker; the cache gets a clone of the response.
    let mut resp = Response::from_bytes(out.text.into_bytes())?;
    if stored.ttl > 0 {
        let ttl = u64::from(stored.ttl).min(expires.saturating_sub(now_secs()));
        let mut entry = resp.cloned()?;
        entry.headers_mut().set("cache-control", &format!("public, max-age={ttl}"))?;
        if let Err(e) = Cache::default().put(rewrite_key(ctx, expires).as_str(), entry).await {
            console_log!("{}", json!({ "event": "cache_put_failed", "error": e.to_string() }));
        }
    }
    manifest_response(stored, resp, "MISS", warnings)
}

fn manifest_response(stored: &Stored, mut r: Response, rewrite_cache: &str, warnings: usize) -> Result<Response> {
    let h = r.headers_mut();
    h.set("content-type", manifest_type(stored.kind))?;
    // Rewritten links expire: the browser may keep it briefly, never shared.
    h.set("cache-control", &format!("private, max-age={}", stored.ttl.min(60)))?;
    h.set("x-rewrite-cache", rewrite_cache)?;
    if warnings > 0 {
        h.set("x-rewrite-warnings", &warnings.to_string())?;
    }
    Ok(r)
}

fn rewrite_code(e: &RewriteError) -> &'static str {
    match e {
        RewriteError::TooLarge(_) => "manifest_too_large",
        RewriteError::Amplification { .. } => "manifest_amplification",
        RewriteError::Doctype | RewriteError::UnknownEntity(_) => "manifest_dtd_refused",
        RewriteError::TooDeep => "manifest_too_deep",
        _ => "bad_manifest",
    }
}

fn passthrough_headers(from: &Response, mut to: Response) -> Result<Response> {
    {
        let h = to.headers_mut();
        for name in PASSED_HEADERS {
            if let Some(v) = from.headers().get(name)? {
                h.set(name, &v)?;
            }
        }
        if h.get("accept-ranges")?.is_none() {
            h.set("accept-ranges", "bytes")?;
        }
    }
    Ok(to)
}

/// What reading a body gave.
pub(crate) enum Read {
    Body(Vec<u8>),
    /// More than the limit: reading stopped there.
    TooLarge,
    /// More lines than allowed: reading stopped there.
    TooManyLines(usize),
}

/// Read a body, giving up past `limit` bytes or `max_lines` lines without
/// reading on; sized from the declared length, so it is never reallocated.
pub(crate) async fn read_limited(mut stream: ByteStream, limit: usize, max_lines: Option<usize>, length: Option<u64>) -> Result<Read> {
    let mut out = Vec::with_capacity(length.map_or(0, |l| usize::try_from(l).unwrap_or(0)).min(limit));
    let mut lines = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if out.len() + chunk.len() > limit {
            return Ok(Read::TooLarge);
        }
        if let Some(max) = max_lines {
            lines += chunk.iter().filter(|&&b| b == b'\n').count();
            if lines > max {
                return Ok(Read::TooManyLines(lines));
            }
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Read::Body(out))
}

enum FetchFail {
    Guard(GuardError),
    TooManyRedirects,
    BadRedirect,
    Timeout(u64),
    Network(String),
}

impl FetchFail {
    fn into_response(self) -> Result<Response> {
        match self {
            FetchFail::Guard(e) => fail(403, "forbidden_upstream", &format!("redirect refused: {e}")),
            FetchFail::TooManyRedirects => fail(502, "too_many_redirects", &format!("more than {MAX_REDIRECTS} redirects")),
            FetchFail::BadRedirect => fail(502, "bad_redirect", "a redirect without a usable Location"),
            FetchFail::Timeout(ms) => fail(504, "upstream_timeout", &format!("upstream did not answer within {ms} ms")),
            FetchFail::Network(e) => unreachable_upstream(&e),
        }
    }
}

/// Fetch `url`, following redirects by hand (each checked by the guard),
/// all within the configured deadline. Returns the final URL and response.
async fn fetch_upstream(url: &str, req: &Request, range: Option<&str>, cfg: &ProxyConfig, head: bool) -> std::result::Result<(String, Response), FetchFail> {
    let controller = AbortController::default();
    let signal = controller.signal();
    let work = async move {
        let mut current = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let headers = Headers::new();
            let _ = headers.set("user-agent", USER_AGENT);
            let _ = headers.set("accept", "*/*");
            if let Some(r) = range {
                let _ = headers.set("range", r);
            }
            for name in ["if-none-match", "if-modified-since"] {
                if let Ok(Some(v)) = req.headers().get(name) {
                    let _ = headers.set(name, &v);
                }
            }
            let mut init = RequestInit::new();
            init.with_method(if head { Method::Head } else { Method::Get }).with_headers(headers).with_redirect(RequestRedirect::Manual);
            let upstream_req = Request::new_with_init(&current, &init).map_err(|e| FetchFail::Network(e.to_string()))?;
            let resp = Fetch::Request(upstream_req).send_with_signal(&signal).await.map_err(|e| FetchFail::Network(e.to_string()))?;
            if !matches!(resp.status_code(), 301 | 302 | 303 | 307 | 308) {
                return Ok((current, resp));
            }
            let location = resp.headers().get("location").ok().flatten().ok_or(FetchFail::BadRedirect)?;
            let next = media_core::url::resolve(&current, location.trim());
            current = check_upstream(&next, cfg.allow_loopback).map_err(FetchFail::Guard)?.url;
        }
        Err(FetchFail::TooManyRedirects)
    };
    let deadline = Delay::from(std::time::Duration::from_millis(cfg.timeout_ms));
    match select(Box::pin(work), deadline).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => {
            controller.abort();
            Err(FetchFail::Timeout(cfg.timeout_ms))
        }
    }
}

/// A file the worker itself fetches (a subtitle file a room adds by URL):
/// the proxy's guard on the URL and on every redirect, its deadline, at
/// most `limit` bytes. `Ok(Err(response))`: the refusal to answer with.
pub(crate) async fn fetch_file(env: &Env, url: &str, limit: usize) -> Result<std::result::Result<Vec<u8>, Response>> {
    let Some(cfg) = ProxyConfig::from_env(env) else {
        return Ok(Err(fail(503, "fetch_unavailable", "this server fetches no URLs (the media proxy is off)")?));
    };
    let url = match check_upstream(url, cfg.allow_loopback) {
        Ok(checked) => checked.url,
        Err(e) => return Ok(Err(fail(403, "forbidden_upstream", &e.to_string())?)),
    };
    let req = Request::new(&url, Method::Get)?;
    let (_, mut resp) = match fetch_upstream(&url, &req, None, &cfg, false).await {
        Ok(r) => r,
        Err(f) => return Ok(Err(f.into_response()?)),
    };
    if !(200..300).contains(&resp.status_code()) {
        return Ok(Err(fail_upstream(resp.status_code())?));
    }
    let length = resp.headers().get("content-length").ok().flatten().and_then(|l| l.parse::<u64>().ok());
    // The body under the same deadline (an origin sending a byte a second
    // does not hold the room's request).
    let deadline = Delay::from(std::time::Duration::from_millis(cfg.timeout_ms));
    match select(Box::pin(read_limited(resp.stream()?, limit, None, length)), deadline).await {
        Either::Left((read, _)) => match read? {
            Read::Body(bytes) => Ok(Ok(bytes)),
            _ => Ok(Err(fail(413, "too_large", &format!("the file at that URL has more than {limit} bytes"))?)),
        },
        Either::Right(_) => Ok(Err(fail(504, "upstream_timeout", &format!("the file did not arrive within {} ms", cfg.timeout_ms))?)),
    }
}
