//! Any string: `check_upstream` never panics, and what it accepts is stable:
//! the normalised URL passes again and normalises to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media_core::proxy::guard::check_upstream;
use media_core::proxy::sign::decode_proxy_path;

fuzz_target!(|data: &[u8]| {
    let Ok(url) = std::str::from_utf8(data) else { return };
    for allow_loopback in [false, true] {
        if let Ok(u) = check_upstream(url, allow_loopback) {
            let again = check_upstream(&u.url, allow_loopback).expect("a normalised URL passes again");
            assert_eq!(again.url, u.url);
        }
    }
    let _ = decode_proxy_path(url);
});
