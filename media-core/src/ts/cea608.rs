//! CEA-608 captions carried in H.264 SEI (ATSC A/53 Part 4 `cc_data` in
//! ITU-T T.35 user data), decoded for channel CC1 (field 1, data channel
//! one) into timed cues: pop-on, roll-up and paint-on captions, the
//! standard, special and extended character sets, and the redundant second
//! transmission of control codes ignored.
//!
//! Text only: styles (italics, colours, underline) and positions are not
//! kept; rows on screen become lines, top to bottom. Hand-written: the
//! state machine is small (no crate was measured against it).

use std::collections::VecDeque;

use super::bits::rbsp;

/// `cc_data` byte pairs of field 1 from an SEI NAL unit (with its header
/// byte), appended to `out`.
pub fn field1_pairs(sei_nal: &[u8], out: &mut Vec<[u8; 2]>) {
    let data = rbsp(sei_nal.get(1..).unwrap_or_default());
    let mut at = 0;
    // sei_message()s until the rbsp trailing bits.
    while at + 2 <= data.len() && data[at] != 0x80 {
        let kind = ff_number(&data, &mut at);
        let size = ff_number(&data, &mut at);
        let Some(payload) = data.get(at..at + size) else { return };
        at += size;
        if kind == 4 {
            t35(payload, out);
        }
    }
}

/// An SEI payload type or size: 0xff bytes add 255 each, then one last byte.
fn ff_number(data: &[u8], at: &mut usize) -> usize {
    let mut n = 0;
    while data.get(*at) == Some(&0xff) {
        n += 255;
        *at += 1;
    }
    n += usize::from(*data.get(*at).unwrap_or(&0));
    *at += 1;
    n
}

/// user_data_registered_itu_t_t35: USA (0xb5), ATSC (0x0031), "GA94",
/// cc_data (0x03).
fn t35(p: &[u8], out: &mut Vec<[u8; 2]>) {
    let Some(rest) = p.strip_prefix(&[0xb5, 0x00, 0x31, b'G', b'A', b'9', b'4', 0x03]) else { return };
    let Some(&flags) = rest.first() else { return };
    if flags & 0x40 == 0 {
        return; // process_cc_data_flag off
    }
    let count = usize::from(flags & 0x1f);
    for cc in rest.get(2..).unwrap_or_default().chunks_exact(3).take(count) {
        let (valid, kind) = (cc[0] & 0x04 != 0, cc[0] & 0x03);
        if valid && kind == 0 {
            out.push([cc[1], cc[2]]);
        }
    }
}

/// A caption as it was shown: from `start` to `end` (seconds), its rows
/// top to bottom as lines.
#[derive(Clone, Debug, PartialEq)]
pub struct Cue {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

const ROWS: usize = 15;
const COLUMNS: usize = 32;

type Screen = [[char; COLUMNS]; ROWS];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    PopOn,
    RollUp(usize),
    PaintOn,
    /// Text service (TR/RTD): not captions, ignored.
    Text,
}

/// The CC1 decoder: byte pairs in presentation order, cues out.
pub struct Cea608 {
    mode: Mode,
    displayed: Screen,
    hidden: Screen,
    row: usize,
    column: usize,
    /// Data channel of field 1 the last control code chose (1 or 2).
    channel: u8,
    /// The last control pair: its redundant repeat is skipped.
    last_control: Option<[u8; 2]>,
    /// What is on screen since when.
    shown: Option<(f64, String)>,
    /// Displayed memory changed since it was last committed.
    dirty: bool,
    cues: VecDeque<Cue>,
}

impl Default for Cea608 {
    fn default() -> Self {
        Self::new()
    }
}

impl Cea608 {
    pub fn new() -> Self {
        Cea608 {
            mode: Mode::PopOn,
            displayed: [[' '; COLUMNS]; ROWS],
            hidden: [[' '; COLUMNS]; ROWS],
            row: ROWS - 1,
            column: 0,
            channel: 1,
            last_control: None,
            shown: None,
            dirty: false,
            cues: VecDeque::new(),
        }
    }

    /// Forget everything (a seek or a discontinuity): what was on screen
    /// is dropped, not emitted.
    pub fn handle_reset(&mut self) {
        *self = Cea608 { cues: std::mem::take(&mut self.cues), ..Cea608::new() };
    }

    /// One byte pair of field 1 at presentation time `time` (seconds).
    pub fn handle_pair(&mut self, time: f64, pair: [u8; 2]) {
        let (b1, b2) = (pair[0] & 0x7f, pair[1] & 0x7f);
        if b1 == 0 && b2 == 0 {
            return; // padding
        }
        if (0x10..=0x1f).contains(&b1) {
            if self.last_control == Some([b1, b2]) {
                self.last_control = None; // the redundant repeat
                return;
            }
            self.last_control = Some([b1, b2]);
            self.channel = if b1 & 0x08 == 0 { 1 } else { 2 };
            if self.channel == 1 {
                self.control(time, b1 & 0x17, b2);
            }
            return;
        }
        self.last_control = None;
        if self.channel != 1 || self.mode == Mode::Text {
            return;
        }
        for b in [b1, b2] {
            if b >= 0x20 {
                self.put(basic(b));
            }
        }
        self.commit_painting(time);
    }

    /// The next finished cue.
    pub fn poll_cue(&mut self) -> Option<Cue> {
        self.cues.pop_front()
    }

    fn control(&mut self, time: f64, b1: u8, b2: u8) {
        match (b1, b2) {
            // Special characters (®, ½, ♪, à …).
            (0x11, 0x30..=0x3f) => {
                self.put(SPECIAL[usize::from(b2 - 0x30)]);
                self.commit_painting(time);
            }
            // Mid-row style codes: a space.
            (0x11, 0x20..=0x2f) => {
                self.put(' ');
                self.commit_painting(time);
            }
            // Extended characters replace the standard one sent before them.
            (0x12 | 0x13, 0x20..=0x3f) => {
                self.column = self.column.saturating_sub(1);
                let table = if b1 == 0x12 { &EXTENDED_12 } else { &EXTENDED_13 };
                self.put(table[usize::from(b2 - 0x20)]);
                self.commit_painting(time);
            }
            // Miscellaneous control codes.
            (0x14 | 0x15, 0x20..=0x2f) => self.misc(time, b2),
            // Tab offsets 1–3.
            (0x17, 0x21..=0x23) => self.column = (self.column + usize::from(b2 - 0x20)).min(COLUMNS - 1),
            // Preamble address codes: row and indent.
            (_, 0x40..=0x7f) => self.preamble(b1, b2),
            _ => {}
        }
    }

    fn misc(&mut self, time: f64, code: u8) {
        self.refresh_rolling();
        match code {
            0x20 => self.mode = Mode::PopOn,
            0x21 => {
                // Backspace.
                self.column = self.column.saturating_sub(1);
                let (row, column) = (self.row, self.column);
                self.screen()[row][column] = ' ';
                self.commit_painting(time);
            }
            0x24 => {
                // Delete to end of row.
                let (row, column) = (self.row, self.column);
                self.screen()[row][column..].fill(' ');
                self.commit_painting(time);
            }
            0x25..=0x27 => {
                let rows = usize::from(code - 0x23);
                if !matches!(self.mode, Mode::RollUp(_)) {
                    self.displayed = [[' '; COLUMNS]; ROWS];
                    self.show(time);
                    self.row = ROWS - 1;
                }
                self.mode = Mode::RollUp(rows);
                self.column = 0;
            }
            0x29 => self.mode = Mode::PaintOn,
            0x2a | 0x2b => self.mode = Mode::Text,
            0x2c => {
                self.displayed = [[' '; COLUMNS]; ROWS];
                self.show(time);
            }
            0x2d => {
                if let Mode::RollUp(rows) = self.mode {
                    // Carriage return: the window as it stood ends a cue
                    // (every CR does, like ffmpeg's decoder), then it
                    // scrolls up a row and the next cue begins.
                    if let Some((start, text)) = self.shown.take() {
                        if !text.is_empty() && time > start {
                            self.cues.push_back(Cue { start, end: time, text });
                        }
                    }
                    let top = (self.row + 1).saturating_sub(rows);
                    for r in top..self.row {
                        self.displayed[r] = self.displayed[r + 1];
                    }
                    if top > 0 {
                        self.displayed[top - 1] = [' '; COLUMNS];
                    }
                    self.displayed[self.row] = [' '; COLUMNS];
                    self.column = 0;
                    self.shown = Some((time, render(&self.displayed)));
                }
            }
            0x2e => self.hidden = [[' '; COLUMNS]; ROWS],
            0x2f => {
                // End of caption: the loaded caption is shown.
                std::mem::swap(&mut self.displayed, &mut self.hidden);
                self.mode = Mode::PopOn;
                self.show(time);
            }
            _ => {}
        }
    }

    /// Roll-up rows are written on screen as they come, between the
    /// control codes that end cues: the cue on screen holds what is there
    /// now (taken before a control code changes it).
    fn refresh_rolling(&mut self) {
        if let (Mode::RollUp(_), Some((_, text))) = (self.mode, &mut self.shown) {
            *text = render(&self.displayed);
        }
    }

    fn preamble(&mut self, b1: u8, b2: u8) {
        self.refresh_rolling();
        const ROW: [usize; 8] = [11, 1, 3, 12, 14, 5, 7, 9];
        let mut row = ROW[usize::from(b1 & 0x07)];
        if b2 & 0x20 != 0 && row != 11 {
            row += 1;
        }
        let row = row - 1;
        if let Mode::RollUp(rows) = self.mode {
            // The window moves to the new base row, text and all.
            if row != self.row {
                let moved = self.displayed;
                self.displayed = [[' '; COLUMNS]; ROWS];
                for k in 0..rows.min(row + 1).min(self.row + 1) {
                    self.displayed[row - k] = moved[self.row - k];
                }
            }
        }
        self.row = row;
        self.column = if b2 & 0x10 != 0 { usize::from((b2 & 0x0e) >> 1) * 4 } else { 0 };
    }

    /// The memory characters go to in this mode.
    fn screen(&mut self) -> &mut Screen {
        match self.mode {
            Mode::PopOn | Mode::Text => &mut self.hidden,
            Mode::RollUp(_) | Mode::PaintOn => &mut self.displayed,
        }
    }

    fn put(&mut self, c: char) {
        if self.mode == Mode::Text {
            return;
        }
        let (row, column) = (self.row, self.column);
        self.screen()[row][column] = c;
        self.column = (column + 1).min(COLUMNS - 1);
        if !matches!(self.mode, Mode::PopOn | Mode::Text) {
            self.dirty = true;
        }
    }

    /// Paint-on text shows as it is written.
    fn commit_painting(&mut self, time: f64) {
        if self.mode == Mode::PaintOn && self.dirty {
            self.show(time);
        }
    }

    /// The displayed memory changed at `time`: the cue on screen ends.
    fn show(&mut self, time: f64) {
        self.dirty = false;
        let text = render(&self.displayed);
        if self.shown.as_ref().is_some_and(|(_, t)| *t == text) {
            return;
        }
        if let Some((start, old)) = self.shown.take() {
            if !old.is_empty() && time > start {
                self.cues.push_back(Cue { start, end: time, text: old });
            }
        }
        self.shown = Some((time, text));
    }
}

fn render(screen: &Screen) -> String {
    let rows: Vec<String> = screen.iter().map(|r| r.iter().collect::<String>().trim().to_string()).filter(|r| !r.is_empty()).collect();
    rows.join("\n")
}

/// The standard character set: ASCII but for ten codes.
fn basic(b: u8) -> char {
    match b {
        0x2a => 'á',
        0x5c => 'é',
        0x5e => 'í',
        0x5f => 'ó',
        0x60 => 'ú',
        0x7b => 'ç',
        0x7c => '÷',
        0x7d => 'Ñ',
        0x7e => 'ñ',
        0x7f => '█',
        _ => char::from(b),
    }
}

const SPECIAL: [char; 16] = ['®', '°', '½', '¿', '™', '¢', '£', '♪', 'à', ' ', 'è', 'â', 'ê', 'î', 'ô', 'û'];
const EXTENDED_12: [char; 32] = [
    'Á', 'É', 'Ó', 'Ú', 'Ü', 'ü', '‘', '¡', '*', '\'', '—', '©', '℠', '•', '“', '”', 'À', 'Â', 'Ç', 'È', 'Ê', 'Ë', 'ë', 'Î', 'Ï', 'ï', 'Ô', 'Ù', 'ù', 'Û', '«',
    '»',
];
const EXTENDED_13: [char; 32] = [
    'Ã', 'ã', 'Í', 'Ì', 'ì', 'Ò', 'ò', 'Õ', 'õ', '{', '}', '\\', '^', '_', '|', '~', 'Ä', 'ä', 'Ö', 'ö', 'ß', '¥', '¤', '│', 'Å', 'å', 'Ø', 'ø', '┌', '┐', '└',
    '┘',
];

/// A byte with odd parity, as 608 sends it (for tests that make captions).
#[cfg(test)]
pub(crate) fn odd(b: u8) -> u8 {
    if b.count_ones().is_multiple_of(2) {
        b | 0x80
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(d: &mut Cea608, time: f64, pairs: &[[u8; 2]]) {
        for p in pairs {
            d.handle_pair(time, [odd(p[0]), odd(p[1])]);
        }
    }

    fn text(d: &mut Cea608, time: f64, s: &str) {
        for chunk in s.as_bytes().chunks(2) {
            feed(d, time, &[[chunk[0], *chunk.get(1).unwrap_or(&0)]]);
        }
    }

    fn cues(d: &mut Cea608) -> Vec<Cue> {
        std::iter::from_fn(|| d.poll_cue()).collect()
    }

    const RCL: [u8; 2] = [0x14, 0x20];
    const EOC: [u8; 2] = [0x14, 0x2f];
    const EDM: [u8; 2] = [0x14, 0x2c];
    const CR: [u8; 2] = [0x14, 0x2d];
    const RU2: [u8; 2] = [0x14, 0x25];
    /// Row 15, indent 0; row 14, indent 4.
    const ROW15: [u8; 2] = [0x14, 0x70];
    const ROW14_INDENT4: [u8; 2] = [0x14, 0x52];

    #[test]
    fn a_pop_on_caption_shows_from_end_of_caption_until_erased() {
        let mut d = Cea608::new();
        // Each control code sent twice, as broadcast does: the repeat is skipped.
        feed(&mut d, 0.5, &[RCL, RCL, ROW14_INDENT4, ROW14_INDENT4]);
        text(&mut d, 0.5, "Ol");
        feed(&mut d, 0.5, &[[0x2a, 0x00]]); // á in the standard set
        feed(&mut d, 0.5, &[ROW15, ROW15]);
        text(&mut d, 0.5, "caf");
        text(&mut d, 0.5, "e");
        feed(&mut d, 0.5, &[[0x12, 0x21], [0x12, 0x21]]); // É replaces the e
        feed(&mut d, 0.5, &[[0x11, 0x37], [0x11, 0x37]]); // ♪
        assert_eq!(cues(&mut d), vec![], "nothing shown while loading");
        feed(&mut d, 1.0, &[EOC, EOC]);
        feed(&mut d, 3.0, &[EDM, EDM]);
        assert_eq!(cues(&mut d), vec![Cue { start: 1.0, end: 3.0, text: "Olá\ncafÉ♪".into() }]);
    }

    #[test]
    fn the_next_pop_on_caption_ends_the_one_on_screen() {
        let mut d = Cea608::new();
        for (t, s) in [(1.0, "ONE"), (2.0, "TWO")] {
            feed(&mut d, t - 0.2, &[RCL, RCL, ROW15, ROW15]);
            text(&mut d, t - 0.2, s);
            feed(&mut d, t, &[EOC, EOC]);
        }
        feed(&mut d, 2.5, &[EDM, EDM]);
        let got = cues(&mut d);
        assert_eq!(got, vec![Cue { start: 1.0, end: 2.0, text: "ONE".into() }, Cue { start: 2.0, end: 2.5, text: "TWO".into() }]);
    }

    #[test]
    fn roll_up_rows_show_as_written_and_each_carriage_return_starts_a_cue() {
        let mut d = Cea608::new();
        feed(&mut d, 0.0, &[RU2, RU2, ROW15, ROW15]);
        text(&mut d, 0.1, "LINE ONE");
        feed(&mut d, 1.0, &[CR, CR]);
        text(&mut d, 1.1, "LINE TWO");
        feed(&mut d, 2.0, &[CR, CR]);
        text(&mut d, 2.1, "LINE THREE");
        feed(&mut d, 3.0, &[CR, CR]);
        feed(&mut d, 4.0, &[EDM, EDM]);
        assert_eq!(
            cues(&mut d),
            vec![
                Cue { start: 0.0, end: 1.0, text: "LINE ONE".into() },
                Cue { start: 1.0, end: 2.0, text: "LINE ONE\nLINE TWO".into() },
                Cue { start: 2.0, end: 3.0, text: "LINE TWO\nLINE THREE".into() },
                Cue { start: 3.0, end: 4.0, text: "LINE THREE".into() },
            ]
        );
    }

    #[test]
    fn paint_on_text_shows_as_written_and_channel_2_is_ignored() {
        let mut d = Cea608::new();
        feed(&mut d, 0.0, &[[0x14, 0x29], [0x14, 0x29], ROW15, ROW15]);
        text(&mut d, 0.0, "HI");
        // CC2 (0x1c …): its text is not CC1's.
        feed(&mut d, 0.5, &[[0x1c, 0x29], [0x1c, 0x29]]);
        text(&mut d, 0.5, "NO");
        feed(&mut d, 1.0, &[[0x14, 0x29], [0x14, 0x29]]);
        text(&mut d, 1.0, "!!");
        feed(&mut d, 2.0, &[EDM, EDM]);
        assert_eq!(cues(&mut d), vec![Cue { start: 0.0, end: 1.0, text: "HI".into() }, Cue { start: 1.0, end: 2.0, text: "HI!!".into() }]);
    }

    #[test]
    fn a_control_code_sent_once_more_after_other_data_is_acted_on_again() {
        let mut d = Cea608::new();
        feed(&mut d, 0.0, &[RCL, ROW15]);
        text(&mut d, 0.0, "A");
        feed(&mut d, 1.0, &[EOC]);
        feed(&mut d, 1.5, &[RCL, ROW15]);
        text(&mut d, 1.5, "B");
        feed(&mut d, 2.0, &[EOC]);
        feed(&mut d, 3.0, &[EDM]);
        assert_eq!(cues(&mut d).iter().map(|c| c.text.as_str()).collect::<Vec<_>>(), ["A", "B"]);
    }

    #[test]
    fn sei_cc_data_of_field_1_is_read_and_other_fields_and_users_are_not() {
        let cc = [0xfc, odd(b'H'), odd(b'I'), 0xfd, 0x80, 0x80, 0xf8, odd(b'X'), odd(b'Y'), 0xfc, odd(0x14), odd(0x2f)];
        let mut payload = vec![0xb5, 0x00, 0x31, b'G', b'A', b'9', b'4', 0x03, 0x40 | 4, 0xff];
        payload.extend_from_slice(&cc);
        payload.push(0xff);
        let mut nal = vec![0x06, 0x04, payload.len() as u8];
        nal.extend_from_slice(&payload);
        // Another registered user's T.35 message, then the trailing bits.
        nal.extend_from_slice(&[0x04, 0x08, 0xb5, 0x00, 0x2f, b'D', b'T', b'G', b'1', 0x00, 0x80]);
        let mut pairs = Vec::new();
        field1_pairs(&nal, &mut pairs);
        assert_eq!(pairs, vec![[odd(b'H'), odd(b'I')], [odd(0x14), odd(0x2f)]], "field 2 and invalid triples skipped");
        // Truncated and garbage input: no panic, nothing read.
        for cut in 0..nal.len() {
            field1_pairs(&nal[..cut], &mut Vec::new());
        }
        let mut none = Vec::new();
        field1_pairs(&[0x06, 0xff, 0xff, 0xff], &mut none);
        assert!(none.is_empty());
    }
}
