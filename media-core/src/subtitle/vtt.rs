//! WebVTT (W3C WebVTT, the parsing rules of §6.1 simplified where they
//! only matter to rendering): whole files, and the segments of an HLS
//! subtitle rendition with their `X-TIMESTAMP-MAP` header.
//!
//! Cue text is kept as written (it is the cue model's text already);
//! NOTE, STYLE and REGION blocks are skipped; a malformed timing line
//! skips its block.

use super::{time, Align, Collector, Placement, SubtitleError};

/// A parsed WebVTT file or segment. A segment may hold no cue at all.
#[derive(Clone, Debug, PartialEq)]
pub struct VttFile {
    pub cues: Vec<super::Cue>,
    /// Blocks skipped as malformed.
    pub skipped: usize,
    /// HLS: what the cue times are relative to.
    pub timestamp_map: Option<TimestampMap>,
}

/// `X-TIMESTAMP-MAP=MPEGTS:<ticks>,LOCAL:<time>` (RFC 8216 §3.5): cue time
/// `local` is media time `mpegts` (90 kHz MPEG-2 ticks).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimestampMap {
    pub mpegts: u64,
    pub local: f64,
}

impl TimestampMap {
    /// Seconds to add to this file's cue times to get MPEG-2 time (before
    /// the stream's own origin is taken off).
    pub fn offset(&self) -> f64 {
        self.mpegts as f64 / 90_000.0 - self.local
    }
}

/// A WebVTT file: `BadHeader` without the `WEBVTT` signature, otherwise its
/// cues (maybe none).
pub fn parse(text: &str) -> Result<VttFile, SubtitleError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next().unwrap_or("");
    let signed = first.strip_prefix("WEBVTT").is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']));
    if !signed {
        return Err(SubtitleError::BadHeader("no WEBVTT signature on the first line"));
    }
    let mut timestamp_map = None;
    // The header: up to the first blank line.
    for line in lines.by_ref() {
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("X-TIMESTAMP-MAP=") {
            timestamp_map = timestamp_map_of(value);
        }
    }
    let mut out = Collector::default();
    let mut block: Vec<&str> = Vec::new();
    for line in lines.chain(std::iter::once("")) {
        if !line.is_empty() {
            if block.len() < 64 {
                block.push(line);
            }
            continue;
        }
        if !block.is_empty() && out.open() {
            cue_block(&block, &mut out);
        }
        block.clear();
    }
    Ok(VttFile { skipped: out.skipped, cues: out.cues, timestamp_map })
}

fn timestamp_map_of(value: &str) -> Option<TimestampMap> {
    let (mut mpegts, mut local) = (None, None);
    for part in value.split(',') {
        if let Some(v) = part.trim().strip_prefix("MPEGTS:") {
            mpegts = time::digits(v, 12);
        } else if let Some(v) = part.trim().strip_prefix("LOCAL:") {
            local = time::clock(v);
        }
    }
    Some(TimestampMap { mpegts: mpegts?, local: local? })
}

/// One block: a cue (optional identifier line, timing line, text) or a
/// NOTE / STYLE / REGION block.
fn cue_block(block: &[&str], out: &mut Collector) {
    let first = block[0];
    if ["NOTE", "STYLE", "REGION"].iter().any(|k| first.strip_prefix(k).is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']))) {
        return;
    }
    let timing_at = if first.contains("-->") { 0 } else { 1 };
    let Some(timing) = block.get(timing_at) else { return out.skip() };
    let Some((start, end, place)) = timing_line(timing) else { return out.skip() };
    // (A line with "-->" ends the cue's text, as in the spec.)
    let text: Vec<&str> = block[timing_at + 1..].iter().copied().take_while(|l| !l.contains("-->")).collect();
    out.push(start, end, cue_text(&text.join("\n")), place);
}

/// Cue text as written, but a `<` that opens no tag and a `&` that starts
/// no character reference escaped (writers such as ffmpeg leave them bare;
/// a browser would drop `< b >` as a broken tag).
pub(crate) fn cue_text(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(at) = rest.find(['<', '&']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let keep = if rest.starts_with('<') { tag_len(rest) } else { reference_len(rest) };
        match keep {
            Some(n) => out.push_str(&rest[..n]),
            None => out.push_str(if rest.starts_with('<') { "&lt;" } else { "&amp;" }),
        }
        rest = &rest[keep.unwrap_or(1)..];
    }
    out.push_str(rest);
    out
}

/// The length of a tag at the start of `s`: `<`, an optional `/`, a letter
/// or digit (a timestamp tag), up to `>` on the same line.
fn tag_len(s: &str) -> Option<usize> {
    let body = &s[1..];
    let name = body.strip_prefix('/').unwrap_or(body);
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return None;
    }
    let end = body.find(['>', '<', '\n'])?;
    (body.as_bytes()[end] == b'>').then_some(end + 2)
}

/// The length of a character reference at the start of `s` (`&name;`,
/// `&#N;`, `&#xN;`).
fn reference_len(s: &str) -> Option<usize> {
    let end = s[1..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))? + 1;
    (end > 1 && end <= 32 && s.as_bytes()[end] == b';').then_some(end + 1)
}

/// `start --> end settings`.
pub(crate) fn timing_line(line: &str) -> Option<(f64, f64, Placement)> {
    let (start, rest) = line.split_once("-->")?;
    let rest = rest.trim_start_matches([' ', '\t']);
    let end_len = rest.find([' ', '\t']).unwrap_or(rest.len());
    let start = time::clock(start.trim_matches([' ', '\t']))?;
    let end = time::clock(&rest[..end_len])?;
    Some((start, end, settings(&rest[end_len..])))
}

/// Cue settings (`line:`, `position:`, `size:`, `align:`); unknown or
/// malformed ones are ignored, as the spec says.
pub(crate) fn settings(s: &str) -> Placement {
    let mut p = Placement::default();
    for setting in s.split([' ', '\t']).filter(|x| !x.is_empty()) {
        let Some((name, value)) = setting.split_once(':') else { continue };
        // (`line:` and `position:` may carry an alignment after a comma.)
        let value = value.split(',').next().unwrap_or("");
        match name {
            "line" => {
                if let Some(pc) = percent(value) {
                    p.line = Some(pc);
                    p.line_percent = true;
                } else if let Some(n) = line_number(value) {
                    p.line = Some(n);
                    p.line_percent = false;
                }
            }
            "position" => p.position = percent(value).or(p.position),
            "size" => p.size = percent(value).or(p.size),
            "align" => {
                p.align = match value {
                    "start" => Some(Align::Start),
                    "center" | "middle" => Some(Align::Center),
                    "end" => Some(Align::End),
                    "left" => Some(Align::Left),
                    "right" => Some(Align::Right),
                    _ => p.align,
                }
            }
            _ => {}
        }
    }
    p
}

/// `NN%` or `NN.N%`, 0–100.
pub(crate) fn percent(v: &str) -> Option<f64> {
    let n = v.strip_suffix('%')?;
    let (whole, frac) = n.split_once('.').unwrap_or((n, ""));
    let whole = time::digits(whole, 3)?;
    let frac = if frac.is_empty() { 0.0 } else { time::digits(frac, 6)? as f64 / 10f64.powi(frac.len() as i32) };
    let value = whole as f64 + frac;
    (value <= 100.0).then_some(value)
}

fn line_number(v: &str) -> Option<f64> {
    let (negative, digits) = match v.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, v),
    };
    let n = time::digits(digits, 4)? as f64;
    Some(if negative { -n } else { n })
}
