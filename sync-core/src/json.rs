//! A small JSON reader and writer for the wire protocol.
//!
//! The protocol's messages are flat objects of strings, numbers and a few
//! nested objects and arrays. serde's derived decoders for internally
//! tagged enums were about half of the browser build; this module does the
//! same job in a few kilobytes. Reading is strict JSON (RFC 8259): a
//! complete value, nesting at most [`MAX_DEPTH`] deep, escapes checked,
//! nothing after it but whitespace. Numbers are read as `f64` and written by
//! [`decimal::write_f64`] (at most six decimals).

use std::fmt;

/// Deepest nesting a message may have (the protocol needs 4).
pub const MAX_DEPTH: usize = 32;

/// A parsed JSON value. Objects keep their members in order; when a key
/// repeats, lookups see the first.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Value>),
    Obj(Vec<(String, Value)>),
}

/// Why text is not JSON: what was wrong and the byte offset where.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    pub what: &'static str,
    pub at: usize,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

/// Parses one JSON text.
pub fn parse(text: &str) -> Result<Value, SyntaxError> {
    let mut r = Reader { b: text.as_bytes(), i: 0 };
    let v = r.value(0)?;
    r.ws();
    if r.i != r.b.len() {
        return Err(r.err("trailing characters"));
    }
    Ok(v)
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn err(&self, what: &'static str) -> SyntaxError {
        SyntaxError { what, at: self.i }
    }

    fn ws(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        let hit = self.b.get(self.i) == Some(&c);
        if hit {
            self.i += 1;
        }
        hit
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, SyntaxError> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("expected a value"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, SyntaxError> {
        self.ws();
        match self.b.get(self.i) {
            None => Err(self.err("unexpected end")),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'"') => self.string().map(Value::Str),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'[' | b'{') if depth >= MAX_DEPTH => Err(self.err("nested too deep")),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                if !self.eat(b']') {
                    loop {
                        items.push(self.value(depth + 1)?);
                        if self.eat(b']') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.err("expected `,` or `]`"));
                        }
                    }
                }
                Ok(Value::Arr(items))
            }
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                if !self.eat(b'}') {
                    loop {
                        self.ws();
                        if self.b.get(self.i) != Some(&b'"') {
                            return Err(self.err("expected a key"));
                        }
                        let key = self.string()?;
                        if !self.eat(b':') {
                            return Err(self.err("expected `:`"));
                        }
                        members.push((key, self.value(depth + 1)?));
                        if self.eat(b'}') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.err("expected `,` or `}`"));
                        }
                    }
                }
                Ok(Value::Obj(members))
            }
            Some(_) => Err(self.err("expected a value")),
        }
    }

    fn number(&mut self) -> Result<Value, SyntaxError> {
        let start = self.i;
        let digits = |r: &mut Self| {
            let s = r.i;
            while matches!(r.b.get(r.i), Some(b'0'..=b'9')) {
                r.i += 1;
            }
            r.i - s
        };
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        let int = self.i;
        let n = digits(self);
        if n == 0 || (n > 1 && self.b[int] == b'0') {
            return Err(SyntaxError { what: "bad number", at: start });
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return Err(SyntaxError { what: "bad number", at: start });
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(SyntaxError { what: "bad number", at: start });
            }
        }
        // The slice is ASCII digits and signs, so it is a str boundary.
        let text = std::str::from_utf8(&self.b[start..self.i]).map_err(|_| self.err("bad number"))?;
        decimal::parse_f64(text).map(Value::Num).ok_or(SyntaxError { what: "number out of range", at: start })
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut v = 0;
        for _ in 0..4 {
            let d = self.b.get(self.i).and_then(|&c| char::from(c).to_digit(16)).ok_or(self.err("bad \\u escape"))?;
            v = v * 16 + d;
            self.i += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        self.i += 1; // the opening quote
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote, backslash or control byte.
            let run = self.i;
            while matches!(self.b.get(self.i), Some(&c) if c != b'"' && c != b'\\' && c >= 0x20) {
                self.i += 1;
            }
            // The input is a &str and the run stops only at ASCII bytes, so
            // the run is whole characters.
            out.push_str(std::str::from_utf8(&self.b[run..self.i]).map_err(|_| self.err("bad UTF-8"))?);
            match self.b.get(self.i) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let esc = self.b.get(self.i).copied().ok_or(self.err("unterminated string"))?;
                    self.i += 1;
                    out.push(match esc {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !self.b[self.i..].starts_with(b"\\u") {
                                    return Err(self.err("lone surrogate"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err("lone surrogate"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code).ok_or(self.err("lone surrogate"))?
                        }
                        _ => return Err(self.err("bad escape")),
                    });
                }
                Some(_) => return Err(self.err("control character in string")),
            }
        }
    }
}

/// Appends `s` as a JSON string.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                let n = c as u32;
                out.push(char::from_digit(n >> 4, 16).unwrap_or('0'));
                out.push(char::from_digit(n & 15, 16).unwrap_or('0'));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes one JSON object, member by member.
pub struct ObjWriter<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> ObjWriter<'a> {
    pub fn new(out: &'a mut String) -> Self {
        out.push('{');
        ObjWriter { out, first: true }
    }

    /// Writes the key; the caller writes the value into the returned string.
    pub fn key(&mut self, k: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        write_str(self.out, k);
        self.out.push(':');
        self.out
    }

    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        write_str(self.key(k), v);
        self
    }

    pub fn num(&mut self, k: &str, v: f64) -> &mut Self {
        decimal::write_f64(self.key(k), v);
        self
    }

    pub fn uint(&mut self, k: &str, v: u64) -> &mut Self {
        decimal::write_u64(self.key(k), v);
        self
    }

    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k).push_str(if v { "true" } else { "false" });
        self
    }

    pub fn opt_str(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        if let Some(v) = v {
            self.str(k, v);
        }
        self
    }

    pub fn opt_num(&mut self, k: &str, v: Option<f64>) -> &mut Self {
        if let Some(v) = v {
            self.num(k, v);
        }
        self
    }

    /// `null` when absent (for consumers that want every key present).
    pub fn num_or_null(&mut self, k: &str, v: Option<f64>) -> &mut Self {
        match v {
            Some(v) => self.num(k, v),
            None => {
                self.key(k).push_str("null");
                self
            }
        }
    }

    pub fn opt_uint(&mut self, k: &str, v: Option<u64>) -> &mut Self {
        if let Some(v) = v {
            self.uint(k, v);
        }
        self
    }

    /// A nested value written by `f`.
    pub fn with(&mut self, k: &str, f: impl FnOnce(&mut String)) -> &mut Self {
        f(self.key(k));
        self
    }

    pub fn end(self) {
        self.out.push('}');
    }
}

/// Appends one object whose members `f` writes.
pub fn write_obj(out: &mut String, f: impl FnOnce(&mut ObjWriter)) {
    let mut o = ObjWriter::new(out);
    f(&mut o);
    o.end();
}

/// One object whose members `f` writes, as a new string.
pub fn object(f: impl FnOnce(&mut ObjWriter)) -> String {
    let mut out = String::new();
    write_obj(&mut out, f);
    out
}

/// Writes `items` as a JSON array, each by `f`.
pub fn write_arr<T>(out: &mut String, items: &[T], f: impl Fn(&mut String, &T)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        f(out, item);
    }
    out.push(']');
}

/// Why a field of a well-formed message is not usable.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub expected: &'static str,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: expected {}", self.field, self.expected)
    }
}

/// Typed access to an object's members. A `null` member counts as absent.
#[derive(Clone, Copy)]
pub struct Fields<'a>(pub &'a [(String, Value)]);

impl<'a> Fields<'a> {
    /// The object in `v`, if it is one.
    pub fn of(v: &'a Value) -> Option<Self> {
        match v {
            Value::Obj(m) => Some(Fields(m)),
            _ => None,
        }
    }

    pub fn get(&self, k: &str) -> Option<&'a Value> {
        self.0.iter().find(|(key, _)| key == k).map(|(_, v)| v).filter(|v| **v != Value::Null)
    }

    fn bad(k: &str, expected: &'static str) -> FieldError {
        FieldError { field: k.chars().take(64).collect(), expected }
    }

    fn opt<T>(&self, k: &str, expected: &'static str, f: impl FnOnce(&'a Value) -> Option<T>) -> Result<Option<T>, FieldError> {
        self.get(k).map(|v| f(v).ok_or_else(|| Self::bad(k, expected))).transpose()
    }

    fn req<T>(&self, k: &str, expected: &'static str, f: impl FnOnce(&'a Value) -> Option<T>) -> Result<T, FieldError> {
        self.opt(k, expected, f)?.ok_or_else(|| Self::bad(k, expected))
    }

    pub fn opt_str(&self, k: &str) -> Result<Option<String>, FieldError> {
        self.opt(k, "a string", |v| match v {
            Value::Str(s) => Some(s.clone()),
            _ => None,
        })
    }

    pub fn str(&self, k: &str) -> Result<String, FieldError> {
        self.opt_str(k)?.ok_or_else(|| Self::bad(k, "a string"))
    }

    pub fn opt_num(&self, k: &str) -> Result<Option<f64>, FieldError> {
        self.opt(k, "a number", as_num)
    }

    pub fn num(&self, k: &str) -> Result<f64, FieldError> {
        self.req(k, "a number", as_num)
    }

    pub fn opt_uint(&self, k: &str) -> Result<Option<u64>, FieldError> {
        self.opt(k, "a whole number ≥ 0", as_uint)
    }

    pub fn uint(&self, k: &str) -> Result<u64, FieldError> {
        self.req(k, "a whole number ≥ 0", as_uint)
    }

    pub fn opt_bool(&self, k: &str) -> Result<Option<bool>, FieldError> {
        self.opt(k, "true or false", |v| match v {
            Value::Bool(b) => Some(*b),
            _ => None,
        })
    }

    pub fn bool(&self, k: &str) -> Result<bool, FieldError> {
        self.opt_bool(k)?.ok_or_else(|| Self::bad(k, "true or false"))
    }

    pub fn obj(&self, k: &str) -> Result<Fields<'a>, FieldError> {
        self.req(k, "an object", Fields::of)
    }

    pub fn opt_obj(&self, k: &str) -> Result<Option<Fields<'a>>, FieldError> {
        self.opt(k, "an object", Fields::of)
    }

    /// Each element of the array member `k`, decoded by `f`.
    pub fn arr<T>(&self, k: &str, f: impl Fn(Fields<'a>) -> Result<T, FieldError>) -> Result<Vec<T>, FieldError> {
        let items = self.req(k, "an array", |v| match v {
            Value::Arr(items) => Some(items),
            _ => None,
        })?;
        items.iter().map(|v| Fields::of(v).ok_or_else(|| Self::bad(k, "an array of objects")).and_then(&f)).collect()
    }

    /// The array member `k` of whole numbers ≥ 0.
    pub fn uint_arr(&self, k: &str) -> Result<Vec<u64>, FieldError> {
        let items = self.req(k, "an array", |v| match v {
            Value::Arr(items) => Some(items),
            _ => None,
        })?;
        items.iter().map(|v| as_uint(v).ok_or_else(|| Self::bad(k, "an array of whole numbers ≥ 0"))).collect()
    }

    /// A string member read through `from` (an enum's wire names).
    pub fn name<T>(&self, k: &str, from: impl FnOnce(&str) -> Option<T>) -> Result<T, FieldError> {
        self.opt_name(k, from)?.ok_or_else(|| Self::bad(k, "a known name"))
    }

    pub fn opt_name<T>(&self, k: &str, from: impl FnOnce(&str) -> Option<T>) -> Result<Option<T>, FieldError> {
        self.opt(k, "a known name", |v| match v {
            Value::Str(s) => from(s),
            _ => None,
        })
    }
}

fn as_num(v: &Value) -> Option<f64> {
    match v {
        Value::Num(n) => Some(*n),
        _ => None,
    }
}

/// Whole numbers up to 2^53 (the exact range of a JSON number in a browser).
fn as_uint(v: &Value) -> Option<u64> {
    match v {
        Value::Num(n) if *n >= 0.0 && *n <= 9_007_199_254_740_992.0 && *n == (*n as u64) as f64 => Some(*n as u64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_kind_of_value() {
        let v = parse(r#" {"a": [1, -2.5, 3e2, true, false, null], "b": {"c": "d\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}, "":""} "#).unwrap();
        let f = Fields::of(&v).unwrap();
        assert_eq!(
            f.get("a"),
            Some(&Value::Arr(vec![Value::Num(1.0), Value::Num(-2.5), Value::Num(300.0), Value::Bool(true), Value::Bool(false), Value::Null]))
        );
        assert_eq!(f.obj("b").unwrap().str("c").unwrap(), "d\"\\/\u{8}\u{c}\n\r\té😀");
        assert_eq!(f.str("").unwrap(), "");
    }

    #[test]
    fn agrees_with_serde_json_on_what_is_json() {
        let cases = [
            "",
            " ",
            "{",
            "}",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "[1,]",
            "[,1]",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "+1",
            "-0",
            "1.5e+3",
            "tru",
            "nul",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "\"a\u{1}\"",
            "\"\\u12g4\"",
            "[1] x",
            "{\"a\":1}{}",
            "[[[]]]",
            "\"é\"",
            "{\"a\" : [ ] }",
            "1e999",
            "[-]",
            "{1:2}",
            "\"abc",
            "[\"a\",\"b\"]",
            "  null  ",
            "NaN",
            "Infinity",
            "\"\\ud83d\\ude00\"",
        ];
        for text in cases {
            let ours = parse(text).is_ok();
            let theirs = serde_json::from_str::<serde_json::Value>(text).is_ok();
            assert_eq!(ours, theirs, "{text:?}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        assert_eq!(parse(&deep).map_err(|e| e.what), Err("nested too deep"));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn written_strings_read_back_and_match_serde_json() {
        for s in ["", "plain", "quote \" backslash \\ slash /", "ctl \u{0}\u{1f}\n\r\t", "é 😀 \u{2028}"] {
            let mut out = String::new();
            write_str(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap());
            assert_eq!(parse(&out), Ok(Value::Str(s.to_string())));
        }
    }

    #[test]
    fn typed_fields_name_what_is_wrong() {
        let v = parse(r#"{"n":1.5,"u":3,"neg":-1,"s":"x","nul":null,"o":{"k":2},"a":[{"k":1},{"k":2}]}"#).unwrap();
        let f = Fields::of(&v).unwrap();
        assert_eq!(f.num("n"), Ok(1.5));
        assert_eq!(f.uint("u"), Ok(3));
        assert_eq!(f.uint("n").unwrap_err().to_string(), "field `n`: expected a whole number ≥ 0");
        assert!(f.uint("neg").is_err());
        assert_eq!(f.opt_str("nul"), Ok(None), "null is absent");
        assert_eq!(f.opt_str("missing"), Ok(None));
        assert!(f.str("missing").is_err());
        assert!(f.num("s").is_err());
        assert_eq!(f.obj("o").unwrap().uint("k"), Ok(2));
        assert_eq!(f.arr("a", |e| e.uint("k")), Ok(vec![1, 2]));
        assert!(f.arr("o", |e| e.uint("k")).is_err());
    }
}
