//! Budgets per client on what strangers can ask of the platform: room
//! creation, socket upgrades, password checks, and the proxy's requests and
//! bytes. Each is a Workers Rate Limiting binding (wrangler.toml), which
//! `wrangler dev` runs locally too; counts are per Cloudflare location.

use serde_json::json;
use worker::*;

/// The client's address as the edge saw it (`CF-Connecting-IP`).
fn client_address(req: &Request) -> String {
    req.headers().get("cf-connecting-ip").ok().flatten().unwrap_or_else(|| "unknown".into())
}

/// The key a client's budgets are counted under: its address, an IPv6
/// address by its /64 (one subscriber's prefix: rotating addresses in it is
/// free).
pub fn client_key(req: &Request) -> String {
    let ip = client_address(req);
    match ip.parse::<std::net::Ipv6Addr>() {
        Ok(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Err(_) => ip,
    }
}

/// Charge `units` to each budget (`binding`, key); false once any is spent.
/// A budget whose binding is not configured is not enforced (and says so
/// in the log).
pub async fn charge(env: &Env, budgets: &[(&str, &str)], units: u64) -> bool {
    for (binding, key) in budgets {
        let Ok(limiter) = env.rate_limiter(binding) else {
            console_log!("{}", json!({ "event": "budget_unconfigured", "binding": binding }));
            continue;
        };
        for _ in 0..units.max(1) {
            match limiter.limit(key.to_string()).await {
                Ok(outcome) if !outcome.success => return false,
                Ok(_) => {}
                Err(e) => {
                    console_log!("{}", json!({ "event": "budget_unavailable", "binding": binding, "error": e.to_string() }));
                    break;
                }
            }
        }
    }
    true
}

/// `429` with a JSON error and `Retry-After` (seconds).
pub fn too_many(code: &str, message: &str, retry_after_s: u32) -> Result<Response> {
    let mut r = crate::api::error(429, code, message)?;
    r.headers_mut().set("retry-after", &retry_after_s.to_string())?;
    Ok(r)
}
