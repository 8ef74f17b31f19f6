//! The proxy helpers: SSRF spellings, HMAC vectors, signed paths, detection, cache keys.

use std::path::Path;

use super::cache::{cache_key, CachePolicy, Resource};
use super::detect::{by_content_type, by_extension, detect, is_live, sniff, Kind};
use super::guard::{check_upstream, GuardError, Host};
use super::sign::*;

fn refused(url: &str) -> GuardError {
    match check_upstream(url, false) {
        Ok(u) => panic!("{url} was allowed as {}", u.url),
        Err(e) => e,
    }
}

#[test]
fn every_loopback_private_and_reserved_spelling_is_refused() {
    for url in [
        // IPv4 ranges
        "http://127.0.0.1/",
        "http://127.255.255.254/",
        "http://0.0.0.0/",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://172.31.255.255/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://100.127.255.255/",
        "http://224.0.0.1/",
        "http://239.255.255.250/",
        "http://255.255.255.255/",
        "http://240.0.0.1/",
        "http://192.0.2.1/",
        "http://198.51.100.7/",
        "http://203.0.113.9/",
        "http://198.18.0.1/",
        "http://198.19.255.255/",
        "http://192.0.0.8/",
        // IPv4 as a WHATWG parser reads it
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://0x7f.0.0.1/",
        "http://0x7F000001/",
        "http://017700000001/",
        "http://127.1/",
        "http://127.0.1/",
        "http://0/",
        "http://0x/",
        "http://127.0.0.1./",
        "http://%31%32%37.0.0.1/",
        "http://3232235777/",
        "http://0xa9.0xfe.0xa9.0xfe/",
        "http://10.0.0.1:8080/",
        "HTTP://127.0.0.1/",
        // IPv6
        "http://[::1]/",
        "http://[::]/",
        "http://[0:0:0:0:0:0:0:1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[::ffff:0:10.0.0.1]/",
        "http://[::127.0.0.1]/",
        "http://[::8.8.8.8]/",
        "http://[64:ff9b::10.0.0.1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[64:ff9b:1::1]/",
        "http://[2002:7f00:1::]/",
        "http://[2002:c0a8:101::1]/",
        "http://[fc00::1]/",
        "http://[fd12:3456::1]/",
        "http://[fe80::1]/",
        "http://[FE80::abcd]/",
        "http://[fec0::1]/",
        "http://[ff02::1]/",
        "http://[2001:db8::1]/",
        "http://[2001::1]/",
        "http://[100::1]/",
        // local names
        "http://localhost/",
        "http://LOCALHOST./",
        "http://foo.localhost/",
        "http://printer.local/",
        "http://metadata.google.internal/",
        "http://nas.home.arpa/",
        "http://router/",
        "http:///path",
    ] {
        let e = refused(url);
        assert!(matches!(e, GuardError::Forbidden { .. } | GuardError::LocalName(_)), "{url}: {e:?}");
    }
}

#[test]
fn ambiguous_or_foreign_urls_are_refused_with_a_reason() {
    for (url, want) in [
        ("ftp://example.com/", GuardError::Scheme("ftp".into())),
        ("file:///etc/passwd", GuardError::Scheme("file".into())),
        ("javascript:alert(1)", GuardError::Scheme("javascript".into())),
        ("http://user:pass@example.com/", GuardError::Credentials),
        ("http://user@example.com/", GuardError::Credentials),
        ("http://example.com@127.0.0.1/", GuardError::Credentials),
        ("http://@example.com/", GuardError::Credentials),
        ("http://example.com:99999/", GuardError::BadPort),
        ("http://example.com:8o/", GuardError::BadPort),
        ("http://example.com:-1/", GuardError::BadPort),
    ] {
        assert_eq!(refused(url), want, "{url}");
    }
    for url in [
        "http:example.com/",
        "http:/example.com/",
        "http://evil.example\\@127.0.0.1/",
        "http://exa mple.com/",
        "http://example.com/\n",
        " http://example.com/",
        "http://1.2.3.4.5/",
        "http://256.0.0.1/",
        "http://08.0.0.1/",
        "http://1.2.3.99999999999999999999999/",
        "http://foo.123/",
        "http://ex%00ample.com/",
        "http://ex%zzample.com/",
        "http://\u{ff11}\u{ff12}\u{ff17}.0.0.1/",
        "http://b\u{fc}cher.example/",
        "http://[fe80::1%25eth0]/",
        "http://[::1/",
        "http://[::1]x/",
        "http://[1:2:3:4:5:6:7:8:9]/",
        "http://[1::2::3]/",
        "http://[::ffff:127.0.0.01]/",
        "http://a..b.example/",
        "no scheme at all",
    ] {
        assert!(matches!(refused(url), GuardError::Malformed(_)), "{url}: {:?}", refused(url));
    }
}

#[test]
fn public_addresses_are_allowed_and_normalised() {
    for (url, want) in [
        ("https://example.com/video.m3u8", "https://example.com/video.m3u8"),
        ("HTTPS://Media.Example.COM:443/a/B.mpd?x=1#frag", "https://media.example.com/a/B.mpd?x=1"),
        ("http://example.com:080", "http://example.com/"),
        ("http://example.com?q", "http://example.com/?q"),
        ("http://cdn.example:8080/x", "http://cdn.example:8080/x"),
        ("http://8.8.8.8/", "http://8.8.8.8/"),
        ("http://0x08.0x08.0x08.0x08/", "http://8.8.8.8/"),
        ("http://134744072/", "http://8.8.8.8/"),
        ("http://1.1.1.1:8443/x", "http://1.1.1.1:8443/x"),
        ("http://100.63.255.255/", "http://100.63.255.255/"),
        ("http://172.32.0.1/", "http://172.32.0.1/"),
        ("http://198.20.0.1/", "http://198.20.0.1/"),
        ("https://[2606:4700:4700:0:0:0:0:1111]/dns", "https://[2606:4700:4700::1111]/dns"),
        ("http://[::ffff:808:808]:81/", "http://[::ffff:8.8.8.8]:81/"),
        ("https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/"),
        ("https://my_bucket.s3.example/", "https://my_bucket.s3.example/"),
    ] {
        let u = check_upstream(url, false).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(u.url, want, "{url}");
    }
    let u = check_upstream("https://[2606:4700::1]:8443/", false).expect("public v6");
    assert_eq!((u.https, u.port, u.host.to_string()), (true, 8443, "[2606:4700::1]".to_string()));
    assert_eq!(check_upstream("http://0x08080808/", false).expect("public").host, Host::V4([8, 8, 8, 8].into()));
}

#[test]
fn allow_loopback_permits_loopback_and_nothing_else() {
    for url in ["http://127.0.0.1:8787/media/x.mpd", "http://localhost:8787/", "http://[::1]:8787/", "http://2130706433/", "http://127.1/"] {
        assert!(check_upstream(url, true).is_ok(), "{url}");
        assert!(check_upstream(url, false).is_err(), "{url}");
    }
    for url in ["http://10.0.0.1/", "http://foo.localhost/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://169.254.0.1/"] {
        assert!(check_upstream(url, true).is_err(), "{url}");
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn hmac_sha256_matches_rfc_4231() {
    let long_key = [0xaa; 131];
    let cases: [(&[u8], &[u8], &str); 7] = [
        (&[0x0b; 20], b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (b"Jefe", b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (&[0xaa; 20], &[0xdd; 50], "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        (
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25],
            &[0xcd; 50],
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        ),
        // Test case 5 is specified truncated to 128 bits; compared below.
        (&[0x0c; 20], b"Test With Truncation", "a3b6167473100ee06e0c796c2955552b"),
        (&long_key, b"Test Using Larger Than Block-Size Key - Hash Key First", "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        (
            &long_key,
            b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        ),
    ];
    for (i, (key, data, want)) in cases.iter().enumerate() {
        let got = hex(&hmac_sha256(key, data));
        assert_eq!(&got[..want.len()], *want, "test case {}", i + 1);
    }
}

#[test]
fn base64url_round_trips_and_is_canonical() {
    for (plain, enc) in [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy")] {
        assert_eq!(b64url_encode(plain.as_bytes()), enc);
        assert_eq!(b64url_decode(enc).as_deref(), Some(plain.as_bytes()));
    }
    let bytes: Vec<u8> = (0..=255).collect();
    for n in 0..bytes.len() {
        assert_eq!(b64url_decode(&b64url_encode(&bytes[..n])).as_deref(), Some(&bytes[..n]));
    }
    assert_eq!(b64url_encode(&[0xfb, 0xff]), "-_8");
    for bad in ["Z", "Zh", "Zm9=", "a+b/", "Zm9v\n"] {
        assert_eq!(b64url_decode(bad), None, "{bad}");
    }
}

const SECRET: &[u8] = b"proxy-secret";
const ROOM: &str = "AAAAAAAAAAAAAAAAAAAAAA";

/// Decode and verify a path made by [`Signer::path`].
fn check(path: &str, secret: &[u8], now: u64) -> Result<ProxyRequest, String> {
    let req = decode_proxy_path(path).map_err(|e| e.to_string())?;
    req.verify(secret, now).map_err(|e| e.to_string())?;
    Ok(req)
}

fn dir_path(rest: &str) -> String {
    Signer::new(SECRET).path(ROOM, 2_000, Scope::Dir, "https://cdn.example/v/", rest)
}

#[test]
fn signatures_verify_until_they_expire() {
    let path = Signer::new(SECRET).path(ROOM, 1_000, Scope::Dir, "https://cdn.example/show/", "a.m4s");
    assert_eq!(Signer::new(SECRET).sign(ROOM, 1_000, Scope::Dir, "https://cdn.example/show/").len(), 43);
    assert!(check(&path, SECRET, 999).is_ok());
    assert!(check(&path, SECRET, 1_000).is_ok());
    assert_eq!(decode_proxy_path(&path).map(|r| r.verify(SECRET, 1_001)), Ok(Err(SignError::Expired { expires: 1_000, now_secs: 1_001 })));
}

/// Replace segment `i` (after `/proxy/`) of a path.
fn with_segment(path: &str, i: usize, value: &str) -> String {
    let mut parts: Vec<String> = path.trim_start_matches("/proxy/").splitn(6, '/').map(str::to_string).collect();
    parts[i] = value.to_string();
    format!("/proxy/{}", parts.join("/"))
}

#[test]
fn tampered_signatures_rooms_scopes_and_prefixes_are_refused() {
    let path = dir_path("seg.m4s");
    let sig = path.trim_start_matches("/proxy/").split('/').next().unwrap_or("").to_string();
    let flipped: String = sig
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 10 {
                if c == 'A' {
                    'B'
                } else {
                    'A'
                }
            } else {
                c
            }
        })
        .collect();
    let bad = |p: &str| decode_proxy_path(p).map(|r| r.verify(SECRET, 0));
    assert_eq!(bad(&with_segment(&path, 0, &flipped)), Ok(Err(SignError::BadSignature)));
    // The same link moved to another room, another expiry, another scope or prefix.
    assert_eq!(bad(&with_segment(&path, 1, "BBBBBBBBBBBBBBBBBBBBBB")), Ok(Err(SignError::BadSignature)));
    assert_eq!(bad(&with_segment(&path, 2, "2001")), Ok(Err(SignError::BadSignature)));
    assert_eq!(bad(&with_segment(&path, 4, &b64url_encode(b"https://evil.example/v/"))), Ok(Err(SignError::BadSignature)));
    let file = Signer::new(SECRET).path(ROOM, 2_000, Scope::File, "https://cdn.example/v/", "");
    assert_eq!(bad(&with_segment(&file, 3, "d")), Ok(Err(SignError::BadSignature)));
    // Another secret; an expired forgery is a forgery.
    assert_eq!(decode_proxy_path(&path).map(|r| r.verify(b"another secret", 0)), Ok(Err(SignError::BadSignature)));
    assert_eq!(decode_proxy_path(&path).map(|r| r.verify(b"another secret", 5_000)), Ok(Err(SignError::BadSignature)));
    assert_eq!(bad(&with_segment(&path, 0, "")), Ok(Err(SignError::Missing)));
    assert_eq!(bad(&with_segment(&path, 0, "not-base64!")), Ok(Err(SignError::Malformed)));
    assert_eq!(bad(&with_segment(&path, 0, &sig[..42])), Ok(Err(SignError::Malformed)));
    assert_eq!(bad(&with_segment(&path, 0, &b64url_encode(&[0; 31]))), Ok(Err(SignError::Malformed)));
}

#[test]
fn a_proxied_template_expands_and_decodes_to_the_upstream_segment() {
    let path = dir_path("$RepresentationID$/$Number%05d$.m4s?t=$Time$");
    assert!(path.ends_with("/$RepresentationID$/$Number%05d$.m4s?t=$Time$"), "{path}");
    // What the player requests after expanding the template:
    let requested = path.replace("$RepresentationID$", "720p").replace("$Number%05d$", "00042").replace("$Time$", "9000");
    let req = check(&requested, SECRET, 1_999).expect("verifies");
    assert_eq!(req.upstream(), "https://cdn.example/v/720p/00042.m4s?t=9000");
    assert_eq!(req.room, ROOM);
    assert_eq!(req.verify(SECRET, 2_001), Err(SignError::Expired { expires: 2_000, now_secs: 2_001 }));
    // A whole URL signed on its own.
    let full = Signer::new(SECRET).path(ROOM, 2_000, Scope::File, "https://cdn.example/v/master.m3u8?token=x", "");
    assert_eq!(check(&full, SECRET, 0).map(|r| r.upstream()), Ok("https://cdn.example/v/master.m3u8?token=x".to_string()));
    // The linker makes the same link.
    let mut linker = Linker::new("https://watch.example/", SECRET, ROOM, 2_000);
    let via_map = linker.link(crate::rewrite::UrlRef { kind: crate::rewrite::RefKind::Template, prefix: "https://cdn.example/v/", rest: "$Number$.m4s" });
    assert_eq!(via_map, Some(format!("https://watch.example{}", dir_path("$Number$.m4s"))));
}

#[test]
fn proxy_paths_that_escape_their_prefix_or_are_forged_are_refused() {
    for rest in ["../secret", "a/../../b", "%2e%2e/secret", "a/%2E./b", "..%2fsecret", "a\\..\\b", "./x", "%2E", "%252e%252e/secret", "a/%252E%252E/b"] {
        assert_eq!(decode_proxy_path(&dir_path(rest)), Err(ProxyPathError::Traversal), "{rest}");
    }
    for rest in ["..;/secret", "a;jsessionid=1/b.m4s", "%3B/x", "a/..%3b/b"] {
        assert_eq!(decode_proxy_path(&dir_path(rest)), Err(ProxyPathError::PathParameter), "{rest}");
    }
    assert!(decode_proxy_path(&dir_path("ok/..a/b..")).is_ok());
    assert!(decode_proxy_path(&dir_path("my%20show/seg.m4s?x=..;y")).is_ok(), "a query may hold anything");
    let s = Signer::new(SECRET);
    assert_eq!(decode_proxy_path(&s.path(ROOM, 2_000, Scope::File, "https://cdn.example/v/a.mp4", "x")), Err(ProxyPathError::RestNotAllowed));
    assert_eq!(decode_proxy_path(&s.path(ROOM, 2_000, Scope::File, "https://cdn.example/v/", "x")), Err(ProxyPathError::RestNotAllowed));
    // Never a whole host as a directory.
    for root in [
        "https://cdn.example/",
        "https://cdn.example",
        "https://cdn.example//",
        "https://cdn.example/a?u=http://x/",
        "https://cdn.example/%2e%2e/",
        "https://cdn.example/a/..%5c/",
    ] {
        assert_eq!(decode_proxy_path(&s.path(ROOM, 2_000, Scope::Dir, root, "y")), Err(ProxyPathError::NotADirectory), "{root}");
    }
    assert_eq!(decode_proxy_path(&s.path(ROOM, 2_000, Scope::File, "ftp://cdn.example/", "")), Err(ProxyPathError::BadPrefix));
    assert_eq!(decode_proxy_path(&s.path("bad room", 2_000, Scope::File, "https://cdn.example/a", "")), Err(ProxyPathError::BadRoom));
    assert_eq!(decode_proxy_path(&s.path(&"r".repeat(65), 2_000, Scope::File, "https://cdn.example/a", "")), Err(ProxyPathError::BadRoom));
    assert_eq!(decode_proxy_path("/media/x"), Err(ProxyPathError::NotProxyPath));
    assert_eq!(decode_proxy_path("/proxy/sig/room/123"), Err(ProxyPathError::NotProxyPath));
    assert_eq!(decode_proxy_path("/proxy/sig/room/12x/f/aGk/"), Err(ProxyPathError::BadExpiry));
    assert_eq!(decode_proxy_path("/proxy/sig/room/99999999999999999999999/f/aGk/"), Err(ProxyPathError::BadExpiry));
    assert_eq!(decode_proxy_path("/proxy/sig/room/1/x/aGk/"), Err(ProxyPathError::BadScope));
    assert_eq!(decode_proxy_path("/proxy/sig/room/1/f/!!/"), Err(ProxyPathError::BadPrefix));
}

#[test]
fn a_source_link_covers_its_file_or_its_manifest_directory_never_a_host() {
    let link = |u: &str| decode_proxy_path(&source_path(SECRET, ROOM, u, 2_000)).expect("decodes");
    let video = link("https://cdn.example/v/movie.mp4");
    assert_eq!((video.scope, video.prefix.as_str(), video.rest.as_str()), (Scope::File, "https://cdn.example/v/movie.mp4", ""));
    let manifest = link("https://cdn.example/v/show.m3u8?token=1");
    assert_eq!((manifest.scope, manifest.prefix.as_str(), manifest.rest.as_str()), (Scope::Dir, "https://cdn.example/v/", "show.m3u8?token=1"));
    let percent = link("https://cdn.example/v/my%20show.m3u8");
    assert_eq!((percent.scope, percent.rest.as_str()), (Scope::Dir, "my%20show.m3u8"));
    for whole in ["https://cdn.example/", "https://cdn.example/show.mpd", "https://cdn.example/v/a%3Bb.mpd", "https://cdn.example/v/%2e%2e"] {
        let l = link(whole);
        assert_eq!((l.scope, l.prefix.as_str()), (Scope::File, whole), "{whole}");
    }
}

#[test]
fn manifests_are_detected_by_body_type_and_extension() {
    assert_eq!(by_extension("https://a.example/x/master.M3U8?token=1.mpd"), Kind::Hls);
    assert_eq!(by_extension("https://a.example/x/manifest.mpd#t=1"), Kind::Dash);
    assert_eq!(by_extension("https://a.example/x.mpd/seg.m4s"), Kind::Other);
    assert_eq!(by_content_type("application/vnd.apple.mpegurl; charset=utf-8"), Kind::Hls);
    assert_eq!(by_content_type("Application/X-MpegURL"), Kind::Hls);
    assert_eq!(by_content_type("audio/mpegurl"), Kind::Hls);
    assert_eq!(by_content_type("application/dash+xml"), Kind::Dash);
    assert_eq!(by_content_type("video/mp4"), Kind::Other);
    assert_eq!(sniff(b"#EXTM3U\n#EXT-X-VERSION:3"), Kind::Hls);
    assert_eq!(sniff(b"\xef\xbb\xbf  \r\n#EXTM3U"), Kind::Hls);
    assert_eq!(sniff(b"\xef\xbb\xbf<?xml version=\"1.0\"?>\n<!-- <Period> -->\n<?pi x?><MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\">"), Kind::Dash);
    assert_eq!(sniff(b"<mpd:MPD xmlns:mpd=\"x\">"), Kind::Dash);
    assert_eq!(sniff(b"<MPDX>"), Kind::Other);
    assert_eq!(sniff(b"<MP"), Kind::Other);
    assert_eq!(sniff(b"<?xml version=\"1.0\"?><!-- never closed"), Kind::Other);
    assert_eq!(sniff(b"<html><body>404</body></html>"), Kind::Other);
    assert_eq!(sniff(b"\x00\x00\x00\x18ftypmp42"), Kind::Other);
    assert_eq!(sniff(b""), Kind::Other);
    // The body wins over the headers; the headers over the extension.
    assert_eq!(detect("https://a.example/x.bin", Some("application/octet-stream"), b"#EXTM3U\n"), Kind::Hls);
    assert_eq!(detect("https://a.example/x.m3u8", Some("application/dash+xml"), b""), Kind::Dash);
    assert_eq!(detect("https://a.example/x.m3u8", Some("text/plain"), b"garbage"), Kind::Hls);
    assert_eq!(detect("https://a.example/seg.m4s", None, b"\x00\x00"), Kind::Other);
}

#[test]
fn every_corpus_manifest_is_sniffed_from_its_first_bytes_and_live_ones_are_recognised() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let listing = std::fs::read_to_string(root.join("manifest.txt")).expect("manifest.txt");
    let mut checked = 0;
    for line in listing.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let (file, features) = (fields[0], fields[5]);
        let text = std::fs::read_to_string(root.join(file)).expect("corpus file");
        let head = &text.as_bytes()[..text.len().min(512)];
        let want = if file.starts_with("hls/") { Kind::Hls } else { Kind::Dash };
        assert_eq!(sniff(head), want, "{file}");
        if want == Kind::Dash {
            assert_eq!(is_live(Kind::Dash, &text), features.starts_with("dynamic"), "{file}");
        } else if features.starts_with("master") {
            assert!(!is_live(Kind::Hls, &text), "{file}");
        }
        checked += 1;
    }
    assert_eq!(checked, 61);
    assert!(is_live(Kind::Hls, "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\ns.ts\n"));
    assert!(!is_live(Kind::Hls, "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\ns.ts\n#EXT-X-ENDLIST\n"));
    assert!(!is_live(Kind::Hls, "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:4\n"));
}

#[test]
fn cache_keys_cover_the_url_and_the_range() {
    let url = "https://cdn.example/v/seg1.m4s";
    let whole = cache_key(url, None);
    assert_eq!(whole, "bf4af7d3c00daaf7dba7200ead57e00650e030196d739e5a60e4ad78165287f8");
    assert_eq!(cache_key(url, Some(" bytes=0-99 ")), "7e2353b64394c774121c7d36952acec88c2944aa820c5fcc16ad77653f54df05");
    assert!(whole.len() >= 24 && whole.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    let keys = [
        whole.clone(),
        cache_key(url, Some("")),
        cache_key(url, Some("bytes=0-100")),
        cache_key("https://cdn.example/v/seg2.m4s", None),
        cache_key("https://cdn.example/v/seg1.m4s?", None),
    ];
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn cache_lifetimes_come_from_one_policy() {
    let p = CachePolicy::default();
    assert!(p.live_manifest_secs < p.manifest_secs && p.manifest_secs < p.segment_secs);
    assert_eq!(p.ttl_secs(Resource::Manifest { live: true }), p.live_manifest_secs);
    assert_eq!(p.ttl_secs(Resource::Manifest { live: false }), p.manifest_secs);
    assert_eq!(p.ttl_secs(Resource::Segment), p.segment_secs);
    let custom = CachePolicy { manifest_secs: 10, live_manifest_secs: 2, segment_secs: 3600 };
    assert_eq!(custom.ttl_secs(Resource::classify(Kind::Dash, "<MPD type=\"dynamic\">")), 2);
    assert_eq!(custom.ttl_secs(Resource::classify(Kind::Dash, "<MPD type=\"static\">")), 10);
    assert_eq!(custom.ttl_secs(Resource::classify(Kind::Other, "")), 3600);
}

/// A deterministic stand-in for the url_guard fuzz target: spliced spellings
/// never panic, and an accepted URL normalises to a fixed point.
#[test]
fn mutated_urls_never_panic_and_normalise_to_a_fixed_point() {
    let parts = [
        "http",
        "https",
        "HTTP",
        ":",
        "//",
        "/",
        "@",
        "[",
        "]",
        "::",
        "ffff",
        "127",
        "0x7f",
        "0177",
        ".",
        "1",
        "255",
        "256",
        "%2e",
        "%31",
        "localhost",
        "example",
        "com",
        ":80",
        ":443",
        ":99999",
        "?",
        "#",
        "\\",
        " ",
        "fe80",
        "%25",
        "xn--",
        "é",
        "0",
        "4294967295",
    ];
    let mut seed: u64 = 7;
    let mut next = move |n: usize| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n
    };
    let mut accepted = 0;
    for _ in 0..20_000 {
        let mut url = String::from(["http://", "https://", "HTTP://", ""][next(4)]);
        for _ in 0..next(8) {
            url += parts[next(parts.len())];
        }
        for allow in [false, true] {
            if let Ok(u) = check_upstream(&url, allow) {
                accepted += 1;
                let again = check_upstream(&u.url, allow).unwrap_or_else(|e| panic!("{url} -> {} refused: {e}", u.url));
                assert_eq!(again, u, "{url}");
            }
        }
        let _ = decode_proxy_path(&url);
    }
    assert!(accepted > 100, "{accepted}");
}

#[test]
fn a_template_at_a_host_root_is_signed_with_its_pattern_and_fetches_only_its_expansions() {
    let mut linker = Linker::new("https://watch.example", SECRET, ROOM, 2_000);
    let r = crate::rewrite::UrlRef {
        kind: crate::rewrite::RefKind::Template,
        prefix: "https://cdn.example/",
        rest: "$RepresentationID$-$Number%05d$.m4s?t=$Time$&x=$$",
    };
    let link = linker.link(r).expect("a link");
    let path = link.strip_prefix("https://watch.example").expect("origin");
    assert!(path.ends_with("/$RepresentationID$-$Number%05d$.m4s?t=$Time$&x=$$"), "{path}");
    let expand = |id: &str, n: &str, t: &str| path.replace("$RepresentationID$", id).replace("$Number%05d$", n).replace("$Time$", t).replace("&x=$$", "&x=$");
    let req = check(&expand("720p", "00042", "9000"), SECRET, 0).expect("an expansion verifies");
    assert_eq!(req.upstream(), "https://cdn.example/720p-00042.m4s?t=9000&x=$");
    for (id, n, t) in [("720p", "0004x", "9000"), ("a/b", "1", "1"), ("720p", "", "9000"), ("720p", "1", "9000;y")] {
        let p = expand(id, n, t);
        assert!(check(&p, SECRET, 0).is_err(), "{p}");
    }
    // Another file of the host, below the same signed pattern: refused.
    let other = format!("{}/secret.txt", path.rsplit_once('/').map(|(d, _)| d).unwrap_or(""));
    assert_eq!(decode_proxy_path(&other).map(|r| r.verify(SECRET, 0)), Ok(Err(SignError::NotTemplateExpansion)));
    // A forged pattern is never matched at all: the signature fails first.
    let parts: Vec<&str> = path.trim_start_matches("/proxy/").splitn(6, '/').collect();
    let costly = format!("{}{}", "$Number$".repeat(12), "x");
    let forged = format!(
        "/proxy/{}/{}/{}/t/{}.{}/{}",
        parts[0],
        parts[1],
        parts[2],
        parts[4].split('.').next().unwrap_or(""),
        b64url_encode(costly.as_bytes()),
        "1".repeat(500)
    );
    assert_eq!(decode_proxy_path(&forged).map(|r| r.verify(SECRET, 0)), Ok(Err(SignError::BadSignature)));
    // Nor is a rest longer than a template link may carry.
    assert_eq!(
        decode_proxy_path(&format!("{}/{}", path.rsplit_once('/').map(|(d, _)| d).unwrap_or(""), "1".repeat(600))),
        Err(ProxyPathError::NotTemplateExpansion)
    );
    // The pattern is signed: a wider one does not verify.
    let parts: Vec<&str> = path.trim_start_matches("/proxy/").splitn(6, '/').collect();
    let dir64 = parts[4].split('.').next().unwrap_or("");
    let wider = format!("/proxy/{}/{}/{}/t/{dir64}.{}/secret.txt", parts[0], parts[1], parts[2], b64url_encode(b"secret.txt"));
    assert_eq!(decode_proxy_path(&wider).map(|r| r.verify(SECRET, 0)), Ok(Err(SignError::BadSignature)));
}

#[test]
fn the_linker_signs_each_directory_once_and_links_still_verify() {
    let mut linker = Linker::new("https://watch.example/", SECRET, ROOM, 2_000);
    let refs = [
        "https://cdn.example/v/1/seg-001.m4s",
        "https://cdn.example/v/1/seg-002.m4s?token=a/b",
        "https://cdn.example/v/2/init.mp4",
        "https://cdn.example/top.m3u8",
        "https://cdn.example/v/1/odd%2F..%2Fname.m4s",
        "https://cdn.example/v/1/",
        "https://cdn.example",
        "https://cdn.example/v/1/a..;b.m4s",
    ];
    let links: Vec<String> =
        refs.iter().map(|u| linker.link(crate::rewrite::UrlRef { kind: crate::rewrite::RefKind::Url, prefix: u, rest: "" }).expect("a link")).collect();
    for (u, link) in refs.iter().zip(&links) {
        let path = link.strip_prefix("https://watch.example").expect("origin kept");
        let req = check(path, SECRET, 1_000).unwrap_or_else(|e| panic!("{u}: {e}"));
        assert_eq!(req.upstream(), *u, "{link}");
    }
    // The two segments of one directory share the signed directory.
    let dir = |l: &str| l.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
    assert_eq!(dir(&links[0]), dir(links[1].split('?').next().unwrap_or("")));
    assert_ne!(dir(&links[0]), dir(&links[2]));
    // At a host root, an escaped slash or `;` in the name, a directory or a bare origin: signed whole.
    for i in [3, 4, 5, 6, 7] {
        let req = decode_proxy_path(links[i].strip_prefix("https://watch.example").unwrap_or("")).expect("decodes");
        assert_eq!((req.scope, req.rest.as_str()), (Scope::File, ""), "{}", links[i]);
    }
    // A base at a host root gets no link at all.
    assert_eq!(linker.link(crate::rewrite::UrlRef { kind: crate::rewrite::RefKind::Base, prefix: "https://cdn.example/", rest: "" }), None);
}

#[test]
fn only_media_passes_the_filter_by_type_and_by_body() {
    use super::filter::{check_media, manifest_markup, NotMedia, Served};
    let mp4 = b"\0\0\0\x18ftypiso6\0\0\0\0iso6dash";
    assert_eq!(check_media(Some("video/mp4"), Some(mp4)), Ok(Served::Media("video/mp4")));
    assert_eq!(check_media(Some("video/MP2T; charset=x"), Some(b"\x47\x40\x00")), Ok(Served::Media("video/mp2t")));
    assert_eq!(check_media(None, Some(b"WEBVTT\n\n00:00.000 --> 00:01.000\nhi")), Ok(Served::Media("application/octet-stream")));
    assert_eq!(check_media(Some("text/plain"), Some(b"1\n00:00:01,000 --> 00:00:02,000\nhi")), Ok(Served::Media("text/plain")));
    assert_eq!(check_media(Some("application/octet-stream"), Some(&[0x8f; 16])), Ok(Served::Media("application/octet-stream")));
    // An unknown video subtype is labelled with a known one.
    assert_eq!(check_media(Some("video/x-evil"), None), Ok(Served::Media("video/mp4")));
    // TTML is XML: served as bytes, never with a type a browser renders.
    assert_eq!(
        check_media(Some("application/ttml+xml"), Some(b"<?xml version=\"1.0\"?><tt xmlns=\"http://www.w3.org/ns/ttml\"><body/></tt>")),
        Ok(Served::Media("application/octet-stream"))
    );
    // A generic type needs a media signature from the first byte on.
    for body in [&b"secret file"[..], b"MZ\x90\0 an executable", b"PK\x03\x04 a zip", b"#!/bin/sh\nrm -rf /"] {
        for ct in [Some("application/octet-stream"), Some("text/plain"), None] {
            assert!(matches!(check_media(ct, Some(body)), Err(NotMedia::Body(_))), "{ct:?} {}", String::from_utf8_lossy(body));
        }
    }
    for body in [&b"\0\0\0\x18stypmsdh"[..], b"\x1a\x45\xdf\xa3\x01", b"\x1f\x43\xb6\x75\x01", b"ID3\x04", b"\xff\xf1\x50\x80", b"OggS\0", b"0123456789abcdef"]
    {
        assert_eq!(check_media(Some("application/octet-stream"), Some(body)), Ok(Served::Media("application/octet-stream")), "{body:?}");
    }
    // A range from the middle of a file cannot be read: the type decides.
    assert_eq!(check_media(Some("application/octet-stream"), None), Ok(Served::Media("application/octet-stream")));
    // Documents, by type or by body whatever the type says.
    for ct in ["text/html", "image/svg+xml", "application/xhtml+xml", "application/javascript", "text/xml", "application/json", "image/png"] {
        assert!(matches!(check_media(Some(ct), None), Err(NotMedia::ContentType(_))), "{ct}");
    }
    for body in [
        &b"<!DOCTYPE html><script>alert(1)</script>"[..],
        b"\xef\xbb\xbf  <html>",
        b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>",
        b"<?xml version=\"1.0\"?><x:html xmlns:x=\"http://www.w3.org/1999/xhtml\"/>",
        b"<tt><x:script xmlns:x=\"http://www.w3.org/1999/xhtml\">alert(1)</x:script></tt>",
        b"%PDF-1.7",
        b"\xff\xfe<\0h\0",
        b"{\"a\":1}",
    ] {
        assert!(matches!(check_media(Some("video/mp4"), Some(body)), Err(NotMedia::Body(_))), "{}", String::from_utf8_lossy(body));
    }
    assert_eq!(manifest_markup("<MPD><Period/></MPD>"), None);
    assert!(manifest_markup("<MPD><h:script xmlns:h=\"http://www.w3.org/1999/xhtml\">x</h:script></MPD>").is_some());
    assert!(manifest_markup("<MPD><SCRIPT>x</SCRIPT></MPD>").is_some());
    assert!(manifest_markup("<?xml-stylesheet href=\"x.xsl\"?><MPD/>").is_some());
    // Character references do not hide a namespace.
    assert!(manifest_markup("<MPD><h:img xmlns:h=\"http&#58;//www.w3.org/1999/xhtml\" src=\"x\" onerror=\"alert(1)\"/></MPD>").is_some());
    assert!(manifest_markup("<MPD><s:svg xmlns:s=\"http://www.w3.org&#x2F;2000/svg\" onload=\"alert(1)\"/></MPD>").is_some());
    assert_eq!(manifest_markup("<MPD xmlns:cenc=\"urn:mpeg:cenc:2013\"><Period/>&amp;</MPD>"), None);
}

#[test]
fn upstream_caching_headers_cap_the_lifetime_and_never_extend_it() {
    use super::cache::{freshness, parse_http_date, CachePolicy, Freshness, Resource};
    let p = CachePolicy::default();
    let seg = Resource::Segment;
    assert_eq!(p.ttl_for(seg, freshness(None, None, None, None, 0)), p.segment_secs);
    assert_eq!(p.ttl_for(seg, freshness(Some("public, max-age=30"), None, None, None, 0)), 30);
    assert_eq!(p.ttl_for(seg, freshness(Some("max-age=999999999999"), None, None, None, 0)), p.segment_secs);
    assert_eq!(p.ttl_for(seg, freshness(Some("max-age=600, s-maxage=5"), None, None, None, 0)), 5);
    for cc in ["no-store", "private, max-age=600", "no-cache", "max-age=0"] {
        assert_eq!(p.ttl_for(seg, freshness(Some(cc), None, None, None, 0)), 0, "{cc}");
    }
    assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
    assert_eq!(parse_http_date("Wed, 02 Dec 2026 12:00:00 GMT"), Some(1_796_212_800));
    assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
    let date = "Wed, 02 Dec 2026 12:00:00 GMT";
    assert_eq!(freshness(None, Some("Wed, 02 Dec 2026 12:01:40 GMT"), Some(date), None, 0), Freshness::MaxAge(100));
    assert_eq!(freshness(None, Some("0"), Some(date), None, 0), Freshness::MaxAge(0));
    assert_eq!(freshness(Some("max-age=7"), Some("0"), Some(date), None, 0), Freshness::MaxAge(7));
    // Time already spent in caches upstream counts.
    assert_eq!(freshness(Some("max-age=600"), None, None, Some("550"), 0), Freshness::MaxAge(50));
    assert_eq!(freshness(Some("max-age=600"), None, None, Some("9000"), 0), Freshness::MaxAge(0));
}

#[test]
fn client_ranges_are_narrowed_to_the_response_bound() {
    use super::cache::{bound_range, RangeRequest, MAX_RESPONSE_BYTES};
    let m = MAX_RESPONSE_BYTES;
    assert_eq!(bound_range(None), RangeRequest::Whole);
    assert_eq!(bound_range(Some("bytes=0-")), RangeRequest::Bounded(format!("bytes=0-{}", m - 1)));
    assert_eq!(bound_range(Some("bytes=100-199")), RangeRequest::Bounded("bytes=100-199".into()));
    assert_eq!(bound_range(Some("bytes=5-99999999999")), RangeRequest::Bounded(format!("bytes=5-{}", 5 + m - 1)));
    assert_eq!(bound_range(Some("bytes=-500")), RangeRequest::Bounded("bytes=-500".into()));
    assert_eq!(bound_range(Some("bytes=-999999999999")), RangeRequest::Bounded(format!("bytes=-{m}")));
    for bad in ["bytes=0-1,5-6", "items=0-1", "bytes=5-1", "bytes=-0", "bytes=x-", "bytes=99999999999999999999-"] {
        assert_eq!(bound_range(Some(bad)), RangeRequest::Unsupported, "{bad}");
    }
}
