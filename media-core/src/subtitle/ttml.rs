//! TTML2 / IMSC1 text profile: the subset that DASH streams (`stpp`
//! samples) and `.ttml` / `.dfxp` files carry.
//!
//! Read: `tt` › `head` (`styling/style`, `layout/region`) and `body` ›
//! `div` › `p` › `span` / `br`, elements matched by local name whatever the
//! namespace prefix. Timing: `begin`, `end`, `dur` on `body`, `div`, `p`,
//! `span`, each relative to its parent's begin (the `par` time container);
//! clock times `hh:mm:ss(.fraction)`, `hh:mm:ss:frames(.subframes)` and
//! offset times `<n>(h|m|s|ms|f|t)` with `ttp:frameRate`,
//! `ttp:frameRateMultiplier`, `ttp:subFrameRate` and `ttp:tickRate`. A `p`
//! whose spans have times of their own becomes one cue per interval in which
//! the shown text stays the same. Styling: `tts:fontStyle` italic,
//! `tts:fontWeight` bold and `tts:textDecoration` underline, inline or
//! through `style` references (chained up to 8 deep), become `<i>`, `<b>`,
//! `<u>`; `tts:textAlign` and the `p`'s (or its `div`'s, `body`'s) region
//! (`tts:origin`, `tts:extent` in percent, or pixels with the root's
//! `tts:extent`, and `tts:displayAlign`) become the cue's [`Placement`].
//!
//! Not supported: the `seq` time container (`timeContainer="seq"` is read
//! as `par`), `ttp:timeBase` other than media, `smpte` drop frames,
//! `set` animation, styles given to a region, `region` on a `span`,
//! colours and fonts, images.
//!
//! The reader never expands a DTD or a custom entity (an unknown reference
//! is kept as text); nesting deeper than 32 elements is ignored, the
//! numbers of styles and regions are bounded, and nothing recurses on the
//! input.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{escape_into, Align, Collector, Cue, Placement, SubtitleError, MAX_CUE_TEXT};

/// Elements nested deeper are ignored with their content.
const MAX_DEPTH: usize = 32;
const MAX_STYLES: usize = 256;
const MAX_REGIONS: usize = 256;
/// How deep a style's `style` references are followed.
const MAX_STYLE_CHAIN: usize = 8;
/// Styles looked at to resolve one element's `style` attribute.
const MAX_STYLE_VISITS: usize = 64;
/// Style references read from one `style` attribute.
const MAX_STYLE_REFS: usize = 16;
/// Text runs kept a paragraph, and the bytes of text.
const MAX_PIECES: usize = 4096;
const MAX_PARAGRAPH_TEXT: usize = 256 * 1024;
/// Distinct span times in a paragraph above which it is one cue.
const MAX_BOUNDARIES: usize = 64;

/// A TTML file: its cues, or `NoCues`.
pub fn parse(text: &str) -> Result<Vec<Cue>, SubtitleError> {
    let mut out = Collector::default();
    read(text, &mut out)?;
    out.finish()
}

/// The cues of one TTML document (a file, or one `stpp` sample) into `out`.
///
/// `BadHeader` when the root element is not `tt`, or when the XML is
/// malformed before any cue was read (after one, the cues read so far are
/// kept and the rest is dropped).
pub(crate) fn read(text: &str, out: &mut Collector) -> Result<(), SubtitleError> {
    let before = out.cues.len();
    let malformed = |out: &Collector| if out.cues.len() > before { Ok(()) } else { Err(SubtitleError::BadHeader("malformed XML")) };
    let mut reader = Reader::from_str(text);
    reader.config_mut().allow_dangling_amp = true;
    let mut doc = Doc::default();
    loop {
        let Ok(event) = reader.read_event() else { return malformed(out) };
        let element_ended = match event {
            Event::Start(e) => {
                doc.open(&e, out)?;
                false
            }
            Event::Empty(e) => {
                doc.open(&e, out)?;
                true
            }
            Event::End(_) => true,
            Event::Text(t) => {
                let Ok(s) = t.xml_content() else { return malformed(out) };
                doc.text(&s);
                false
            }
            Event::CData(t) => {
                doc.text(&String::from_utf8_lossy(&t));
                false
            }
            Event::GeneralRef(r) => {
                let Ok(name) = r.decode() else { return malformed(out) };
                match name.as_ref() {
                    "amp" => doc.text("&"),
                    "lt" => doc.text("<"),
                    "gt" => doc.text(">"),
                    "quot" => doc.text("\""),
                    "apos" => doc.text("'"),
                    other => match r.resolve_char_ref() {
                        Ok(Some(c)) => doc.text(c.encode_utf8(&mut [0; 4])),
                        Ok(None) => doc.text(&format!("&{other};")),
                        Err(_) => return malformed(out),
                    },
                }
                false
            }
            Event::Eof if doc.stack.is_empty() => return Err(SubtitleError::BadHeader("no <tt> root element")),
            Event::Eof => return malformed(out),
            _ => false,
        };
        // (The root's end ends the document: what follows is not read.)
        if element_ended && doc.close(out) {
            return Ok(());
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Tt,
    Head,
    Styling,
    Layout,
    Body,
    Div,
    P,
    Span,
    /// Not read, nor anything in it.
    Ignored,
}

/// The styles the cue text can carry, as resolved for an element.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Style {
    italic: bool,
    bold: bool,
    underline: bool,
    align: Option<Align>,
}

/// Style attributes as written on an element or a `<style>`.
#[derive(Clone, Debug, Default)]
struct StyleDef {
    id: String,
    italic: Option<bool>,
    bold: Option<bool>,
    underline: Option<bool>,
    align: Option<Align>,
    refs: Vec<String>,
}

impl StyleDef {
    fn of(attrs: &[(String, String)]) -> StyleDef {
        let mut d = StyleDef::default();
        for (k, v) in attrs {
            let v = v.trim();
            match k.as_str() {
                "id" => d.id = v.to_string(),
                "fontStyle" => d.italic = Some(matches!(v, "italic" | "oblique" | "reverseOblique")),
                "fontWeight" => d.bold = Some(v == "bold"),
                "textDecoration" => {
                    for word in v.split_whitespace() {
                        match word {
                            "underline" => d.underline = Some(true),
                            "noUnderline" | "none" => d.underline = Some(false),
                            _ => {}
                        }
                    }
                }
                "textAlign" => d.align = align(v),
                "style" => d.refs = v.split_whitespace().take(MAX_STYLE_REFS).map(str::to_string).collect(),
                _ => {}
            }
        }
        d
    }

    /// This style over `below`.
    fn overlay(&self, below: &mut StyleDef) {
        below.italic = self.italic.or(below.italic);
        below.bold = self.bold.or(below.bold);
        below.underline = self.underline.or(below.underline);
        below.align = self.align.or(below.align);
    }

    fn apply(&self, s: &mut Style) {
        s.italic = self.italic.unwrap_or(s.italic);
        s.bold = self.bold.unwrap_or(s.bold);
        s.underline = self.underline.unwrap_or(s.underline);
        s.align = self.align.or(s.align);
    }
}

/// What the styles `refs` name set, each over the styles it references
/// in turn (`styles` sorted by id): referenced chains are followed
/// `MAX_STYLE_CHAIN` deep and `MAX_STYLE_VISITS` styles at most.
fn chain(styles: &[StyleDef], refs: &[String]) -> StyleDef {
    enum Step<'a> {
        Enter(&'a str, usize),
        Apply(&'a StyleDef),
    }
    let mut out = StyleDef::default();
    let mut steps: Vec<Step<'_>> = refs.iter().rev().map(|r| Step::Enter(r, 0)).collect();
    let mut visits = 0;
    while let Some(step) = steps.pop() {
        match step {
            Step::Enter(id, depth) => {
                visits += 1;
                if visits > MAX_STYLE_VISITS {
                    break;
                }
                // (At most 256 styles: a linear search, and no sort in the
                // browser build.)
                let Some(def) = styles.iter().find(|s| s.id == *id) else { continue };
                steps.push(Step::Apply(def));
                if depth + 1 < MAX_STYLE_CHAIN {
                    steps.extend(def.refs.iter().rev().map(|r| Step::Enter(r, depth + 1)));
                }
            }
            Step::Apply(def) => def.overlay(&mut out),
        }
    }
    out
}

fn align(v: &str) -> Option<Align> {
    match v {
        "left" => Some(Align::Left),
        "right" => Some(Align::Right),
        "center" => Some(Align::Center),
        "start" => Some(Align::Start),
        "end" => Some(Align::End),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum DisplayAlign {
    Before,
    Center,
    After,
}

#[derive(Clone, Debug)]
struct Region {
    id: String,
    /// Percent of the root container.
    origin: Option<(f64, f64)>,
    extent: Option<(f64, f64)>,
    display: DisplayAlign,
    align: Option<Align>,
}

/// An open element.
#[derive(Clone, Copy, Debug)]
struct Frame {
    kind: Kind,
    /// Seconds on the document timeline.
    begin: f64,
    end: Option<f64>,
    style: Style,
    region: Option<usize>,
    preserve: bool,
    /// Tells the elements apart (consecutive text of one element is one run).
    serial: u32,
}

#[derive(Debug)]
enum Run {
    Text(String),
    Br,
}

/// A run of a paragraph's content with the times and style of its element.
#[derive(Debug)]
struct Piece {
    run: Run,
    begin: f64,
    end: Option<f64>,
    style: Style,
    preserve: bool,
    serial: u32,
}

#[derive(Debug)]
struct Paragraph {
    begin: f64,
    end: Option<f64>,
    place: Placement,
    pieces: Vec<Piece>,
    bytes: usize,
}

/// The document's timing parameters.
#[derive(Clone, Copy, Debug)]
struct Rates {
    frame: f64,
    sub_frame: f64,
    tick: f64,
}

impl Default for Rates {
    fn default() -> Rates {
        Rates { frame: 30.0, sub_frame: 1.0, tick: 1.0 }
    }
}

impl Rates {
    fn of(attrs: &[(String, String)]) -> Rates {
        let positive = |k: &str| get(attrs, k).and_then(number).filter(|n| *n > 0.0 && n.is_finite());
        let mut r = Rates::default();
        let frame = positive("frameRate");
        if let Some(f) = frame {
            r.frame = f;
            if let Some((num, den)) = get(attrs, "frameRateMultiplier").and_then(|m| m.split_once(char::is_whitespace)) {
                if let (Some(num), Some(den)) = (number(num.trim()), number(den.trim())) {
                    if num > 0.0 && den > 0.0 {
                        r.frame = f * num / den;
                    }
                }
            }
        }
        r.sub_frame = positive("subFrameRate").unwrap_or(1.0);
        r.tick = positive("tickRate").unwrap_or(if frame.is_some() { r.frame * r.sub_frame } else { 1.0 });
        r
    }
}

#[derive(Default)]
struct Doc {
    rates: Rates,
    /// The root's `tts:extent` in pixels, for regions given in pixels.
    pixels: Option<(f64, f64)>,
    /// The `<style>`s by id; at `body`, each with its references resolved.
    styles: Vec<StyleDef>,
    styles_resolved: bool,
    regions: Vec<Region>,
    stack: Vec<Frame>,
    /// Elements open below the depth limit.
    skip: usize,
    paragraph: Option<Paragraph>,
    serial: u32,
}

fn local(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// The attributes by local name; a malformed one ends the list, one with a
/// bad reference is left out.
fn attributes(e: &BytesStart<'_>) -> Vec<(String, String)> {
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let Ok(a) = a else { break };
        let Ok(value) = a.unescape_value() else { continue };
        attrs.push((String::from_utf8_lossy(local(a.key.as_ref())).into_owned(), value.into_owned()));
    }
    attrs
}

fn get<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

impl Doc {
    fn open(&mut self, e: &BytesStart<'_>, out: &mut Collector) -> Result<(), SubtitleError> {
        if self.skip > 0 || self.stack.len() >= MAX_DEPTH {
            self.skip += 1;
            return Ok(());
        }
        let name = local(e.name().as_ref()).to_vec();
        let name = name.as_slice();
        let Some(parent) = self.stack.last().copied() else {
            if name != b"tt" {
                return Err(SubtitleError::BadHeader("no <tt> root element"));
            }
            let attrs = attributes(e);
            self.rates = Rates::of(&attrs);
            self.pixels = get(&attrs, "extent").and_then(|v| pair(v, |s| s.strip_suffix("px").and_then(number)));
            let preserve = get(&attrs, "space") == Some("preserve");
            let frame = Frame { kind: Kind::Tt, begin: 0.0, end: None, style: Style::default(), region: None, preserve, serial: 0 };
            self.stack.push(frame);
            return Ok(());
        };
        let kind = match (parent.kind, name) {
            (Kind::Tt, b"head") => Kind::Head,
            (Kind::Tt, b"body") => Kind::Body,
            (Kind::Head, b"styling") => Kind::Styling,
            (Kind::Head, b"layout") => Kind::Layout,
            (Kind::Styling, b"style") => {
                if self.styles.len() < MAX_STYLES && !self.styles_resolved {
                    self.styles.push(StyleDef::of(&attributes(e)));
                }
                Kind::Ignored
            }
            (Kind::Layout, b"region") => {
                if self.regions.len() < MAX_REGIONS {
                    let region = self.region(&attributes(e));
                    self.regions.push(region);
                }
                Kind::Ignored
            }
            (Kind::Body | Kind::Div, b"div") => Kind::Div,
            (Kind::Body | Kind::Div, b"p") => Kind::P,
            (Kind::P | Kind::Span, b"span" | b"p") => Kind::Span,
            (Kind::P | Kind::Span, b"br") => {
                self.piece(Run::Br, &parent);
                Kind::Ignored
            }
            _ => Kind::Ignored,
        };
        let mut frame = Frame { kind, serial: self.serial.wrapping_add(1), ..parent };
        self.serial = frame.serial;
        if kind == Kind::Body && !self.styles_resolved {
            self.resolve_styles();
        }
        if matches!(kind, Kind::Body | Kind::Div | Kind::P | Kind::Span) {
            let attrs = attributes(e);
            (frame.begin, frame.end) = self.timing(&parent, &attrs);
            frame.style = self.style(parent.style, &attrs);
            match get(&attrs, "space") {
                Some("preserve") => frame.preserve = true,
                Some("default") => frame.preserve = false,
                _ => {}
            }
            if kind != Kind::Span {
                if let Some(id) = get(&attrs, "region") {
                    frame.region = self.regions.iter().position(|r| r.id == id.trim());
                }
            }
        }
        if kind == Kind::P {
            if let Some(p) = self.paragraph.take() {
                emit(p, out);
            }
            let place = self.place(&frame);
            self.paragraph = Some(Paragraph { begin: frame.begin, end: frame.end, place, pieces: Vec::new(), bytes: 0 });
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Ends the open element; whether it was the root.
    fn close(&mut self, out: &mut Collector) -> bool {
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        let Some(frame) = self.stack.pop() else { return true };
        if frame.kind == Kind::P {
            if let Some(p) = self.paragraph.take() {
                emit(p, out);
            }
        }
        self.stack.is_empty()
    }

    fn text(&mut self, s: &str) {
        if self.skip > 0 {
            return;
        }
        if let Some(frame) = self.stack.last().copied() {
            if matches!(frame.kind, Kind::P | Kind::Span) {
                self.piece(Run::Text(s.to_string()), &frame);
            }
        }
    }

    fn piece(&mut self, run: Run, frame: &Frame) {
        let Some(p) = self.paragraph.as_mut() else { return };
        let len = match &run {
            Run::Text(s) => s.len(),
            Run::Br => 1,
        };
        if p.bytes.saturating_add(len) > MAX_PARAGRAPH_TEXT {
            return;
        }
        p.bytes += len;
        if let (Run::Text(s), Some(Piece { run: Run::Text(last), serial, .. })) = (&run, p.pieces.last_mut()) {
            if *serial == frame.serial {
                last.push_str(s);
                return;
            }
        }
        if p.pieces.len() < MAX_PIECES {
            p.pieces.push(Piece { run, begin: frame.begin, end: frame.end, style: frame.style, preserve: frame.preserve, serial: frame.serial });
        }
    }

    /// An element's begin and end on the document timeline.
    fn timing(&self, parent: &Frame, attrs: &[(String, String)]) -> (f64, Option<f64>) {
        let time = |k: &str| get(attrs, k).and_then(|v| time(v, &self.rates));
        let begin = parent.begin + time("begin").unwrap_or(0.0);
        let end = time("end").map(|e| parent.begin + e);
        let dur = time("dur").map(|d| begin + d);
        let end = match (end, dur) {
            (Some(e), Some(d)) => Some(e.min(d)),
            (e, d) => e.or(d),
        };
        let end = match (end, parent.end) {
            (Some(e), Some(p)) => Some(e.min(p)),
            (e, p) => e.or(p),
        };
        (begin, end)
    }

    /// Each style with what it references folded in (once, so that an
    /// element's style costs a lookup a reference).
    fn resolve_styles(&mut self) {
        let resolved = self
            .styles
            .iter()
            .map(|s| {
                let mut d = chain(&self.styles, &s.refs);
                s.overlay(&mut d);
                d.id = s.id.clone();
                d
            })
            .collect();
        self.styles = resolved;
        self.styles_resolved = true;
    }

    /// The parent's style, then the referenced styles, then the element's own.
    fn style(&self, parent: Style, attrs: &[(String, String)]) -> Style {
        let own = StyleDef::of(attrs);
        let mut d = chain(&self.styles, &own.refs);
        own.overlay(&mut d);
        let mut style = parent;
        d.apply(&mut style);
        style
    }

    fn region(&self, attrs: &[(String, String)]) -> Region {
        let length = |s: &str, axis: usize| -> Option<f64> {
            if let Some(p) = s.strip_suffix('%') {
                return number(p);
            }
            let px = number(s.strip_suffix("px")?)?;
            let (w, h) = self.pixels?;
            let whole = if axis == 0 { w } else { h };
            (whole > 0.0).then(|| px / whole * 100.0)
        };
        let lengths = |k: &str| {
            let mut it = get(attrs, k)?.split_whitespace();
            let x = length(it.next()?, 0)?;
            let y = length(it.next()?, 1)?;
            Some((x.clamp(0.0, 100.0), y.clamp(0.0, 100.0)))
        };
        Region {
            id: get(attrs, "id").unwrap_or("").trim().to_string(),
            origin: lengths("origin"),
            extent: lengths("extent"),
            display: match get(attrs, "displayAlign").map(str::trim) {
                Some("center") => DisplayAlign::Center,
                Some("after") => DisplayAlign::After,
                _ => DisplayAlign::Before,
            },
            align: get(attrs, "textAlign").and_then(|v| align(v.trim())),
        }
    }

    /// A paragraph's placement from its region and text alignment. The line
    /// is the region's top, middle or bottom as its `displayAlign` says
    /// (WebVTT cannot align a cue's bottom to a line: a region ending in
    /// the bottom fifth is left at the default, the bottom); the position
    /// is the region's left edge, centre or right edge as the alignment
    /// says (WebVTT's `position` with its automatic alignment), the size
    /// its width.
    fn place(&self, frame: &Frame) -> Placement {
        let mut place = Placement { align: frame.style.align, ..Placement::default() };
        let Some(region) = frame.region.and_then(|i| self.regions.get(i)) else { return place };
        place.align = place.align.or(region.align);
        let Some((x, y)) = region.origin else { return place };
        let (w, h) = region.extent.unwrap_or((100.0 - x, 100.0 - y));
        let line = match region.display {
            DisplayAlign::Before => y,
            DisplayAlign::Center => y + h / 2.0,
            DisplayAlign::After => y + h,
        };
        if y < 80.0 && !(region.display == DisplayAlign::After && line >= 80.0) {
            place.line = Some(line.clamp(0.0, 100.0));
            place.line_percent = true;
        }
        let position = match place.align {
            Some(Align::Left | Align::Start) => x,
            Some(Align::Right | Align::End) => x + w,
            _ => x + w / 2.0,
        };
        place.position = Some(position.clamp(0.0, 100.0));
        place.size = Some(w.clamp(0.0, 100.0));
        place
    }
}

/// `a b`, both read by `one`.
fn pair(v: &str, one: impl Fn(&str) -> Option<f64>) -> Option<(f64, f64)> {
    let mut it = v.split_whitespace();
    Some((one(it.next()?)?, one(it.next()?)?))
}

/// Digits with an optional fraction: no sign, no exponent.
fn number(s: &str) -> Option<f64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(frac) {
        return None;
    }
    decimal::parse_f64(s).filter(|n| n.is_finite())
}

/// A TTML time expression in seconds.
fn time(s: &str, rates: &Rates) -> Option<f64> {
    let s = s.trim();
    if s.contains(':') {
        let mut parts = s.split(':');
        let h = super::time::digits(parts.next()?, 10)? as f64;
        let m = super::time::digits(parts.next()?, 2)?;
        let sec = parts.next()?;
        let frames = parts.next();
        if m >= 60 || parts.next().is_some() {
            return None;
        }
        let base = h * 3600.0 + m as f64 * 60.0;
        let t = match frames {
            None => base + number(sec).filter(|s| *s < 61.0)?,
            Some(f) => {
                let sec = super::time::digits(sec, 2)? as f64;
                let (f, sub) = f.split_once('.').unwrap_or((f, "0"));
                let f = super::time::digits(f, 9)? as f64;
                let sub = super::time::digits(sub, 9)? as f64;
                base + sec + (f + sub / rates.sub_frame) / rates.frame
            }
        };
        return t.is_finite().then_some(t);
    }
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let n = number(&s[..split])?;
    let t = match &s[split..] {
        "h" => n * 3600.0,
        "m" => n * 60.0,
        "s" => n,
        "ms" => n / 1000.0,
        "f" => n / rates.frame,
        "t" => n / rates.tick,
        _ => return None,
    };
    t.is_finite().then_some(t)
}

/// A paragraph's cues: one per interval in which the same runs show.
fn emit(mut p: Paragraph, out: &mut Collector) {
    if p.pieces.is_empty() || !out.open() {
        return;
    }
    // (Whitespace runs to one space first: each interval's text is then
    // built in about as many steps as it has characters.)
    for piece in &mut p.pieces {
        if let (Run::Text(text), false) = (&mut piece.run, piece.preserve) {
            let mut collapsed = String::with_capacity(text.len());
            for c in text.chars() {
                if !matches!(c, ' ' | '\t' | '\r' | '\n') {
                    collapsed.push(c);
                } else if !collapsed.ends_with(' ') {
                    collapsed.push(' ');
                }
            }
            *text = collapsed;
        }
    }
    let end = p.end.or_else(|| p.pieces.iter().filter_map(|x| x.end).reduce(f64::max));
    let Some(end) = end else { return out.skip() };
    let begin = p.begin;
    if !begin.is_finite() || !end.is_finite() || end <= begin {
        return out.skip();
    }
    let mut times = vec![begin, end];
    for piece in &p.pieces {
        for t in [Some(piece.begin), piece.end].into_iter().flatten() {
            if t > begin && t < end {
                times.push(t);
            }
        }
    }
    // (Finite seconds: ordered by microseconds, with the crate's one sort.)
    crate::sort::sort_by_key(&mut times, |t| (t * 1e6).round() as i64);
    times.dedup();
    let all = times.len() > MAX_BOUNDARIES;
    if all {
        times = vec![begin, end];
    }
    let mut last: Option<(f64, f64, String)> = None;
    for w in times.windows(2) {
        let (a, b) = (w[0], w[1]);
        let text = build(p.pieces.iter().filter(|x| all || (x.begin <= a && x.end.is_none_or(|e| e >= b))));
        match &mut last {
            Some((_, until, t)) if *t == text && *until == a => *until = b,
            _ => {
                if let Some((s, e, t)) = last.take() {
                    out.push(s, e, t, p.place);
                }
                last = Some((a, b, text));
            }
        }
    }
    if let Some((s, e, t)) = last {
        out.push(s, e, t, p.place);
    }
}

/// WebVTT cue text of the runs: XML whitespace collapsed and trimmed at
/// line ends unless preserved, styles as properly nested tags (a line
/// break goes out with the next character, after the tags it closes).
fn build<'a>(pieces: impl Iterator<Item = &'a Piece>) -> String {
    let mut out = String::new();
    let mut open: Vec<char> = Vec::new();
    let mut line_has_text = false;
    let mut space: Option<Style> = None;
    let mut breaks = 0usize;
    let mut started = false;
    // (Preserved line breaks are the only characters that add no text.)
    let mut budget = 16 * MAX_CUE_TEXT;
    for piece in pieces {
        if out.len() > MAX_CUE_TEXT || budget == 0 {
            break;
        }
        let Run::Text(s) = &piece.run else {
            space = None;
            line_has_text = false;
            breaks += 1;
            continue;
        };
        for c in s.chars().take(budget) {
            budget -= 1;
            if !piece.preserve && matches!(c, ' ' | '\t' | '\r' | '\n') {
                if line_has_text && space.is_none() {
                    space = Some(piece.style);
                }
                continue;
            }
            match c {
                '\r' => continue,
                '\n' => {
                    space = None;
                    line_has_text = false;
                    breaks += 1;
                    continue;
                }
                _ => {}
            }
            if let Some(style) = space.take() {
                retag(&mut out, &mut open, style);
                out.push(' ');
            }
            retag(&mut out, &mut open, piece.style);
            if started {
                for _ in 0..breaks.min(MAX_CUE_TEXT) {
                    out.push('\n');
                }
            }
            breaks = 0;
            escape_into(&mut out, c.encode_utf8(&mut [0; 4]));
            line_has_text = true;
            started = true;
        }
    }
    while let Some(tag) = open.pop() {
        out.push_str(close_tag(tag));
    }
    out
}

fn close_tag(tag: char) -> &'static str {
    match tag {
        'i' => "</i>",
        'b' => "</b>",
        _ => "</u>",
    }
}

/// Closes the open tags `style` does not want (innermost first, down to the
/// first unwanted) and opens the missing ones.
fn retag(out: &mut String, open: &mut Vec<char>, style: Style) {
    let wanted = [('i', style.italic), ('b', style.bold), ('u', style.underline)];
    let wants = |t: char| wanted.iter().any(|&(w, on)| w == t && on);
    let keep = open.iter().take_while(|&&t| wants(t)).count();
    while open.len() > keep {
        if let Some(tag) = open.pop() {
            out.push_str(close_tag(tag));
        }
    }
    for (tag, on) in wanted {
        if on && !open.contains(&tag) {
            open.push(tag);
            out.push('<');
            out.push(tag);
            out.push('>');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cues(text: &str) -> Vec<(f64, f64, String)> {
        parse(text).unwrap().into_iter().map(|c| (c.start, c.end, c.text)).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn ttml_imsc1_prefixed_as_packagers_write_it() {
        // The `tt:` prefix everywhere, as Shaka Packager and some encoders write.
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<tt:tt xmlns:tt="http://www.w3.org/ns/ttml" xmlns:tts="http://www.w3.org/ns/ttml#styling"
  xmlns:ttp="http://www.w3.org/ns/ttml#parameter" ttp:timeBase="media" xml:lang="en">
  <tt:head>
    <tt:styling><tt:style xml:id="it" tts:fontStyle="italic"/></tt:styling>
    <tt:layout><tt:region xml:id="bottom" tts:origin="10% 80%" tts:extent="80% 20%" tts:displayAlign="after"/></tt:layout>
  </tt:head>
  <tt:body region="bottom">
    <tt:div>
      <tt:p begin="00:00:01.000" end="00:00:02.500">Hello,
          <tt:span style="it">world</tt:span> &amp; &lt;all&gt;</tt:p>
      <tt:p begin="00:00:03.000" end="00:00:04.000">Two<tt:br/>lines</tt:p>
    </tt:div>
  </tt:body>
</tt:tt>"#;
        let all = parse(doc).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].start, all[0].end), (1.0, 2.5));
        assert_eq!(all[0].text, "Hello, <i>world</i> &amp; &lt;all&gt;");
        assert_eq!(all[0].place.line, None, "a bottom region is the default line");
        assert_eq!(all[0].place.position, Some(50.0));
        assert_eq!(all[0].place.size, Some(80.0));
        assert_eq!(all[1].text, "Two\nlines");
        assert_eq!(all[1].plain(), "Two\nlines");
    }

    #[test]
    fn ttml_default_namespace_as_ffmpeg_and_netflix_write_it() {
        let doc = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
<tt xmlns=\"http://www.w3.org/ns/ttml\" xmlns:ttp=\"http://www.w3.org/ns/ttml#parameter\" xmlns:tts=\"http://www.w3.org/ns/ttml#styling\"\n\
  ttp:tickRate=\"10000000\" ttp:frameRate=\"24\" ttp:frameRateMultiplier=\"1000 1001\">\n\
<head><styling>\n\
  <style xml:id=\"base\" tts:fontWeight=\"bold\"/>\n\
  <style xml:id=\"s1\" style=\"base\" tts:fontStyle=\"italic\" tts:textAlign=\"left\"/>\n\
</styling>\n\
<layout><region xml:id=\"top\" tts:origin=\"10% 5%\" tts:extent=\"80% 15%\" tts:displayAlign=\"before\"/></layout></head>\n\
<body><div>\n\
<p xml:id=\"subtitle1\" begin=\"10010000t\" end=\"30030000t\" region=\"top\" style=\"s1\">Ticks\r\n   and  tabs\t</p>\n\
<p begin=\"00:00:05:12\" dur=\"24f\"><span tts:textDecoration=\"underline\">frames</span></p>\n\
</div></body></tt>";
        let all = parse(doc).unwrap();
        assert_eq!(all.len(), 2);
        assert!(close(all[0].start, 1.001) && close(all[0].end, 3.003), "{:?}", all[0]);
        assert_eq!(all[0].text, "<i><b>Ticks and tabs</b></i>");
        let place = all[0].place;
        assert_eq!((place.line, place.line_percent, place.align), (Some(5.0), true, Some(Align::Left)));
        assert_eq!((place.position, place.size), (Some(10.0), Some(80.0)));
        let fps = 24.0 * 1000.0 / 1001.0;
        assert!(close(all[1].start, 5.0 + 12.0 / fps) && close(all[1].end, all[1].start + 24.0 / fps), "{:?}", all[1]);
        assert_eq!(all[1].text, "<u>frames</u>");
    }

    #[test]
    fn ttml_time_expressions() {
        let r = Rates::default();
        assert_eq!(time("00:00:01.5", &r), Some(1.5));
        assert_eq!(time("01:02:03", &r), Some(3723.0));
        assert_eq!(time("00:00:01:15", &r), Some(1.5));
        assert_eq!(time("00:00:00:15.1", &Rates { sub_frame: 2.0, ..r }), Some(15.5 / 30.0));
        assert_eq!(time("1.5h", &r), Some(5400.0));
        assert_eq!(time("2m", &r), Some(120.0));
        assert_eq!(time(" 3.25s ", &r), Some(3.25));
        assert_eq!(time("250ms", &r), Some(0.25));
        assert_eq!(time("45f", &r), Some(1.5));
        assert_eq!(time("20t", &Rates { tick: 10.0, ..r }), Some(2.0));
        assert_eq!(time("20t", &r), Some(20.0), "tick rate 1 by default");
        for bad in ["", "1", "-1s", "1e3s", "1x", "00:61:00", "00:00:01.5:3", "1:2:3:4:5", "s", ".5s", "1.s"] {
            assert_eq!(time(bad, &r), None, "{bad:?}");
        }
        let attrs = |v: &[(&str, &str)]| v.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        let rates = Rates::of(&attrs(&[("frameRate", "25")]));
        assert_eq!((rates.frame, rates.tick), (25.0, 25.0), "the tick rate follows the frame rate");
        let rates = Rates::of(&attrs(&[("frameRate", "30"), ("frameRateMultiplier", "1000 1001"), ("subFrameRate", "2")]));
        assert!(close(rates.tick, 60.0 * 1000.0 / 1001.0));
    }

    #[test]
    fn ttml_nested_begin_offsets_and_inherited_ends() {
        let doc = r#"<tt xmlns="http://www.w3.org/ns/ttml"><body begin="10s"><div begin="5s" end="20s">
            <p begin="1s" end="2s">a</p>
            <p begin="3s">to the div's end</p>
            <p begin="2s" dur="100s">cut at the div's end</p>
            <p begin="4s"><span begin="1s" end="2s">one</span> <span begin="2s" end="3s">two</span></p>
        </div><div><p begin="1s">no end anywhere</p></div></body></tt>"#;
        let mut out = Collector::default();
        read(doc, &mut out).unwrap();
        let got: Vec<_> = out.cues.iter().map(|c| (c.start, c.end, c.text.as_str())).collect();
        assert_eq!(got, [(16.0, 17.0, "a"), (18.0, 30.0, "to the div's end"), (17.0, 30.0, "cut at the div's end"), (20.0, 21.0, "one"), (21.0, 22.0, "two"),]);
        assert_eq!(out.skipped, 1, "the p without an end is skipped");
    }

    #[test]
    fn ttml_whitespace_preserve_and_span_styles_nest() {
        let doc = "<tt><body><div>\
            <p begin=\"0s\" end=\"1s\" xml:space=\"preserve\">a  b\n c</p>\
            <p begin=\"1s\" end=\"2s\"><span tts:fontStyle=\"italic\">it <span tts:fontWeight=\"bold\">both</span></span> <br/>  plain\n</p>\
            <p begin=\"2s\" end=\"3s\" tts:fontWeight=\"bold\"><span tts:fontWeight=\"normal\">thin</span> bold</p>\
            </div></body></tt>";
        assert_eq!(
            cues(doc),
            [(0.0, 1.0, "a  b\n c".to_string()), (1.0, 2.0, "<i>it <b>both</b></i>\nplain".to_string()), (2.0, 3.0, "thin<b> bold</b>".to_string()),]
        );
    }

    #[test]
    fn ttml_region_hints() {
        let doc = r#"<tt xmlns="http://www.w3.org/ns/ttml" xmlns:tts="http://www.w3.org/ns/ttml#styling" tts:extent="1280px 720px"><head><layout>
            <region xml:id="mid" tts:origin="0% 40%" tts:extent="100% 20%" tts:displayAlign="center" tts:textAlign="right"/>
            <region xml:id="px" tts:origin="128px 72px" tts:extent="640px 144px"/>
            <region xml:id="full" tts:origin="10% 10%" tts:extent="80% 80%" tts:displayAlign="after"/>
        </layout></head><body><div region="mid">
            <p begin="0s" end="1s">middle right</p>
            <p begin="1s" end="2s" region="px">pixels</p>
            <p begin="2s" end="3s" region="full">bottom of a full region</p>
            <p begin="3s" end="4s" region="nonesuch">unknown region</p>
        </div></body></tt>"#;
        let all = parse(doc).unwrap();
        let p = all[0].place;
        assert_eq!((p.line, p.line_percent, p.position, p.size, p.align), (Some(50.0), true, Some(100.0), Some(100.0), Some(Align::Right)));
        let p = all[1].place;
        assert_eq!((p.line, p.position, p.size), (Some(10.0), Some(35.0), Some(50.0)));
        assert_eq!((all[2].place.line, all[2].place.position), (None, Some(50.0)));
        assert_eq!(all[3].place, Placement::default());
    }

    #[test]
    fn ttml_malformed_input() {
        assert_eq!(parse("<html><body/></html>"), Err(SubtitleError::BadHeader("no <tt> root element")));
        assert_eq!(parse(""), Err(SubtitleError::BadHeader("no <tt> root element")));
        assert_eq!(parse("<tt><body><p>"), Err(SubtitleError::BadHeader("malformed XML")));
        assert_eq!(parse("<tt><body></div></tt>"), Err(SubtitleError::BadHeader("malformed XML")));
        // Truncated after a cue: what was read is kept.
        let doc = r#"<tt><body><div><p begin="1s" end="2s">kept</p><p begin="3s" end="4s">lo"#;
        assert_eq!(cues(doc), [(1.0, 2.0, "kept".to_string())]);
        // Times backwards, bad times: skipped and counted.
        let mut out = Collector::default();
        read(r#"<tt><body><p begin="5s" end="3s">back</p><p begin="x" end="1s">bad begin is 0</p><p end="junk">x</p></body></tt>"#, &mut out).unwrap();
        assert_eq!(out.cues.len(), 1);
        assert_eq!(out.skipped, 2);
        // A DOCTYPE declares nothing that is expanded; unknown references stay text.
        let doc = r#"<!DOCTYPE tt [<!ENTITY x "boom">]><tt><body><p begin="0s" end="1s">&x; &#65;</p></body></tt>"#;
        assert_eq!(cues(doc), [(0.0, 1.0, "&amp;x; A".to_string())]);
        // No cue at all.
        assert_eq!(parse("<tt><head/><body/></tt>"), Err(SubtitleError::NoCues { skipped: 0 }));
    }

    #[test]
    fn ttml_deep_nesting_does_not_overflow() {
        let mut doc = String::from(r#"<tt><body><div><p begin="0s" end="1s">top"#);
        for _ in 0..2000 {
            doc.push_str("<span>deep");
        }
        for _ in 0..2000 {
            doc.push_str("</span>");
        }
        doc.push_str("</p></div></body></tt>");
        let all = parse(&doc).unwrap();
        assert!(all[0].text.starts_with("topdeep"));
        assert!(all[0].text.len() <= MAX_CUE_TEXT);
        // Styles referencing each other in a cycle.
        let doc = r#"<tt><head><styling><style xml:id="a" style="b a"/><style xml:id="b" style="a b" tts:fontStyle="italic"/></styling></head>
            <body><p begin="0s" end="1s" style="a b a b">loop</p></body></tt>"#;
        assert_eq!(cues(doc), [(0.0, 1.0, "<i>loop</i>".to_string())]);
    }

    #[test]
    fn ttml_no_prefix_of_a_document_panics() {
        let doc = r#"<?xml version="1.0"?><tt xmlns="http://www.w3.org/ns/ttml" xmlns:tts="http://www.w3.org/ns/ttml#styling" ttp:frameRate="25" xmlns:ttp="http://www.w3.org/ns/ttml#parameter">
<head><styling><style xml:id="s" tts:fontStyle="italic" tts:textDecoration="underline"/></styling>
<layout><region xml:id="r" tts:origin="5% 5%" tts:extent="90% 10%"/></layout></head>
<body><div begin="1s"><p begin="00:00:01:05" end="2.5s" region="r">é <span style="s">x&amp;y</span><br/>z</p>
<p begin="3s" dur="1s"><span begin="0.5s">late</span> early<![CDATA[ <cdata> ]]></p></div></body></tt>"#;
        for end in (0..=doc.len()).filter(|&i| doc.is_char_boundary(i)) {
            let mut out = Collector::default();
            let _ = read(&doc[..end], &mut out);
            for c in &out.cues {
                assert!(c.start >= 0.0 && c.end > c.start && c.text.len() <= MAX_CUE_TEXT, "{c:?}");
            }
        }
        let all = parse(doc).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].text, "é <i><u>x&amp;y</u></i>\nz");
        assert_eq!((all[0].start, all[0].end), (2.2, 3.5));
        assert_eq!((all[1].start, all[1].end, all[1].text.as_str()), (4.0, 4.5, "early &lt;cdata&gt;"));
        assert_eq!((all[2].start, all[2].end, all[2].text.as_str()), (4.5, 5.0, "late early &lt;cdata&gt;"));
    }
}
