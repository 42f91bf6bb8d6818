//! libmrt: the scheduler of Go's runtime (Ms, Ps, Gs) as a library with a C ABI.
//!
//! Module map:
//! - [`ffi`]: the exported C functions (`rt_*`): argument checks, error codes and the
//!   one panic-catching boundary. No scheduling logic lives there.
//! - [`runtime`]: the machinery, named as in Go's runtime (`allocm`, `newosproc`,
//!   `acquirep`, `schedule`, ...).
//!
//! `asm/x86_64.S` holds every instruction that is not Rust; `include/mrt.h` is
//! generated from `ffi` by build.rs.
#![deny(unsafe_op_in_unsafe_fn)]
#![allow(non_camel_case_types)]

pub mod ffi;
pub(crate) mod runtime;
