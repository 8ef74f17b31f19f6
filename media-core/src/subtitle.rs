//! Subtitles and captions: one cue model, and a parser per format that
//! people and streams bring — WebVTT (files and HLS segments, with
//! `X-TIMESTAMP-MAP`), SubRip, ASS/SSA dialogue, TTML/IMSC1 text, and the
//! fMP4 text samples (`wvtt`, `stpp`) of DASH and CMAF.
//!
//! Every parser is sans-IO and bounded: at most [`MAX_INPUT`] bytes in, at
//! most [`MAX_CUES`] cues out, at most [`MAX_CUE_TEXT`] bytes of text a
//! cue. A malformed cue is skipped and counted; a file in which no cue can be
//! read is an error. No input panics (fuzz target `subtitles`).
//!
//! The cue text is WebVTT cue text (`<i>`, `<b>`, `<u>`, `<v Name>` spans,
//! `&amp;` `&lt;` `&gt;` escaped), what a browser's `VTTCue` renders: each
//! format's styling that has an equivalent there is converted to it, and
//! [`Cue::plain`] gives the text without markup.

pub mod ass;
pub mod feed;
pub mod mp4;
pub mod srt;
pub mod time;
pub mod ttml;
pub mod vtt;

#[cfg(test)]
mod tests;

use std::fmt;

/// The largest subtitle file or segment read (a feature film's SRT is
/// ~100 KB; an ASS with karaoke effects a few MB: only dialogue is kept).
pub const MAX_INPUT: usize = 4 * 1024 * 1024;
/// Cues kept from one input (a 3-hour film has ~2,000).
pub const MAX_CUES: usize = 20_000;
/// Bytes of cue text kept a cue (cut on a character boundary).
pub const MAX_CUE_TEXT: usize = 1_000;

/// A timed piece of text on the media timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Cue {
    /// Seconds.
    pub start: f64,
    pub end: f64,
    /// WebVTT cue text (see the module docs).
    pub text: String,
    pub place: Placement,
}

/// Where a cue is shown, as far as the source says: WebVTT cue settings.
/// `None` everywhere is the default (bottom, centred).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Placement {
    /// The line: a percentage of the viewport from the top when `percent`,
    /// else a line number (negative counts from the bottom).
    pub line: Option<f64>,
    pub line_percent: bool,
    /// The horizontal position of the cue box, a percentage.
    pub position: Option<f64>,
    /// The box's width, a percentage.
    pub size: Option<f64>,
    pub align: Option<Align>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Start,
    Center,
    End,
    Left,
    Right,
}

impl Align {
    /// The WebVTT (and `VTTCue.align`) keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Align::Start => "start",
            Align::Center => "center",
            Align::End => "end",
            Align::Left => "left",
            Align::Right => "right",
        }
    }
}

impl Placement {
    /// A position from the numpad convention of ASS `\an` and SRT `{\anN}`:
    /// 1–3 bottom, 4–6 middle, 7–9 top; left, centre, right in each row.
    pub fn numpad(n: u8) -> Placement {
        let row = (n.clamp(1, 9) - 1) / 3;
        let column = (n.clamp(1, 9) - 1) % 3;
        Placement {
            line: match row {
                0 => None,
                1 => Some(50.0),
                _ => Some(0.0),
            },
            line_percent: row > 0,
            position: None,
            size: None,
            align: match column {
                0 => Some(Align::Left),
                1 => None,
                _ => Some(Align::Right),
            },
        }
    }
}

impl Cue {
    /// The text without markup: tags removed, character references decoded.
    pub fn plain(&self) -> String {
        plain(&self.text)
    }
}

/// WebVTT cue text without its tags, references decoded.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(['<', '&']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with('<') {
            match rest.find('>') {
                Some(end) => rest = &rest[end + 1..],
                None => rest = "",
            }
        } else {
            let used = reference(rest, &mut out);
            rest = &rest[used..];
        }
    }
    out.push_str(rest);
    out
}

/// The character reference at the start of `s` (which starts with `&`)
/// decoded into `out`; its length. An unknown one stands for itself.
fn reference(s: &str, out: &mut String) -> usize {
    for (name, value) in
        [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>'), ("&nbsp;", '\u{a0}'), ("&lrm;", '\u{200e}'), ("&rlm;", '\u{200f}'), ("&quot;", '"'), ("&apos;", '\'')]
    {
        if s.starts_with(name) {
            out.push(value);
            return name.len();
        }
    }
    // `&#233;`, `&#xE9;`
    let numeric = s.strip_prefix("&#").and_then(|r| {
        let end = r.find(';').filter(|&e| e <= 8)?;
        let code = match r[..end].strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => r[..end].parse().ok()?,
        };
        Some((char::from_u32(code)?, end + 3))
    });
    match numeric {
        Some((c, used)) => {
            out.push(c);
            used
        }
        None => {
            out.push('&');
            1
        }
    }
}

/// Appends `text` to WebVTT cue text, escaped.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

/// What went wrong with a whole input (single bad cues are skipped).
#[derive(Clone, Debug, PartialEq)]
pub enum SubtitleError {
    /// Over [`MAX_INPUT`]: the size.
    TooLarge(usize),
    /// Not text (UTF-8, or UTF-16 with a byte order mark).
    NotText,
    /// The format could not be told from the bytes (or the name).
    UnknownFormat,
    /// The format's header is missing or wrong: what was expected.
    BadHeader(&'static str),
    /// The input parsed but held no cue that could be read: how many
    /// blocks were skipped as malformed.
    NoCues { skipped: usize },
    /// A box structure (fMP4 text) is inconsistent: which.
    BadBox(&'static str),
}

impl fmt::Display for SubtitleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubtitleError::TooLarge(n) => write!(f, "subtitle file too large ({n} bytes; at most {MAX_INPUT})"),
            SubtitleError::NotText => f.write_str("subtitle file is not text (UTF-8 or UTF-16)"),
            SubtitleError::UnknownFormat => f.write_str("not a subtitle format this player reads (WebVTT, SRT, ASS/SSA, TTML)"),
            SubtitleError::BadHeader(what) => write!(f, "subtitle file: {what}"),
            SubtitleError::NoCues { skipped: 0 } => f.write_str("subtitle file has no cues"),
            SubtitleError::NoCues { skipped } => write!(f, "subtitle file has no readable cue ({skipped} malformed)"),
            SubtitleError::BadBox(what) => write!(f, "subtitle samples: {what}"),
        }
    }
}

/// The formats a file can come in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Vtt,
    Srt,
    Ass,
    Ttml,
}

impl Format {
    /// The format of `text`, from its first non-blank bytes; the file name's
    /// extension decides only when the content does not.
    pub fn sniff(text: &str, name: Option<&str>) -> Option<Format> {
        let head = text.trim_start_matches('\u{feff}').trim_start();
        if head.starts_with("WEBVTT") {
            return Some(Format::Vtt);
        }
        if head.starts_with("[Script Info]") || head.starts_with("[V4") {
            return Some(Format::Ass);
        }
        if head.starts_with("<?xml") || head.starts_with("<tt") {
            return Some(Format::Ttml);
        }
        let mut lines = head.lines();
        let first = lines.next().unwrap_or("").trim();
        if !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) && lines.next().is_some_and(|l| l.contains("-->")) {
            return Some(Format::Srt);
        }
        let ext = name?.rsplit('.').next()?.to_ascii_lowercase();
        match ext.as_str() {
            "vtt" | "webvtt" => Some(Format::Vtt),
            "srt" => Some(Format::Srt),
            "ass" | "ssa" => Some(Format::Ass),
            "ttml" | "dfxp" | "xml" => Some(Format::Ttml),
            _ => None,
        }
    }
}

/// Bytes to text: UTF-8 (a byte order mark dropped), or UTF-16 with a byte
/// order mark (older SRT editors write it). Invalid UTF-8 sequences become
/// U+FFFD rather than refusing a whole file for one bad byte (Latin-1 files
/// keep their ASCII).
pub fn decode(bytes: &[u8]) -> Result<String, SubtitleError> {
    if bytes.len() > MAX_INPUT {
        return Err(SubtitleError::TooLarge(bytes.len()));
    }
    let utf16 = |le: bool| {
        let units = bytes[2..].chunks_exact(2).map(|c| if le { u16::from_le_bytes([c[0], c[1]]) } else { u16::from_be_bytes([c[0], c[1]]) });
        char::decode_utf16(units).map(|c| c.unwrap_or('\u{fffd}')).collect::<String>()
    };
    let text = match bytes {
        [0xff, 0xfe, ..] => utf16(true),
        [0xfe, 0xff, ..] => utf16(false),
        [0xef, 0xbb, 0xbf, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    };
    if text.contains('\0') {
        return Err(SubtitleError::NotText);
    }
    Ok(text)
}

/// A whole subtitle file (a viewer's or the room's): decoded, its format
/// sniffed, parsed. Cues come out ordered by start time.
pub fn parse_file(bytes: &[u8], name: Option<&str>) -> Result<Vec<Cue>, SubtitleError> {
    let text = decode(bytes)?;
    let mut cues = match Format::sniff(&text, name).ok_or(SubtitleError::UnknownFormat)? {
        Format::Vtt => {
            let file = vtt::parse(&text)?;
            if file.cues.is_empty() {
                return Err(SubtitleError::NoCues { skipped: file.skipped });
            }
            file.cues
        }
        Format::Srt => srt::parse(&text)?,
        Format::Ass => ass::parse(&text)?,
        Format::Ttml => ttml::parse(&text)?,
    };
    crate::sort::sort_by_key(&mut cues, |c| (c.start * 1000.0).round() as i64);
    Ok(cues)
}

/// Cues as a WebVTT file (what a room stores and serves, whatever format
/// was added): times to the millisecond, placement as cue settings.
pub fn to_webvtt(cues: &[Cue]) -> String {
    let mut out = String::with_capacity(16 + cues.iter().map(|c| c.text.len() + 40).sum::<usize>());
    out.push_str("WEBVTT\n");
    for c in cues {
        out.push('\n');
        timestamp(&mut out, c.start);
        out.push_str(" --> ");
        timestamp(&mut out, c.end);
        let p = c.place;
        if let Some(line) = p.line {
            out.push_str(" line:");
            number(&mut out, line);
            if p.line_percent {
                out.push('%');
            }
        }
        for (name, value) in [(" position:", p.position), (" size:", p.size)] {
            if let Some(v) = value {
                out.push_str(name);
                number(&mut out, v);
                out.push('%');
            }
        }
        if let Some(a) = p.align {
            out.push_str(" align:");
            out.push_str(a.keyword());
        }
        out.push('\n');
        // (A blank line would end the cue: cue text never has one.)
        for line in c.text.lines().filter(|l| !l.trim().is_empty()) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn timestamp(out: &mut String, t: f64) {
    let ms = (t.max(0.0) * 1000.0).round() as u64;
    let (h, m, s, f) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    for (i, (v, width)) in [(h, 2), (m, 2), (s, 2)].into_iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        pad(out, v, width);
    }
    out.push('.');
    pad(out, f, 3);
}

fn pad(out: &mut String, v: u64, width: usize) {
    let digits = v.to_string();
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(&digits);
}

/// A setting's number: whole, or with up to 3 decimals.
fn number(out: &mut String, v: f64) {
    let thousandths = (v * 1000.0).round() as i64;
    if thousandths < 0 {
        out.push('-');
    }
    let a = thousandths.unsigned_abs();
    out.push_str(&(a / 1000).to_string());
    if !a.is_multiple_of(1000) {
        out.push('.');
        let mut frac = String::new();
        pad(&mut frac, a % 1000, 3);
        out.push_str(frac.trim_end_matches('0'));
    }
}

/// Collects cues with the bounds applied: cue text cut at
/// [`MAX_CUE_TEXT`], empty or backwards cues skipped, at most [`MAX_CUES`].
#[derive(Default)]
pub(crate) struct Collector {
    pub cues: Vec<Cue>,
    pub skipped: usize,
}

impl Collector {
    /// Whether more cues are wanted.
    pub fn open(&self) -> bool {
        self.cues.len() < MAX_CUES
    }

    pub fn push(&mut self, start: f64, end: f64, mut text: String, place: Placement) {
        if !self.open() {
            return;
        }
        if !(start.is_finite() && end.is_finite() && start >= 0.0 && end > start) {
            self.skipped += 1;
            return;
        }
        if text.len() > MAX_CUE_TEXT {
            let mut cut = MAX_CUE_TEXT;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            // (A tag or reference cut in half would show as text.)
            if let Some(open) = text.rfind(['<', '&']) {
                if !text[open..].contains(['>', ';']) {
                    text.truncate(open);
                }
            }
        }
        if text.trim().is_empty() {
            return;
        }
        self.cues.push(Cue { start, end, text, place });
    }

    pub fn skip(&mut self) {
        self.skipped += 1;
    }

    /// The cues, or [`SubtitleError::NoCues`] when none was read.
    pub fn finish(self) -> Result<Vec<Cue>, SubtitleError> {
        if self.cues.is_empty() {
            return Err(SubtitleError::NoCues { skipped: self.skipped });
        }
        Ok(self.cues)
    }
}
