//! What each epoll registration of the primary is for. The kernel hands back a `u64` with
//! each ready descriptor (mio's `Token`); the reactor encodes and decodes it only here.

use crate::scheduler::WorkerId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token {
    /// The eventfd that wakes the I/O thread (timers, events to deliver, shutdown).
    Wake,
    /// A worker's IPC channel.
    Channel(WorkerId),
    /// A worker's pidfd: readable once it exited.
    Pidfd(WorkerId),
    /// A round-robin server's listening socket, by server id.
    Listener(u32),
    /// A reuseport socket whose worker left, accepted on by the primary until taken over,
    /// by socket uid.
    Orphan(u32),
}

impl Token {
    const WAKE: u64 = 0;
    const CHANNEL: u64 = 1;
    const PIDFD: u64 = 2;
    const LISTENER: u64 = 3;
    const ORPHAN: u64 = 4;

    /// An unknown value (none is ever registered) decodes to `None`.
    pub(super) fn decode(value: u64) -> Option<Token> {
        let id = value as u32;
        Some(match value >> 32 {
            Self::WAKE if id == 0 => Token::Wake,
            Self::CHANNEL => Token::Channel(id),
            Self::PIDFD => Token::Pidfd(id),
            Self::LISTENER => Token::Listener(id),
            Self::ORPHAN => Token::Orphan(id),
            _ => return None,
        })
    }
}

impl From<Token> for u64 {
    fn from(token: Token) -> u64 {
        let (kind, id) = match token {
            Token::Wake => (Token::WAKE, 0),
            Token::Channel(id) => (Token::CHANNEL, id),
            Token::Pidfd(id) => (Token::PIDFD, id),
            Token::Listener(id) => (Token::LISTENER, id),
            Token::Orphan(id) => (Token::ORPHAN, id),
        };
        (kind << 32) | u64::from(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_decodes_to_itself() {
        for token in [
            Token::Wake,
            Token::Channel(0),
            Token::Channel(u32::MAX),
            Token::Pidfd(7),
            Token::Listener(3),
            Token::Orphan(u32::MAX),
        ] {
            assert_eq!(Token::decode(u64::from(token)), Some(token));
        }
        assert_eq!(Token::decode(9 << 32), None);
    }
}
