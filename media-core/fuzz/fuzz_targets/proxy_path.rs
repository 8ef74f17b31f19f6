//! Any string as a proxy path, a Range, caching headers or a response's
//! first bytes: the proxy's pure decisions never panic; a path the signer
//! made decodes back to what it signed, and a decoded directory or template
//! link never names anything outside its prefix.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media_core::proxy::cache::{bound_range, freshness, parse_http_date};
use media_core::proxy::filter::{check_media, manifest_markup, sniff_document};
use media_core::proxy::sign::{decode_proxy_path, Scope, SignError, Signer};

fuzz_target!(|data: &[u8]| {
    let _ = sniff_document(data);
    let _ = check_media(Some("video/mp4"), Some(data));
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = bound_range(Some(text));
    let _ = freshness(Some(text), Some(text), Some(text), Some(text), 0);
    let _ = parse_http_date(text);
    let _ = manifest_markup(text);
    if let Ok(req) = decode_proxy_path(text) {
        let _ = req.verify(b"fuzz-secret-0123456789", 0);
        assert!(req.upstream().starts_with(&req.prefix));
    }
    // Sign `prefix` with each scope and a rest cut from the same input.
    let Some((prefix, rest)) = text.split_at_checked(text.len() / 2) else { return };
    let signer = Signer::new(b"fuzz-secret-0123456789");
    for scope in [Scope::File, Scope::Dir, Scope::Template] {
        let path = signer.path("FuzzRoom", 1_000, scope, prefix, rest);
        if let Ok(req) = decode_proxy_path(&path) {
            // A template link's own pattern is no expansion of itself when it holds an identifier.
            let verified = req.verify(b"fuzz-secret-0123456789", 999);
            assert!(matches!(verified, Ok(()) | Err(SignError::NotTemplateExpansion)), "{path}: {verified:?}");
            assert_eq!(req.prefix, prefix);
            assert!(!req.rest.split(['?', '#']).next().unwrap_or("").split('/').any(|s| s == ".."), "{path}");
        }
    }
});
