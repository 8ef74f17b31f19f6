//! Any text: `rewrite_hls` returns Ok or a typed error, never panics, and
//! every URL it hands to the map is an absolute http(s) URL. The map gives
//! no link (`None`) for every URL whose length is a multiple of 7, so the
//! references left as written are exercised too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media_core::rewrite::{rewrite_hls, UrlRef};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut map = |r: UrlRef<'_>| {
        let url = r.upstream();
        let lower = url.to_ascii_lowercase();
        assert!(lower.starts_with("http://") || lower.starts_with("https://"), "{url}");
        (r.prefix.len() % 7 != 0).then(|| format!("https://proxy.test/p/{}", url.len()))
    };
    if let Ok(out) = rewrite_hls(text, "https://origin.example/a/b/index.m3u8", &mut map) {
        // Only URLs change: the line count stays the same.
        assert_eq!(out.text.lines().count(), text.lines().count());
    }
});
