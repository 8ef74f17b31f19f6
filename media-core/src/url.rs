//! RFC 3986 §5.2 reference resolution, for the URLs manifests carry.

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
        i > 0 && s[..i].chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && s[..i].chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
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
pub fn resolve(base: &str, reference: &str) -> String {
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
                path = if r_path.starts_with('/') { remove_dot_segments(r_path) } else { remove_dot_segments(&merge(b_auth.is_some(), b_path, r_path)) };
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

    #[test]
    fn root_relative_paths_without_scheme() {
        assert_eq!(resolve("/media/demo/manifest.mpd", "chunk-1.m4s"), "/media/demo/chunk-1.m4s");
    }
}
