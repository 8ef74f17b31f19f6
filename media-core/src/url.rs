//! RFC 3986 §5.2 reference resolution, for the URLs manifests carry.

/// The five parts of a URL reference (RFC 3986, Appendix B).
#[derive(Clone, Copy, Default)]
struct Parts<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

/// `s` up to the first `c`, and what follows it (ASCII `c`: both are on char boundaries).
fn cut(s: &str, c: u8) -> (&str, Option<&str>) {
    match s.bytes().position(|b| b == c) {
        Some(i) => (s.get(..i).unwrap_or(""), s.get(i + 1..)),
        None => (s, None),
    }
}

/// Split into (scheme, authority, path, query, fragment).
fn split(s: &str) -> Parts<'_> {
    let (s, fragment) = cut(s, b'#');
    let (s, query) = cut(s, b'?');
    let scheme_end = s.bytes().position(|b| b == b':').filter(|&i| {
        let name = s.as_bytes().get(..i).unwrap_or_default();
        name.first().is_some_and(u8::is_ascii_alphabetic) && name.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    });
    let (scheme, rest) = match scheme_end {
        Some(i) => (s.get(..i), s.get(i + 1..).unwrap_or("")),
        None => (None, s),
    };
    let (authority, path) = match rest.strip_prefix("//") {
        Some(r) => match r.bytes().position(|b| b == b'/') {
            Some(i) => (r.get(..i), r.get(i..).unwrap_or("")),
            None => (Some(r), ""),
        },
        None => (None, rest),
    };
    Parts { scheme, authority, path, query, fragment }
}

/// Whether a path has a `.` or `..` segment.
fn has_dot_segment(path: &str) -> bool {
    let b = path.as_bytes();
    let ends = |j: usize| matches!(b.get(j), None | Some(b'/'));
    let mut i = 0;
    while let Some(at) = b.get(i..).and_then(|t| t.iter().position(|&c| c == b'.')).map(|p| i + p) {
        let starts_segment = at == 0 || b.get(at - 1) == Some(&b'/');
        if starts_segment && (ends(at + 1) || (b.get(at + 1) == Some(&b'.') && ends(at + 2))) {
            return true;
        }
        i = at + 1;
    }
    false
}

fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segs: Vec<&str> = path.split('/').collect();
    for (i, seg) in segs.iter().enumerate() {
        let last = i == segs.len() - 1;
        match *seg {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if path.starts_with('/') && !joined.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

/// Append `path` with its dot segments removed (copied as is when it has none).
fn push_path(out: &mut String, path: &str) {
    if has_dot_segment(path) {
        out.push_str(&remove_dot_segments(path));
    } else {
        out.push_str(path);
    }
}

/// Resolve `reference` against `base` (RFC 3986 §5.2.2, strict).
pub fn resolve(base: &str, reference: &str) -> String {
    let mut out = String::new();
    resolve_into(base, reference, &mut out);
    out
}

/// [`resolve`], appending the result to `out` (no allocation of its own
/// unless a path has dot segments to remove). The base is read only when
/// the reference has no scheme.
pub fn resolve_into(base: &str, reference: &str, out: &mut String) {
    let reference = reference.trim();
    if is_absolute_without_dots(reference) {
        out.push_str(reference);
        return;
    }
    let r = split(reference);
    let b = if r.scheme.is_some() { Parts::default() } else { split(base.trim()) };
    merge(&b, &r, out);
}

/// A reference with a scheme and no `.`/`..` segment anywhere resolves to
/// itself, whatever the base (§5.2.2: scheme, authority, path and query are
/// its own, the path has no dot segment to remove). Conservative: any `.`
/// after a `/` or `:` takes the full path.
fn is_absolute_without_dots(r: &str) -> bool {
    let b = r.as_bytes();
    let Some(end) = b.iter().position(|&c| matches!(c, b':' | b'?' | b'#')) else { return false };
    let name = b.get(..end).unwrap_or_default();
    b.get(end) == Some(&b':')
        && name.first().is_some_and(u8::is_ascii_alphabetic)
        && name.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        && !b.windows(2).any(|w| matches!(w, [b'/' | b':', b'.']))
}

/// A base URL split once, for resolving many references against it.
pub struct Base<'a>(Parts<'a>);

impl<'a> Base<'a> {
    pub fn new(base: &'a str) -> Self {
        Base(split(base.trim()))
    }

    /// [`resolve_into`] against this base.
    pub fn resolve_into(&self, reference: &str, out: &mut String) {
        let reference = reference.trim();
        if is_absolute_without_dots(reference) {
            out.push_str(reference);
        } else {
            merge(&self.0, &split(reference), out);
        }
    }
}

/// §5.2.2: the target of reference `r` against base `b`, appended to `out`.
fn merge(b: &Parts<'_>, r: &Parts<'_>, out: &mut String) {
    let scheme = r.scheme.or(b.scheme);
    let auth = if r.scheme.is_some() || r.authority.is_some() { r.authority } else { b.authority };
    if let Some(s) = scheme {
        out.push_str(s);
        out.push(':');
    }
    if let Some(a) = auth {
        out.push_str("//");
        out.push_str(a);
    }
    let query = if r.scheme.is_some() || r.authority.is_some() || r.path.starts_with('/') {
        push_path(out, r.path);
        r.query
    } else if r.path.is_empty() {
        out.push_str(b.path);
        r.query.or(b.query)
    } else {
        // Merge (§5.2.3): the base's directory, then the reference.
        let dir =
            if b.authority.is_some() && b.path.is_empty() { "/" } else { b.path.bytes().rposition(|c| c == b'/').and_then(|i| b.path.get(..=i)).unwrap_or("") };
        if has_dot_segment(dir) || has_dot_segment(r.path) {
            out.push_str(&remove_dot_segments(&format!("{dir}{}", r.path)));
        } else {
            out.push_str(dir);
            out.push_str(r.path);
        }
        r.query
    };
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    if let Some(f) = r.fragment {
        out.push('#');
        out.push_str(f);
    }
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn rfc3986_normal_examples() {
        let base = "http://a/b/c/d;p?q";
        for (rel, want) in [
            ("g:h", "g:h"),
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q#s"),
            ("g#s", "http://a/b/c/g#s"),
            (";x", "http://a/b/c/;x"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
        ] {
            assert_eq!(resolve(base, rel), want, "{rel}");
        }
    }

    #[test]
    fn rfc3986_abnormal_examples() {
        let base = "http://a/b/c/d;p?q";
        for (rel, want) in [
            ("../../../g", "http://a/g"),
            ("../../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
        ] {
            assert_eq!(resolve(base, rel), want, "{rel}");
        }
    }

    /// The resolver as it was before it was made allocation-free, kept to
    /// check the new one against, input for input.
    #[allow(clippy::all)]
    mod before {
        /// Split into (scheme, authority, path, query, fragment).
        fn split(s: &str) -> (Option<&str>, Option<&str>, &str, Option<&str>, Option<&str>) {
            let (s, fragment) = match s.find('#') {
                Some(i) => (&s[..i], Some(&s[i + 1..])),
                None => (s, None),
            };
            let (s, query) = match s.find('?') {
                Some(i) => (&s[..i], Some(&s[i + 1..])),
                None => (s, None),
            };
            let scheme_end = s.find(':').filter(|&i| {
                i > 0
                    && s[..i].chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && s[..i].chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            });
            let (scheme, rest) = match scheme_end {
                Some(i) => (Some(&s[..i]), &s[i + 1..]),
                None => (None, s),
            };
            let (authority, path) = match rest.strip_prefix("//") {
                Some(r) => match r.find('/') {
                    Some(i) => (Some(&r[..i]), &r[i..]),
                    None => (Some(r), ""),
                },
                None => (None, rest),
            };
            (scheme, authority, path, query, fragment)
        }

        fn remove_dot_segments(path: &str) -> String {
            let mut out: Vec<&str> = Vec::new();
            let segs: Vec<&str> = path.split('/').collect();
            for (i, seg) in segs.iter().enumerate() {
                let last = i == segs.len() - 1;
                match *seg {
                    "." => {
                        if last {
                            out.push("");
                        }
                    }
                    ".." => {
                        if out.len() > 1 {
                            out.pop();
                        }
                        if last {
                            out.push("");
                        }
                    }
                    s => out.push(s),
                }
            }
            let joined = out.join("/");
            if path.starts_with('/') && !joined.starts_with('/') {
                format!("/{joined}")
            } else {
                joined
            }
        }

        fn merge(base_authority: bool, base_path: &str, rel: &str) -> String {
            if base_authority && base_path.is_empty() {
                format!("/{rel}")
            } else {
                match base_path.rfind('/') {
                    Some(i) => format!("{}{}", &base_path[..=i], rel),
                    None => rel.to_string(),
                }
            }
        }

        /// Resolve `reference` against `base` (RFC 3986 §5.2.2, strict).
        pub(super) fn resolve(base: &str, reference: &str) -> String {
            let (r_scheme, r_auth, r_path, r_query, r_frag) = split(reference.trim());
            let (b_scheme, b_auth, b_path, b_query, _) = split(base.trim());
            let (scheme, auth, path, query);
            if r_scheme.is_some() {
                scheme = r_scheme;
                auth = r_auth;
                path = remove_dot_segments(r_path);
                query = r_query;
            } else {
                scheme = b_scheme;
                if r_auth.is_some() {
                    auth = r_auth;
                    path = remove_dot_segments(r_path);
                    query = r_query;
                } else {
                    auth = b_auth;
                    if r_path.is_empty() {
                        path = b_path.to_string();
                        query = r_query.or(b_query);
                    } else {
                        path =
                            if r_path.starts_with('/') { remove_dot_segments(r_path) } else { remove_dot_segments(&merge(b_auth.is_some(), b_path, r_path)) };
                        query = r_query;
                    }
                }
            }
            let mut out = String::new();
            if let Some(s) = scheme {
                out.push_str(s);
                out.push(':');
            }
            if let Some(a) = auth {
                out.push_str("//");
                out.push_str(a);
            }
            out.push_str(&path);
            if let Some(q) = query {
                out.push('?');
                out.push_str(q);
            }
            if let Some(f) = r_frag {
                out.push('#');
                out.push_str(f);
            }
            out
        }
    }

    #[test]
    fn resolves_exactly_as_the_allocating_resolver_did() {
        let bases = [
            "http://a/b/c/d;p?q",
            "https://h",
            "https://h?x",
            "https://h/",
            "https://h/a/./b/../c/f.mpd?t=1#f",
            "https://h/a/b/",
            "/rel/x.mpd",
            "x.mpd",
            "urn:a:b",
            " https://h/a/b.m3u8 ",
            "https://h//a",
        ];
        let parts = [
            "",
            ".",
            "..",
            "g",
            "g/",
            "./g",
            "../g",
            "../../../g",
            "/g",
            "//g",
            "//g/h/../i",
            "?y",
            "#s",
            "g?y#s",
            ";x",
            "g/./h",
            "g/../h",
            "a/../../b",
            "..g",
            "g.",
            "http://x/y/../z",
            "HTTPS://X",
            "seg-$Number$.m4s",
            "%2e%2e/x",
            " g ",
            "g:h",
            "a:b/c",
            "/./g",
            "/..",
        ];
        let mut n = 0;
        for b in bases {
            for r in parts {
                for r2 in ["", "/k", "?q2", "#f2", "/../k"] {
                    let r = format!("{r}{r2}");
                    assert_eq!(resolve(b, &r), before::resolve(b, &r), "{b} + {r}");
                    let mut out = String::from("kept:");
                    super::Base::new(b).resolve_into(&r, &mut out);
                    assert_eq!(out, format!("kept:{}", before::resolve(b, &r)), "{b} + {r}");
                    n += 1;
                }
            }
        }
        assert!(n > 1500);
    }

    #[test]
    fn root_relative_paths_without_scheme() {
        assert_eq!(resolve("/media/demo/manifest.mpd", "chunk-1.m4s"), "/media/demo/chunk-1.m4s");
    }
}
