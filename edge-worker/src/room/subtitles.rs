//! The room's subtitle files over HTTP: a member allowed to control the
//! room adds one (`POST /api/rooms/:id/subtitles`, the file as the body or
//! `?url=` where the worker fetches it through the media proxy's guard, its
//! resume token as `Authorization: Bearer`); it is parsed here
//! (`media_core::subtitle`: WebVTT, SRT, ASS/SSA, TTML), stored as WebVTT
//! under `s:<id>:<n>` keys next to the room, and every member is told.
//! Members read it back (`GET /api/rooms/:id/subtitles/:n`, same token).

use media_core::subtitle;
use serde_json::json;
use sync_core::room::{subtitle_key, Room, SubtitleRefusal};
use worker::*;

use super::RoomObject;
use crate::api::error;

/// The largest subtitle file a room takes (a feature film's SRT is ~100 KB).
pub const MAX_UPLOAD: usize = 2 * 1024 * 1024;
/// Bytes of WebVTT per storage value (values are limited to 128 KiB).
const CHUNK: usize = 64 * 1024;
/// The largest WebVTT a room stores for one file: a file can grow when it
/// is converted (escapes; TTML spans split into cues), and this bounds it
/// (64 values, one storage call).
pub const MAX_STORED: usize = 4 * 1024 * 1024;

/// The resume token of `Authorization: Bearer <token>`.
fn bearer(req: &Request) -> Option<String> {
    let value = req.headers().get("authorization").ok().flatten()?;
    let token = value.strip_prefix("Bearer ")?.trim();
    (!token.is_empty() && token.len() <= 128).then(|| token.to_string())
}

/// A query parameter, at most `max` characters.
fn query(req: &Request, name: &str, max: usize) -> Option<String> {
    let url = req.url().ok()?;
    let value = url.query_pairs().find(|(k, _)| k == name)?.1.chars().take(max).collect::<String>();
    (!value.trim().is_empty()).then_some(value)
}

/// WebVTT text cut into storage values, on character boundaries.
fn chunks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = rest.len().min(CHUNK);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out
}

impl RoomObject {
    pub(super) async fn add_subtitle(&self, mut req: Request) -> Result<Response> {
        let Some(token) = bearer(&req) else {
            return error(401, "unauthorized", "send your member token as `Authorization: Bearer <token>`");
        };
        let adder = self.core.borrow().as_ref().map(|r| r.subtitle_adder(&token));
        let member = match adder {
            None => return error(404, "room_not_found", "no such room"),
            Some(Err(SubtitleRefusal::Unknown)) => return error(401, "unauthorized", "no member of this room has that token"),
            Some(Err(SubtitleRefusal::Forbidden)) => return error(403, "forbidden", "only the host and controllers can add subtitles to this room"),
            Some(Err(SubtitleRefusal::Full)) => {
                return error(409, "too_many_subtitles", &format!("this room has {} subtitle files already; remove one first", sync_core::room::MAX_SUBTITLES))
            }
            Some(Ok((member, _))) => member,
        };
        // The file is the body, or (`?url=`) fetched from where it is, as
        // the media proxy fetches (a sidecar that refuses browsers' CORS).
        let from_url = query(&req, "url", 2049);
        if from_url.as_ref().is_some_and(|u| u.chars().count() > 2048) {
            return error(400, "bad_url", "a subtitle URL may have at most 2048 characters");
        }
        let name = query(&req, "name", 200).or_else(|| from_url.as_deref().and_then(|u| u.split(['?', '#']).next()?.rsplit('/').next().map(str::to_string)));
        let body = match &from_url {
            Some(url) => match crate::proxy::fetch_file(&self.env, url, MAX_UPLOAD).await? {
                Ok(bytes) => bytes,
                Err(refusal) => return Ok(refusal),
            },
            None => match req.stream() {
                Ok(stream) => match crate::proxy::read_limited(stream, MAX_UPLOAD, None, None).await? {
                    crate::proxy::Read::Body(bytes) => bytes,
                    _ => return error(413, "too_large", &format!("a subtitle file may have at most {MAX_UPLOAD} bytes")),
                },
                Err(_) => Vec::new(),
            },
        };
        let cues = match subtitle::parse_file(&body, name.as_deref()) {
            Ok(cues) => cues,
            Err(e) => return error(400, "bad_subtitles", &e.to_string()),
        };
        let vtt = subtitle::to_webvtt(&cues);
        if vtt.len() > MAX_STORED {
            return error(413, "too_large", &format!("this file is {} bytes as WebVTT; a room stores at most {MAX_STORED}", vtt.len()));
        }
        let Some(id) = self.core.borrow().as_ref().map(Room::next_subtitle_id) else {
            return error(404, "room_not_found", "no such room");
        };
        // The text first: the room tells everyone only once it is stored.
        // (Text a crash left under this id, before the id was stored, goes
        // first: a shorter file must not be read with its tail.)
        self.drop_subtitle(id).await?;
        let values = js_sys::Object::new();
        for (n, chunk) in chunks(&vtt).into_iter().enumerate() {
            js_sys::Reflect::set(&values, &subtitle_key(id, n).into(), &chunk.into()).map_err(|e| Error::RustError(format!("{e:?}")))?;
        }
        self.state.storage().put_multiple_raw(values).await?;
        let stem = name.as_deref().map(|n| n.rsplit_once('.').map_or(n, |(s, _)| s).to_string());
        let label = query(&req, "label", 80).or(stem).unwrap_or_else(|| format!("Subtitles {id}"));
        let language = query(&req, "language", 35).unwrap_or_default();
        let cue_count = cues.len() as u64;
        let Some((added, outputs, deadline)) = self.with_core(|room| room.handle_subtitle_added(member, &label, &language, cue_count)) else {
            return error(404, "room_not_found", "no such room");
        };
        let room_id = self.stored_id().await;
        self.perform(&room_id, outputs, deadline, None).await?;
        match added {
            Ok(added) => Ok(Response::from_json(&json!({ "id": added, "label": label, "language": language, "cues": cue_count }))?.with_status(201)),
            // (Checked again once stored: the room filled, or the member
            // lost control, while the file came in.)
            Err(refusal) => {
                self.drop_subtitle(id).await?;
                match refusal {
                    SubtitleRefusal::Full => {
                        error(409, "too_many_subtitles", &format!("this room has {} subtitle files already", sync_core::room::MAX_SUBTITLES))
                    }
                    SubtitleRefusal::Forbidden => error(403, "forbidden", "only the host and controllers can add subtitles to this room"),
                    SubtitleRefusal::Unknown => error(401, "unauthorized", "that member is no longer in the room"),
                }
            }
        }
    }

    pub(super) async fn get_subtitle(&self, req: Request, id: &str) -> Result<Response> {
        let Some(token) = bearer(&req) else {
            return error(401, "unauthorized", "send your member token as `Authorization: Bearer <token>`");
        };
        let known = self.core.borrow().as_ref().map(|r| (r.is_member_token(&token), r.state().subtitles.iter().any(|s| s.id.to_string() == id)));
        match known {
            Some((true, true)) => {}
            Some((false, _)) => return error(401, "unauthorized", "no member of this room has that token"),
            _ => return error(404, "no_such_subtitle", "no such subtitle file in this room"),
        }
        let map = self.state.storage().list_with_options(ListOptions::new().prefix(&format!("s:{id}:"))).await?;
        let mut parts: Vec<(usize, String)> = Vec::new();
        map.for_each(&mut |value, key| {
            let n = key.as_string().and_then(|k| k.rsplit(':').next().and_then(|n| n.parse().ok()));
            if let (Some(n), Some(text)) = (n, value.as_string()) {
                parts.push((n, text));
            }
        });
        parts.sort_by_key(|p| p.0);
        let body: String = parts.into_iter().map(|p| p.1).collect();
        let headers = Headers::new();
        headers.set("content-type", "text/vtt; charset=utf-8")?;
        headers.set("x-content-type-options", "nosniff")?;
        headers.set("content-security-policy", "sandbox; default-src 'none'")?;
        headers.set("cache-control", "private, no-store")?;
        Ok(Response::ok(body)?.with_headers(headers))
    }

    /// A removed file's text goes.
    pub(super) async fn drop_subtitle(&self, id: u64) -> Result<()> {
        let map = self.state.storage().list_with_options(ListOptions::new().prefix(&format!("s:{id}:"))).await?;
        let mut keys = Vec::new();
        map.for_each(&mut |_, key| {
            if let Some(k) = key.as_string() {
                keys.push(k);
            }
        });
        if !keys.is_empty() {
            self.state.storage().delete_multiple(keys).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunks_cut_on_character_boundaries() {
        let text = "é".repeat(super::CHUNK);
        let parts = super::chunks(&text);
        assert_eq!(parts.concat(), text);
        assert!(parts.iter().all(|p| p.len() <= super::CHUNK));
    }
}
