//! Deterministic randomized tests of the decoder: valid streams cut at random places must
//! come out frame for frame, garbage must never panic and must agree with a reference
//! model, and descriptors must be claimed in arrival order.

use super::*;
use std::fs::File;

use crate::test_rng::Rng;

/// A frame body: mostly small, sometimes empty, now and then long enough to make the
/// decoder compact its buffer (it does so past 64 KiB of consumed bytes).
fn random_body(rng: &mut Rng, mode: Serialization) -> Vec<u8> {
    let len = match rng.below(2000) {
        0..=99 => 0,
        100..=1699 => rng.below(48),
        1700..=1998 => 48 + rng.below(600),
        _ => 20_000 + rng.below(80_000),
    } as usize;
    let mut body = Vec::with_capacity(len + 8);
    while body.len() < len {
        body.extend_from_slice(&rng.next().to_le_bytes());
    }
    body.truncate(len);
    if mode == Serialization::Json {
        // A JSON line cannot contain its terminator; anything else goes (the decoder
        // does not care about UTF-8).
        for b in body.iter_mut().filter(|b| **b == b'\n') {
            *b = b' ';
        }
    }
    body
}

fn frame_bytes(body: &[u8], mode: Serialization) -> Vec<u8> {
    match mode {
        Serialization::Json => {
            let mut out = body.to_vec();
            out.push(b'\n');
            out
        }
        Serialization::Advanced => {
            let mut out = (body.len() as u32).to_be_bytes().to_vec();
            out.extend_from_slice(body);
            out
        }
    }
}

/// Random cut points: single bytes, small pieces, a read's worth, or everything left.
fn chunk_len(rng: &mut Rng, left: usize) -> usize {
    let n = match rng.below(10) {
        0..=2 => 1 + rng.below(4) as usize,
        3..=6 => 1 + rng.below(64) as usize,
        7 | 8 => 1 + rng.below(70_000) as usize,
        _ => left,
    };
    n.clamp(1, left.max(1))
}

fn devnull() -> OwnedFd {
    OwnedFd::from(File::open("/dev/null").expect("open /dev/null"))
}

/// One valid stream, cut at random places, some frames carrying a descriptor that
/// arrives with the read holding the frame's first byte (as SCM_RIGHTS does) or a
/// later read, never after the frame's end.
fn run_valid_stream(rng: &mut Rng, mode: Serialization, case: u64) -> usize {
    let frames = match rng.below(100) {
        0 => 600 + rng.below(1500),
        1..=9 => 20 + rng.below(100),
        _ => 1 + rng.below(8),
    } as usize;
    let bodies: Vec<Vec<u8>> = (0..frames).map(|_| random_body(rng, mode)).collect();
    let with_fd: Vec<bool> = (0..frames).map(|_| rng.chance(4)).collect();
    let longest = bodies.iter().map(Vec::len).max().unwrap_or(0);
    // The limit is sometimes exactly the longest frame: that one must still pass.
    let limit = if rng.chance(3) { longest } else { 1 << 20 };
    let mut stream = Vec::new();
    // (first byte, last byte) of each frame in the stream.
    let mut spans = Vec::new();
    for body in &bodies {
        let bytes = frame_bytes(body, mode);
        spans.push((stream.len(), stream.len() + bytes.len() - 1));
        stream.extend_from_slice(&bytes);
    }

    let mut dec = FrameDecoder::new(mode, limit);
    let mut got: Vec<Vec<u8>> = Vec::new();
    // Raw numbers of the descriptors handed to the decoder, in order; a descriptor
    // stays open until claimed, so its number identifies it.
    let mut sent_fds: VecDeque<RawFd> = VecDeque::new();
    let mut next_fd_frame = 0usize;
    let mut pos = 0usize;
    let mut undrained = 0;
    while pos < stream.len() {
        let end = pos + chunk_len(rng, stream.len() - pos);
        let mut fds = Vec::new();
        // Attach the descriptors of every handle frame that starts in this chunk, or
        // (sometimes) postpone one to a later chunk that still holds part of it.
        while next_fd_frame < frames && spans[next_fd_frame].0 < end {
            if with_fd[next_fd_frame] {
                let last_chance = spans[next_fd_frame].1 < end;
                if !last_chance && rng.chance(3) {
                    break;
                }
                let fd = devnull();
                sent_fds.push_back(fd.as_raw_fd());
                fds.push(fd);
            }
            next_fd_frame += 1;
        }
        dec.feed(&stream[pos..end], fds);
        pos = end;
        // Sometimes several reads pile up before the frames are taken.
        undrained += 1;
        if pos < stream.len() && undrained < 3 && rng.chance(4) {
            continue;
        }
        undrained = 0;
        loop {
            match dec.next_frame() {
                Ok(Some(frame)) => {
                    let index = got.len();
                    assert!(index < frames, "case {case}: more frames than sent");
                    if with_fd[index] {
                        let fd = dec.take_fd().unwrap_or_else(|| {
                            panic!("case {case}: frame {index} lost its descriptor")
                        });
                        assert_eq!(
                            Some(fd.as_raw_fd()),
                            sent_fds.pop_front(),
                            "case {case}: frame {index} got another frame's descriptor"
                        );
                    }
                    got.push(frame);
                }
                Ok(None) => break,
                Err(e) => panic!("case {case} ({mode:?}, limit {limit}): {e}"),
            }
        }
    }
    assert_eq!(got.len(), frames, "case {case}: frame count");
    for (i, (a, b)) in got.iter().zip(&bodies).enumerate() {
        assert!(
            a == b,
            "case {case}: frame {i} differs ({} vs {} bytes)",
            a.len(),
            b.len()
        );
    }
    assert!(!dec.is_buffering(), "case {case}: bytes left over");
    assert_eq!(dec.stray_fds(), 0, "case {case}: unclaimed descriptors");
    assert!(dec.take_fd().is_none());
    frames
}

#[test]
fn random_chunking_of_valid_json_streams() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut total = 0;
    for case in 0..25_000 {
        total += run_valid_stream(&mut rng, Serialization::Json, case);
    }
    assert!(total > 100_000, "{total} frames");
}

#[test]
fn random_chunking_of_valid_advanced_streams() {
    let mut rng = Rng(0xC2B2_AE3D_27D4_EB4F);
    let mut total = 0;
    for case in 0..25_000 {
        total += run_valid_stream(&mut rng, Serialization::Advanced, case);
    }
    assert!(total > 100_000, "{total} frames");
}

/// Random bytes, biased toward the interesting ones: terminators in JSON mode, small
/// length prefixes in advanced mode (so that frames actually happen).
fn garbage(rng: &mut Rng, mode: Serialization, limit: usize) -> Vec<u8> {
    let len = match rng.below(20) {
        0 => 0,
        1..=15 => rng.below(300),
        _ => rng.below(3000),
    } as usize;
    let newline_one_in = 1 + rng.below(64);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        match mode {
            Serialization::Json => out.push(if rng.chance(newline_one_in) {
                b'\n'
            } else {
                rng.next() as u8
            }),
            Serialization::Advanced => {
                if rng.chance(4) {
                    // A prefix of any size, huge ones included.
                    out.extend_from_slice(&(rng.next() as u32 >> rng.below(32)).to_be_bytes());
                } else {
                    let body = rng.below(limit as u64 * 5 / 4 + 2) as u32;
                    out.extend_from_slice(&body.to_be_bytes());
                    out.extend((0..body.min(400)).map(|_| rng.next() as u8));
                }
            }
        }
    }
    out
}

/// What a correct decoder yields for the whole stream: the complete frames, and
/// whether the stream goes past the limit somewhere.
fn reference(stream: &[u8], mode: Serialization, limit: usize) -> (Vec<Vec<u8>>, bool) {
    let mut frames = Vec::new();
    match mode {
        Serialization::Json => {
            let mut parts: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
            let tail = parts.pop().unwrap_or_default();
            for part in parts {
                if part.len() > limit {
                    return (frames, true);
                }
                frames.push(part.to_vec());
            }
            (frames, tail.len() > limit)
        }
        Serialization::Advanced => {
            let mut at = 0;
            while stream.len() - at >= 4 {
                let len = u32::from_be_bytes(stream[at..at + 4].try_into().unwrap()) as usize;
                if len > limit {
                    return (frames, true);
                }
                if stream.len() - at - 4 < len {
                    break;
                }
                frames.push(stream[at + 4..at + 4 + len].to_vec());
                at += 4 + len;
            }
            (frames, false)
        }
    }
}

fn run_garbage(rng: &mut Rng, mode: Serialization, case: u64) -> (bool, usize) {
    let limit = match rng.below(4) {
        0 => rng.below(4) as usize,
        1 | 2 => rng.below(300) as usize,
        _ => rng.below(5000) as usize,
    };
    let overhead = match mode {
        Serialization::Json => 1,
        Serialization::Advanced => 4,
    };
    let stream = garbage(rng, mode, limit);
    let (expected, over) = reference(&stream, mode, limit);
    let mut dec = FrameDecoder::new(mode, limit);
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut consumed = 0;
    let mut fds_sent = 0;
    let mut failed = false;
    let mut pos = 0;
    'feed: while pos < stream.len() {
        let end = pos + chunk_len(rng, stream.len() - pos);
        // Descriptors glued to random reads, whatever the bytes say.
        let fds = if rng.chance(16) {
            vec![devnull()]
        } else {
            Vec::new()
        };
        fds_sent += fds.len();
        dec.feed(&stream[pos..end], fds);
        pos = end;
        loop {
            match dec.next_frame() {
                Ok(Some(frame)) => {
                    if mode == Serialization::Advanced {
                        assert!(frame.len() <= limit, "case {case}: frame over the limit");
                    }
                    // Whoever looks at a frame may claim a descriptor.
                    if rng.chance(2) {
                        let _ = dec.take_fd();
                    }
                    consumed += frame.len() + overhead;
                    got.push(frame);
                }
                Ok(None) => break,
                Err(e) => {
                    assert_eq!(e, FrameError::TooLong { limit }, "case {case}");
                    let pending = &stream[consumed..pos];
                    match mode {
                        // Only a line longer than the limit is refused, finished or not.
                        Serialization::Json => {
                            let line = pending.split(|&b| b == b'\n').next().unwrap_or_default();
                            assert!(
                                line.len() > limit,
                                "case {case}: TooLong on a {}-byte line, limit {limit}",
                                line.len()
                            )
                        }
                        // Only a prefix announcing more than the limit is refused.
                        Serialization::Advanced => assert!(
                            pending.len() >= 4
                                && u32::from_be_bytes(pending[..4].try_into().unwrap()) as usize
                                    > limit,
                            "case {case}: TooLong on a frame within the limit"
                        ),
                    }
                    failed = true;
                    // The reactor drops a channel that fails; nothing more is read.
                    break 'feed;
                }
            }
        }
        // A decoder that said "not yet" holds at most the limit's worth of an
        // unfinished line (in advanced mode: a prefix and a frame within the limit).
        let pending = pos - consumed;
        match mode {
            Serialization::Json => assert!(
                pending <= limit,
                "case {case}: {pending} bytes pending, limit {limit}"
            ),
            Serialization::Advanced => assert!(
                pending < 4 + limit,
                "case {case}: {pending} bytes pending, limit {limit}"
            ),
        }
        assert_eq!(dec.is_buffering(), pending > 0, "case {case}: is_buffering");
    }
    assert!(dec.stray_fds() <= fds_sent);
    // Exactly the true frames came out, up to the first one over the limit, and the
    // error came if and only if there is one (however the stream was cut).
    assert_eq!(got.len(), expected.len(), "case {case}: frame count");
    for (i, (a, b)) in got.iter().zip(&expected).enumerate() {
        assert!(a == b, "case {case}: frame {i} differs");
    }
    assert_eq!(failed, over, "case {case}: TooLong");
    (failed, got.len())
}

#[test]
fn random_garbage_never_panics_and_matches_the_reference() {
    let mut rng = Rng(0x1656_67B1_9E37_79F9);
    let (mut errors, mut frames) = (0, 0);
    for case in 0..60_000u64 {
        let mode = if case % 2 == 0 {
            Serialization::Json
        } else {
            Serialization::Advanced
        };
        let (failed, n) = run_garbage(&mut rng, mode, case);
        errors += failed as u32;
        frames += n;
    }
    // Both outcomes must actually occur, or the test proves nothing.
    assert!(
        errors > 5_000 && frames > 100_000,
        "errors={errors} frames={frames}"
    );
}

/// The limit bounds what a worker can make the primary buffer, and it must not depend
/// on how the kernel happened to cut the stream: a line longer than the limit is
/// refused whether it arrives in pieces or in one read with its newline.
#[test]
fn json_limit_does_not_depend_on_chunking() {
    let line = [b"x".repeat(100), b"\n".to_vec()].concat();
    let mut pieces = FrameDecoder::new(Serialization::Json, 64);
    pieces.feed(&line[..80], vec![]);
    assert_eq!(pieces.next_frame(), Err(FrameError::TooLong { limit: 64 }));
    let mut whole = FrameDecoder::new(Serialization::Json, 64);
    whole.feed(&line, vec![]);
    assert_eq!(whole.next_frame(), Err(FrameError::TooLong { limit: 64 }));
}
