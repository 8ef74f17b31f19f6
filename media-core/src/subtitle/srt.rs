//! SubRip (`.srt`): numbered blocks of `hh:mm:ss,mmm --> hh:mm:ss,mmm` and
//! text, read the lenient way players read them: the number is optional,
//! `.` works for `,`, a missing blank line before the next cue is tolerated.
//!
//! Markup: `<i>`, `<b>`, `<u>` are kept, `<font>` dropped, the ASS-style
//! `{\an8}` that many files carry becomes a position and `{\i1}` … `{\i0}`
//! italics; everything else is text.

use super::{escape_into, vtt, Collector, Cue, Placement, SubtitleError};

pub fn parse(text: &str) -> Result<Vec<Cue>, SubtitleError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Collector::default();
    // The cue being read: its times and its text lines.
    let mut cue: Option<(f64, f64, Vec<&str>)> = None;
    let mut blank = true;
    for raw in text.split('\n') {
        if !out.open() {
            break;
        }
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.contains("-->") {
            let timing = vtt::timing_line(&line.replace(',', "."));
            if let Some((_, _, lines)) = &mut cue {
                // (The previous cue's last line was this one's number when
                // no blank line came between them.)
                if !blank && lines.last().is_some_and(|l| is_number(l)) {
                    lines.pop();
                }
            }
            finish(cue.take(), &mut out);
            match timing {
                Some((start, end, _)) => cue = Some((start, end, Vec::new())),
                None => out.skip(),
            }
            blank = false;
            continue;
        }
        if line.trim().is_empty() {
            blank = true;
            continue;
        }
        if let Some((_, _, lines)) = &mut cue {
            // A number after a blank line starts the next block.
            if !(blank && is_number(line)) && lines.len() < 32 {
                lines.push(line);
                blank = false;
            }
        }
    }
    finish(cue, &mut out);
    out.finish()
}

fn is_number(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && t.len() <= 9 && t.bytes().all(|b| b.is_ascii_digit())
}

fn finish(cue: Option<(f64, f64, Vec<&str>)>, out: &mut Collector) {
    let Some((start, end, lines)) = cue else { return };
    let (text, place) = markup(&lines.join("\n"));
    out.push(start, end, text, place);
}

/// SubRip's HTML-ish tags and ASS-style overrides to WebVTT cue text.
pub(crate) fn markup(src: &str) -> (String, Placement) {
    let mut text = String::with_capacity(src.len());
    let mut place = Placement::default();
    let mut open_italic = false;
    let mut rest = src;
    // Once a `{\` has no closing `}`, none later has: stop looking (else each
    // of a line of `{\{\{\…` would scan to the end, quadratic).
    let mut overrides = true;
    while !rest.is_empty() {
        if let Some(end) = tag_end(rest) {
            // Kept: italics, bold, underline; any other tag (`<font>`) dropped.
            let tag = rest[1..end].trim().to_ascii_lowercase();
            if matches!(tag.as_str(), "i" | "/i" | "b" | "/b" | "u" | "/u") {
                text.push('<');
                text.push_str(&tag);
                text.push('>');
            }
            rest = &rest[end + 1..];
            continue;
        }
        if overrides && rest.starts_with("{\\") {
            overrides = rest.contains('}');
            if let Some(end) = rest.find('}') {
                for code in rest[2..end].split('\\') {
                    if let Some(n) = code.strip_prefix("an").and_then(|n| n.parse::<u8>().ok()) {
                        place = Placement::numpad(n);
                    } else if code == "i1" && !open_italic {
                        text.push_str("<i>");
                        open_italic = true;
                    } else if code == "i0" && open_italic {
                        text.push_str("</i>");
                        open_italic = false;
                    }
                }
                rest = &rest[end + 1..];
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or('\0');
        escape_into(&mut text, c.encode_utf8(&mut [0; 4]));
        rest = &rest[c.len_utf8()..];
    }
    if open_italic {
        text.push_str("</i>");
    }
    (text, place)
}

/// The index of the `>` closing a tag at the start of `s`: `<` then a
/// letter (or `/` and a letter), on one line. `a < b` is text.
fn tag_end(s: &str) -> Option<usize> {
    let body = s.strip_prefix('<')?;
    let name = body.strip_prefix('/').unwrap_or(body);
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let end = 1 + body.find(['>', '\n', '<'])?;
    (s.as_bytes()[end] == b'>').then_some(end)
}
