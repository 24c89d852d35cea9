//! One errno type. Node's cluster protocol and libuv carry errors as negative errno
//! values (`{ errno: -98 }` in a `queryServer` reply, `-32` from a write); everything the
//! core reports to a worker or to JavaScript goes through `Errno`, so the sign and the
//! fallback for an error without an OS code are decided once, here.

use std::io;

/// A positive errno value (`libc::EADDRINUSE`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(i32);

impl Errno {
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    pub const EADDRINUSE: Errno = Errno(libc::EADDRINUSE);
    pub const EPIPE: Errno = Errno(libc::EPIPE);
    pub const ESRCH: Errno = Errno(libc::ESRCH);
    pub const ECANCELED: Errno = Errno(libc::ECANCELED);

    /// From a positive errno value.
    pub const fn new(code: i32) -> Errno {
        Errno(code)
    }

    /// The value as the protocol and libuv carry it: negative.
    pub const fn negative(self) -> i32 {
        -self.0
    }

    /// From a negative (libuv-style) value, as JavaScript passes it back.
    pub const fn from_negative(value: i32) -> Errno {
        Errno(value.saturating_neg())
    }

    pub fn io_error(self) -> io::Error {
        io::Error::from_raw_os_error(self.0)
    }
}

/// An error with no OS code (a malformed request, say) is EINVAL, as libuv reports it.
impl From<io::Error> for Errno {
    fn from(e: io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(libc::EINVAL))
    }
}

impl From<&io::Error> for Errno {
    fn from(e: &io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(libc::EINVAL))
    }
}

impl From<Errno> for io::Error {
    fn from(e: Errno) -> io::Error {
        e.io_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_negative_form() {
        let e = Errno::from(io::Error::from_raw_os_error(libc::EADDRINUSE));
        assert_eq!(e, Errno::EADDRINUSE);
        assert_eq!(e.negative(), -libc::EADDRINUSE);
        assert_eq!(Errno::from_negative(e.negative()), e);
        assert_eq!(e.io_error().raw_os_error(), Some(libc::EADDRINUSE));
    }

    #[test]
    fn an_error_without_an_os_code_is_einval() {
        let e = Errno::from(io::Error::other("bad request"));
        assert_eq!(e.negative(), -libc::EINVAL);
    }
}
