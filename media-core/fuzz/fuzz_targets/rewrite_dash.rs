//! Any text: `rewrite_dash` returns Ok or a typed error, never panics, and
//! a successful rewrite is itself a document it can rewrite again. The map
//! gives no link (`None`, as the `Linker` does for a host root) for every
//! prefix whose length is a multiple of 7, so those paths are taken too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media_core::rewrite::{rewrite_dash, RefKind, RewriteError, UrlRef};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut map = |r: UrlRef<'_>| {
        if r.kind != RefKind::Url {
            assert!(r.prefix.ends_with('/') && !r.prefix.contains(['?', '#']), "{r:?}");
        } else {
            assert!(r.rest.is_empty(), "{r:?}");
        }
        if r.kind == RefKind::Template {
            assert!(!r.prefix.contains('$'), "{r:?}");
        }
        (r.prefix.len() % 7 != 0).then(|| format!("https://proxy.test/p/{}/{}", r.prefix.len(), r.rest))
    };
    if let Ok(out) = rewrite_dash(text, "https://origin.example/a/b/manifest.mpd", &mut map) {
        match rewrite_dash(&out.text, "https://origin.example/a/b/manifest.mpd", &mut map) {
            Ok(_) | Err(RewriteError::TooLarge(_) | RewriteError::UrlTooLong(_) | RewriteError::Amplification { .. }) => {}
            Err(e) => panic!("the rewritten document does not rewrite again: {e}"),
        }
    }
});
