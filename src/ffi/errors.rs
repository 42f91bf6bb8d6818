//! Error codes, `rt_strerror` and `rt_err_name`, all made from one list.
//!
//! Codes are negative errno values where one fits, so `-rc` is a valid `errno`.
//! build.rs reads the same list to emit the `#define`s of `mrt.h`: keep one entry
//! per line, as `RT_NAME = value, "message";`.

use crate::runtime::error::{Error as RtError, Result as RtResult};

macro_rules! errors {
    ($($name:ident = $value:expr, $msg:literal;)*) => {
        $(
            #[doc = $msg]
            pub const $name: i32 = $value;
        )*

        /// The static message for an error code ("unknown error" otherwise).
        pub fn strerror(code: i32) -> &'static core::ffi::CStr {
            match code {
                $(x if x == $name => unsafe_cstr(concat!($msg, "\0")),)*
                _ => c"unknown error",
            }
        }

        /// The constant's name for an error code ("unknown error" otherwise).
        pub fn err_name(code: i32) -> &'static core::ffi::CStr {
            match code {
                $(x if x == $name => unsafe_cstr(concat!(stringify!($name), "\0")),)*
                _ => c"unknown error",
            }
        }

        /// Every code in the list, for tests.
        pub const ALL: &[i32] = &[$($name),*];
    };
}

/// The C code of a runtime error.
pub const fn code(e: RtError) -> i32 {
    match e {
        RtError::Perm => RT_EPERM,
        RtError::Again => RT_EAGAIN,
        RtError::NoMem => RT_ENOMEM,
        RtError::Busy => RT_EBUSY,
        RtError::Inval => RT_EINVAL,
        RtError::Closed => RT_ECLOSED,
        RtError::Shutdown => RT_ESHUTDOWN,
        RtError::TimedOut => RT_ETIMEDOUT,
        RtError::Already => RT_EALREADY,
        RtError::Deadlk => RT_EDEADLK,
    }
}

/// A runtime result as a C return code: RT_OK or the error's code.
pub const fn rc(r: RtResult<()>) -> i32 {
    match r {
        Ok(()) => RT_OK,
        Err(e) => code(e),
    }
}

const fn unsafe_cstr(s: &'static str) -> &'static core::ffi::CStr {
    match core::ffi::CStr::from_bytes_with_nul(s.as_bytes()) {
        Ok(c) => c,
        Err(_) => panic!("error message with an interior NUL"),
    }
}

errors! {
    RT_OK = 0, "success";
    RT_EPERM = -1, "operation not allowed in this thread context";
    RT_EAGAIN = -11, "resource temporarily unavailable (would block, or the OS refused a thread)";
    RT_ENOMEM = -12, "out of memory or address space";
    RT_EBUSY = -16, "object is owned or in use by someone else";
    RT_EINVAL = -22, "invalid argument";
    RT_ECLOSED = -32, "channel closed";
    RT_EDEADLK = -35, "all goroutines are asleep and nothing can wake one (deadlock)";
    RT_ESHUTDOWN = -108, "runtime not running";
    RT_ETIMEDOUT = -110, "timed out";
    RT_EALREADY = -114, "caller already holds it, or it is already done";
    RT_EINTERNAL = -131, "internal error in libmrt (reserved: libmrt aborts on its own bugs)";
}

// The values above are the negated errno values of this platform.
const _: () = {
    assert!(RT_EPERM == -libc::EPERM);
    assert!(RT_EAGAIN == -libc::EAGAIN);
    assert!(RT_ENOMEM == -libc::ENOMEM);
    assert!(RT_EBUSY == -libc::EBUSY);
    assert!(RT_EINVAL == -libc::EINVAL);
    assert!(RT_ECLOSED == -libc::EPIPE);
    assert!(RT_EDEADLK == -libc::EDEADLK);
    assert!(RT_ESHUTDOWN == -libc::ESHUTDOWN);
    assert!(RT_ETIMEDOUT == -libc::ETIMEDOUT);
    assert!(RT_EALREADY == -libc::EALREADY);
    assert!(RT_EINTERNAL == -libc::ENOTRECOVERABLE);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_distinct_name_and_message() {
        for &c in ALL {
            let name = err_name(c).to_str().unwrap();
            assert!(name.starts_with("RT_"), "{name}");
            assert_ne!(strerror(c).to_bytes(), b"unknown error");
            assert_eq!(ALL.iter().filter(|&&x| x == c).count(), 1);
        }
        assert_eq!(strerror(12345).to_bytes(), b"unknown error");
        assert_eq!(err_name(-9999).to_bytes(), b"unknown error");
    }
}
