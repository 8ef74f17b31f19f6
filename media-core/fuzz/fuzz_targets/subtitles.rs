//! Any bytes as a subtitle file (each format, sniffed or named), a WebVTT
//! segment, a TTML document, and an fMP4 text init + fragment: errors or
//! cues, never a panic, and every cue within the bounds. The same init +
//! fragment through `frag_start` (the same box walk): a finite start or none.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media_core::subtitle::{self, mp4, ttml, vtt, Cue, MAX_CUES, MAX_CUE_TEXT};

fn check(cues: &[Cue]) {
    assert!(cues.len() <= MAX_CUES);
    for c in cues {
        assert!(c.start >= 0.0 && c.end > c.start, "{c:?}");
        assert!(c.text.len() <= MAX_CUE_TEXT);
        let _ = c.plain();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let name = ["a.vtt", "a.srt", "a.ass", "a.ttml", "a.bin"][usize::from(first % 5)];
    if let Ok(cues) = subtitle::parse_file(rest, Some(name)) {
        check(&cues);
    }
    if let Ok(text) = subtitle::decode(rest) {
        if let Ok(f) = vtt::parse(&text) {
            check(&f.cues);
        }
        if let Ok(cues) = ttml::parse(&text) {
            check(&cues);
        }
        if let Ok(cues) = subtitle::srt::parse(&text) {
            check(&cues);
        }
        if let Ok(cues) = subtitle::ass::parse(&text) {
            check(&cues);
        }
    }
    // fMP4 text: the input split into an init segment and a fragment.
    let (init, fragment) = rest.split_at(usize::from(first).min(rest.len()) * rest.len() / 255);
    let scales = media_core::frag_start::timescales(init);
    if let Some(t) = media_core::frag_start::start(&scales, fragment) {
        assert!(t.is_finite() && t >= 0.0, "{t}");
    }
    if let Ok(track) = mp4::parse_init(init) {
        if let Ok(cues) = mp4::parse_fragment(&track, fragment) {
            check(&cues);
        }
    }
});
