//! Records the compiler's version for the function's `runtime_version`: Rust has no
//! runtime to ask at run time, so the version is the one of the rustc that built it.

use std::env;
use std::process::Command;

fn main() {
    // Cargo gives build scripts the rustc it uses in RUSTC.
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let output = Command::new(&rustc)
        .arg("--version")
        .output()
        .expect("run rustc --version");
    let version = String::from_utf8(output.stdout).expect("rustc --version is UTF-8");
    // "rustc 1.95.0 (59807616e 2026-04-14)" -> "1.95.0"
    let number = version
        .split_whitespace()
        .nth(1)
        .expect("rustc --version names a version");
    println!("cargo:rustc-env=COLDBENCH_RUSTC_VERSION={number}");
    println!("cargo:rerun-if-changed=build.rs");
}
