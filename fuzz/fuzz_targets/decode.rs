//! The gzip/plain sniffer and the size-limited decoder, against flate2's plain
//! `MultiGzDecoder` read to the end: the same bytes; an error exactly when flate2 has one (a
//! truncated stream as `TruncatedGzip`, corrupt data as `BadGzip`), or `TooLarge` when the
//! output passes the limit; plain input comes out unchanged. The first input byte picks the
//! limit and the size of the caller's buffer.
#![no_main]

use std::io::{ErrorKind, Read};

use denytrail_core::decode::{Counted, DecodeError, Decoder, Encoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pick = data.get(2).copied().unwrap_or(0) as usize;
    let chunk = [1, 7, 64, 4096, 1 << 20][pick % 5];
    let limit = if pick & 0x80 == 0 { u64::MAX } else { (pick as u64 & 0x7f) * 97 };

    let (mut dec, enc) = Decoder::new(Counted::new(data), limit).expect("reading a slice never fails");
    let mut out = Vec::new();
    let mut buf = vec![0u8; chunk];
    let end = loop {
        match dec.fill(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                assert!(n <= chunk);
                out.extend_from_slice(&buf[..n]);
            }
            Err(e) => break Err(e),
        }
    };
    assert!(dec.raw().count <= data.len() as u64);
    assert!(out.len() as u64 <= dec.decompressed());

    let gzip = data.starts_with(&[0x1f, 0x8b]);
    assert_eq!(enc, if gzip { Encoding::Gzip } else { Encoding::Plain });
    let mut want = Vec::new();
    let flate = if gzip {
        flate2::read::MultiGzDecoder::new(data).read_to_end(&mut want).map(|_| ())
    } else {
        want.extend_from_slice(data);
        Ok(())
    };
    // Before an error, how much was handed out depends on the read sizes (read_to_end's and
    // ours): the shorter output must be a prefix of the longer.
    let common = out.len().min(want.len());
    assert!(out[..common] == want[..common], "decoded bytes differ from flate2's");
    match (&flate, &end) {
        (Ok(()), Ok(())) => {
            assert_eq!(out, want);
            assert!(want.len() as u64 <= limit, "passed the limit without an error");
        }
        (Ok(()), Err(DecodeError::TooLarge { .. })) => assert!(want.len() as u64 > limit),
        (Err(_), Err(DecodeError::TooLarge { .. })) => assert!(dec.decompressed() > limit),
        (Err(e), Err(DecodeError::TruncatedGzip)) => assert_eq!(e.kind(), ErrorKind::UnexpectedEof),
        (Err(e), Err(DecodeError::BadGzip(_))) => {
            assert!(matches!(e.kind(), ErrorKind::InvalidData | ErrorKind::InvalidInput), "{e}")
        }
        (a, b) => panic!("flate2: {a:?}, decoder: {b:?}"),
    }
});
