//! The rewriters against the shared corpus (checked by an independent walker
//! and resolver written here), snapshots, and hostile or tricky inputs.

use std::path::Path;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::*;
use crate::proxy::sign::{decode_proxy_path, Linker};

const SECRET: &[u8] = b"rewrite-test-secret";
const EXPIRES: u64 = 2_000_000_000;
const ORIGIN: &str = "https://proxy.test";
const ROOM: &str = "room-test";

/// The map under test: the worker's real proxied URL format.
fn proxy_map(r: UrlRef<'_>) -> Option<String> {
    Linker::new(ORIGIN, SECRET, ROOM, EXPIRES).link(r)
}

/// The inverse of `proxy_map` for a URL a player requests: decode, verify, join.
fn unproxy(url: &str) -> Option<String> {
    let req = decode_proxy_path(url.strip_prefix(ORIGIN)?).ok()?;
    req.verify(SECRET, EXPIRES).ok()?;
    Some(req.upstream())
}

/// The proxied URL the player loads the manifest itself from.
fn proxied_manifest(manifest_url: &str) -> String {
    proxy_map(UrlRef { kind: RefKind::Url, prefix: manifest_url, rest: "" }).unwrap_or_default()
}

/// A readable map for snapshots: kind, prefix with `:` and `/` escaped, rest.
fn readable_map(r: UrlRef<'_>) -> Option<String> {
    Some(format!("https://p.test/{:?}/{}/{}", r.kind, r.prefix.replace(':', "%3A").replace('/', "%2F"), r.rest))
}

fn corpus(kind: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus").join(kind);
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .map(|p| (p.file_name().expect("name").to_string_lossy().into_owned(), std::fs::read_to_string(&p).expect("utf-8 manifest")))
        .collect();
    files.sort();
    files
}

/// RFC 3986 §5.2 reference resolution, written from the RFC independently
/// of `crate::url` (which the rewriter uses).
mod rfc {
    pub struct Parts<'a> {
        pub scheme: Option<&'a str>,
        pub authority: Option<&'a str>,
        pub path: &'a str,
        pub query: Option<&'a str>,
        pub fragment: Option<&'a str>,
    }

    /// Appendix B: `^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?`
    pub fn parse(s: &str) -> Parts<'_> {
        let mut rest = s;
        let scheme = match rest.find([':', '/', '?', '#']) {
            Some(i) if i > 0 && rest[i..].starts_with(':') => {
                let sc = &rest[..i];
                rest = &rest[i + 1..];
                Some(sc)
            }
            _ => None,
        };
        let authority = rest.strip_prefix("//").map(|r| {
            let end = r.find(['/', '?', '#']).unwrap_or(r.len());
            rest = &r[end..];
            &r[..end]
        });
        let end = rest.find(['?', '#']).unwrap_or(rest.len());
        let path = &rest[..end];
        rest = &rest[end..];
        let query = rest.strip_prefix('?').map(|r| {
            let end = r.find('#').unwrap_or(r.len());
            rest = &r[end..];
            &r[..end]
        });
        Parts { scheme, authority, path, query, fragment: rest.strip_prefix('#') }
    }

    /// §5.2.4, step by step.
    pub fn remove_dot_segments(path: &str) -> String {
        fn pop(out: &mut String) {
            let i = out.rfind('/').unwrap_or(0);
            out.truncate(i);
        }
        let mut input = path.to_string();
        let mut out = String::new();
        while !input.is_empty() {
            if input.starts_with("../") {
                input.drain(..3);
            } else if input.starts_with("./") {
                input.drain(..2);
            } else if input.starts_with("/./") {
                input.replace_range(..3, "/");
            } else if input == "/." {
                input = "/".into();
            } else if input.starts_with("/../") {
                input.replace_range(..4, "/");
                pop(&mut out);
            } else if input == "/.." {
                input = "/".into();
                pop(&mut out);
            } else if input == "." || input == ".." {
                input.clear();
            } else {
                let skip = usize::from(input.starts_with('/'));
                let end = input[skip..].find('/').map_or(input.len(), |i| i + skip);
                out.push_str(&input[..end]);
                input.drain(..end);
            }
        }
        out
    }

    /// §5.2.2 and §5.3.
    pub fn resolve(base: &str, reference: &str) -> String {
        let b = parse(base);
        let r = parse(reference);
        let (scheme, authority, path, query);
        if r.scheme.is_some() {
            (scheme, authority, path, query) = (r.scheme, r.authority, remove_dot_segments(r.path), r.query);
        } else if r.authority.is_some() {
            (scheme, authority, path, query) = (b.scheme, r.authority, remove_dot_segments(r.path), r.query);
        } else if r.path.is_empty() {
            (scheme, authority, path, query) = (b.scheme, b.authority, b.path.to_string(), r.query.or(b.query));
        } else if r.path.starts_with('/') {
            (scheme, authority, path, query) = (b.scheme, b.authority, remove_dot_segments(r.path), r.query);
        } else {
            let merged = if b.authority.is_some() && b.path.is_empty() {
                format!("/{}", r.path)
            } else {
                match b.path.rfind('/') {
                    Some(i) => format!("{}{}", &b.path[..=i], r.path),
                    None => r.path.to_string(),
                }
            };
            (scheme, authority, path, query) = (b.scheme, b.authority, remove_dot_segments(&merged), r.query);
        }
        let mut out = String::new();
        if let Some(s) = scheme {
            out += s;
            out += ":";
        }
        if let Some(a) = authority {
            out += "//";
            out += a;
        }
        out += &path;
        if let Some(q) = query {
            out += "?";
            out += q;
        }
        if let Some(f) = r.fragment {
            out += "#";
            out += f;
        }
        out
    }

    #[test]
    fn the_test_resolver_passes_the_rfc_examples() {
        let base = "http://a/b/c/d;p?q";
        for (r, want) in [
            ("g", "http://a/b/c/g"),
            ("../g", "http://a/b/g"),
            ("../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("?y", "http://a/b/c/d;p?y"),
            ("", "http://a/b/c/d;p?q"),
            ("g;x?y#s", "http://a/b/c/g;x?y#s"),
            ("//g", "http://g"),
            ("./../g", "http://a/b/g"),
            ("g/../h", "http://a/b/c/h"),
        ] {
            assert_eq!(resolve(base, r), want, "{r}");
        }
    }
}

/// Expand a DASH template identifier set the way a player does.
fn expand(template: &str, id: &str, bandwidth: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out += &rest[..i];
        let after = &rest[i + 1..];
        let Some(j) = after.find('$') else {
            out += &rest[i..];
            return out;
        };
        let ident = &after[..j];
        let (name, width) = match ident.split_once("%0") {
            Some((n, w)) => (n, w.trim_end_matches('d').parse::<usize>().expect("format width")),
            None => (ident, 0),
        };
        let value = match name {
            "" => "$".to_string(),
            "RepresentationID" => id.to_string(),
            "Bandwidth" => bandwidth.to_string(),
            "Number" => format!("{:0width$}", 7),
            "Time" => format!("{:0width$}", 900_000),
            "SubNumber" => format!("{:0width$}", 2),
            other => panic!("unknown identifier {other}"),
        };
        out += &value;
        rest = &after[j + 1..];
    }
    out + rest
}

/// A small DOM, for the walker.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn attr(&self, k: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
    fn kids<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a Node)) {
        f(self);
        for c in &self.children {
            c.visit(f);
        }
    }
}

fn tree(text: &str) -> Vec<Node> {
    fn node(e: &quick_xml::events::BytesStart<'_>) -> Node {
        let name = String::from_utf8(e.local_name().as_ref().to_vec()).expect("utf-8 name");
        let attrs = e
            .attributes()
            .map(|a| {
                let a = a.expect("attribute");
                let key = String::from_utf8(a.key.as_ref().to_vec()).expect("utf-8 key");
                let raw = String::from_utf8(a.value.to_vec()).expect("utf-8 value");
                (key, quick_xml::escape::unescape(&raw).expect("unescape").into_owned())
            })
            .collect();
        Node { name, attrs, ..Node::default() }
    }
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        match reader.read_event().expect("xml") {
            Event::Start(e) => stack.push(node(&e)),
            Event::Empty(e) => stack.last_mut().expect("parent").children.push(node(&e)),
            Event::End(_) => {
                let mut n = stack.pop().expect("open element");
                n.text = quick_xml::escape::unescape(&n.text).expect("unescape").into_owned();
                stack.last_mut().expect("parent").children.push(n);
            }
            Event::Text(t) => stack.last_mut().expect("node").text += std::str::from_utf8(&t).expect("utf-8"),
            Event::GeneralRef(r) => {
                let entity = format!("&{};", std::str::from_utf8(&r).expect("utf-8"));
                stack.last_mut().expect("node").text += &entity;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    while stack.len() > 1 {
        let n = stack.pop().expect("open element");
        stack.last_mut().expect("parent").children.push(n);
    }
    stack.pop().expect("document").children
}

/// What a DASH player fetches, as (what, absolute URL), in a fixed order.
/// `synthetic` is the text of a BaseURL the rewriter inserted for the
/// manifest's own directory: it is the base of what follows, but not a
/// fetch and not a BaseURL of the original. A Representation's base counts
/// as a fetch only below some BaseURL (else it is the MPD itself).
fn dash_fetches(text: &str, doc_url: &str, synthetic: Option<&str>) -> Vec<(String, String)> {
    let roots = tree(text);
    let mut out = Vec::new();
    let resolve = rfc::resolve;
    let is_synthetic = |n: &Node, b: &Node| n.name == "MPD" && synthetic == Some(b.text.trim());
    let first_base = |n: &Node, parent: &str| n.kids("BaseURL").next().map_or(parent.to_string(), |b| resolve(parent, b.text.trim()));
    let has_base = |n: &Node| n.kids("BaseURL").any(|b| !is_synthetic(n, b));
    let bases = |n: &Node, parent: &str, out: &mut Vec<(String, String)>| {
        for b in n.kids("BaseURL").filter(|b| !is_synthetic(n, b)) {
            out.push((format!("{} BaseURL", n.name), resolve(parent, b.text.trim())));
        }
    };
    for root in &roots {
        root.visit(&mut |n| {
            // Any `prefix:href` counts as XLink here (the corpus and the tests bind it so).
            for (k, href) in &n.attrs {
                if k.ends_with(":href") && href != "urn:mpeg:dash:resolve-to-zero:2013" {
                    out.push((format!("{} {k}", n.name), resolve(doc_url, href.trim())));
                }
            }
            if n.name == "Location" || n.name == "PatchLocation" {
                out.push((n.name.clone(), resolve(doc_url, n.text.trim())));
            }
        });
        let (periods, mpd_base): (Vec<&Node>, String) = match root.name.as_str() {
            "MPD" => {
                bases(root, doc_url, &mut out);
                (root.kids("Period").collect(), first_base(root, doc_url))
            }
            "Period" => (vec![root], doc_url.to_string()),
            _ => continue,
        };
        for p in periods {
            bases(p, &mpd_base, &mut out);
            let pb = first_base(p, &mpd_base);
            for a in p.kids("AdaptationSet") {
                bases(a, &pb, &mut out);
                let ab = first_base(a, &pb);
                for r in a.kids("Representation") {
                    bases(r, &ab, &mut out);
                    let rb = first_base(r, &ab);
                    let id = r.attr("id").unwrap_or("");
                    let bw = r.attr("bandwidth").unwrap_or("");
                    let what = |s: &str| format!("Representation {id} {s}");
                    if [root, p, a, r].into_iter().any(has_base) {
                        out.push((what("base"), rb.clone()));
                    }
                    for level in [p, a, r] {
                        for seg in &level.children {
                            if seg.name == "SegmentTemplate" {
                                for k in ["media", "initialization", "index", "bitstreamSwitching"] {
                                    if let Some(v) = seg.attr(k) {
                                        out.push((what(k), resolve(&rb, &expand(v.trim(), id, bw))));
                                    }
                                }
                            }
                            if matches!(seg.name.as_str(), "SegmentTemplate" | "SegmentList" | "SegmentBase") {
                                for c in &seg.children {
                                    let keys: &[&str] = match c.name.as_str() {
                                        "SegmentURL" => &["media", "index"],
                                        "Initialization" | "RepresentationIndex" | "BitstreamSwitching" => &["sourceURL"],
                                        _ => &[],
                                    };
                                    for k in keys {
                                        if let Some(v) = c.attr(k) {
                                            out.push((what(&format!("{} {k}", c.name)), resolve(&rb, v.trim())));
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

fn is_http(u: &str) -> bool {
    u.starts_with("http://") || u.starts_with("https://")
}

/// `https://h/` (or `https://h`, with or without a query): a whole host.
fn is_host_root_dir(u: &str) -> bool {
    let p = rfc::parse(u);
    p.authority.is_some() && matches!(p.path, "" | "/")
}

/// Every fetch of the rewritten manifest goes through the proxy and lands
/// where the original sent the player. A BaseURL (or a Representation base)
/// that is a host-root directory is not fetched itself: the proxy never
/// signs a whole host, so it stays as written and everything below it is
/// checked on its own.
fn assert_same_fetches(name: &str, before: &[(String, String)], after: &[(String, String)]) {
    assert_eq!(before.len(), after.len(), "{name}: number of fetches");
    for ((what, want), (what2, got)) in before.iter().zip(after) {
        assert_eq!(what, what2, "{name}");
        if (what.ends_with(" BaseURL") || what.ends_with(" base")) && is_host_root_dir(want) {
            continue;
        }
        if is_http(want) {
            let upstream = unproxy(got).unwrap_or_else(|| panic!("{name}: {what}: {got} does not go through the proxy"));
            assert_eq!(&upstream, want, "{name}: {what}");
        } else {
            assert_eq!(got, want, "{name}: {what}: a non-http reference changed");
        }
    }
}

/// The document with the raw text of every URL value cut out, found
/// independently of the rewriter: quick-xml's attribute API for values, a
/// plain search for their place.
fn dash_skeleton(text: &str) -> String {
    // quick-xml's positions do not count a leading BOM.
    if let Some(rest) = text.strip_prefix('\u{feff}') {
        return format!("\u{feff}{}", dash_skeleton(rest));
    }
    #[derive(Debug)]
    enum Item {
        Attr(String, String),
        Text(String),
    }
    let url_attr = |elem: &[u8], key: &str| match key {
        k if k.ends_with(":href") => true,
        "media" | "initialization" | "index" | "bitstreamSwitching" if elem == b"SegmentTemplate" => true,
        "media" | "index" if elem == b"SegmentURL" => true,
        "sourceURL" => matches!(elem, b"Initialization" | b"RepresentationIndex" | b"BitstreamSwitching"),
        _ => false,
    };
    let mut items = Vec::new();
    let mut reader = Reader::from_str(text);
    let mut text_start = None;
    let mut before = 0;
    loop {
        let ev = reader.read_event().expect("xml");
        let after = reader.buffer_position() as usize;
        match &ev {
            Event::Start(e) | Event::Empty(e) => {
                let local = e.local_name();
                for a in e.attributes() {
                    let a = a.expect("attribute");
                    let key = String::from_utf8(a.key.as_ref().to_vec()).expect("key");
                    if url_attr(local.as_ref(), &key) {
                        items.push(Item::Attr(key, String::from_utf8(a.value.to_vec()).expect("value")));
                    }
                }
                if matches!(ev, Event::Start(_)) && matches!(local.as_ref(), b"BaseURL" | b"Location" | b"PatchLocation") {
                    text_start = Some(after);
                }
            }
            Event::End(_) => {
                if let Some(s) = text_start.take() {
                    items.push(Item::Text(text[s..before].to_string()));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        before = after;
    }
    let mut out = String::new();
    let mut cursor = 0;
    for item in items {
        // (pattern, bytes before the value, bytes after it)
        let candidates: Vec<(String, usize, usize)> = match &item {
            Item::Attr(k, v) => vec![(format!("{k}=\"{v}\""), k.len() + 2, 1), (format!("{k}='{v}'"), k.len() + 2, 1)],
            Item::Text(t) => vec![(format!(">{t}</"), 1, 2)],
        };
        let (at, skip, len) = candidates
            .iter()
            .filter_map(|(pat, before, after)| text[cursor..].find(pat.as_str()).map(|i| (cursor + i, *before, pat.len() - before - after)))
            .min()
            .unwrap_or_else(|| panic!("URL value {item:?} not found in place"));
        out += &text[cursor..at + skip];
        out += "\u{1}";
        cursor = at + skip + len;
    }
    out + &text[cursor..]
}

/// The proxied link of the manifest's own directory, as the rewriter
/// inserts it in a BaseURL (`None` for a directory at a host root).
fn dir_link(manifest_url: &str) -> Option<String> {
    let dir = &manifest_url[..manifest_url.split(['?', '#']).next().unwrap_or("").rfind('/').expect("a path") + 1];
    proxy_map(UrlRef { kind: RefKind::Base, prefix: dir, rest: "" })
}

/// The link and byte offset of the BaseURL the rewriter inserted right
/// after the `<MPD ...>` start tag of `out` (rewritten from `original`).
fn inserted_base(original: &str, out: &str, manifest_url: &str) -> Option<(String, usize)> {
    let link = dir_link(manifest_url)?;
    let tag_start = original.find("<MPD")?;
    let tag = &original[tag_start..tag_start + original[tag_start..].find('>')? + 1];
    let at = out.find(tag)? + tag.len();
    out[at..].starts_with(&format!("<BaseURL>{link}</BaseURL>")).then_some((link, at))
}

/// What a player fetches from the rewritten manifest, loaded through the proxy.
fn player_fetches(original: &str, out: &str, manifest_url: &str) -> Vec<(String, String)> {
    let synthetic = inserted_base(original, out, manifest_url).map(|(link, _)| link);
    dash_fetches(out, &proxied_manifest(manifest_url), synthetic.as_deref())
}

fn check_dash(name: &str, text: &str, manifest_url: &str) -> Rewritten {
    let out = rewrite_dash(text, manifest_url, &mut proxy_map).unwrap_or_else(|e| panic!("{name}: {e}"));
    let before = dash_fetches(text, manifest_url, None);
    let after = player_fetches(text, &out.text, manifest_url);
    assert_same_fetches(name, &before, &after);
    // Apart from URL values, only the inserted BaseURL may differ.
    let mut skeleton = out.text.clone();
    if let Some((link, at)) = inserted_base(text, &out.text, manifest_url) {
        assert!(!tree(text).iter().any(|root| root.name == "MPD" && root.kids("BaseURL").next().is_some()), "{name}: a BaseURL inserted next to the MPD's own");
        skeleton.replace_range(at..at + format!("<BaseURL>{link}</BaseURL>").len(), "");
    }
    assert_eq!(dash_skeleton(&skeleton), dash_skeleton(text), "{name}: non-URL bytes changed");
    out
}

#[test]
fn every_dash_file_of_the_corpus_rewrites_and_fetches_the_same_media_through_the_proxy() {
    let files = corpus("dash");
    assert!(files.len() >= 40, "corpus has {} DASH files", files.len());
    let mut fetches = 0;
    let mut kept_relative = 0;
    let mut inserted = 0;
    for (name, text) in &files {
        let url = format!("https://media.example.com/vod/title-1/dash/{name}");
        let out = check_dash(name, text, &url);
        let n = dash_fetches(text, &url, None).len();
        fetches += n;
        kept_relative += out.text.matches("media=\"$RepresentationID$").count();
        inserted += usize::from(inserted_base(text, &out.text, &url).is_some());
        if n > 0 {
            assert_ne!(out.text, *text, "{name}: nothing was rewritten");
        }
    }
    assert!(fetches > 1000, "only {fetches} fetches checked");
    assert!(kept_relative > 0, "no template was kept relative below a proxied BaseURL");
    println!("{} DASH files, {fetches} fetches checked, {inserted} MPDs got a BaseURL for their directory", files.len());
    assert!(inserted >= 10, "only {inserted} MPDs got a BaseURL for their directory");
}

/// What media-core's own MPD parser (the player's) makes of a manifest:
/// per Representation, its addressing and the URLs it fetches, each passed
/// through `url` (the identity upstream, `unproxy` after a rewrite).
fn parsed_fetches(m: &crate::mpd::Manifest, url: &dyn Fn(&str) -> String) -> Vec<String> {
    use crate::mpd::Addressing;
    let mut out = Vec::new();
    for (i, p) in m.periods.iter().enumerate() {
        for t in &p.tracks {
            for r in &t.representations {
                let at = format!("period {i} representation {}", r.id);
                if let Some(init) = &r.init {
                    out.push(format!("{at} init {} {:?}", url(&init.url), init.range));
                }
                match &r.addressing {
                    Addressing::Segments(list) => out.extend(list.iter().take(50).map(|s| format!("{at} segment {} {} {:?}", s.number, url(&s.url), s.range))),
                    Addressing::Numbered(n) => {
                        let from = n.period_start;
                        out.extend(n.between(from, from + 60.0).iter().map(|s| format!("{at} numbered {} {}", s.number, url(&s.url))));
                    }
                    Addressing::Indexed(x) => out.push(format!("{at} indexed {} {:?}", url(&x.url), x.index_range)),
                    Addressing::None => out.push(format!("{at} nothing to fetch")),
                }
            }
        }
    }
    out
}

#[test]
fn every_dash_file_of_the_corpus_parses_to_the_same_fetches_with_media_core_mpd_after_the_rewrite() {
    let (mut compared, mut refused) = (0, 0);
    for (name, text) in corpus("dash") {
        let url = format!("https://media.example.com/vod/title-1/dash/{name}");
        let out = rewrite_dash(&text, &url, &mut proxy_map).expect("rewrite");
        let now = Some(1_700_000_000_000.0);
        let before = crate::mpd::parse_at(&text, &url, now);
        let after = crate::mpd::parse_at(&out.text, &proxied_manifest(&url), now);
        match (before, after) {
            (Ok(before), Ok(after)) => {
                let upstream = parsed_fetches(&before, &|u| u.to_string());
                let proxied = parsed_fetches(&after, &|u| unproxy(u).unwrap_or_else(|| format!("NOT PROXIED {u}")));
                assert_eq!(proxied, upstream, "{name}");
                compared += upstream.len();
            }
            (Err(a), Err(b)) => {
                assert_eq!(std::mem::discriminant(&a), std::mem::discriminant(&b), "{name}: {a} / {b}");
                refused += 1;
            }
            (a, b) => panic!("{name}: {:?} / {:?}", a.err(), b.err()),
        }
    }
    assert!(compared > 1000 && refused < 10, "compared {compared} fetches, {refused} files refused by the parser");
}

/// HLS tags whose URI attribute the player fetches (and the attribute name).
const HLS_URI_TAGS: &[(&str, &str)] = &[
    ("#EXT-X-MAP:", "URI"),
    ("#EXT-X-KEY:", "URI"),
    ("#EXT-X-SESSION-KEY:", "URI"),
    ("#EXT-X-MEDIA:", "URI"),
    ("#EXT-X-I-FRAME-STREAM-INF:", "URI"),
    ("#EXT-X-PART:", "URI"),
    ("#EXT-X-PRELOAD-HINT:", "URI"),
    ("#EXT-X-RENDITION-REPORT:", "URI"),
    ("#EXT-X-SESSION-DATA:", "URI"),
    ("#EXT-X-DATERANGE:", "X-ASSET-URI"),
];

/// The quoted URL attribute of a tag line, as a byte range of the line.
fn hls_uri_value(line: &str) -> Option<(usize, usize)> {
    let (_, attr) = HLS_URI_TAGS.iter().find(|(t, _)| line.starts_with(t))?;
    let at = [format!(":{attr}=\""), format!(",{attr}=\"")].iter().filter_map(|p| line.find(p.as_str()).map(|i| i + p.len())).min()?;
    let end = at + line[at..].find('"')?;
    Some((at, end))
}

/// Lines with their endings: CRLF, LF or a lone CR.
fn hls_lines(text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let len = match (b[i], b.get(i + 1)) {
            (b'\r', Some(b'\n')) => 2,
            (b'\r' | b'\n', _) => 1,
            _ => 0,
        };
        if len > 0 {
            out.push((&text[start..i], &text[i..i + len]));
            start = i + len;
            i += len;
        } else {
            i += 1;
        }
    }
    if start < text.len() {
        out.push((&text[start..], ""));
    }
    out
}

/// What an HLS player fetches: (line number, absolute URL), `{$var}` lines raw.
fn hls_fetches(text: &str, doc_url: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (n, (line, _)) in hls_lines(text).into_iter().enumerate() {
        let line = line.trim_start_matches('\u{feff}').trim();
        let value = if line.is_empty() {
            continue;
        } else if !line.starts_with('#') {
            line
        } else if let Some((s, e)) = hls_uri_value(line) {
            &line[s..e]
        } else {
            continue;
        };
        let url = if value.contains("{$") { value.to_string() } else { rfc::resolve(doc_url, value) };
        out.push((format!("line {}", n + 1), url));
    }
    out
}

fn hls_skeleton(text: &str) -> String {
    hls_lines(text)
        .into_iter()
        .map(|(body, ending)| {
            let line = format!("{body}{ending}");
            let t = body.trim_start_matches('\u{feff}').trim();
            if !t.is_empty() && !t.starts_with('#') {
                format!("\u{1}{ending}")
            } else if let Some((s, e)) = hls_uri_value(body) {
                format!("{}\u{1}{}{ending}", &body[..s], &body[e..])
            } else {
                line
            }
        })
        .collect()
}

fn check_hls(name: &str, text: &str, manifest_url: &str) -> Rewritten {
    let out = rewrite_hls(text, manifest_url, &mut proxy_map).unwrap_or_else(|e| panic!("{name}: {e}"));
    let before = hls_fetches(text, manifest_url);
    let after = hls_fetches(&out.text, &proxied_manifest(manifest_url));
    let (vars_before, before): (Vec<_>, Vec<_>) = before.into_iter().partition(|(_, u)| u.contains("{$"));
    let (vars_after, after): (Vec<_>, Vec<_>) = after.into_iter().partition(|(_, u)| u.contains("{$"));
    assert_eq!(vars_before, vars_after, "{name}: lines with variables must stay as they are");
    assert_same_fetches(name, &before, &after);
    assert_eq!(hls_skeleton(&out.text), hls_skeleton(text), "{name}: non-URL bytes changed");
    out
}

#[test]
fn every_hls_file_of_the_corpus_rewrites_and_fetches_the_same_media_through_the_proxy() {
    let files = corpus("hls");
    assert!(files.len() >= 21, "corpus has {} HLS files", files.len());
    let mut fetches = 0;
    for (name, text) in &files {
        let url = format!("https://media.example.com/vod/title-1/hls/{name}?token=abc");
        check_hls(name, text, &url);
        fetches += hls_fetches(text, &url).len();
    }
    assert!(fetches > 500, "only {fetches} fetches checked");
}

#[test]
fn snapshot_hls_master_with_session_data() {
    let (_, text) = corpus("hls").into_iter().find(|(n, _)| n == "hls-m3u8__master-with-sessiondata.m3u8").expect("corpus file");
    let out = rewrite_hls(&text, "https://origin.example/show/master.m3u8", &mut readable_map).expect("rewrite");
    assert_eq!(
        out.text,
        "#EXTM3U
#EXT-X-VERSION:7
#EXT-X-CONTENT-STEERING:SERVER-URI=\"/steering?video=00012\",PATHWAY-ID=\"CDN-A\"
#EXT-X-SESSION-DATA:DATA-ID=\"com.example.movie.title\",VALUE=\"good\",LANGUAGE=\"en\"
#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"https://p.test/Url/https%3A%2F%2Fkey.example.com/\"
#EXT-X-STREAM-INF:BANDWIDTH=600000
https://p.test/Url/https%3A%2F%2Forigin.example%2Fshow%2Fchunklist-b300000.m3u8/
"
    );
    assert_eq!(
        out.warnings,
        ["line 3: SERVER-URI of #EXT-X-CONTENT-STEERING left unchanged: the steering server answers with pathway URLs the proxy does not rewrite"]
    );
}

#[test]
fn snapshot_hls_chapters() {
    let (_, text) = corpus("hls").into_iter().find(|(n, _)| n == "shaka__hls-chapters__index.m3u8").expect("corpus file");
    let out = rewrite_hls(&text, "https://origin.example/a/index.m3u8", &mut readable_map).expect("rewrite");
    assert_eq!(
        out.text,
        "#EXTM3U
#EXT-X-VERSION:6

#EXT-X-STREAM-INF:PROGRAM-ID=1,BANDWIDTH=1240800,CODECS=\"avc1.42c01e\",RESOLUTION=192x144
https://p.test/Url/https%3A%2F%2Forigin.example%2Fa%2Fmedia.m3u8/

#EXT-X-SESSION-DATA:DATA-ID=\"com.apple.hls.chapters\",URI=\"https://p.test/Url/https%3A%2F%2Forigin.example%2Fa%2Fchapters.json/\"
"
    );
    assert!(out.warnings.is_empty());
}

#[test]
fn snapshot_dash_location() {
    let (_, text) = corpus("dash").into_iter().find(|(n, _)| n == "dash-mpd__go-dash-fixtures__location.mpd").expect("corpus file");
    let out = rewrite_dash(&text, "https://origin.example/live/manifest.mpd", &mut readable_map).expect("rewrite");
    assert_eq!(
        out.text,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="dynamic" availabilityStartTime="1970-01-01T00:00:00Z" minimumUpdatePeriod="PT5S" publishTime="1970-01-01T00:00:00Z">
  <Location>https://p.test/Url/https%3A%2F%2Fexample.com%2Flocation.mpd/</Location>
</MPD>
"#
    );
}

#[test]
fn snapshot_dash_segment_list() {
    let (_, text) = corpus("dash").into_iter().find(|(n, _)| n == "dash-mpd-rs__st-sl.mpd").expect("corpus file");
    let out = rewrite_dash(&text, "https://origin.example/vod/manifest.mpd", &mut readable_map).expect("rewrite");
    let want = text
        .replace("\"https://foobar.com/init.mp4\"", "\"https://p.test/Url/https%3A%2F%2Ffoobar.com%2Finit.mp4/\"")
        .replace("\"https://foobar.com/fie.0.m4v\"", "\"https://p.test/Url/https%3A%2F%2Ffoobar.com%2Ffie.0.m4v/\"")
        .replace("\"https://foobar.com/fie.1.m4v\"", "\"https://p.test/Url/https%3A%2F%2Ffoobar.com%2Ffie.1.m4v/\"")
        .replace("\"https://foobar.com/fie.2.m4v\"", "\"https://p.test/Url/https%3A%2F%2Ffoobar.com%2Ffie.2.m4v/\"");
    assert_ne!(want, text);
    assert_eq!(out.text, want);
}

/// BaseURL at all four levels, an absolute reset, alternatives, odd markup
/// that must survive byte for byte.
const FOUR_LEVELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!-- made by hand -->
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:xl="http://www.w3.org/1999/xlink" type='static'>
  <BaseURL serviceLocation="a">http://cdn-a.example/root/</BaseURL>
  <BaseURL serviceLocation="b">http://cdn-b.example/root/</BaseURL>
  <Period id="1">
    <BaseURL> period1/ </BaseURL>
    <AdaptationSet mimeType="video/mp4" >
      <BaseURL>../video/</BaseURL>
      <SegmentTemplate media="$RepresentationID$/seg-$Number%05d$.m4s?b=$Bandwidth$&amp;x=1" initialization='$RepresentationID$/init.mp4' />
      <Representation id="lo" bandwidth="100000"/>
      <Representation id="hi" bandwidth="900000"><BaseURL>https://other.example/abs/</BaseURL></Representation>
    </AdaptationSet >
    <AdaptationSet mimeType="audio/mp4">
      <Representation id="en" bandwidth="64000">
        <BaseURL>audio/en.mp4</BaseURL>
        <SegmentBase indexRange="0-999"><Initialization sourceURL="/init/en.mp4" range="0-99"/></SegmentBase>
      </Representation>
    </AdaptationSet>
    <x:Unknown xmlns:x="urn:example" media="not-a-url.m4s"><![CDATA[ <BaseURL>no</BaseURL> ]]></x:Unknown>
  </Period>
  <Period xl:href="https://ads.example/period.xml" xl:actuate="onLoad"/>
  <Period xl:href="urn:mpeg:dash:resolve-to-zero:2013"/>
</MPD>
"#;

#[test]
fn base_urls_at_four_levels_are_proxied_and_templates_still_expand() {
    let manifest = "https://origin.example/show/manifest.mpd";
    let proxied = check_dash("four levels", FOUR_LEVELS, manifest);
    let out = rewrite_dash(FOUR_LEVELS, manifest, &mut readable_map).expect("rewrite");
    assert_eq!(out.warnings, proxied.warnings);
    assert_eq!(
        out.text,
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!-- made by hand -->
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:xl="http://www.w3.org/1999/xlink" type='static'>
  <BaseURL serviceLocation="a">https://p.test/Base/http%3A%2F%2Fcdn-a.example%2Froot%2F/</BaseURL>
  <BaseURL serviceLocation="b">https://p.test/Base/http%3A%2F%2Fcdn-b.example%2Froot%2F/</BaseURL>
  <Period id="1">
    <BaseURL> period1/ </BaseURL>
    <AdaptationSet mimeType="video/mp4" >
      <BaseURL>https://p.test/Base/http%3A%2F%2Fcdn-a.example%2Froot%2Fvideo%2F/</BaseURL>
      <SegmentTemplate media="$RepresentationID$/seg-$Number%05d$.m4s?b=$Bandwidth$&amp;x=1" initialization='$RepresentationID$/init.mp4' />
      <Representation id="lo" bandwidth="100000"/>
      <Representation id="hi" bandwidth="900000"><BaseURL>https://p.test/Base/https%3A%2F%2Fother.example%2Fabs%2F/</BaseURL></Representation>
    </AdaptationSet >
    <AdaptationSet mimeType="audio/mp4">
      <Representation id="en" bandwidth="64000">
        <BaseURL>audio/en.mp4</BaseURL>
        <SegmentBase indexRange="0-999"><Initialization sourceURL="https://p.test/Url/http%3A%2F%2Fcdn-a.example%2Finit%2Fen.mp4/" range="0-99"/></SegmentBase>
      </Representation>
    </AdaptationSet>
    <x:Unknown xmlns:x="urn:example" media="not-a-url.m4s"><![CDATA[ <BaseURL>no</BaseURL> ]]></x:Unknown>
  </Period>
  <Period xl:href="https://p.test/Url/https%3A%2F%2Fads.example%2Fperiod.xml/" xl:actuate="onLoad"/>
  <Period xl:href="urn:mpeg:dash:resolve-to-zero:2013"/>
</MPD>
"#
    );
    // "../video/" climbs out of the Period's BaseURL, so it is made absolute,
    // against the first MPD BaseURL alternative.
    assert_eq!(out.warnings, ["several BaseURL alternatives are in scope; references made absolute use the first"]);

    // A player on the rewritten MPD: expand, resolve, request; the proxy
    // decodes exactly the URL the original MPD pointed to.
    let got: Vec<String> = player_fetches(FOUR_LEVELS, &proxied.text, manifest)
        .into_iter()
        .filter(|(what, _)| what.contains(" media") || what.contains("sourceURL") || what.ends_with(" base"))
        .map(|(what, u)| format!("{what} -> {}", unproxy(&u).unwrap_or_else(|| format!("NOT PROXIED {u}"))))
        .collect();
    assert_eq!(
        got,
        [
            "Representation lo base -> http://cdn-a.example/root/video/",
            "Representation lo media -> http://cdn-a.example/root/video/lo/seg-00007.m4s?b=100000&x=1",
            "Representation hi base -> https://other.example/abs/",
            "Representation hi media -> https://other.example/abs/hi/seg-00007.m4s?b=900000&x=1",
            "Representation en base -> http://cdn-a.example/root/period1/audio/en.mp4",
            "Representation en Initialization sourceURL -> http://cdn-a.example/init/en.mp4",
        ]
    );
}

#[test]
fn base_url_alternatives_resolve_against_the_level_above_not_each_other() {
    let mpd = r#"<MPD>
  <BaseURL>https://cdn-a.example/x/y/</BaseURL>
  <BaseURL>z/</BaseURL>
  <Period><BaseURL>p/</BaseURL><BaseURL>https://cdn-c.example/</BaseURL><BaseURL>../q/</BaseURL>
    <AdaptationSet><Representation id="r" bandwidth="1"><SegmentList><SegmentURL media="s.m4s"/></SegmentList></Representation></AdaptationSet>
  </Period>
</MPD>"#;
    let manifest = "https://origin.example/show/m.mpd";
    let out = check_dash("alternatives", mpd, manifest);
    let fetched: Vec<String> = player_fetches(mpd, &out.text, manifest).into_iter().map(|(w, u)| format!("{w}: {}", unproxy(&u).unwrap_or(u))).collect();
    assert_eq!(
        fetched,
        [
            "MPD BaseURL: https://cdn-a.example/x/y/",
            "MPD BaseURL: https://origin.example/show/z/",
            "Period BaseURL: https://cdn-a.example/x/y/p/",
            "Period BaseURL: https://cdn-c.example/",
            "Period BaseURL: https://cdn-a.example/x/q/",
            "Representation r base: https://cdn-a.example/x/y/p/",
            "Representation r SegmentURL media: https://cdn-a.example/x/y/p/s.m4s",
        ]
    );
    // "p/" stays relative, so a player that picks the second MPD BaseURL
    // still gets the matching Period URL; "../q/" cannot.
    assert!(out.text.contains("<BaseURL>p/</BaseURL>"));
    assert_eq!(out.warnings, ["several BaseURL alternatives are in scope; references made absolute use the first"]);
}

#[test]
fn templates_made_absolute_keep_their_identifiers_after_the_signed_prefix() {
    let mpd = r#"<MPD><Period><AdaptationSet>
      <BaseURL>https://cdn.example/a/b/</BaseURL>
      <SegmentTemplate media="../$RepresentationID$/$Number%03d$.m4s" initialization="/init/$RepresentationID$.mp4"/>
      <Representation id="v1" bandwidth="1"/>
    </AdaptationSet></Period>
    <Period><AdaptationSet>
      <SegmentTemplate media="/x/$RepresentationID$/seg.m4s?n=$Number$&amp;t=$Time$"/>
      <Representation id="v2" bandwidth="2"/>
    </AdaptationSet></Period></MPD>"#;
    let manifest = "https://origin.example/x/y/manifest.mpd";
    let mut seen = Vec::new();
    let mut map = |r: UrlRef<'_>| {
        seen.push(format!("{:?} {} + {}", r.kind, r.prefix, r.rest));
        proxy_map(r)
    };
    let out = rewrite_dash(mpd, manifest, &mut map).expect("rewrite");
    assert_eq!(
        seen,
        [
            "Base https://cdn.example/a/b/ + ",
            "Template https://cdn.example/a/ + $RepresentationID$/$Number%03d$.m4s",
            "Template https://cdn.example/init/ + $RepresentationID$.mp4",
            "Template https://origin.example/x/ + $RepresentationID$/seg.m4s?n=$Number$&t=$Time$",
        ]
    );
    let media: Vec<String> = player_fetches(mpd, &out.text, manifest).into_iter().map(|(_, u)| unproxy(&u).expect("proxied")).collect();
    assert_eq!(
        media,
        [
            "https://cdn.example/a/b/",
            "https://cdn.example/a/b/",
            "https://cdn.example/a/v1/007.m4s",
            "https://cdn.example/init/v1.mp4",
            "https://origin.example/x/v2/seg.m4s?n=7&t=900000",
        ]
    );
    check_dash("absolute templates", mpd, manifest);
}

/// The map under test, except that it records what it was asked.
fn recording_map(seen: &mut Vec<String>) -> impl FnMut(UrlRef<'_>) -> Option<String> + '_ {
    |r: UrlRef<'_>| {
        seen.push(format!("{:?} {} + {}", r.kind, r.prefix, r.rest));
        proxy_map(r)
    }
}

/// `readable_map`, but a base at a host root gets no link (as from the
/// `Linker`), whatever the `Linker` does with templates there.
fn readable_map_no_host_root_base(r: UrlRef<'_>) -> Option<String> {
    if r.kind == RefKind::Base && is_host_root_dir(r.prefix) {
        return None;
    }
    readable_map(r)
}

#[test]
fn a_template_above_a_representation_base_url_follows_it() {
    let mpd = r#"<MPD><Period><AdaptationSet>
      <SegmentTemplate media="$Number$.m4s"/>
      <Representation id="a" bandwidth="1"><BaseURL>https://cdn.example/a/</BaseURL></Representation>
    </AdaptationSet></Period></MPD>"#;
    let manifest = "https://origin.example/live/m.mpd";
    let out = check_dash("template above a base", mpd, manifest);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert!(out.text.contains(r#"<SegmentTemplate media="$Number$.m4s"/>"#), "kept relative: {}", out.text);
    let fetched: Vec<String> = player_fetches(mpd, &out.text, manifest).into_iter().map(|(w, u)| format!("{w}: {}", unproxy(&u).unwrap_or(u))).collect();
    assert_eq!(
        fetched,
        [
            "Representation BaseURL: https://cdn.example/a/",
            "Representation a base: https://cdn.example/a/",
            "Representation a media: https://cdn.example/a/7.m4s"
        ]
    );
}

#[test]
fn an_absolute_reference_above_a_representation_base_url_is_reported() {
    // A manifest at a host root: its directory gets no link, so no BaseURL
    // is inserted and the template is made absolute against the manifest.
    let mpd = r#"<MPD><Period><AdaptationSet>
      <SegmentTemplate media="$Number$.m4s"/>
      <Representation id="a" bandwidth="1"><BaseURL>https://cdn.example/a/</BaseURL></Representation>
    </AdaptationSet></Period></MPD>"#;
    let out = rewrite_dash(mpd, "https://origin.example/m.mpd", &mut readable_map_no_host_root_base).expect("rewrite");
    assert!(!out.text.starts_with("<MPD><BaseURL>"), "{}", out.text);
    assert!(out.text.contains(r#"<SegmentTemplate media="https://p.test/Template/https%3A%2F%2Forigin.example%2F/$Number$.m4s"/>"#), "{}", out.text);
    assert_eq!(out.warnings, ["a reference on an enclosing element was made absolute, so it does not follow a BaseURL declared further in"]);
}

/// Two cases found in real-world MPDs (manifest in `/live/`): a template
/// with no BaseURL at or above it, below which a Representation declares one.
const TEMPLATE_ABOVE_BASE: &str = r#"<MPD type="static" mediaPresentationDuration="PT4S"><Period><SegmentTemplate media="sq/$Number$" duration="2"/><AdaptationSet mimeType="video/mp4"><Representation id="1" bandwidth="1"><BaseURL>https://cdn.example/v/</BaseURL></Representation></AdaptationSet></Period></MPD>"#;
const TEMPLATE_ABOVE_RELATIVE_BASE: &str = r#"<MPD type="static" mediaPresentationDuration="PT4S"><Period><AdaptationSet mimeType="video/mp4"><SegmentTemplate media="$Number$.m4s" duration="2"/><Representation id="1" bandwidth="1"><BaseURL>v1/</BaseURL></Representation></AdaptationSet></Period></MPD>"#;
const LIVE_MANIFEST: &str = "https://origin.example/live/manifest.mpd";

#[test]
fn an_mpd_without_a_base_url_gets_one_for_its_directory_and_templates_follow_inner_bases() {
    let mut seen = Vec::new();
    let out = rewrite_dash(TEMPLATE_ABOVE_BASE, LIVE_MANIFEST, &mut recording_map(&mut seen)).expect("rewrite");
    assert_eq!(seen, ["Base https://origin.example/live/ + ", "Base https://cdn.example/v/ + "]);
    let dir = dir_link(LIVE_MANIFEST).expect("a directory link");
    let cdn = proxy_map(UrlRef { kind: RefKind::Base, prefix: "https://cdn.example/v/", rest: "" }).expect("a directory link");
    assert_eq!(out.text, TEMPLATE_ABOVE_BASE.replacen("<Period>", &format!("<BaseURL>{dir}</BaseURL><Period>"), 1).replace("https://cdn.example/v/", &cdn));
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let media: Vec<String> =
        player_fetches(TEMPLATE_ABOVE_BASE, &out.text, LIVE_MANIFEST).into_iter().map(|(w, u)| format!("{w}: {}", unproxy(&u).unwrap_or(u))).collect();
    assert_eq!(
        media,
        [
            "Representation BaseURL: https://cdn.example/v/",
            "Representation 1 base: https://cdn.example/v/",
            "Representation 1 media: https://cdn.example/v/sq/7"
        ]
    );
    check_dash("template above a base", TEMPLATE_ABOVE_BASE, LIVE_MANIFEST);

    let out = check_dash("template above a relative base", TEMPLATE_ABOVE_RELATIVE_BASE, LIVE_MANIFEST);
    assert!(out.text.contains(r#"<SegmentTemplate media="$Number$.m4s" duration="2"/>"#) && out.text.contains("<BaseURL>v1/</BaseURL>"), "{}", out.text);
    let media: Vec<String> =
        player_fetches(TEMPLATE_ABOVE_RELATIVE_BASE, &out.text, LIVE_MANIFEST).into_iter().map(|(_, u)| unproxy(&u).unwrap_or(u)).collect();
    assert_eq!(media, ["https://origin.example/live/v1/", "https://origin.example/live/v1/", "https://origin.example/live/v1/7.m4s"]);
}

#[test]
fn media_core_mpd_reads_the_inserted_base_url_and_resolves_segments_through_it() {
    for (mpd, first, second) in [
        (TEMPLATE_ABOVE_BASE, "https://cdn.example/v/sq/1", "https://cdn.example/v/sq/2"),
        (TEMPLATE_ABOVE_RELATIVE_BASE, "https://origin.example/live/v1/1.m4s", "https://origin.example/live/v1/2.m4s"),
    ] {
        let out = rewrite_dash(mpd, LIVE_MANIFEST, &mut proxy_map).expect("rewrite");
        assert!(out.text.starts_with("<MPD type=\"static\" mediaPresentationDuration=\"PT4S\"><BaseURL>https://proxy.test/proxy/"), "{}", out.text);
        // The player loads the rewritten MPD through the proxy.
        let parsed = crate::mpd::parse(&out.text, &proxied_manifest(LIVE_MANIFEST)).expect("the player's parser reads it");
        let rep = &parsed.periods[0].tracks[0].representations[0];
        let urls: Vec<String> = rep.segments().iter().map(|s| unproxy(&s.url).unwrap_or_else(|| format!("NOT PROXIED {}", s.url))).collect();
        assert_eq!(urls, [first, second], "{mpd}");
        // ... and the original, straight from upstream, gives the same URLs.
        let upstream = crate::mpd::parse(mpd, LIVE_MANIFEST).expect("parse");
        let urls: Vec<&str> = upstream.periods[0].tracks[0].representations[0].segments().iter().map(|s| s.url.as_str()).collect();
        assert_eq!(urls, [first, second], "{mpd}");
    }
}

#[test]
fn references_with_an_empty_path_are_resolved_against_the_manifest_not_its_directory() {
    // `?v=1` resolves to the manifest itself upstream: it cannot stay
    // relative below the inserted directory, so it is made absolute; the
    // plain relative template still causes the insertion.
    let mpd = r#"<MPD><Period><AdaptationSet><Representation id="r" bandwidth="1"><SegmentList><SegmentURL media="?v=1"/></SegmentList><SegmentTemplate media="t/$Number$"/></Representation></AdaptationSet></Period></MPD>"#;
    let mut seen = Vec::new();
    let out = rewrite_dash(mpd, LIVE_MANIFEST, &mut recording_map(&mut seen)).expect("rewrite");
    assert_eq!(seen, ["Url https://origin.example/live/manifest.mpd?v=1 + ", "Base https://origin.example/live/ + "]);
    assert!(out.text.contains(r#"<SegmentTemplate media="t/$Number$"/>"#), "{}", out.text);
    check_dash("empty path", mpd, LIVE_MANIFEST);
}

#[test]
fn an_inserted_base_url_takes_the_prefix_of_the_mpd_element() {
    let mpd = r#"<d:MPD xmlns:d="urn:mpeg:dash:schema:mpd:2011"><d:Period><d:SegmentTemplate media="$Number$.m4s"/></d:Period></d:MPD>"#;
    let out = rewrite_dash(mpd, LIVE_MANIFEST, &mut readable_map).expect("rewrite");
    assert_eq!(
        out.text,
        r#"<d:MPD xmlns:d="urn:mpeg:dash:schema:mpd:2011"><d:BaseURL>https://p.test/Base/https%3A%2F%2Forigin.example%2Flive%2F/</d:BaseURL><d:Period><d:SegmentTemplate media="$Number$.m4s"/></d:Period></d:MPD>"#
    );
    // Nothing is inserted when the MPD has a BaseURL, or nothing depends on one.
    for mpd in [
        r#"<MPD><BaseURL>https://cdn.example/x/</BaseURL><Period><SegmentTemplate media="$Number$.m4s"/></Period></MPD>"#,
        r#"<MPD><Period><SegmentTemplate media="https://cdn.example/$Number$.m4s"/></Period></MPD>"#,
        r#"<MPD><Location>next.mpd</Location><Period/></MPD>"#,
    ] {
        let out = rewrite_dash(mpd, LIVE_MANIFEST, &mut readable_map).expect("rewrite");
        assert_eq!(out.text.matches("<BaseURL>").count(), mpd.matches("<BaseURL>").count(), "{}", out.text);
    }
}

#[test]
fn a_host_root_base_url_naming_a_file_gets_an_exact_link_and_what_is_below_is_made_absolute() {
    let mpd = r#"<MPD><Period><AdaptationSet><Representation id="en" bandwidth="1">
      <BaseURL>https://cdn.example/audio.mp4</BaseURL>
      <SegmentBase indexRange="0-99"><Initialization sourceURL="init.mp4" range="0-9"/></SegmentBase>
    </Representation></AdaptationSet></Period></MPD>"#;
    let manifest = "https://origin.example/vod/m.mpd";
    let mut seen = Vec::new();
    let out = rewrite_dash(mpd, manifest, &mut recording_map(&mut seen)).expect("rewrite");
    assert_eq!(seen, ["Base https://cdn.example/ + audio.mp4", "Url https://cdn.example/audio.mp4 + ", "Url https://cdn.example/init.mp4 + "]);
    let file = out.text.split("<BaseURL>").nth(1).and_then(|t| t.split("</BaseURL>").next()).expect("a BaseURL");
    let req = decode_proxy_path(file.strip_prefix(ORIGIN).expect("proxied")).expect("a proxy path");
    assert_eq!(req.upstream(), "https://cdn.example/audio.mp4");
    assert_eq!((req.scope, req.rest.as_str()), (crate::proxy::sign::Scope::File, ""), "an exact link: {req:?}");
    let fetched: Vec<String> = player_fetches(mpd, &out.text, manifest).into_iter().map(|(w, u)| format!("{w}: {}", unproxy(&u).unwrap_or(u))).collect();
    assert_eq!(
        fetched,
        [
            "Representation BaseURL: https://cdn.example/audio.mp4",
            "Representation en base: https://cdn.example/audio.mp4",
            "Representation en Initialization sourceURL: https://cdn.example/init.mp4",
        ]
    );
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    check_dash("file at a host root", mpd, manifest);
}

#[test]
fn a_host_root_base_url_directory_is_left_as_written_and_what_is_below_is_made_absolute() {
    let mpd = r#"<MPD><BaseURL>https://cdn.example/</BaseURL><Period><AdaptationSet>
      <SegmentTemplate media="$RepresentationID$/$Number$.m4s"/>
      <Representation id="v1" bandwidth="1"><SegmentList><SegmentURL media="s.m4s"/></SegmentList></Representation>
    </AdaptationSet></Period>
    <Period><BaseURL>/</BaseURL><AdaptationSet><Representation id="v2" bandwidth="1"><SegmentList><SegmentURL media="x/s.m4s"/></SegmentList></Representation></AdaptationSet></Period></MPD>"#;
    let manifest = "https://origin.example/vod/m.mpd";
    let mut seen = Vec::new();
    let out = rewrite_dash(mpd, manifest, &mut recording_map(&mut seen)).expect("rewrite");
    assert_eq!(
        seen,
        [
            "Base https://cdn.example/ + ",
            "Template https://cdn.example/ + $RepresentationID$/$Number$.m4s",
            "Url https://cdn.example/s.m4s + ",
            "Base https://cdn.example/ + ",
            "Url https://cdn.example/x/s.m4s + ",
        ]
    );
    assert!(out.text.starts_with("<MPD><BaseURL>https://cdn.example/</BaseURL>"), "{}", out.text);
    assert!(out.text.contains("<Period><BaseURL>/</BaseURL>"), "{}", out.text);
    let fetched: Vec<String> = player_fetches(mpd, &out.text, manifest).into_iter().map(|(w, u)| format!("{w}: {}", unproxy(&u).unwrap_or(u))).collect();
    assert_eq!(
        fetched,
        [
            "MPD BaseURL: https://cdn.example/",
            "Representation v1 base: https://cdn.example/",
            "Representation v1 media: https://cdn.example/v1/7.m4s",
            "Representation v1 SegmentURL media: https://cdn.example/s.m4s",
            "Period BaseURL: https://cdn.example/",
            "Representation v2 base: https://cdn.example/",
            "Representation v2 SegmentURL media: https://cdn.example/x/s.m4s",
        ]
    );
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    check_dash("directory at a host root", mpd, manifest);
}

#[test]
fn a_relative_reference_kept_above_a_host_root_base_url_is_reported() {
    // The template stays relative below the proxied MPD BaseURL, but the
    // second Representation resolves it against a host root: it cannot
    // be fetched through the proxy, and one attribute cannot say both.
    let mpd = r#"<MPD><BaseURL>https://cdn.example/a/</BaseURL><Period><AdaptationSet>
      <SegmentTemplate media="$Number$.m4s"/>
      <Representation id="1" bandwidth="1"/>
      <Representation id="2" bandwidth="1"><BaseURL>https://other.example/</BaseURL></Representation>
    </AdaptationSet></Period></MPD>"#;
    let out = rewrite_dash(mpd, "https://origin.example/vod/m.mpd", &mut proxy_map).expect("rewrite");
    assert!(out.text.contains(r#"<SegmentTemplate media="$Number$.m4s"/>"#));
    assert_eq!(
        out.warnings,
        ["a reference kept relative on an enclosing element resolves against a BaseURL the proxy cannot sign as a directory (a host root), so it cannot be fetched through the proxy"]
    );
}

#[test]
fn location_patch_location_segment_lists_and_entities() {
    let mpd = "<MPD type=\"dynamic\">\r\n<Location>live.mpd?a=1&amp;b=2</Location>\r\n\
        <PatchLocation ttl=\"60\">patch.mpp</PatchLocation>\r\n\
        <Period><BaseURL>http://cdn.example/x&#x2F;y/</BaseURL><AdaptationSet><Representation id=\"1\" bandwidth=\"1\">\r\n\
        <SegmentList><Initialization sourceURL=\"init.mp4\"/><SegmentURL media=\"s1.m4s\" mediaRange=\"0-10\"/>\
        <SegmentURL media=\"../s2.m4s\" index=\"data:,x\"/></SegmentList>\
        </Representation></AdaptationSet></Period></MPD>";
    let out = check_dash("entities", mpd, "https://origin.example/live/m.mpd");
    assert!(out.text.contains("\r\n<Location>https://proxy.test/proxy/"), "{}", out.text);
    assert!(out.text.contains("<SegmentURL media=\"s1.m4s\" mediaRange=\"0-10\"/>"), "kept relative: {}", out.text);
    assert!(out.text.contains("index=\"data:,x\""));
    let fetched: Vec<String> = player_fetches(mpd, &out.text, "https://origin.example/live/m.mpd").into_iter().map(|(_, u)| unproxy(&u).unwrap_or(u)).collect();
    assert_eq!(
        fetched,
        [
            "https://origin.example/live/live.mpd?a=1&b=2",
            "https://origin.example/live/patch.mpp",
            "http://cdn.example/x/y/",
            "http://cdn.example/x/y/",
            "http://cdn.example/x/y/init.mp4",
            "http://cdn.example/x/y/s1.m4s",
            "http://cdn.example/x/s2.m4s",
            "data:,x",
        ]
    );
}

#[test]
fn billion_laughs_is_refused_at_the_doctype() {
    let mut doc = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 { "lol".to_string() } else { format!("lol{}", i - 1) };
        doc += &format!("<!ENTITY lol{i} \"{}\">\n", format!("&{prev};").repeat(10));
    }
    doc += "]>\n<MPD><BaseURL>&lol9;</BaseURL></MPD>";
    assert!(doc.len() < 2000);
    assert_eq!(rewrite_dash(&doc, "https://o.example/m.mpd", &mut proxy_map), Err(RewriteError::Doctype));
    let plain = "<!DOCTYPE MPD><MPD/>";
    assert_eq!(rewrite_dash(plain, "https://o.example/m.mpd", &mut proxy_map), Err(RewriteError::Doctype));
}

#[test]
fn undefined_entities_are_refused() {
    for doc in ["<MPD><BaseURL>&lol;</BaseURL></MPD>", "<MPD><SegmentTemplate media=\"a&lol;b\"/></MPD>", "<MPD>&nbsp;</MPD>"] {
        let got = rewrite_dash(doc, "https://o.example/m.mpd", &mut proxy_map);
        assert!(matches!(got, Err(RewriteError::UnknownEntity(_))), "{doc}: {got:?}");
    }
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    // One allocation of 100 MiB; the rewriters must refuse it by its length.
    let mut huge = String::with_capacity(100 * 1024 * 1024);
    huge.push_str("#EXTM3U\n");
    huge.extend(std::iter::repeat_n(' ', 100 * 1024 * 1024 - huge.len()));
    assert_eq!(huge.capacity(), 100 * 1024 * 1024);
    assert_eq!(rewrite_hls(&huge, "https://o.example/a.m3u8", &mut proxy_map), Err(RewriteError::TooLarge(huge.len())));
    assert_eq!(rewrite_dash(&huge, "https://o.example/a.mpd", &mut proxy_map), Err(RewriteError::TooLarge(huge.len())));
}

#[test]
fn a_large_manifest_below_the_limit_rewrites() {
    let mut mpd = String::from("<MPD><Period><AdaptationSet><Representation id=\"r\" bandwidth=\"1\"><SegmentList>\n");
    for i in 0..20_000 {
        mpd += &format!("<SegmentURL media=\"https://cdn.example/v/{i}.m4s\"/>\n");
    }
    mpd += "</SegmentList></Representation></AdaptationSet></Period></MPD>";
    let out = rewrite_dash(&mpd, "https://o.example/a.mpd", &mut readable_map).expect("rewrite");
    assert_eq!(out.text.matches("https://p.test/Url/").count(), 20_000);
}

#[test]
fn nesting_is_bounded() {
    let nest = |n: usize| format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
    assert!(rewrite_dash(&nest(MAX_DEPTH), "https://o.example/a.mpd", &mut proxy_map).is_ok());
    assert_eq!(rewrite_dash(&nest(MAX_DEPTH + 1), "https://o.example/a.mpd", &mut proxy_map), Err(RewriteError::TooDeep));
    let deep = "<a>".repeat(1_000_000);
    assert_eq!(rewrite_dash(&deep, "https://o.example/a.mpd", &mut proxy_map), Err(RewriteError::TooDeep));
}

#[test]
fn huge_attributes_pass_through_and_huge_urls_are_refused() {
    let pssh = "A".repeat(8 * 1024 * 1024);
    let doc = format!("<MPD><ContentProtection value=\"{pssh}\"/><BaseURL>https://cdn.example/</BaseURL></MPD>");
    let out = rewrite_dash(&doc, "https://o.example/a.mpd", &mut readable_map).expect("rewrite");
    assert!(out.text.contains(&pssh));
    assert!(out.text.ends_with("<BaseURL>https://p.test/Base/https%3A%2F%2Fcdn.example%2F/</BaseURL></MPD>"));

    let long = format!("<MPD><SegmentURL media=\"{}\"/></MPD>", "a".repeat(MAX_URL_BYTES + 1));
    assert!(matches!(rewrite_dash(&long, "https://o.example/a.mpd", &mut proxy_map), Err(RewriteError::UrlTooLong(_))));
    let long_hls = format!("#EXTM3U\n{}\n", "a".repeat(MAX_URL_BYTES + 1));
    assert!(matches!(rewrite_hls(&long_hls, "https://o.example/a.m3u8", &mut proxy_map), Err(RewriteError::UrlTooLong(_))));
}

#[test]
fn malformed_and_truncated_xml() {
    for doc in ["<MPD><Period></MPD>", "<MPD a=\"1\" a></MPD>", "<MPD><BaseURL>x</Period></MPD>", "<MPD>&#0;</MPD>"] {
        let got = rewrite_dash(doc, "https://o.example/m.mpd", &mut proxy_map);
        assert!(matches!(got, Err(RewriteError::Xml { .. })), "{doc}: {got:?}");
    }
    let cut = "<MPD><Period><BaseURL>https://cdn.example/</BaseURL><AdaptationSet";
    let got = rewrite_dash(cut, "https://o.example/m.mpd", &mut proxy_map);
    assert!(matches!(got, Err(RewriteError::Xml { .. })), "{got:?}");
    let unclosed = "<MPD><Period><BaseURL>https://cdn.example/</BaseURL>\n";
    let out = rewrite_dash(unclosed, "https://o.example/m.mpd", &mut readable_map).expect("rewrite");
    assert_eq!(out.text, "<MPD><Period><BaseURL>https://p.test/Base/https%3A%2F%2Fcdn.example%2F/</BaseURL>\n");
    assert_eq!(out.warnings, ["document ends inside 2 unclosed element(s); rewrote what is there"]);
}

#[test]
fn bad_manifest_urls_and_map_outputs_are_typed_errors() {
    assert!(matches!(rewrite_dash("<MPD/>", "/relative.mpd", &mut proxy_map), Err(RewriteError::BadManifestUrl(_))));
    assert!(matches!(rewrite_hls("#EXTM3U\n", "file:///x.m3u8", &mut proxy_map), Err(RewriteError::BadManifestUrl(_))));
    let mut newline = |_: UrlRef<'_>| Some("https://p.test/a\nb".to_string());
    assert!(matches!(rewrite_hls("#EXTM3U\nseg.ts\n", "https://o.example/a.m3u8", &mut newline), Err(RewriteError::BadMapOutput(_))));
    let mut quote = |_: UrlRef<'_>| Some("https://p.test/\"".to_string());
    let got = rewrite_hls("#EXTM3U\n#EXT-X-MAP:URI=\"i.mp4\"\n", "https://o.example/a.m3u8", &mut quote);
    assert!(matches!(got, Err(RewriteError::BadMapOutput(_))));
    // In XML the quote is escaped instead.
    let out = rewrite_dash("<MPD><SegmentURL media=\"/a\"/></MPD>", "https://o.example/a.mpd", &mut quote).expect("rewrite");
    assert_eq!(out.text, "<MPD><SegmentURL media=\"https://p.test/&quot;\"/></MPD>");
}

#[test]
fn hls_media_playlist_with_every_kind_of_reference() {
    let text = "\u{feff}#EXTM3U\r\n\
#EXT-X-VERSION:9\r\n\
#EXT-X-DEFINE:QUERYPARAM=\"token\"\r\n\
#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://key-id\",KEYFORMAT=\"com.apple.streamingkeydelivery\"\r\n\
#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI=\"data:text/plain;base64,AAAA\"\r\n\
#EXT-X-KEY:METHOD=AES-128,URI=\"../keys/k1.bin\",IV=0x00000000000000000000000000000001\r\n\
#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"720@0\"\r\n\
#EXTINF:4.0,\r\n\
#EXT-X-BYTERANGE:1000@720\r\n\
main.mp4\r\n\
#EXT-X-PART:DURATION=1.0,URI=\"/abs/part.1.m4s\",BYTERANGE=\"100@0\"\r\n\
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part.2.m4s\"\r\n\
#EXT-X-RENDITION-REPORT:URI=\"../720p/index.m3u8\",LAST-MSN=10\r\n\
#EXT-X-DATERANGE:ID=\"ad\",START-DATE=\"2020-01-01T00:00:00Z\",X-ASSET-URI=\"https://ads.example/ad.m3u8\"\r\n\
#EXTINF:4.0,\r\n\
  seg-{$token}.ts  \r\n\
#EXTINF:4.0,\r\n\
https://other.example/seg3.ts\r\n\
# a comment with URI=\"x\"\r\n";
    let out = rewrite_hls(text, "https://origin.example/show/1080p/index.m3u8", &mut readable_map).expect("rewrite");
    assert_eq!(
        out.text,
        "\u{feff}#EXTM3U\r\n\
#EXT-X-VERSION:9\r\n\
#EXT-X-DEFINE:QUERYPARAM=\"token\"\r\n\
#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://key-id\",KEYFORMAT=\"com.apple.streamingkeydelivery\"\r\n\
#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI=\"data:text/plain;base64,AAAA\"\r\n\
#EXT-X-KEY:METHOD=AES-128,URI=\"https://p.test/Url/https%3A%2F%2Forigin.example%2Fshow%2Fkeys%2Fk1.bin/\",IV=0x00000000000000000000000000000001\r\n\
#EXT-X-MAP:URI=\"https://p.test/Url/https%3A%2F%2Forigin.example%2Fshow%2F1080p%2Finit.mp4/\",BYTERANGE=\"720@0\"\r\n\
#EXTINF:4.0,\r\n\
#EXT-X-BYTERANGE:1000@720\r\n\
https://p.test/Url/https%3A%2F%2Forigin.example%2Fshow%2F1080p%2Fmain.mp4/\r\n\
#EXT-X-PART:DURATION=1.0,URI=\"https://p.test/Url/https%3A%2F%2Forigin.example%2Fabs%2Fpart.1.m4s/\",BYTERANGE=\"100@0\"\r\n\
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"https://p.test/Url/https%3A%2F%2Forigin.example%2Fshow%2F1080p%2Fpart.2.m4s/\"\r\n\
#EXT-X-RENDITION-REPORT:URI=\"https://p.test/Url/https%3A%2F%2Forigin.example%2Fshow%2F720p%2Findex.m3u8/\",LAST-MSN=10\r\n\
#EXT-X-DATERANGE:ID=\"ad\",START-DATE=\"2020-01-01T00:00:00Z\",X-ASSET-URI=\"https://p.test/Url/https%3A%2F%2Fads.example%2Fad.m3u8/\"\r\n\
#EXTINF:4.0,\r\n\
  seg-{$token}.ts  \r\n\
#EXTINF:4.0,\r\n\
https://p.test/Url/https%3A%2F%2Fother.example%2Fseg3.ts/\r\n\
# a comment with URI=\"x\"\r\n"
    );
    assert_eq!(out.warnings, ["line 16: URL uses an EXT-X-DEFINE variable and is left unchanged (cannot be resolved safely)"]);
    check_hls("every kind", text, "https://origin.example/show/1080p/index.m3u8");
}

#[test]
fn hls_master_playlist_tags_and_line_endings() {
    let text = "#EXTM3U\n\
#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"https://keys.example/k\"\n\
#EXT-X-SESSION-DATA:DATA-ID=\"x\",URI=\"data.json\"\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en, main\",URI=\"audio/en.m3u8\"\n\
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"cc\",INSTREAM-ID=\"CC1\"\n\
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.4d401f,mp4a.40.2\",URI=\"iframe.m3u8\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=2,AUDIO=\"a\"\n\
video/index.m3u8\n\
#EXT-X-FOO:URI=\"custom.bin\"\r\
#EXT-X-STREAM-INF:BANDWIDTH=3\r\
lone-cr.m3u8";
    let out = check_hls("master", text, "https://origin.example/show/master.m3u8");
    assert_eq!(out.text.matches("https://proxy.test/proxy/").count(), 6, "{}", out.text);
    assert!(out.text.contains("\r#EXT-X-STREAM-INF:BANDWIDTH=3\rhttps://proxy.test/proxy/"));
    assert!(out.text.contains("#EXT-X-FOO:URI=\"custom.bin\"\r"));
    assert!(!out.text.ends_with('\n'), "no line ending is added");
    assert_eq!(out.warnings, ["line 9: URI attribute of unknown tag #EXT-X-FOO left unchanged"]);
    assert_eq!(rewrite_hls("<html>", "https://o.example/a.m3u8", &mut proxy_map), Err(RewriteError::NotAPlaylist));
}

#[test]
fn plain_relative_references_are_recognised() {
    for r in ["seg.m4s", "a/b.m4s", "$RepresentationID$/$Number$.m4s", "x?y=1", "", "..a/b", "a..b"] {
        assert!(is_plain_relative(r), "{r}");
    }
    for r in ["/abs", "//host/x", "../x", "a/./b", "a/%2E%2e/b", "http://x/", "a b", "a\\b", "x\n", "C:foo"] {
        assert!(!is_plain_relative(r), "{r}");
    }
}

#[test]
fn split_dir_finds_the_signed_prefix() {
    let s = |u: &str, limit: Option<usize>| split_dir(u, limit).map(|(p, r)| format!("{p} + {r}"));
    assert_eq!(s("https://h/a/b/c.mp4?x=1", None).as_deref(), Some("https://h/a/b/ + c.mp4?x=1"));
    assert_eq!(s("https://h", None).as_deref(), Some("https://h/ + "));
    assert_eq!(s("https://h?q=/x", None).as_deref(), Some("https://h/ + ?q=/x"));
    let t = "https://h/a/$RepresentationID$/b/$Number$.m4s";
    assert_eq!(s(t, t.find('$')).as_deref(), Some("https://h/a/ + $RepresentationID$/b/$Number$.m4s"));
    let q = "https://h/a/seg.m4s?n=$Number$";
    assert_eq!(s(q, q.find('$')).as_deref(), Some("https://h/a/ + seg.m4s?n=$Number$"));
    let host = "https://$Host$/a";
    assert_eq!(s(host, host.find('$')), None);
}

/// A deterministic stand-in for the fuzz targets: every corpus file cut,
/// spliced and salted with markup characters. Nothing may panic, and the
/// map only ever sees what `UrlRef` promises.
#[test]
fn mutated_corpus_inputs_never_panic() {
    let mut seed: u64 = 0x5eed;
    let mut next = move |n: usize| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n.max(1)
    };
    let salt = [
        "<",
        ">",
        "&",
        "&amp;",
        "\"",
        "'",
        "$",
        "$$",
        "/",
        "../",
        ":",
        "%2e",
        "\r",
        "\n",
        "<!--",
        "]]>",
        "<BaseURL>",
        "</MPD>",
        "#EXT-X-MAP:URI=\"",
        "{$v}",
        "\u{feff}",
        "é",
    ];
    let mut map = |r: UrlRef<'_>| {
        let lower = r.prefix.to_ascii_lowercase();
        assert!(lower.starts_with("http://") || lower.starts_with("https://"), "{r:?}");
        match r.kind {
            RefKind::Url => assert!(r.rest.is_empty(), "{r:?}"),
            RefKind::Base | RefKind::Template => assert!(r.prefix.ends_with('/') && !r.prefix.contains(['?', '#']), "{r:?}"),
        }
        if r.kind == RefKind::Template {
            assert!(!r.prefix.contains('$'), "{r:?}");
        }
        readable_map(r)
    };
    let (mut ok, mut refused) = (0, 0);
    for (name, text) in corpus("dash").into_iter().chain(corpus("hls")) {
        for _ in 0..24 {
            let mut t = text.clone();
            for _ in 0..=next(3) {
                let mut at = next(t.len() + 1);
                while !t.is_char_boundary(at) {
                    at -= 1;
                }
                match next(3) {
                    0 => t.truncate(at),
                    1 => t.insert_str(at, salt[next(salt.len())]),
                    _ => {
                        let mut end = (at + next(200)).min(t.len());
                        while !t.is_char_boundary(end) {
                            end -= 1;
                        }
                        let piece = t[at..end].to_string();
                        t.insert_str(end, &piece);
                    }
                }
            }
            let got = if name.ends_with(".m3u8") {
                rewrite_hls(&t, "https://origin.example/a/index.m3u8", &mut map)
            } else {
                rewrite_dash(&t, "https://origin.example/a/manifest.mpd", &mut map)
            };
            match got {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    refused += 1;
                }
            }
        }
    }
    assert!(ok > 100 && refused > 100, "ok {ok}, refused {refused}");
}

/// A realistic worker map: a long worker origin, a 22-character room id.
fn worker_map() -> impl FnMut(UrlRef<'_>) -> Option<String> {
    let mut linker = Linker::new("https://watch-together.example.workers.dev", SECRET, "AAAAAAAAAAAAAAAAAAAAAA", EXPIRES);
    move |r: UrlRef<'_>| linker.link(r)
}

fn vod_playlist(segments: usize) -> String {
    let mut s = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init.mp4\"\n");
    for i in 0..segments {
        s += &format!("#EXTINF:4.000,\nsegments/seg-{i:08}.m4s\n");
    }
    s + "#EXT-X-ENDLIST\n"
}

#[test]
fn legitimate_manifests_stay_well_inside_the_output_bound() {
    let mut worst = (0.0, String::new());
    for (name, text) in corpus("dash").into_iter().chain(corpus("hls")) {
        let hls = name.ends_with(".m3u8");
        let url = format!("https://media.example.com/vod/title-1/{}/{name}?token=abc", if hls { "hls" } else { "dash" });
        let out = if hls { rewrite_hls(&text, &url, &mut worker_map()) } else { rewrite_dash(&text, &url, &mut worker_map()) }.expect("rewrite");
        let ratio = out.text.len() as f64 / text.len() as f64;
        if ratio > worst.0 {
            worst = (ratio, name);
        }
    }
    let vod = vod_playlist(60_000);
    let out = rewrite_hls(&vod, "https://media.example.com/vod/title-1/hls/index.m3u8", &mut worker_map()).expect("a 60 000-segment playlist");
    let vod_ratio = out.text.len() as f64 / vod.len() as f64;
    println!("worst output/input ratio: {:.2} ({}); 60 000-segment playlist: {vod_ratio:.2} ({} bytes)", worst.0, worst.1, out.text.len());
    assert!(worst.0 * 2.0 < MAX_OUTPUT_RATIO as f64 && vod_ratio * 2.0 < MAX_OUTPUT_RATIO as f64, "{worst:?}, {vod_ratio}");
    assert!(out.text.len() < MAX_OUTPUT_BYTES, "{} bytes", out.text.len());
}

/// `#EXTM3U` then 2-byte lines up to `bytes`: each line a reference whose
/// link is ~65 times its size.
fn two_byte_lines(bytes: usize) -> String {
    let mut s = String::from("#EXTM3U\n");
    s += &"a\n".repeat((bytes - s.len()) / 2);
    s
}

#[test]
fn a_playlist_of_two_byte_lines_is_refused_early() {
    // More reference lines than a rewrite may map: refused before any map call.
    for bytes in [1_000_000, 16_000_000] {
        let mut calls = 0;
        let mut map = |_: UrlRef<'_>| {
            calls += 1;
            Some(String::from("https://proxy.test/x"))
        };
        let got = rewrite_hls(&two_byte_lines(bytes), "https://origin.example/live/index.m3u8", &mut map);
        let Err(RewriteError::Amplification { references, output_bytes: 0 }) = got else { panic!("{bytes} bytes: {got:?}") };
        assert!(references > MAX_REFERENCES, "{references}");
        assert_eq!(calls, 0, "{bytes} bytes: refused before the first link");
    }
    // Fewer lines, each growing ~65-fold: stopped at the output bound.
    let bytes = 300_000;
    let bound = bytes * MAX_OUTPUT_RATIO + MAX_OUTPUT_SLACK;
    let text = two_byte_lines(bytes);
    let lines = text.lines().count() - 1;
    // The worker's link for one line, given back for every line (the
    // real map, per line, would only make the test slower).
    let link = proxy_map(UrlRef { kind: RefKind::Url, prefix: "https://origin.example/live/a", rest: "" }).expect("a link");
    assert!(link.len() + 1 > 60 * 2, "a 2-byte line grows to {} bytes", link.len() + 1);
    let mut calls = 0;
    let mut map = |_: UrlRef<'_>| {
        calls += 1;
        Some(link.clone())
    };
    let got = rewrite_hls(&text, "https://origin.example/live/index.m3u8", &mut map);
    let Err(RewriteError::Amplification { references, output_bytes }) = got else { panic!("{got:?}") };
    println!("{bytes} bytes of 2-byte lines: refused after {references} references, {output_bytes} bytes written (bound {bound})");
    assert!(output_bytes > bound && output_bytes <= bound + 1024, "{references} {output_bytes}");
    assert!(calls < references && references < lines / 2, "{calls} map calls for {lines} lines");
    let e = RewriteError::Amplification { references: 7, output_bytes: 9 };
    assert!(e.to_string().contains("7 references") && e.to_string().contains(&format!("at most {MAX_REFERENCES} references")), "{e}");
}

#[test]
fn an_mpd_whose_links_outgrow_it_is_refused_early() {
    let mpd = format!(
        "<MPD><Period><AdaptationSet><Representation id=\"r\" bandwidth=\"1\"><SegmentList>{}</SegmentList></Representation></AdaptationSet></Period></MPD>",
        "<SegmentURL media=\"/s\"/>".repeat(4_000)
    );
    let long = format!("https://p.test/{}", "x".repeat(4_000));
    let mut calls = 0;
    let mut map = |_: UrlRef<'_>| {
        calls += 1;
        Some(long.clone())
    };
    let got = rewrite_dash(&mpd, "https://origin.example/live/m.mpd", &mut map);
    let bound = mpd.len() * MAX_OUTPUT_RATIO + MAX_OUTPUT_SLACK;
    let Err(RewriteError::Amplification { references, output_bytes }) = got else { panic!("{got:?}") };
    assert!(output_bytes > bound && output_bytes <= bound + long.len() + 64, "{output_bytes} written, bound {bound}");
    assert!(calls < 1_000 && references == calls + 1, "{calls} calls, {references} references");
}

#[test]
fn an_mpd_may_map_max_references_and_not_one_more() {
    let mpd = |n: usize| format!("<MPD><Period><SegmentList>{}</SegmentList></Period></MPD>", "<SegmentURL media=\"/s\"/>".repeat(n));
    let mut tiny = |_: UrlRef<'_>| Some("https://p/x".to_string());
    let out = rewrite_dash(&mpd(MAX_REFERENCES), "https://origin.example/m.mpd", &mut tiny).expect("at the bound");
    assert_eq!(out.text.matches("\"https://p/x\"").count(), MAX_REFERENCES);
    let got = rewrite_dash(&mpd(MAX_REFERENCES + 1), "https://origin.example/m.mpd", &mut tiny);
    assert!(matches!(got, Err(RewriteError::Amplification { references, .. }) if references == MAX_REFERENCES + 1), "{got:?}");
}

#[test]
fn a_reference_with_a_control_character_fails_the_rewrite_whatever_the_map_says() {
    // Found by the fuzzer: a map that gave no link left such a reference as
    // written, and a later rewrite of the output (with another base) failed.
    let mpd = "<MPD><Period><AdaptationSet><Representation id=\"a\" bandwidth=\"1\"><SegmentTemplate media=\"$Number$.m4s\" initialization=\"init.mp4?a\u{1}\0b\"/></Representation></AdaptationSet></Period></MPD>";
    for give_links in [true, false] {
        let mut map = |r: UrlRef<'_>| give_links.then(|| format!("https://p.test/{}", r.rest));
        assert!(matches!(rewrite_dash(mpd, "https://origin.example/a/m.mpd", &mut map), Err(RewriteError::ControlCharacter)), "{give_links}");
    }
    let mut map = |_: UrlRef<'_>| Some("https://p.test/x".to_string());
    assert!(matches!(rewrite_hls("#EXTM3U\nseg\u{7}.ts\n", "https://origin.example/a/m.m3u8", &mut map), Err(RewriteError::ControlCharacter)));
}
