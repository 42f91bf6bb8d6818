//! Build script: refuses unsupported targets, sets the shared library's soname and
//! link flags, and generates `include/mrt.h` with cbindgen.
//!
//! The header is written to `$OUT_DIR/mrt.h`; `tests/header.rs` fails when the
//! committed `include/mrt.h` differs from it. `make header` (which sets
//! `MRT_WRITE_HEADER=1`) refreshes the committed copy.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

fn main() {
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if arch != "x86_64" || os != "linux" {
        panic!(
            "libmrt: target {arch}-{os} is not supported yet. A port adds asm/<arch>.S and \
             src/runtime/arch/<arch>.rs (context switch, TLS slot access, mstart_stub)."
        );
    }

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=asm");
    println!("cargo:rerun-if-changed=tools/gdb/mrt-gdb.py");
    println!("cargo:rerun-if-env-changed=MRT_WRITE_HEADER");

    // The shared object is `libmrt.so.<major>` to the dynamic linker (the Makefile
    // installs it as libmrt.so.<version> with that link), and stays mapped once
    // loaded: Ms may be running its code when a host calls dlclose.
    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmrt.so.{major}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");

    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());

    gdb_script_section(&crate_dir, &out_dir);

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable");
    config.after_includes = Some(error_defines(&crate_dir));

    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate mrt.h");
    let header = out_dir.join("mrt.h");
    bindings.write_to_file(&header);

    if env::var_os("MRT_WRITE_HEADER").is_some() {
        let text = fs::read(&header).unwrap();
        let dest = crate_dir.join("include").join("mrt.h");
        if fs::read(&dest).ok().as_deref() != Some(&text[..]) {
            fs::write(&dest, text).expect("write include/mrt.h");
        }
    }
}

/// The error codes live in one list, `errors!{...}` in src/ffi/errors.rs; the macro
/// there makes the Rust constants, rt_strerror and rt_err_name. cbindgen cannot
/// expand macros, so the `#define`s for C are made here from the same list.
fn error_defines(crate_dir: &std::path::Path) -> String {
    let src = fs::read_to_string(crate_dir.join("src/ffi/errors.rs")).unwrap();
    let start = src
        .find("errors! {")
        .expect("errors! list in src/ffi/errors.rs");
    let body = &src[start..src[start..].find("\n}").unwrap() + start];
    let mut out = String::from("\n/* Error codes: negative errno values (see rt_strerror). */\n");
    let mut n = 0;
    for line in body.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("RT_") else {
            continue;
        };
        // RT_NAME = value, "message";
        let (name, rest) = rest.split_once('=').unwrap();
        let (value, msg) = rest.split_once(',').unwrap();
        let msg = msg.trim().trim_end_matches(';').trim().trim_matches('"');
        let value = value.trim();
        let _ = writeln!(out, "/** {msg} */\n#define RT_{} ({value})", name.trim());
        n += 1;
    }
    assert!(n >= 10, "error list parsed too few entries");
    out.push_str(
        "\n/** All-zero initialisers of rt_mutex and rt_wg (static or automatic storage). */\n\
         #define RT_MUTEX_INIT { { 0, 0, 0, 0 } }\n\
         #define RT_WG_INIT { { 0, 0, 0, 0 } }\n",
    );
    out
}

/// The `.debug_gdb_scripts` entry that makes gdb load tools/gdb/mrt-gdb.py with the
/// library: type 4 (an inline Python script), its name on the first line, the text,
/// a NUL. Written as assembler directives for global_asm! (src/runtime/arch).
fn gdb_script_section(crate_dir: &std::path::Path, out_dir: &std::path::Path) {
    let script = fs::read(crate_dir.join("tools/gdb/mrt-gdb.py")).expect("tools/gdb/mrt-gdb.py");
    let mut s = String::from(".pushsection .debug_gdb_scripts,\"MS\",@progbits,1\n.byte 4\n");
    let mut body = b"mrt-gdb.py\n".to_vec();
    body.extend_from_slice(&script);
    for chunk in body.chunks(64) {
        s.push_str(".byte ");
        let bytes: Vec<String> = chunk.iter().map(|b| b.to_string()).collect();
        s.push_str(&bytes.join(","));
        s.push('\n');
    }
    s.push_str(".byte 0\n.popsection\n");
    fs::write(out_dir.join("gdb_scripts.s"), s).expect("write gdb_scripts.s");
}
