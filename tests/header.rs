//! The committed include/mrt.h is what build.rs generates, and it compiles cleanly as
//! C11 and as C++ with every warning an error.

use std::path::Path;
use std::process::Command;

const GENERATED: &str = include_str!(concat!(env!("OUT_DIR"), "/mrt.h"));

fn committed() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/mrt.h");
    std::fs::read_to_string(p).expect("include/mrt.h is committed")
}

#[test]
fn committed_header_is_not_stale() {
    assert!(
        committed() == GENERATED,
        "include/mrt.h is stale: run `make header` and commit it"
    );
}

fn compiles(compiler: &str, args: &[&str]) {
    let hdr = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/mrt.h");
    let out = Command::new(compiler)
        .args(args)
        .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only"])
        .arg(&hdr)
        .output()
        .unwrap_or_else(|e| panic!("{compiler} not runnable: {e}"));
    assert!(
        out.status.success(),
        "{compiler} {args:?} rejects mrt.h:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn header_compiles_as_c11() {
    compiles("cc", &["-std=c11", "-x", "c"]);
}

#[test]
fn header_compiles_as_cpp() {
    compiles("c++", &["-std=c++17", "-x", "c++"]);
}

#[test]
fn every_exported_function_is_documented() {
    // Each prototype in the header is preceded by a doc comment.
    let lines: Vec<&str> = GENERATED.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        let proto = l.contains("rt_") && l.trim_end().ends_with(");") && !l.starts_with(' ');
        if proto {
            assert!(
                i > 0 && lines[i - 1].trim() == "*/",
                "undocumented prototype in mrt.h: {l}"
            );
        }
    }
}
