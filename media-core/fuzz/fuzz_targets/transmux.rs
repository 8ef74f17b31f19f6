//! Any bytes as MPEG-TS segments, the way the player transmuxes them: two
//! segments (the second after a discontinuity when the first byte says
//! so), fed in chunks of a size the input picks; outputs or warnings,
//! never a panic, and every fragment's boxes add up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media_core::transmux::{TransmuxOutput, Transmuxer};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let chunk = usize::from(first % 64) * 47 + 1;
    let (a, b) = rest.split_at(rest.len() / 2);
    let mut t = Transmuxer::new();
    for (i, seg) in [a, b].into_iter().enumerate() {
        t.handle_segment_start(i as f64 * 2.0, i == 1 && first & 0x80 != 0);
        for c in seg.chunks(chunk) {
            t.handle_data(c);
        }
        t.handle_segment_end();
        while let Some(o) = t.poll_output() {
            if let TransmuxOutput::Media(m) = o {
                // A moof then an mdat, whose sizes cover the fragment exactly.
                let moof = u32::from_be_bytes(m.data[..4].try_into().unwrap()) as usize;
                let mdat = u32::from_be_bytes(m.data[moof..moof + 4].try_into().unwrap()) as usize;
                assert_eq!(moof + mdat, m.data.len());
                assert!(m.start <= m.end);
            }
        }
    }
});
