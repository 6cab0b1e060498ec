//! SPDY/3.1 frames, as many of them as an exec client of Kubernetes needs.
//!
//! kubectl runs exec over SPDY, and so does leasebox when a command's stdin
//! is open: on a 1.20 node the container runtime's SPDY server took 1.4 s
//! of CPU for 256 MiB of stdin where its websocket server took 4.1 to 5.1 s
//! (measured side by side, see BENCHMARKS.md), and SPDY ends stdin with a
//! FIN, which protocol v4 over websockets cannot.
//!
//! A session is streams the client opens (`SYN_STREAM`, each named by its
//! `streamtype` header: error, stdin, stdout, stderr) and DATA frames on
//! them; a FIN flag ends a stream in one direction. Header blocks are one
//! zlib stream per direction. This side writes its blocks stored, not
//! compressed (see [`HeaderBlocks`]); the server's blocks are never read,
//! because nothing in them is needed.

use tokio::io::{AsyncRead, AsyncReadExt};

/// The protocol version in every control frame.
const VERSION: u16 = 3;
/// The control bit of the first byte.
const CONTROL: u8 = 0x80;
/// The FIN flag of a DATA, `SYN_STREAM` or `SYN_REPLY` frame.
const FLAG_FIN: u8 = 0x01;
/// The largest payload one frame can carry (a 24-bit length).
const MAX_PAYLOAD: usize = (1 << 24) - 1;

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const PING: u16 = 6;
const GOAWAY: u16 = 7;

/// A frame from the server, as the exec session uses it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming<'a> {
    /// Bytes on a stream; `fin`: the stream ends after them.
    Data {
        stream: u32,
        fin: bool,
        data: &'a [u8],
    },
    /// The server accepted a stream (`fin`: and ended it at once).
    Reply { stream: u32, fin: bool },
    /// The server ended a stream abruptly.
    Reset { stream: u32, status: u32 },
    /// A ping to answer with the same id (or the answer to ours).
    Ping(u32),
    /// The server is closing the session.
    GoAway,
    /// Anything else (settings, window updates, headers): nothing to do.
    Other,
}

/// A frame's 8-byte header as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    control: Option<u16>,
    /// The stream of a DATA frame.
    stream: u32,
    flags: u8,
    length: usize,
}

fn head(bytes: [u8; 8]) -> Head {
    let length = usize::from(bytes[5]) << 16 | usize::from(bytes[6]) << 8 | usize::from(bytes[7]);
    let word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    Head {
        control: (bytes[0] & CONTROL != 0).then(|| u16::from_be_bytes([bytes[2], bytes[3]])),
        stream: word & 0x7fff_ffff,
        flags: bytes[4],
        length,
    }
}

/// The first 31-bit word of a payload (a stream id), if it has one.
fn stream_of(payload: &[u8]) -> Option<u32> {
    let word: [u8; 4] = payload.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(word) & 0x7fff_ffff)
}

/// Reads one frame into `payload` (reused between calls); `Ok(None)` at a
/// clean end of the connection (between frames).
pub(crate) async fn read_frame<'a, R>(
    reader: &mut R,
    payload: &'a mut Vec<u8>,
) -> Result<Option<Incoming<'a>>, String>
where
    R: AsyncRead + Unpin,
{
    let mut bytes = [0u8; 8];
    match reader.read_exact(&mut bytes).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.to_string()),
    }
    let head = head(bytes);
    payload.resize(head.length, 0);
    reader
        .read_exact(payload)
        .await
        .map_err(|e| format!("a frame was cut short: {e}"))?;
    decode(head, payload).map(Some)
}

/// What a frame with `head` and `payload` says.
fn decode(head: Head, payload: &[u8]) -> Result<Incoming<'_>, String> {
    let fin = head.flags & FLAG_FIN != 0;
    let Some(kind) = head.control else {
        return Ok(Incoming::Data {
            stream: head.stream,
            fin,
            data: payload,
        });
    };
    let short = |what: &str| format!("a {what} frame of {} bytes is too short", payload.len());
    Ok(match kind {
        SYN_REPLY => Incoming::Reply {
            stream: stream_of(payload).ok_or_else(|| short("SYN_REPLY"))?,
            fin,
        },
        RST_STREAM => Incoming::Reset {
            stream: stream_of(payload).ok_or_else(|| short("RST_STREAM"))?,
            status: stream_of(payload.get(4..).unwrap_or_default())
                .ok_or_else(|| short("RST_STREAM"))?,
        },
        PING => Incoming::Ping(
            payload
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or_else(|| short("PING"))?,
        ),
        GOAWAY => Incoming::GoAway,
        _ => Incoming::Other,
    })
}

/// The 8-byte header of a control frame.
fn control_head(kind: u16, flags: u8, length: usize) -> Vec<u8> {
    let mut frame = Vec::with_capacity(8 + length);
    frame.extend_from_slice(&(VERSION | u16::from(CONTROL) << 8).to_be_bytes());
    frame.extend_from_slice(&kind.to_be_bytes());
    frame.push(flags);
    frame.extend_from_slice(&(length as u32).to_be_bytes()[1..]);
    frame
}

/// A DATA frame on `stream` (`data` at most [`MAX_PAYLOAD`] bytes): the
/// server's side, in tests.
#[cfg(test)]
pub(crate) fn data_frame(stream: u32, fin: bool, data: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(8 + data.len());
    push_data_frames(&mut frame, stream, fin, data);
    frame
}

/// Appends `data` to `out` as DATA frames on `stream` of at most
/// [`MAX_PAYLOAD`] bytes each (one empty frame for empty data), the last
/// with the FIN flag when `fin`.
pub(crate) fn push_data_frames(out: &mut Vec<u8>, stream: u32, fin: bool, data: &[u8]) {
    let pieces = data.len().div_ceil(MAX_PAYLOAD).max(1);
    out.reserve(data.len() + 8 * pieces);
    for (i, piece) in data
        .chunks(MAX_PAYLOAD)
        .chain([&[][..]])
        .take(pieces)
        .enumerate()
    {
        out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
        out.push(if fin && i + 1 == pieces { FLAG_FIN } else { 0 });
        out.extend_from_slice(&(piece.len() as u32).to_be_bytes()[1..]);
        out.extend_from_slice(piece);
    }
}

/// A PING frame with `id`.
pub(crate) fn ping_frame(id: u32) -> Vec<u8> {
    let mut frame = control_head(PING, 0, 4);
    frame.extend_from_slice(&id.to_be_bytes());
    frame
}

/// The header blocks this side sends, as the one zlib stream SPDY makes of
/// them. Each block is stored (deflate block type 0, not final), so a
/// decompressor reads it as is, and ends with an empty stored block, as a
/// zlib sync flush does: without it Go's inflater reads on past the frame
/// for the next block and fails the frame after (the kubelet then never
/// answers). The zlib header sets no preset dictionary, so SPDY's
/// dictionary is not needed to read the blocks.
#[derive(Debug, Default)]
pub(crate) struct HeaderBlocks {
    started: bool,
}

impl HeaderBlocks {
    /// The next block, carrying `headers` (names lower case).
    fn block(&mut self, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut plain = Vec::new();
        plain.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        for (name, value) in headers {
            for text in [name, value] {
                plain.extend_from_slice(&(text.len() as u32).to_be_bytes());
                plain.extend_from_slice(text.as_bytes());
            }
        }
        let mut block = Vec::with_capacity(plain.len() + 12 + plain.len() / 65_535 * 5);
        if !self.started {
            // CMF 0x78 (deflate, 32 KiB window), FLG 0x01: no dictionary,
            // and 0x7801 is a multiple of 31 as zlib requires.
            block.extend_from_slice(&[0x78, 0x01]);
            self.started = true;
        }
        for piece in plain.chunks(65_535).chain([&[][..]]) {
            let len = piece.len() as u16;
            block.push(0x00);
            block.extend_from_slice(&len.to_le_bytes());
            block.extend_from_slice(&(!len).to_le_bytes());
            block.extend_from_slice(piece);
        }
        block
    }

    /// A `SYN_STREAM` frame opening `stream` with `headers`.
    pub(crate) fn syn_stream(&mut self, stream: u32, headers: &[(&str, &str)]) -> Vec<u8> {
        let block = self.block(headers);
        let mut frame = control_head(SYN_STREAM, 0, 10 + block.len());
        frame.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
        frame.extend_from_slice(&0u32.to_be_bytes()); // associated-to: none
        frame.extend_from_slice(&[0, 0]); // priority 0, slot 0
        frame.extend_from_slice(&block);
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a zlib stream of stored blocks back: the header once, then
    /// each block's bytes. (What any inflater does with such blocks.) Each
    /// header block must end with the sync flush's empty block.
    fn unstore(stream: &[u8]) -> Vec<u8> {
        assert!(
            stream.ends_with(&[0, 0, 0, 0xff, 0xff]),
            "ends with a sync flush"
        );
        assert_eq!(&stream[..2], &[0x78, 0x01], "zlib header, no dictionary");
        assert_eq!(
            u16::from_be_bytes([0x78, 0x01]) % 31,
            0,
            "a valid zlib header"
        );
        let mut rest = &stream[2..];
        let mut out = Vec::new();
        while !rest.is_empty() {
            assert_eq!(rest[0], 0x00, "a stored block, not final");
            let len = u16::from_le_bytes([rest[1], rest[2]]);
            let nlen = u16::from_le_bytes([rest[3], rest[4]]);
            assert_eq!(len, !nlen, "NLEN is LEN's complement");
            out.extend_from_slice(&rest[5..5 + usize::from(len)]);
            rest = &rest[5 + usize::from(len)..];
        }
        out
    }

    /// The name/value pairs of an uncompressed SPDY/3 header block.
    fn pairs(mut block: &[u8]) -> Vec<(String, String)> {
        let word = |block: &mut &[u8]| {
            let n = u32::from_be_bytes(block[..4].try_into().expect("4 bytes")) as usize;
            *block = &block[4..];
            n
        };
        let count = word(&mut block);
        (0..count)
            .map(|_| {
                let text = |block: &mut &[u8]| {
                    let n = word(block);
                    let s = String::from_utf8(block[..n].to_vec()).expect("utf-8");
                    *block = &block[n..];
                    s
                };
                (text(&mut block), text(&mut block))
            })
            .collect()
    }

    #[test]
    fn syn_streams_carry_their_headers_in_one_zlib_stream() {
        let mut blocks = HeaderBlocks::default();
        let first = blocks.syn_stream(1, &[("streamtype", "error")]);
        let second = blocks.syn_stream(3, &[("streamtype", "stdin")]);
        for (frame, id) in [(&first, 1u32), (&second, 3)] {
            assert_eq!(
                &frame[..4],
                &[0x80, 0x03, 0x00, 0x01],
                "control, v3, SYN_STREAM"
            );
            assert_eq!(frame[4], 0, "no flags");
            let length = head(frame[..8].try_into().expect("8 bytes")).length;
            assert_eq!(length, frame.len() - 8);
            assert_eq!(stream_of(&frame[8..]), Some(id));
            assert_eq!(stream_of(&frame[12..]), Some(0), "associated to no stream");
        }
        // The second block continues the first's zlib stream: no new header.
        let mut stream = first[18..].to_vec();
        let first_len = unstore(&stream).len();
        stream.extend_from_slice(&second[18..]);
        let plain = unstore(&stream);
        assert_eq!(
            pairs(&plain[..first_len]),
            [("streamtype".to_string(), "error".to_string())]
        );
        assert_eq!(
            pairs(&plain[first_len..]),
            [("streamtype".to_string(), "stdin".to_string())]
        );
    }

    #[test]
    fn a_header_block_longer_than_a_stored_block_is_split() {
        let mut blocks = HeaderBlocks::default();
        let long = "v".repeat(70_000);
        let frame = blocks.syn_stream(1, &[("x", &long)]);
        assert_eq!(pairs(&unstore(&frame[18..])), [("x".to_string(), long)]);
    }

    #[test]
    fn data_frames_are_read_back_with_their_stream_and_fin() {
        let frame = data_frame(5, true, b"hello");
        assert_eq!(&frame[..8], &[0, 0, 0, 5, FLAG_FIN, 0, 0, 5]);
        let head = head(frame[..8].try_into().expect("8 bytes"));
        assert_eq!(
            decode(head, &frame[8..]),
            Ok(Incoming::Data {
                stream: 5,
                fin: true,
                data: b"hello"
            })
        );
    }

    #[test]
    fn data_longer_than_a_frame_is_split_and_only_the_last_piece_ends_the_stream() {
        let data = vec![9u8; MAX_PAYLOAD + 10];
        let mut wire = Vec::new();
        push_data_frames(&mut wire, 3, true, &data);
        let first = head(wire[..8].try_into().expect("8 bytes"));
        assert_eq!(
            (first.stream, first.flags, first.length),
            (3, 0, MAX_PAYLOAD)
        );
        let rest = &wire[8 + MAX_PAYLOAD..];
        let second = head(rest[..8].try_into().expect("8 bytes"));
        assert_eq!(
            (second.stream, second.flags, second.length),
            (3, FLAG_FIN, 10)
        );
        assert_eq!(rest.len(), 8 + 10);
    }

    #[test]
    fn a_ping_is_read_back_with_its_id() {
        let frame = ping_frame(0x0102_0304);
        let head = head(frame[..8].try_into().expect("8 bytes"));
        assert_eq!(decode(head, &frame[8..]), Ok(Incoming::Ping(0x0102_0304)));
    }

    #[tokio::test]
    async fn frames_are_read_from_a_stream_until_its_clean_end() {
        let reply = {
            let mut frame = control_head(SYN_REPLY, FLAG_FIN, 6);
            frame.extend_from_slice(&[0, 0, 0, 7, 0, 0]);
            frame
        };
        let reset = {
            let mut frame = control_head(RST_STREAM, 0, 8);
            frame.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 5]);
            frame
        };
        let window_update = {
            let mut frame = control_head(9, 0, 8);
            frame.extend_from_slice(&[0, 0, 0, 3, 0, 1, 0, 0]);
            frame
        };
        let mut wire = Vec::new();
        for frame in [
            reply,
            data_frame(1, false, &[7u8; 70_000]),
            reset,
            window_update,
            control_head(GOAWAY, 0, 8)
                .into_iter()
                .chain([0; 8])
                .collect(),
        ] {
            wire.extend_from_slice(&frame);
        }
        let mut reader = &wire[..];
        let mut payload = Vec::new();
        let mut seen = Vec::new();
        while let Some(frame) = read_frame(&mut reader, &mut payload).await.expect("frames") {
            seen.push(match frame {
                Incoming::Data { stream, fin, data } => {
                    format!("data {stream} {fin} {}", data.len())
                }
                other => format!("{other:?}"),
            });
        }
        assert_eq!(
            seen,
            [
                "Reply { stream: 7, fin: true }",
                "data 1 false 70000",
                "Reset { stream: 3, status: 5 }",
                "Other",
                "GoAway",
            ]
        );
    }

    #[tokio::test]
    async fn a_frame_cut_short_is_an_error_not_an_end() {
        let frame = data_frame(5, false, b"hello");
        let mut reader = &frame[..10];
        let mut payload = Vec::new();
        let failure = read_frame(&mut reader, &mut payload)
            .await
            .expect_err("cut short");
        assert!(failure.contains("cut short"), "{failure}");
    }

    #[test]
    fn a_short_control_frame_is_an_error() {
        let head = head(control_head(PING, 0, 2)[..8].try_into().expect("8 bytes"));
        let failure = decode(head, &[0, 1]).expect_err("too short");
        assert!(failure.contains("PING"), "{failure}");
    }
}
