//! `GET|HEAD /proxy/<sig>/<expires>/<prefix64>/<rest>`: the signed, caching
//! media proxy. The decisions are pure and live in `media_core::proxy`
//! (path decoding, signatures, the SSRF guard, detection, cache keys and
//! lifetimes) and `media_core::rewrite`; this module only carries the I/O.
//!
//! Flow: decode and verify the path (403 on a missing, tampered or expired
//! signature) → guard the upstream URL (403) → the Cache API (key: SHA-256
//! of the normalised URL plus the Range header) → on a miss, fetch upstream
//! by hand, re-checking every redirect (at most 5) under one deadline (504)
//! → upstream errors become 502 with the upstream status → manifests (by
//! body, Content-Type or extension; at most 16 MiB, else 413) are rewritten
//! so every reference is a signed proxy URL; everything else passes through.
//! Cached entries hold the upstream bytes and their metadata in one object,
//! so one `match` returns both.

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use media_core::proxy::cache::{cache_key, CachePolicy, Resource};
use media_core::proxy::detect::{self, Kind};
use media_core::proxy::guard::{check_upstream, GuardError};
use media_core::proxy::sign::{decode_proxy_path, encode_proxy_path, Linker, SignError};
use media_core::rewrite::{self, rewrite_dash, rewrite_hls, RewriteError, MAX_MANIFEST_BYTES};
use serde_json::json;
use worker::*;

use crate::api::error as fail;

/// Responses up to this size are buffered (to detect manifests by their
/// first bytes and to cache them); larger ones stream through uncached.
pub const MAX_BUFFERED_BYTES: usize = 32 * 1024 * 1024;
/// Redirects followed (each re-checked by the guard).
pub const MAX_REDIRECTS: usize = 5;
const CACHE_ORIGIN: &str = "https://proxy-cache.watch-together.invalid/";
const USER_AGENT: &str = "WatchTogether-MediaProxy/0.1 (+https://github.com/watch-together)";

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
            allow_loopback: var("PROXY_ALLOW_LOOPBACK").is_some_and(|v| v == "1" || v == "true"),
            timeout_ms: var("PROXY_TIMEOUT_MS").and_then(|v| v.parse().ok()).unwrap_or(15_000),
            link_ttl_secs: var("PROXY_LINK_TTL_SECS").and_then(|v| v.parse().ok()).unwrap_or(6 * 3600),
            policy: CachePolicy::default(),
        })
    }

    /// Expiry for links made now: `now + ttl`, rounded up to the hour so a
    /// manifest rewritten twice within the hour is byte-identical.
    fn expires(&self, now_secs: u64) -> u64 {
        (now_secs + self.link_ttl_secs).div_ceil(3600) * 3600
    }
}

fn now_secs() -> u64 {
    Date::now().as_millis() / 1000
}

/// The signed proxy path for an absolute http(s) source URL, or `None` when
/// the proxy is off or the URL is not one it would fetch.
pub fn sign_source(env: &Env, url: &str) -> Option<String> {
    let cfg = ProxyConfig::from_env(env)?;
    if !rewrite::is_http(url) || check_upstream(url, cfg.allow_loopback).is_err() {
        return None;
    }
    Some(encode_proxy_path(&cfg.secret, url, "", cfg.expires(now_secs())))
}

fn fail_upstream(status: u16, message: &str) -> Result<Response> {
    let body = json!({ "error": { "code": "upstream_error", "message": message, "upstream_status": status } });
    Ok(Response::from_json(&body)?.with_status(502))
}

fn add_cors(resp: &mut Response, allowed: Option<&str>) -> Result<()> {
    if let Some(o) = allowed {
        let h = resp.headers_mut();
        h.set("access-control-allow-origin", o)?;
        h.set("access-control-expose-headers", "content-length, content-range, accept-ranges, etag, x-cache")?;
        if o != "*" {
            h.append("vary", "Origin")?;
        }
    }
    Ok(())
}

pub async fn handle(req: Request, env: &Env) -> Result<Response> {
    let origin = req.headers().get("origin")?;
    let allowed = origin.as_deref().and_then(|o| crate::api::allow_origin_value(env, o));
    let mut resp = match req.method() {
        Method::Options => {
            let mut r = Response::empty()?.with_status(204);
            if allowed.is_some() {
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
    add_cors(&mut resp, allowed.as_deref())?;
    Ok(resp)
}

async fn serve(req: &Request, env: &Env) -> Result<Response> {
    let Some(cfg) = ProxyConfig::from_env(env) else {
        return fail(503, "proxy_not_configured", "the media proxy needs the PROXY_SECRET secret (16 bytes or more)");
    };
    let url = req.url()?;
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
        };
        return fail(403, code, &e.to_string());
    }
    let upstream = match check_upstream(&preq.upstream(), cfg.allow_loopback) {
        Ok(u) => u,
        Err(e) => return fail(403, "forbidden_upstream", &e.to_string()),
    };
    let head = req.method() == Method::Head;
    let range = req.headers().get("range")?.filter(|r| !r.trim().is_empty());
    let key = format!("{CACHE_ORIGIN}{}", cache_key(&upstream.url, range.as_deref()));
    let cache = Cache::default();
    let origin = url.origin().ascii_serialization();

    if !head {
        // Body and metadata come back together from one `match`.
        if let Some(mut hit) = cache.get(key.as_str(), false).await? {
            return from_stored(&mut hit, req, &cfg, &origin).await;
        }
    }

    let fetched = fetch_upstream(&upstream.url, req, &cfg, head).await;
    let (final_url, mut up) = match fetched {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let status = up.status_code();
    match status {
        200 | 206 => {}
        304 => return passthrough_headers(&up, Response::empty()?.with_status(304)),
        416 => return passthrough_headers(&up, Response::empty()?.with_status(416)),
        s if s >= 400 => return fail_upstream(s, &format!("upstream answered {s}")),
        s => return fail_upstream(s, &format!("unexpected upstream status {s}")),
    }
    let content_type = up.headers().get("content-type")?;
    let length: Option<usize> = up.headers().get("content-length")?.and_then(|v| v.trim().parse().ok());
    let hinted = match content_type.as_deref().map(detect::by_content_type) {
        Some(Kind::Other) | None => detect::by_extension(&final_url),
        Some(k) => k,
    };
    if head {
        let mut r = passthrough_headers(&up, Response::empty()?.with_status(status))?;
        if let Some(l) = length {
            r.headers_mut().set("content-length", &l.to_string())?;
        }
        r.headers_mut().set("x-cache", "MISS")?;
        return Ok(r);
    }
    if hinted != Kind::Other && length.is_some_and(|l| l > MAX_MANIFEST_BYTES) {
        return fail(413, "manifest_too_large", &format!("manifest of {} bytes; the limit is {MAX_MANIFEST_BYTES}", length.unwrap_or(0)));
    }
    let buffer = hinted != Kind::Other || length.is_some_and(|l| l <= MAX_BUFFERED_BYTES);
    if !buffer {
        // Large (or unsized) media: stream through, uncached.
        let body = up.body().clone();
        let mut r = passthrough_headers(&up, Response::from_body(body)?.with_status(status))?;
        r.headers_mut().set("x-cache", "BYPASS")?;
        return Ok(r);
    }
    let limit = if hinted != Kind::Other { MAX_MANIFEST_BYTES } else { MAX_BUFFERED_BYTES };
    let deadline = Delay::from(std::time::Duration::from_millis(cfg.timeout_ms));
    let bytes = match select(Box::pin(read_limited(&mut up, limit)), deadline).await {
        Either::Left((Ok(Some(b)), _)) => b,
        Either::Left((Ok(None), _)) if hinted != Kind::Other => return fail(413, "manifest_too_large", &format!("manifest larger than {limit} bytes")),
        Either::Left((Ok(None), _)) => return fail(413, "too_large", &format!("upstream body larger than {limit} bytes")),
        Either::Left((Err(e), _)) => return fail(502, "upstream_unreachable", &format!("reading the upstream body failed: {e}")),
        Either::Right(_) => return fail(504, "upstream_timeout", &format!("upstream did not finish within {} ms", cfg.timeout_ms)),
    };
    let kind = detect::detect(&final_url, content_type.as_deref(), bytes.get(..1024).unwrap_or(&bytes));
    if kind != Kind::Other && bytes.len() > MAX_MANIFEST_BYTES {
        return fail(413, "manifest_too_large", &format!("manifest larger than {MAX_MANIFEST_BYTES} bytes"));
    }
    // Store the upstream bytes (not the rewrite: its links expire).
    let resource = match kind {
        Kind::Other => Resource::Segment,
        k => Resource::classify(k, std::str::from_utf8(&bytes).unwrap_or("")),
    };
    let ttl = cfg.policy.ttl_secs(resource);
    let stored = Stored { status, kind, final_url: final_url.clone(), ttl };
    let entry = stored.entry(&up, bytes.clone())?;
    if let Err(e) = cache.put(key.as_str(), entry).await {
        console_log!("{}", json!({ "event": "cache_put_failed", "error": e.to_string() }));
    }
    let mut out = respond(&stored, bytes, &up, &cfg, &origin)?;
    out.headers_mut().set("x-cache", "MISS")?;
    Ok(out)
}

/// What the cache entry records next to the upstream bytes.
struct Stored {
    status: u16,
    kind: Kind,
    /// The URL the bytes came from, after redirects: the base for a manifest's references.
    final_url: String,
    ttl: u32,
}

const PASSED_HEADERS: [&str; 6] = ["content-type", "content-range", "etag", "last-modified", "accept-ranges", "content-language"];

impl Stored {
    /// The cache entry: the upstream bytes with their headers and this record.
    fn entry(&self, up: &Response, bytes: Vec<u8>) -> Result<Response> {
        let mut entry = passthrough_headers(up, Response::from_bytes(bytes)?)?;
        let h = entry.headers_mut();
        h.set("cache-control", &format!("public, max-age={}", self.ttl))?;
        h.set("x-wt-status", &self.status.to_string())?;
        h.set("x-wt-kind", kind_name(self.kind))?;
        h.set("x-wt-url", &self.final_url)?;
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
        let ttl = h.get("cache-control")?.and_then(|c| c.rsplit('=').next().and_then(|n| n.trim().parse().ok())).unwrap_or(0);
        Ok(Stored { status, kind, final_url, ttl })
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Hls => "hls",
        Kind::Dash => "dash",
        Kind::Other => "other",
    }
}

async fn from_stored(hit: &mut Response, req: &Request, cfg: &ProxyConfig, origin: &str) -> Result<Response> {
    let stored = Stored::read(hit)?;
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
    }
    let bytes = hit.bytes().await?;
    let mut out = respond(&stored, bytes, hit, cfg, origin)?;
    out.headers_mut().set("x-cache", "HIT")?;
    Ok(out)
}

/// The client's response: a rewritten manifest, or the bytes as they came.
fn respond(stored: &Stored, bytes: Vec<u8>, meta: &Response, cfg: &ProxyConfig, origin: &str) -> Result<Response> {
    if stored.kind == Kind::Other {
        let mut r = passthrough_headers(meta, Response::from_bytes(bytes)?.with_status(stored.status))?;
        r.headers_mut().set("cache-control", &format!("public, max-age={}", stored.ttl))?;
        return Ok(r);
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(_) => return fail(502, "bad_manifest", "the upstream manifest is not UTF-8"),
    };
    let expires = cfg.expires(now_secs());
    let mut linker = Linker::new(origin, &cfg.secret, expires);
    let mut map = |r: rewrite::UrlRef<'_>| linker.link(r);
    let result = match stored.kind {
        Kind::Hls => rewrite_hls(&text, &stored.final_url, &mut map),
        _ => rewrite_dash(&text, &stored.final_url, &mut map),
    };
    let out = match result {
        Ok(out) => out,
        Err(e) => return fail(502, rewrite_code(&e), &format!("the upstream manifest cannot be proxied: {e}")),
    };
    let mut r = Response::ok(out.text)?;
    let h = r.headers_mut();
    let ct = match stored.kind {
        Kind::Hls => "application/vnd.apple.mpegurl",
        _ => "application/dash+xml",
    };
    h.set("content-type", ct)?;
    // Rewritten links expire: the browser may keep it briefly, never shared.
    h.set("cache-control", &format!("private, max-age={}", stored.ttl.min(60)))?;
    if !out.warnings.is_empty() {
        h.set("x-rewrite-warnings", &out.warnings.len().to_string())?;
    }
    Ok(r)
}

fn rewrite_code(e: &RewriteError) -> &'static str {
    match e {
        RewriteError::TooLarge(_) => "manifest_too_large",
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

/// Read a body, giving up (`None`) past `limit` bytes without reading on.
async fn read_limited(resp: &mut Response, limit: usize) -> Result<Option<Vec<u8>>> {
    let mut stream = resp.stream()?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if out.len() + chunk.len() > limit {
            return Ok(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out))
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
            FetchFail::Network(e) => fail(502, "upstream_unreachable", &format!("upstream fetch failed: {e}")),
        }
    }
}

/// Fetch `url`, following redirects by hand (each checked by the guard),
/// all within the configured deadline. Returns the final URL and response.
async fn fetch_upstream(url: &str, req: &Request, cfg: &ProxyConfig, head: bool) -> std::result::Result<(String, Response), FetchFail> {
    let controller = AbortController::default();
    let signal = controller.signal();
    let work = async move {
        let mut current = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let headers = Headers::new();
            let _ = headers.set("user-agent", USER_AGENT);
            let _ = headers.set("accept", "*/*");
            for name in ["range", "if-none-match", "if-modified-since"] {
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
