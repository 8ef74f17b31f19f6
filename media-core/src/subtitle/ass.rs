//! ASS / SSA (Advanced SubStation Alpha, v4 and v4+): the `Dialogue:` lines
//! of `[Events]` as cues, in the field order their `Format:` line gives.
//! Styling, best effort: a style's or an override's italics and bold become
//! `<i>` / `<b>`, its alignment (`\an`, legacy `\a`, the style's
//! `Alignment`) a position; `\N` breaks the line, `\h` is a no-break space;
//! vector drawings (`\p1`) and all other overrides (colours, fonts, motion,
//! karaoke) are dropped.

use super::{escape_into, time, Collector, Cue, Placement, SubtitleError};

/// A style's part of the cue: italics, bold, alignment.
#[derive(Clone, Copy, Default)]
struct Style {
    italic: bool,
    bold: bool,
    place: Placement,
}

pub fn parse(text: &str) -> Result<Vec<Cue>, SubtitleError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Collector::default();
    let mut section = String::new();
    let mut legacy = false;
    let mut style_format: Vec<String> = Vec::new();
    let mut styles: Vec<(String, Style)> = Vec::new();
    let mut event_format: Vec<String> =
        ["marked", "start", "end", "style", "name", "marginl", "marginr", "marginv", "effect", "text"].map(String::from).to_vec();
    let mut seen_section = false;
    for raw in text.split('\n') {
        if !out.open() {
            break;
        }
        let line = raw.strip_suffix('\r').unwrap_or(raw).trim_start();
        if line.starts_with('[') {
            section = line.trim_end().to_ascii_lowercase();
            seen_section = true;
            legacy |= section == "[v4 styles]";
            continue;
        }
        let Some((key, value)) = line.split_once(':') else { continue };
        let value = value.trim_start();
        match (section.as_str(), key) {
            ("[v4 styles]" | "[v4+ styles]", "Format") => style_format = fields(value),
            ("[v4 styles]" | "[v4+ styles]", "Style") if styles.len() < 256 => styles.push(style(&style_format, value, legacy)),
            ("[events]", "Format") => event_format = fields(value),
            ("[events]", "Dialogue") => dialogue(&event_format, &styles, value, &mut out),
            _ => {}
        }
    }
    if !seen_section {
        return Err(SubtitleError::BadHeader("no [Script Info] or [Events] section"));
    }
    out.finish()
}

/// A `Format:` line's field names, lower case.
fn fields(value: &str) -> Vec<String> {
    value.split(',').take(32).map(|f| f.trim().to_ascii_lowercase()).collect()
}

fn style(format: &[String], value: &str, legacy: bool) -> (String, Style) {
    let values: Vec<&str> = value.splitn(format.len().max(1), ',').collect();
    let get = |name: &str| format.iter().position(|f| f == name).and_then(|i| values.get(i)).map(|v| v.trim());
    // (Booleans are -1 for true in ASS, 1 in some writers.)
    let on = |v: Option<&str>| v.is_some_and(|v| v != "0" && !v.is_empty());
    let place = get("alignment").and_then(|a| a.parse::<u8>().ok()).map(|a| alignment(a, legacy)).unwrap_or_default();
    (get("name").unwrap_or("").to_string(), Style { italic: on(get("italic")), bold: on(get("bold")), place })
}

/// The legacy SSA `\a` / `Alignment` (1–3 bottom, +8 middle, +4 top) or
/// the v4+ numpad value, as a placement.
fn alignment(a: u8, legacy: bool) -> Placement {
    if !legacy {
        return Placement::numpad(a);
    }
    let column = (a & 3).max(1);
    let row = if a & 8 != 0 {
        3
    } else if a & 4 != 0 {
        6
    } else {
        0
    };
    Placement::numpad(row + column)
}

fn dialogue(format: &[String], styles: &[(String, Style)], value: &str, out: &mut Collector) {
    // (The text is the last field and may itself hold commas.)
    let values: Vec<&str> = value.splitn(format.len().max(1), ',').collect();
    let get = |name: &str| format.iter().position(|f| f == name).and_then(|i| values.get(i)).copied();
    let (Some(start), Some(end), Some(text)) = (get("start").and_then(time::clock), get("end").and_then(time::clock), get("text")) else {
        return out.skip();
    };
    let name = get("style").unwrap_or("").trim().trim_start_matches('*');
    let base = styles
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .or_else(|| styles.iter().find(|(n, _)| n.eq_ignore_ascii_case("default")))
        .map(|s| s.1)
        .unwrap_or_default();
    let (text, place) = convert(text, base);
    out.push(start, end, text, place);
}

/// Dialogue text with its override blocks to WebVTT cue text.
fn convert(src: &str, base: Style) -> (String, Placement) {
    let mut text = String::with_capacity(src.len());
    let mut place = base.place;
    let (mut italic, mut bold) = (false, false);
    let mut drawing = false;
    let set = |text: &mut String, state: &mut bool, want: bool, tag: &str| {
        if *state != want {
            text.push_str(if want { "<" } else { "</" });
            text.push_str(tag);
            text.push('>');
            *state = want;
        }
    };
    set(&mut text, &mut bold, base.bold, "b");
    set(&mut text, &mut italic, base.italic, "i");
    let mut rest = src.trim_end();
    while !rest.is_empty() {
        if let Some(block) = rest.strip_prefix('{') {
            // (An unclosed block runs to the end of the line.)
            let end = block.find('}').unwrap_or(block.len());
            for code in block[..end].split('\\').map(str::trim) {
                if let Some(n) = code.strip_prefix("an").and_then(|n| n.parse::<u8>().ok()) {
                    place = Placement::numpad(n);
                } else if let Some(n) = code.strip_prefix('a').and_then(|n| n.parse::<u8>().ok()) {
                    place = alignment(n, true);
                } else if let Some(v) = code.strip_prefix('i').filter(|v| v.len() <= 1) {
                    // (Italics open inside bold close in order: `</i>` first.)
                    let want = if v.is_empty() { base.italic } else { v == "1" };
                    set(&mut text, &mut italic, want, "i");
                } else if let Some(v) = code.strip_prefix('b').filter(|v| v.bytes().all(|b| b.is_ascii_digit())) {
                    let want = if v.is_empty() { base.bold } else { v != "0" && v != "400" };
                    if italic && want != bold {
                        set(&mut text, &mut italic, false, "i");
                        set(&mut text, &mut bold, want, "b");
                        set(&mut text, &mut italic, true, "i");
                    } else {
                        set(&mut text, &mut bold, want, "b");
                    }
                } else if let Some(v) = code.strip_prefix('p').filter(|v| v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty()) {
                    drawing = v != "0";
                } else if code == "r" {
                    set(&mut text, &mut italic, base.italic, "i");
                    set(&mut text, &mut bold, base.bold, "b");
                }
            }
            rest = block.get(end + 1..).unwrap_or("");
            continue;
        }
        if let Some(after) = rest.strip_prefix('\\') {
            match after.chars().next() {
                Some('N') => text.push('\n'),
                Some('n') => text.push(' '),
                Some('h') => text.push('\u{a0}'),
                _ => {
                    if !drawing {
                        text.push('\\');
                    }
                    rest = after;
                    continue;
                }
            }
            rest = &after[1..];
            continue;
        }
        let c = rest.chars().next().unwrap_or('\0');
        if !drawing {
            escape_into(&mut text, c.encode_utf8(&mut [0; 4]));
        }
        rest = &rest[c.len_utf8()..];
    }
    set(&mut text, &mut italic, false, "i");
    set(&mut text, &mut bold, false, "b");
    (text, place)
}
