//! The committed include/mrt.h is what build.rs generates, it compiles cleanly as C99,
//! C11, C++11 and C++17 with every warning an error, and every name it declares is in
//! the library's namespace (`MRT_`/`RT_` macros, `rt_` types and functions), so that
//! including it cannot clash with a host's own names.

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
fn header_compiles_as_c99() {
    compiles("cc", &["-std=c99", "-x", "c"]);
}

#[test]
fn header_compiles_as_c11() {
    compiles("cc", &["-std=c11", "-x", "c"]);
}

#[test]
fn header_compiles_as_cpp11() {
    compiles("c++", &["-std=c++11", "-x", "c++"]);
}

#[test]
fn header_compiles_as_cpp17() {
    compiles("c++", &["-std=c++17", "-x", "c++"]);
}

/// The identifier that starts `s` (letters, digits, underscores).
fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Every name mrt.h puts in the includer's namespace: macros, struct/enum/union
/// tags, typedef names and functions (a line-based reading of cbindgen's output,
/// which puts each declaration at the start of a line).
fn declared_names(header: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut depth = 0i32; // inside a struct body: field names are not global
    for line in header.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("#define ") {
            out.push(("macro", ident(rest).to_string()));
            continue;
        }
        if t.starts_with('#')
            || t.starts_with("/*")
            || t.starts_with('*')
            || t.starts_with("//")
            || t.contains("extern \"C\"")
        {
            continue;
        }
        for kw in ["struct ", "enum ", "union "] {
            if let Some(pos) = t.find(kw) {
                let name = ident(&t[pos + kw.len()..]);
                if !name.is_empty() {
                    out.push(("tag", name.to_string()));
                }
            }
        }
        if depth == 0 {
            if t.starts_with("typedef ") && t.ends_with(';') {
                // typedef struct rt_x rt_x;  /  typedef void (*rt_fn)(void *arg);
                let name = match t.find("(*") {
                    Some(p) => ident(&t[p + 2..]),
                    None => ident(t.trim_end_matches(';').rsplit(' ').next().unwrap()),
                };
                out.push(("typedef", name.to_string()));
            } else if t.contains('(') && t.ends_with(");") && !line.starts_with(' ') {
                let before = &t[..t.find('(').unwrap()];
                let name = before.rsplit([' ', '*']).next().unwrap();
                out.push(("function", name.to_string()));
            }
        }
        depth += t.matches('{').count() as i32 - t.matches('}').count() as i32;
        if depth == 0 {
            if let Some(rest) = t.strip_prefix("} ") {
                let name = ident(rest);
                if !name.is_empty() {
                    out.push(("typedef", name.to_string()));
                }
            }
        }
    }
    out
}

#[test]
fn every_name_in_the_header_is_prefixed() {
    let names = declared_names(GENERATED);
    let functions = names.iter().filter(|(k, _)| *k == "function").count();
    assert!(
        functions >= 50,
        "parsed only {functions} functions from mrt.h"
    );
    assert!(names.iter().any(|(k, n)| *k == "macro" && n == "RT_EINVAL"));
    assert!(names.iter().any(|(k, n)| *k == "typedef" && n == "rt_fn"));
    assert!(names
        .iter()
        .any(|(k, n)| *k == "typedef" && n == "rt_stats"));
    let bad: Vec<String> = names
        .iter()
        .filter(|(kind, n)| match *kind {
            "macro" => !(n.starts_with("MRT_") || n.starts_with("RT_")),
            _ => !n.starts_with("rt_"),
        })
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect();
    assert!(
        bad.is_empty(),
        "mrt.h declares names outside MRT_/RT_/rt_: {bad:?}"
    );
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

#[test]
fn the_prefix_check_sees_unprefixed_names() {
    // A negative control: names the issue found leaking once, in cbindgen's layout.
    let sample = "#define PCACHE_MAX 64\ntypedef struct Foo {\n  int x;\n} Foo;\n\
                  typedef void (*callback)(void *arg);\nint helper(int x);\n";
    let names: Vec<String> = declared_names(sample).into_iter().map(|(_, n)| n).collect();
    for want in ["PCACHE_MAX", "Foo", "callback", "helper"] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} not seen in {names:?}"
        );
    }
}
