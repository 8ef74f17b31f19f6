use super::*;

const APP: &str = "https://app.example";

fn proxy() -> FetchScope {
    FetchScope::for_source(APP, "https://upstream.example/v/master.m3u8", Some("/proxy/sig/room/99/d/aHR0cHM/master.m3u8")).unwrap()
}

fn other(origin: &str) -> Result<(), FetchScopeError> {
    Err(FetchScopeError::OtherOrigin { origin: origin.into() })
}

fn unreadable(reason: &'static str) -> Result<(), FetchScopeError> {
    Err(FetchScopeError::Unreadable { reason })
}

#[test]
fn the_scope_follows_what_the_room_gave() {
    // A play_url: only that origin's media proxy, relative or absolute.
    assert_eq!(proxy(), FetchScope::Proxy { prefix: "https://app.example/proxy/".into() });
    let media_origin = FetchScope::for_source(APP, "https://upstream.example/a.mpd", Some("https://Media.Example:443/proxy/x/a.mpd"));
    assert_eq!(media_origin, Ok(FetchScope::Proxy { prefix: "https://media.example/proxy/".into() }));
    assert_eq!(FetchScope::for_source(APP, "https://u.example/a.mpd", Some("javascript:alert(1)")), Err(FetchScopeError::Unreadable { reason: "not http(s)" }));
    // A path on the app's own server, or a URL of its origin.
    let own = Ok(FetchScope::SameOrigin { origin: APP.into() });
    assert_eq!(FetchScope::for_source(APP, "/media/demo/manifest.mpd", None), own);
    assert_eq!(FetchScope::for_source("https://app.example/room/abc", "../media/x.mpd", None), own);
    assert_eq!(FetchScope::for_source(APP, "https://APP.example/media/x.mpd", None), own);
    // Anything else without a play_url plays directly.
    assert_eq!(FetchScope::for_source(APP, "https://cdn.example/x.mpd", None), Ok(FetchScope::Any));
    // A path stays on this origin, however a browser would read it.
    assert_eq!(FetchScope::for_source(APP, "//cdn.example/x.mpd", None), own);
    let sneaky = FetchScope::for_source(APP, "/\\10.0.0.1/x.mpd", None).unwrap();
    assert_eq!(sneaky.check("http://10.0.0.1/x.mpd"), other("http://10.0.0.1"));
    assert_eq!(FetchScope::for_source("http://127.0.0.1:8787", "http://127.0.0.1:8788/x.mpd", None), Ok(FetchScope::Any));
    // A player without a room: direct, unless it plays a proxy URL.
    assert_eq!(FetchScope::for_url("https://cdn.example/x.mpd"), FetchScope::Any);
    assert_eq!(FetchScope::for_url("https://app.example/proxy/s/r/1/f/eA/"), FetchScope::Proxy { prefix: "https://app.example/proxy/".into() });
    assert_eq!(FetchScope::for_url("https://app.example/proxy/../x.mpd"), FetchScope::Any);
}

#[test]
fn the_proxy_scope_admits_only_its_own_proxy_path() {
    let s = proxy();
    for ok in [
        "https://app.example/proxy/sig/room/99/d/aHR0cHM/seg1.m4s",
        "https://app.example/proxy/sig/room/99/f/aHR0cHM/?a=../b#..",
        "HTTPS://APP.EXAMPLE/proxy/sig/x",
        "https://app.example:443/proxy/sig/x",
        "https://app.example:/proxy/sig/x",
        "https://app.example:00443/proxy/sig/x",
        "https://app.example/proxy/sig/..x/.a/x../.../%2e%2e%2e",
    ] {
        assert_eq!(s.check(ok), Ok(()), "{ok}");
    }
    let outside = |origin: &str| Err(FetchScopeError::OutsideProxy { origin: origin.into() });
    let cases: &[(&str, Result<(), FetchScopeError>)] = &[
        // Not the proxy, though the app's origin.
        ("https://app.example/media/x.mpd", outside(APP)),
        ("https://app.example/Proxy/x", outside(APP)),
        ("https://app.example/proxy", outside(APP)),
        ("https://app.example", outside(APP)),
        ("https://app.example?x=/proxy/", outside(APP)),
        // The browser removes dot segments: out of /proxy/.
        ("https://app.example/proxy/../x", outside(APP)),
        ("https://app.example/proxy/a/../../x", outside(APP)),
        ("https://app.example/proxy/%2e%2E/x", outside(APP)),
        ("https://app.example/proxy/.%2e/x", outside(APP)),
        ("https://app.example/proxy/./x", outside(APP)),
        // Other origins: a longer host, another port, another scheme.
        ("https://app.example.evil/proxy/", other("https://app.example.evil")),
        ("https://evil.example/proxy/sig/x", other("https://evil.example")),
        ("https://app.example:8443/proxy/sig/x", other("https://app.example:8443")),
        ("http://app.example/proxy/sig/x", other("http://app.example")),
        ("https://APP.example.:443/proxy/x", other("https://app.example.")),
        ("https://[::1]:8080/proxy/x", other("https://[::1]:8080")),
        // What a browser reads differently from the text: refused unread.
        ("https://app.example@evil/", unreadable("user info")),
        ("https://user:pw@app.example/proxy/x", unreadable("user info")),
        ("https://app.example\\@evil.example/proxy/x", unreadable("a backslash before the query")),
        ("https://app.example/proxy\\..\\x", unreadable("a backslash before the query")),
        ("https:\\\\evil.example/proxy/x", unreadable("no authority after the scheme")),
        ("https:///evil.example/proxy/x", unreadable("no authority after the scheme")),
        ("https:evil.example/proxy/x", unreadable("no authority after the scheme")),
        ("https://app.exa\tmple/proxy/x", unreadable("control characters or whitespace")),
        ("https://app.example/pro\nxy/x", unreadable("control characters or whitespace")),
        (" https://app.example/proxy/x", unreadable("control characters or whitespace")),
        ("https://app%2Eexample/proxy/x", unreadable("an encoded, non-ASCII or empty host")),
        ("https://аpp.example/proxy/x", unreadable("an encoded, non-ASCII or empty host")),
        ("https://app.example:99999/proxy/x", unreadable("a malformed port")),
        ("https://app.example:4a3/proxy/x", unreadable("a malformed port")),
        ("https://[::1/proxy/x", unreadable("an unclosed IPv6 address")),
        ("/proxy/sig/x", unreadable("no scheme")),
        ("blob:https://app.example/1234", unreadable("not http(s)")),
        ("", unreadable("no scheme")),
    ];
    for (url, want) in cases {
        assert_eq!(&s.check(url), want, "{url}");
    }
    // The error names the origin only, never the URL.
    let e = s.check("https://cdn.example/private/token=SECRET/seg.m4s").unwrap_err();
    assert_eq!(e.origin(), Some("https://cdn.example"));
    assert!(!e.to_string().contains("SECRET"), "{e}");
}

#[test]
fn the_same_origin_scope_admits_its_origin_only() {
    let s = FetchScope::for_source("http://127.0.0.1:8787", "/media/demo/manifest.mpd", None).unwrap();
    assert_eq!(s, FetchScope::SameOrigin { origin: "http://127.0.0.1:8787".into() });
    assert_eq!(s.check("http://127.0.0.1:8787/media/demo/chunk-1.m4s"), Ok(()));
    assert_eq!(s.check("http://127.0.0.1:8787/anything/../else"), Ok(()));
    assert_eq!(s.check("http://127.0.0.1:8788/media/x"), other("http://127.0.0.1:8788"));
    assert_eq!(s.check("http://127.0.0.1/media/x"), other("http://127.0.0.1"));
    assert_eq!(s.check("http://localhost:8787/media/x"), other("http://localhost:8787"));
    assert_eq!(s.check("http://127.0.0.1:8787@evil/x"), unreadable("user info"));
    assert_eq!(FetchScope::Any.check("http://anything\\at all@x"), Ok(()));
}

#[test]
fn every_prefix_of_tricky_urls_is_read_without_panic() {
    let s = proxy();
    for url in ["https://[::1]:8080/proxy/x?y#z", "https://app.example:00443/proxy/%2e%2E/x", "HTTPS://аpp.example@x:/\\"] {
        for end in (0..=url.len()).filter(|&i| url.is_char_boundary(i)) {
            let _ = s.check(&url[..end]);
            let _ = FetchScope::for_url(&url[..end]);
            let _ = FetchScope::for_source(&url[..end], &url[..end], Some(&url[..end]));
        }
    }
}
