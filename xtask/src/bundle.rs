//! The shipped player bundles: player-wasm built twice (with the room, and
//! the player alone), each through wasm-bindgen, wasm-opt -Oz with short
//! import/export names, and esbuild for the JS glue.
//!
//! wasm-bindgen names every import `__wbg_<method>_<16 hex digits of hash>`
//! and the glue repeats each name once: ~100 imports, so ~3 KB of gzip is
//! hash digits that cannot compress. wasm-opt's
//! `--minify-imports-and-exports-and-modules` renames them (and prints the
//! map); [`rename_in_glue`] makes the glue use the same names.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use sync_core::json::{self, Value};

use crate::{core_inputs, run, setup, step, up_to_date, Result};

/// One build of the player: its cargo features and where its files go.
struct Variant {
    what: &'static str,
    no_default_features: bool,
    out_dir: &'static str,
}

const VARIANTS: [Variant; 2] = [
    Variant { what: "with the room (join, Session, WebAudio)", no_default_features: false, out_dir: "www/pkg" },
    Variant { what: "the player alone (MediaPlayer)", no_default_features: true, out_dir: "www/pkg/media" },
];

const WASM_FEATURES: [&str; 6] = [
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

pub fn build_player(root: &Path, tools: &setup::Tools) -> Result {
    let mut inputs = core_inputs(root);
    inputs.push(root.join("player-wasm"));
    inputs.push(root.join("xtask/src/bundle.rs"));
    for v in &VARIANTS {
        step(&format!("building player-wasm {} (wasm32, release)", v.what));
        let t = Instant::now();
        let out_dir = root.join(v.out_dir);
        if up_to_date(&out_dir.join("player_wasm.js"), &inputs) {
            println!("    up to date");
            continue;
        }
        let mut cargo = Command::new("cargo");
        cargo.args(["build", "--release", "--target", "wasm32-unknown-unknown", "-p", "player-wasm"]).current_dir(root);
        if v.no_default_features {
            cargo.arg("--no-default-features");
        }
        run(&mut cargo)?;
        // Cargo keeps both builds (features are part of the fingerprint) but
        // copies the last one here: bind it before the next build.
        let wasm = root.join("target/wasm32-unknown-unknown/release/player_wasm.wasm");
        run(Command::new(&tools.wasm_bindgen).arg("--target").arg("web").arg("--out-dir").arg(&out_dir).arg(&wasm))?;
        let glue = out_dir.join("player_wasm.js");
        let bg = out_dir.join("player_wasm_bg.wasm");
        // The glue is the up-to-date stamp: a build that fails past here
        // removes it, so the next run starts over.
        if let Err(e) = finish(root, tools, &bg, &glue, &out_dir) {
            let _ = std::fs::remove_file(&glue);
            return Err(e);
        }
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        println!("    {}/player_wasm_bg.wasm: {} bytes, player_wasm.js: {} bytes ({:.1} s)", v.out_dir, size(&bg), size(&glue), t.elapsed().as_secs_f64());
    }
    Ok(())
}

/// wasm-opt (short names), the glue renamed to match and minified.
fn finish(root: &Path, tools: &setup::Tools, bg: &Path, glue: &Path, out_dir: &Path) -> Result {
    let out = crate::proc::output(
        Command::new(&tools.wasm_opt)
            .arg("-Oz")
            .args(WASM_FEATURES)
            .arg("--minify-imports-and-exports-and-modules")
            // (Custom sections no browser reads: ~0.2 KB gzip.)
            .args(["--strip-producers", "--strip-target-features"])
            .arg(bg)
            .arg("-o")
            .arg(bg),
    )
    .map_err(|e| format!("wasm-opt: {e}"))?;
    if !out.status.success() {
        return Err(format!("wasm-opt failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let map = NameMap::parse(&String::from_utf8_lossy(&out.stdout))?;
    let module = import_module(&std::fs::read(bg).map_err(|e| format!("{}: {e}", bg.display()))?)?;
    let text = std::fs::read_to_string(glue).map_err(|e| format!("{}: {e}", glue.display()))?;
    std::fs::write(glue, rename_in_glue(&text, &map, &module)?).map_err(|e| e.to_string())?;
    // The types of the raw exports (`player_wasm_bg.wasm.d.ts`, and
    // `InitOutput`, what `init()` resolves to) name the new names too.
    for (file, prefix) in [("player_wasm_bg.wasm.d.ts", "const "), ("player_wasm.d.ts", "readonly ")] {
        let dts = out_dir.join(file);
        if let Ok(text) = std::fs::read_to_string(&dts) {
            std::fs::write(&dts, rename_in_dts(&text, &map, prefix)).map_err(|e| e.to_string())?;
        }
    }
    // The JS glue is shipped minified (same module, same exports).
    run(Command::new(root.join("node_modules/.bin/esbuild"))
        .arg(glue)
        .args(["--minify", "--format=esm", "--log-level=warning", "--allow-overwrite"])
        .arg(format!("--outfile={}", glue.display())))?;
    Ok(())
}

/// wasm-opt's map of old names to new ones.
#[derive(Debug, Default)]
struct NameMap {
    /// (old, new) import names.
    imports: Vec<(String, String)>,
    /// (old, new) export names.
    exports: Vec<(String, String)>,
}

impl NameMap {
    /// `{"imports": [[module, old, new], …], "exports": [[old, new], …]}`.
    fn parse(text: &str) -> Result<NameMap> {
        let bad = || format!("wasm-opt printed no name map: {}", text.chars().take(200).collect::<String>());
        let value = json::parse(text.trim()).map_err(|e| format!("wasm-opt name map: {e:?}"))?;
        let Value::Obj(members) = value else { return Err(bad()) };
        let list = |key: &str| -> Result<Vec<Vec<String>>> {
            let Some((_, Value::Arr(rows))) = members.iter().find(|(k, _)| k == key) else { return Err(bad()) };
            rows.iter()
                .map(|row| match row {
                    Value::Arr(cells) => cells.iter().map(|c| if let Value::Str(s) = c { Ok(s.clone()) } else { Err(bad()) }).collect(),
                    _ => Err(bad()),
                })
                .collect()
        };
        let pair = |mut row: Vec<String>| -> Result<(String, String)> {
            let new = row.pop().ok_or_else(bad)?;
            let old = row.pop().ok_or_else(bad)?;
            Ok((old, new))
        };
        Ok(NameMap {
            imports: list("imports")?.into_iter().map(pair).collect::<Result<_>>()?,
            exports: list("exports")?.into_iter().map(pair).collect::<Result<_>>()?,
        })
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// Occurrences of `word` in `text` not inside a longer identifier, after
/// `prefix` (which must directly precede it).
fn find_word(text: &str, prefix: &str, word: &str) -> Vec<usize> {
    let needle = format!("{prefix}{word}");
    let bytes = text.as_bytes();
    text.match_indices(&needle)
        .map(|(i, _)| i)
        .filter(|&i| i == 0 || !is_ident(bytes[i - 1]))
        .filter(|&i| bytes.get(i + needle.len()).is_none_or(|&b| !is_ident(b)))
        .map(|i| i + prefix.len())
        .collect()
}

fn replace_at(text: &str, at: &[usize], len: usize, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for &i in at {
        out.push_str(&text[last..i]);
        out.push_str(with);
        last = i + len;
    }
    out.push_str(&text[last..]);
    out
}

/// The glue with the new names: each import is a key of the imports object
/// (exactly once), exports are read as `wasm.NAME`, and the imports object
/// has one module.
fn rename_in_glue(glue: &str, map: &NameMap, module: &str) -> Result<String> {
    let mut text = glue.to_string();
    let modules = text.matches("\"./player_wasm_bg.js\":").count();
    if modules != 1 {
        return Err(format!("the glue has {modules} import modules \"./player_wasm_bg.js\" (expected 1): has wasm-bindgen changed?"));
    }
    text = text.replace("\"./player_wasm_bg.js\":", &format!("\"{module}\":"));
    for (old, new) in &map.imports {
        let at = find_word(&text, "", old);
        if at.len() != 1 {
            return Err(format!("import {old} is named {} times in the glue (expected once)", at.len()));
        }
        text = replace_at(&text, &at, old.len(), new);
    }
    for (old, new) in &map.exports {
        let at = find_word(&text, "wasm.", old);
        if at.is_empty() && !old.starts_with("__") {
            return Err(format!("export {old} is never read as `wasm.{old}` in the glue: has wasm-bindgen changed?"));
        }
        text = replace_at(&text, &at, old.len(), new);
    }
    Ok(text)
}

/// Declarations of the exports (`PREFIX NAME:`) with the new names.
fn rename_in_dts(dts: &str, map: &NameMap, prefix: &str) -> String {
    let mut text = dts.to_string();
    for (old, new) in &map.exports {
        let at = find_word(&text, prefix, old);
        text = replace_at(&text, &at, old.len(), new);
    }
    text
}

/// The one module name every import of `wasm` comes from (wasm-opt renames
/// it; the glue must use the same key).
fn import_module(wasm: &[u8]) -> Result<String> {
    let bad = |what: &str| format!("reading the wasm import section: {what}");
    if wasm.get(..4) != Some(b"\0asm") {
        return Err(bad("not a wasm module"));
    }
    let mut r = Reader { b: wasm, at: 8 };
    while r.at < wasm.len() {
        let id = r.byte().ok_or_else(|| bad("truncated"))?;
        let size = r.leb().ok_or_else(|| bad("truncated"))? as usize;
        let end = r.at + size;
        if id != 2 {
            r.at = end;
            continue;
        }
        let count = r.leb().ok_or_else(|| bad("truncated"))?;
        let mut modules: Vec<String> = Vec::new();
        for _ in 0..count {
            let module = r.name().ok_or_else(|| bad("bad module name"))?;
            let _field = r.name().ok_or_else(|| bad("bad field name"))?;
            match r.byte().ok_or_else(|| bad("truncated"))? {
                0 => drop(r.leb()),
                1 => {
                    r.byte();
                    r.limits();
                }
                2 => r.limits(),
                3 => {
                    r.byte();
                    r.byte();
                }
                4 => {
                    r.byte();
                    r.leb();
                }
                k => return Err(bad(&format!("import kind {k}"))),
            }
            if !modules.contains(&module) {
                modules.push(module);
            }
        }
        return match modules.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(bad(&format!("expected one import module, found {modules:?}"))),
        };
    }
    Err(bad("no import section"))
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.at)?;
        self.at += 1;
        Some(v)
    }
    fn leb(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn name(&mut self) -> Option<String> {
        let len = self.leb()? as usize;
        let s = std::str::from_utf8(self.b.get(self.at..self.at + len)?).ok()?.to_string();
        self.at += len;
        Some(s)
    }
    fn limits(&mut self) {
        if let Some(flags) = self.byte() {
            self.leb();
            if flags & 1 != 0 {
                self.leb();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GLUE: &str = r#"function __wbg_get_imports() {
    const import0 = {
        __proto__: null,
        __wbg_fetch_0123456789abcdef: function(arg0) { return arg0.fetch(); },
        __wbg_fetch_with_init_fedcba9876543210: function(arg0, arg1) { return arg0.fetch(arg1); },
    };
    return { __proto__: null, "./player_wasm_bg.js": import0 };
}
function invoke_h1(a) { wasm.invoke_h1(a); }
const F = new FinalizationRegistry(ptr => wasm.__wbg_player_free(ptr >>> 0, 1));
wasm.memory.buffer; wasm.memory_size; x.memory;
"#;

    fn map() -> NameMap {
        let text = r#"{
 "imports": [
  ["./player_wasm_bg.js", "__wbg_fetch_0123456789abcdef", "a"],
  ["./player_wasm_bg.js", "__wbg_fetch_with_init_fedcba9876543210", "b"]
 ],
 "exports": [
  ["memory", "c"],
  ["invoke_h1", "d"],
  ["__wbg_player_free", "e"]
 ]
}
"#;
        NameMap::parse(text).expect("map parses")
    }

    #[test]
    fn the_glue_takes_the_short_names_and_nothing_else() {
        let out = rename_in_glue(GLUE, &map(), "m").expect("renamed");
        assert!(out.contains("        a: function(arg0) { return arg0.fetch(); },"), "{out}");
        assert!(out.contains("        b: function(arg0, arg1)"), "a name that extends another is renamed as itself: {out}");
        assert!(out.contains(r#""m": import0"#), "{out}");
        assert!(out.contains("function invoke_h1(a) { wasm.d(a); }"), "only `wasm.` reads of an export change: {out}");
        assert!(out.contains("wasm.e(ptr >>> 0, 1)"), "{out}");
        assert!(out.contains("wasm.c.buffer; wasm.memory_size; x.memory;"), "{out}");
        assert!(!out.contains("__wbg_fetch"), "{out}");
    }

    #[test]
    fn a_glue_that_does_not_match_the_map_is_refused() {
        let missing = GLUE.replace("__wbg_fetch_with_init_fedcba9876543210", "__wbg_other");
        let err = rename_in_glue(&missing, &map(), "m").expect_err("an import the glue lacks");
        assert!(err.contains("__wbg_fetch_with_init_fedcba9876543210 is named 0 times"), "{err}");
        let two = GLUE.replace(
            r#"return { __proto__: null, "./player_wasm_bg.js": import0 };"#,
            r#"return { "./player_wasm_bg.js": import0, "./player_wasm_bg.js": import0 };"#,
        );
        assert!(rename_in_glue(&two, &map(), "m").is_err());
        assert!(NameMap::parse("not json").is_err());
        assert!(NameMap::parse(r#"{"imports": []}"#).is_err(), "no exports list");
    }

    #[test]
    fn the_import_module_is_read_from_the_wasm() {
        // (module (import "a" "b" (func)) (import "a" "c" (memory 1)))
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend([1, 4, 1, 0x60, 0, 0]); // type section: one () -> ()
        let imports = [vec![2], b"\x01a\x01b\x00\x00".to_vec(), b"\x01a\x01c\x02\x00\x01".to_vec()].concat();
        wasm.extend([2, imports.len() as u8]);
        wasm.extend(&imports);
        assert_eq!(import_module(&wasm).expect("read"), "a");
        let other = [&wasm[..wasm.len() - 7], b"\x01z\x01c\x02\x00\x01"].concat();
        assert!(import_module(&other).expect_err("two modules").contains("one import module"));
        assert!(import_module(b"\0asm\x01\0\0\0").is_err(), "no imports");
        assert!(import_module(b"nope").is_err());
    }
}
