use super::*;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::sync::Arc;

fn lines(dec: &mut FrameDecoder) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(f) = dec.next_frame().unwrap() {
        out.push(String::from_utf8(f).unwrap());
    }
    out
}

#[test]
fn json_lines_split_across_reads() {
    let mut dec = FrameDecoder::new(Serialization::Json, 1 << 20);
    dec.feed(b"{\"a\":", vec![]);
    assert!(lines(&mut dec).is_empty());
    assert!(dec.is_buffering());
    dec.feed(b"1}\n{\"b\"", vec![]);
    assert_eq!(lines(&mut dec), vec!["{\"a\":1}"]);
    dec.feed(b":2}\n", vec![]);
    assert_eq!(lines(&mut dec), vec!["{\"b\":2}"]);
    assert!(!dec.is_buffering());
}

#[test]
fn many_messages_in_one_read() {
    let mut dec = FrameDecoder::new(Serialization::Json, 1 << 20);
    let mut data = Vec::new();
    for i in 0..1000 {
        data.extend_from_slice(format!("{{\"i\":{i}}}\n").as_bytes());
    }
    dec.feed(&data, vec![]);
    let got = lines(&mut dec);
    assert_eq!(got.len(), 1000);
    assert_eq!(got[999], "{\"i\":999}");
}

#[test]
fn byte_at_a_time_and_multibyte_utf8() {
    let text = "{\"s\":\"héllo 😀\"}\n{\"t\":1}\n";
    let mut dec = FrameDecoder::new(Serialization::Json, 1 << 20);
    let mut got = Vec::new();
    for b in text.as_bytes() {
        dec.feed(std::slice::from_ref(b), vec![]);
        got.extend(lines(&mut dec));
    }
    assert_eq!(got, vec!["{\"s\":\"héllo 😀\"}", "{\"t\":1}"]);
}

#[test]
fn line_limit_is_enforced() {
    let mut dec = FrameDecoder::new(Serialization::Json, 16);
    dec.feed(&[b'x'; 17], vec![]);
    assert_eq!(dec.next_frame(), Err(FrameError::TooLong { limit: 16 }));
    let mut dec = FrameDecoder::new(Serialization::Advanced, 16);
    dec.feed(&100u32.to_be_bytes(), vec![]);
    assert_eq!(dec.next_frame(), Err(FrameError::TooLong { limit: 16 }));
}

#[test]
fn advanced_frames_with_split_prefix() {
    let mut dec = FrameDecoder::new(Serialization::Advanced, 1 << 20);
    let mut data = Vec::new();
    for body in [&b"abc"[..], &b""[..], &b"hello"[..]] {
        data.extend_from_slice(&(body.len() as u32).to_be_bytes());
        data.extend_from_slice(body);
    }
    let mut got = Vec::new();
    for chunk in data.chunks(3) {
        dec.feed(chunk, vec![]);
        while let Some(f) = dec.next_frame().unwrap() {
            got.push(f);
        }
    }
    assert_eq!(got, vec![b"abc".to_vec(), vec![], b"hello".to_vec()]);
}

#[test]
fn fd_arriving_before_its_line_completes_is_kept_for_it() {
    let (a, b) = sys::socketpair().unwrap();
    let (extra, _keep) = sys::socketpair().unwrap();
    let line = b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":{}}\n";
    // The descriptor travels with the first half of the line only.
    sys::send_with_fd(a.as_raw_fd(), &line[..10], Some(extra.as_raw_fd())).unwrap();
    let mut dec = FrameDecoder::new(Serialization::Json, 1 << 20);
    let mut buf = [0u8; 64];
    let mut fds = Vec::new();
    let n = sys::recv_with_fds(b.as_raw_fd(), &mut buf, &mut fds).unwrap();
    assert_eq!(fds.len(), 1);
    dec.feed(&buf[..n], fds);
    assert_eq!(dec.next_frame().unwrap(), None);
    sys::send_with_fd(a.as_raw_fd(), &line[10..], None).unwrap();
    let mut fds = Vec::new();
    let n = sys::recv_with_fds(b.as_raw_fd(), &mut buf, &mut fds).unwrap();
    dec.feed(&buf[..n], fds);
    let frame = dec.next_frame().unwrap().unwrap();
    assert!(frame.starts_with(b"{\"cmd\":\"NODE_HANDLE\""));
    assert!(dec.take_fd().is_some());
    assert!(dec.take_fd().is_none());
}

fn plain(text: &str, id: u64) -> OutFrame {
    OutFrame {
        bytes: text.as_bytes().to_vec(),
        fd: None,
        kind: FrameKind::Plain,
        write_id: id,
    }
}

#[test]
fn messages_wait_behind_an_unacknowledged_handle() {
    let (a, b) = UnixStream::pair().unwrap();
    let (passed, _other) = sys::socketpair().unwrap();
    let mut w = Writer::new();
    w.push(OutFrame {
        bytes: b"H\n".to_vec(),
        fd: Some(passed.into()),
        kind: FrameKind::Handle,
        write_id: 1,
    });
    w.push(plain("m\n", 2));
    w.push(OutFrame {
        bytes: b"A\n".to_vec(),
        fd: None,
        kind: FrameKind::Ack,
        write_id: 3,
    });
    let mut done = Vec::new();
    w.flush(a.as_raw_fd(), &mut done).unwrap();
    assert_eq!(done, vec![1, 3]);
    assert!(w.awaiting_ack());
    w.on_ack();
    w.flush(a.as_raw_fd(), &mut done).unwrap();
    assert_eq!(done, vec![1, 3, 2]);
    drop(a);
    let mut got = String::new();
    (&b).read_to_string(&mut got).unwrap();
    assert_eq!(got, "H\nA\nm\n");
}

#[test]
fn a_full_socket_blocks_without_losing_bytes() {
    let (a, b) = UnixStream::pair().unwrap();
    sys::set_nonblocking(a.as_raw_fd()).unwrap();
    let mut w = Writer::new();
    let big = "x".repeat(1 << 20) + "\n";
    w.push(plain(&big, 1));
    w.push(plain("tail\n", 2));
    let mut done = Vec::new();
    assert!(matches!(
        w.flush(a.as_raw_fd(), &mut done).unwrap(),
        Flush::Blocked
    ));
    assert!(w.queued_bytes() > 0);
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        (&b).read_to_end(&mut got).unwrap();
        got
    });
    loop {
        match w.flush(a.as_raw_fd(), &mut done).unwrap() {
            Flush::Done => break,
            Flush::Blocked => std::thread::yield_now(),
        }
    }
    assert_eq!(done, vec![1, 2]);
    assert_eq!(w.queued_bytes(), 0);
    drop(a);
    let got = reader.join().unwrap();
    assert_eq!(got.len(), big.len() + 5);
    assert!(got.ends_with(b"tail\n"));
}

#[test]
fn a_drained_burst_gives_its_queue_capacity_back() {
    let (a, b) = UnixStream::pair().unwrap();
    sys::set_nonblocking(a.as_raw_fd()).unwrap();
    let mut w = Writer::new();
    for i in 1..=50_000 {
        w.push(plain("{\"i\":1}\n", i));
    }
    let mut done = Vec::new();
    assert!(matches!(
        w.flush(a.as_raw_fd(), &mut done).unwrap(),
        Flush::Blocked
    ));
    assert!(w.ready.capacity() >= 10_000);
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        (&b).read_to_end(&mut got).unwrap();
        got.len()
    });
    while let Flush::Blocked = w.flush(a.as_raw_fd(), &mut done).unwrap() {
        std::thread::yield_now();
    }
    assert_eq!(done.len(), 50_000);
    assert!(w.ready.capacity() <= RETAINED_QUEUED_FRAMES * 2);
    drop(a);
    assert_eq!(reader.join().unwrap(), 50_000 * 8);
}

#[test]
fn a_long_message_does_not_keep_its_buffer() {
    let mut dec = FrameDecoder::new(Serialization::Json, 64 << 20);
    let long = "x".repeat(8 << 20) + "\n";
    dec.feed(long.as_bytes(), vec![]);
    dec.feed(b"{\"next\":", vec![]);
    assert_eq!(dec.next_frame().unwrap().unwrap().len(), 8 << 20);
    assert!(dec.next_frame().unwrap().is_none());
    // The long line is consumed, half a message waits: the buffer shrinks on the next
    // read, and the waiting half is kept.
    dec.feed(b"1}\n", vec![]);
    assert!(dec.buf.capacity() <= 4 * RETAINED_BUFFER_BYTES);
    assert_eq!(lines(&mut dec), vec!["{\"next\":1}"]);
    dec.feed(&long.as_bytes()[..1 << 20], vec![]);
    dec.feed(b"", vec![]);
    assert!(
        dec.buf.capacity() >= 1 << 20,
        "a message still arriving keeps its room"
    );
}

/// Bytes the writer holds that are not yet written: the rest of the front frame, the
/// other ready frames, and those held behind an unacknowledged handle.
fn unwritten_bytes(w: &Writer) -> usize {
    let ready: usize = w.ready.iter().map(|f| f.bytes.len()).sum();
    let held: usize = w.held.iter().map(|f| f.bytes.len()).sum();
    ready - w.offset + held
}

/// What `Primary::send` reports (see `reactor::Sent`): with the frame just pushed last in
/// the queue, "nothing is queued any more" is exactly "the frame was written by this
/// call", whatever else is going on — a full socket, frames held behind an unacknowledged
/// handle, ACKs jumping the queue, NACKs resending a handle, the peer reading in pieces.
#[test]
fn nothing_queued_is_exactly_written() {
    use crate::test_rng::Rng;
    let (mut written, mut unwritten, mut held) = (0, 0, 0);
    for seed in 1..=8u64 {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
        let (a, b) = UnixStream::pair().unwrap();
        sys::set_nonblocking(a.as_raw_fd()).unwrap();
        sys::set_nonblocking(b.as_raw_fd()).unwrap();
        let mut w = Writer::new();
        let mut next_id = 1u64;
        let mut read_buf = vec![0u8; 64 * 1024];
        for _ in 0..20_000 {
            let mut done = Vec::new();
            match rng.below(100) {
                // A send from JavaScript: push, flush, report.
                0..=39 => {
                    let len = match rng.below(20) {
                        0 => 20_000 + rng.below(200_000),
                        _ => 1 + rng.below(300),
                    } as usize;
                    let fd = rng.chance(4).then(|| {
                        let file = std::fs::File::open("/dev/null").unwrap();
                        OwnedFd::from(file)
                    });
                    let kind = if fd.is_some() {
                        FrameKind::Handle
                    } else {
                        FrameKind::Plain
                    };
                    let id = next_id;
                    next_id += 1;
                    if w.awaiting_ack() {
                        held += 1;
                    }
                    // Distinct bytes per frame, as a NACK finds its handle by its bytes.
                    let mut bytes = id.to_le_bytes().repeat(len / 8 + 1);
                    bytes.truncate(len.max(1));
                    w.push(OutFrame {
                        bytes,
                        fd: fd.map(Arc::new),
                        kind,
                        write_id: id,
                    });
                    let _ = w.flush(a.as_raw_fd(), &mut done).unwrap();
                    let was_written = done.contains(&id);
                    assert_eq!(
                        was_written,
                        w.queued_bytes() == 0,
                        "seed {seed}, frame {id}: written {was_written}, {} bytes queued",
                        w.queued_bytes()
                    );
                    if was_written {
                        written += 1;
                    } else {
                        unwritten += 1;
                    }
                }
                // The core's own messages: untracked, and ACKs that never wait.
                40..=49 => {
                    w.push(plain("{\"cmd\":\"NODE_CLUSTER\"}\n", 0));
                    let _ = w.flush(a.as_raw_fd(), &mut done).unwrap();
                }
                50..=54 => {
                    w.push(OutFrame {
                        bytes: b"{\"cmd\":\"NODE_HANDLE_ACK\"}\n".to_vec(),
                        fd: None,
                        kind: FrameKind::Ack,
                        write_id: 0,
                    });
                    let _ = w.flush(a.as_raw_fd(), &mut done).unwrap();
                }
                // The worker's answers to a handle (or stray ones).
                55..=64 => {
                    w.on_ack();
                    let _ = w.flush(a.as_raw_fd(), &mut done).unwrap();
                }
                65..=69 => {
                    w.on_nack();
                    let _ = w.flush(a.as_raw_fd(), &mut done).unwrap();
                }
                // The worker reads some; the socket becomes writable.
                70..=89 => {
                    let want = 1 + rng.below(read_buf.len() as u64) as usize;
                    let mut fds = Vec::new();
                    let _ = sys::recv_with_fds(b.as_raw_fd(), &mut read_buf[..want], &mut fds);
                }
                _ => {
                    let _ = w.flush(a.as_raw_fd(), &mut done).unwrap();
                }
            }
            assert_eq!(w.queued_bytes(), unwritten_bytes(&w), "seed {seed}");
            assert!(w.held.is_empty() || w.awaiting_ack(), "seed {seed}");
        }
    }
    // Every case was seen many times.
    assert!(
        written > 1000 && unwritten > 1000 && held > 1000,
        "{written} {unwritten} {held}"
    );
}
