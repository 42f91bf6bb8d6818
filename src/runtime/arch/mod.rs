//! The per-architecture core: the assembly file, the TLS slot access and the offsets
//! the assembly relies on. A port adds `asm/<arch>.S` and `<arch>.rs` beside this one.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod x86_64;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub use x86_64::*;

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
compile_error!(
    "libmrt supports only x86_64 Linux so far: add asm/<arch>.S and src/runtime/arch/<arch>.rs"
);
