//! What members and chat may show as text: no invisible characters, no
//! bidi overrides, no name that poses as another member or as a role.

/// Bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069):
/// they reorder the text that follows ("Ana\u{202E}tsoh" reads "Anahost").
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that draw nothing (or only steer how others draw): zero-width
/// spaces and joiners, direction marks, invisible operators, variation
/// selectors, fillers, tags, the BOM. A name made of them looks empty or
/// like another name.
fn is_invisible(c: char) -> bool {
    is_bidi_control(c)
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202F}'
                | '\u{205F}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// Trim, drop control characters and bidi overrides, bound the length (in
/// characters). For chat lines and titles: joiners stay (emoji sequences).
pub fn clean_text(s: &str, max_chars: usize) -> String {
    s.chars().filter(|c| !c.is_control() && !is_bidi_control(*c)).take(max_chars).collect::<String>().trim().to_string()
}

/// A display name: no control or invisible characters, runs of white space
/// made one space, trimmed, at most `max_chars`.
pub fn clean_name(s: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut space = false;
    for c in s.chars().filter(|c| !c.is_control() && !is_invisible(*c)) {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    out.chars().take(max_chars).collect::<String>().trim_end().to_string()
}

/// Whether a name carries a role label the way pages show one next to a
/// name ("Ana (host)", "Ana [host]"). A plain "Host" is a name.
pub fn poses_as_role(name: &str) -> bool {
    let lower = name.to_lowercase();
    ["host", "controller", "viewer", "admin", "moderator", "you"]
        .iter()
        .any(|role| lower.contains(&format!("({role})")) || lower.contains(&format!("[{role}]")))
}

/// `name`, or `name (2)`, `name (3)`… — the first that `taken` says is free
/// (compared without case).
pub fn distinct(name: &str, max_chars: usize, taken: impl Fn(&str) -> bool) -> String {
    if !taken(name) {
        return name.to_string();
    }
    (2..)
        .map(|n| {
            let suffix = format!(" ({n})");
            let room = max_chars.saturating_sub(suffix.chars().count());
            format!("{}{suffix}", name.chars().take(room).collect::<String>().trim_end())
        })
        .find(|candidate| !taken(candidate))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_bidi_overrides_and_invisible_characters() {
        assert_eq!(clean_name("Ana\u{202E}tsoh", 40), "Anatsoh");
        assert_eq!(clean_name("\u{200B}\u{200D}\u{2066}", 40), "");
        assert_eq!(clean_name("  Ana \t\u{200B} Lee  ", 40), "Ana Lee");
        assert_eq!(clean_name("A\u{E0041}na", 40), "Ana");
        assert_eq!(clean_name("Zoë 👩‍🚀", 40), "Zoë 👩🚀", "joiners go in names (they could hide a look-alike)");
        assert_eq!(clean_text("hi 👩‍🚀\u{202E}", 100), "hi 👩‍🚀", "chat keeps joiners, loses overrides");
    }

    #[test]
    fn role_labels_are_refused_in_names() {
        assert!(poses_as_role("Ana (host)"));
        assert!(poses_as_role("ana (HOST)"));
        assert!(poses_as_role("Ana (you)"));
        assert!(!poses_as_role("Host"));
        assert!(!poses_as_role("Hostess"));
        assert!(!poses_as_role("Ana (2)"));
    }

    #[test]
    fn duplicates_get_a_number() {
        let names = ["Ana", "ana (2)"];
        let taken = |n: &str| names.iter().any(|x| x.eq_ignore_ascii_case(n));
        assert_eq!(distinct("Ana", 40, taken), "Ana (3)");
        assert_eq!(distinct("Bo", 40, taken), "Bo");
        assert_eq!(distinct("ANA", 6, taken).chars().count(), 6);
    }
}
