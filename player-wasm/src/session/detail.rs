//! What the page sees of the room: the core's data as the JS API's objects,
//! camelCase (`driftMs`, `addedBy`, `playUrl`), written as JSON here and
//! parsed once (the wasm holds one encoder and no serde). The wire keeps
//! its own snake_case names; only this boundary renames.

use sync_core::client::Stats;
use sync_core::json::{self, ObjWriter};
use sync_core::protocol::{MemberId, MemberInfo, QueueItem, Reason, SourceInfo, Wire};
use sync_core::source::Source;
use sync_core::timeline::Playback;
use wasm_bindgen::JsValue;

/// A JSON text written here, as a JS value (`null` if it were not JSON).
pub fn from_json(text: &str) -> JsValue {
    js_sys::JSON::parse(text).unwrap_or(JsValue::NULL)
}

fn object(f: impl FnOnce(&mut ObjWriter)) -> JsValue {
    from_json(&json::object(f))
}

fn array<T>(items: &[T], f: impl Fn(&mut ObjWriter, &T)) -> JsValue {
    let mut out = String::new();
    json::write_arr(&mut out, items, |out, item| json::write_obj(out, |o| f(o, item)));
    from_json(&out)
}

/// A member id or `null`.
fn id_or_null(o: &mut ObjWriter, k: &str, id: Option<MemberId>) {
    match id {
        Some(id) => o.uint(k, id),
        None => o.with(k, |out| out.push_str("null")),
    };
}

/// `Member`: `{id, name, role, status, driftMs?, rttMs?}`.
pub fn members(members: &[MemberInfo]) -> JsValue {
    array(members, |o, m| {
        o.uint("id", m.id).str("name", &m.name).str("role", m.role.as_str()).str("status", m.status.as_str());
        o.opt_num("driftMs", m.drift_ms).opt_num("rttMs", m.rtt_ms);
    })
}

/// `QueueItem`: `{id, url, title?, addedBy}`.
pub fn queue(items: &[QueueItem]) -> JsValue {
    array(items, |o, q| {
        o.uint("id", q.id).str("url", &q.url).opt_str("title", q.title.as_deref()).uint("addedBy", q.added_by);
    })
}

/// `PlaybackState`: `{playing, position, rate, seq, by, reason}` (`by`: the
/// member whose command it was, `reason`: why the room changed it itself;
/// each null when there is none).
pub fn state(playback: &Playback, seq: u64, by: Option<MemberId>, reason: Option<Reason>) -> JsValue {
    object(|o| {
        o.bool("playing", playback.playing).num("position", playback.position).num("rate", playback.rate).uint("seq", seq);
        id_or_null(o, "by", by);
        match reason {
            Some(r) => o.str("reason", r.as_str()),
            None => o.with("reason", |out| out.push_str("null")),
        };
    })
}

/// `Source`: `{url, title?, playUrl?, kind, file?, by}` with `kind` one of
/// "media", "youtube", "vimeo", "local" and, for a local file, `file`
/// (`{name, size, duration}`: what each member must open).
pub fn source(s: &SourceInfo, by: Option<MemberId>) -> JsValue {
    let parsed = Source::parse(&s.url);
    object(|o| {
        o.str("url", &s.url).opt_str("title", s.title.as_deref()).opt_str("playUrl", s.play_url.as_deref());
        o.str("kind", parsed.as_ref().map_or("media", |p| p.kind().as_str()));
        if let Ok(Source::Local(f)) = &parsed {
            o.with("file", |out| {
                json::write_obj(out, |o| {
                    o.str("name", &f.name).uint("size", f.size).num("duration", f.duration);
                })
            });
        }
        id_or_null(o, "by", by);
    })
}

/// Plain data whose wire names are the JS names already (`ChatMessage`,
/// `Ban`, a room subtitle file): as the core writes them.
pub fn wire<T: Wire>(item: &T) -> JsValue {
    from_json(&item.json())
}

/// An array of such data.
pub fn wire_array<T: Wire>(items: &[T]) -> JsValue {
    from_json(&sync_core::protocol::json_array(items))
}

/// `SyncStats`.
pub fn stats(s: &Stats) -> JsValue {
    object(|o| {
        o.num_or_null("offsetMs", s.offset_ms).num_or_null("offsetErrorMs", s.offset_error_ms).num_or_null("rttMs", s.rtt_ms).num("skewPpm", s.skew_ppm);
        o.str("edgeClock", s.edge_clock.as_str())
            .num_or_null("edgeMinusRoomMs", s.edge_minus_room_ms)
            .num_or_null("edgeMinusRoomErrorMs", s.edge_minus_room_error_ms)
            .num_or_null("edgeRttMs", s.edge_rtt_ms);
        o.num_or_null("driftMs", s.drift_ms).num("rate", s.rate).uint("rateCorrections", s.rate_corrections).uint("seekCorrections", s.seek_corrections);
        o.num("seekLandingMs", s.seek_landing_ms).num("nudgeCostMs", s.nudge_cost_ms).bool("correcting", s.correcting).bool("rateApplies", s.rate_applies);
        o.num_or_null("readStepMs", s.read_step_ms)
            .bool("readsPicture", s.reads_picture)
            .num_or_null("readLeadMs", s.read_lead_ms)
            .num("speedTrim", s.speed_trim);
    })
}

/// `RoomSettings`: `{mode, hasPassword}`.
pub fn settings(mode: sync_core::protocol::PermissionMode, has_password: bool) -> JsValue {
    object(|o| {
        o.str("mode", mode.as_str()).bool("hasPassword", has_password);
    })
}

/// `{member, role}` of the `joined` event.
pub fn joined(member: MemberId, role: sync_core::protocol::Role) -> JsValue {
    object(|o| {
        o.uint("member", member).str("role", role.as_str());
    })
}

/// `RoomSubtitles`: `{files, delayMs, language}`.
pub fn subtitles(files: &[sync_core::protocol::SubtitleInfo], delay_ms: f64, language: &str) -> JsValue {
    object(|o| {
        o.with("files", |out| json::write_arr(out, files, |out, f| f.to_json(out))).num("delayMs", delay_ms).str("language", language);
    })
}

/// `{position, duration, paused}` of what plays.
pub fn playhead(position: f64, duration: Option<f64>, paused: bool) -> JsValue {
    object(|o| {
        o.num("position", position).num_or_null("duration", duration).bool("paused", paused);
    })
}
