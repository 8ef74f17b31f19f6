//! Any text as a DASH MPD or an HLS playlist, the way the player reads
//! them: a manifest or a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media_core::hls::{parse_listed_playlist, parse_playlist, Playlist};
use media_core::mpd::parse_at;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = parse_at(text, "https://origin.example/a/manifest.mpd", Some(1.7e12));
    if let Ok(Playlist::Master(master)) = parse_playlist(text, "https://origin.example/a/master.m3u8") {
        let _ = parse_listed_playlist(text, "https://origin.example/a/media.m3u8", &master);
    }
});
