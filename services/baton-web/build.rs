//! Builds the web apps in `web/citizen` and `web/console` with npm when their sources are newer
//! than their `dist/`, so that `cargo run -p baton -- serve` serves current apps with no extra
//! step. The crate embeds whatever `dist/` then holds (in debug builds it reads the files from
//! disk at run time instead).
//!
//! `BATON_WEB_BUILD`: `auto` (default) builds what is stale; `always` rebuilds; `skip` never runs
//! npm (an image build that made `dist/` in an earlier stage, say).
//!
//! Node.js 20.19 or newer is needed (Vite 8). Without it the build goes on with a warning and the
//! server answers the web apps' paths with a page that says how to build them; as root on Debian
//! the script installs `nodejs` and `npm` from the distribution first.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

const APPS: [&str; 2] = ["citizen", "console"];
const INPUTS: [&str; 6] = ["src", "public", "index.html", "package.json", "package-lock.json", "vite.config.js"];
const MIN_NODE: (u32, u32) = (20, 19);

fn main() {
    let web = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("../../web");
    println!("cargo:rerun-if-env-changed=BATON_WEB_BUILD");
    for app in APPS {
        // Only inputs that exist: cargo reruns a build script at every build for a missing one.
        for input in INPUTS.iter().map(|i| web.join(app).join(i)).filter(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", input.display());
        }
    }
    let mode = std::env::var("BATON_WEB_BUILD").unwrap_or_else(|_| "auto".into());
    if mode == "skip" {
        return;
    }
    let mut node_checked = None;
    for app in APPS {
        let dir = web.join(app);
        if !dir.join("package.json").exists() {
            continue;
        }
        let built = mtime(&dir.join("dist/index.html"));
        let sources = INPUTS.iter().filter_map(|i| newest(&dir.join(i))).max();
        if mode != "always" && built.is_some() && sources <= built {
            continue;
        }
        let node = node_checked.get_or_insert_with(node_ready);
        if let Err(why) = node {
            warn(&format!(
                "web/{app} is not built ({why}): install Node.js {}.{} or newer with npm, then build again; until then `baton serve` answers its pages with a note",
                MIN_NODE.0, MIN_NODE.1
            ));
            continue;
        }
        let modules = mtime(&dir.join("node_modules/.package-lock.json"));
        if modules.is_none() || mtime(&dir.join("package-lock.json")) > modules {
            run(&dir, &["ci", "--no-audit", "--no-fund"]);
        }
        run(&dir, &["run", "build"]);
    }
}

fn warn(message: &str) {
    println!("cargo:warning={message}");
}

/// Runs npm in `dir`; a failure stops the build with npm's output.
fn run(dir: &Path, args: &[&str]) {
    let out = Command::new("npm").args(args).current_dir(dir).output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "`npm {}` in {} failed ({}):\n{}\n{}\nFix the web app or set BATON_WEB_BUILD=skip to build the server without it.",
            args.join(" "),
            dir.display(),
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("cannot run npm in {}: {e}", dir.display()),
    }
}

/// Node.js and npm in a version that builds the apps, installing Debian's when missing and allowed.
fn node_ready() -> Result<(), String> {
    if node_version().is_none() && is_root() && Path::new("/usr/bin/apt-get").exists() {
        warn("installing Debian's nodejs and npm to build the web apps");
        let ok = Command::new("sh")
            .args(["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            warn("apt-get install nodejs npm failed");
        }
    }
    let Some(v) = node_version() else { return Err("node was not found".into()) };
    if v < MIN_NODE {
        return Err(format!("node is {}.{}", v.0, v.1));
    }
    match Command::new("npm").arg("--version").output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err("npm was not found".into()),
    }
}

fn node_version() -> Option<(u32, u32)> {
    let out = Command::new("node").arg("--version").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut parts = text.trim().trim_start_matches('v').split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn mtime(p: &Path) -> Option<SystemTime> {
    p.metadata().and_then(|m| m.modified()).ok()
}

/// The newest modification time of `p` or anything below it.
fn newest(p: &Path) -> Option<SystemTime> {
    let meta = p.metadata().ok()?;
    let own = meta.modified().ok();
    if !meta.is_dir() {
        return own;
    }
    let below = std::fs::read_dir(p).ok()?.filter_map(|e| e.ok()).filter_map(|e| newest(&e.path())).max();
    own.max(below)
}
