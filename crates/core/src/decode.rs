//! Turns the bytes of a log object into a stream of JSON bytes.
//!
//! Compression is recognised by content (the gzip magic), never by name. Gzip is read with
//! flate2's multi-member decoder (concatenated members are valid gzip). Every stream is capped at
//! a decompressed-size limit, so a gzip bomb becomes a failed file instead of an OOM kill; since
//! the parser consumes the stream chunk by chunk, memory never grows with the file either.

use std::io::{self, BufRead, Read};

use flate2::bufread::MultiGzDecoder;

/// Bytes handed to the splitter per read.
pub const CHUNK: usize = 1 << 20;

/// The default `--max-decompressed`: far above what a 50 MB (CloudTrail's maximum) gzip file of
/// JSON inflates to, far below what would hurt a machine.
pub const DEFAULT_LIMIT: u64 = 4 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Plain,
}

/// What went wrong while decoding; the message is what the summary shows for a failed file.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated gzip: the stream ends before its end marker")]
    TruncatedGzip,
    #[error("bad gzip: {0}")]
    BadGzip(String),
    #[error("decompressed size exceeds the limit of {limit} bytes (--max-decompressed)")]
    TooLarge { limit: u64 },
    #[error("read error: {0}")]
    Io(io::Error),
}

/// Counts the raw (compressed) bytes a reader hands out.
pub struct Counted<R> {
    inner: R,
    pub count: u64,
}

impl<R> Counted<R> {
    pub fn new(inner: R) -> Self {
        Counted { inner, count: 0 }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.count += amt as u64;
        self.inner.consume(amt)
    }
}

enum Inner<R: BufRead> {
    Gzip(Box<MultiGzDecoder<R>>),
    Plain(R),
}

/// A decompressing, size-limited reader over one log object.
pub struct Decoder<R: BufRead> {
    inner: Inner<R>,
    limit: u64,
    produced: u64,
}

impl<R: BufRead> Decoder<R> {
    /// Sniffs the encoding from the first bytes. Returns the decoder and the first bytes of the
    /// raw stream (up to 8), which the caller uses to tell log files from other files.
    pub fn new(mut raw: R, limit: u64) -> Result<(Self, Encoding), DecodeError> {
        let head = raw.fill_buf().map_err(DecodeError::Io)?;
        let encoding = if head.starts_with(&[0x1f, 0x8b]) { Encoding::Gzip } else { Encoding::Plain };
        let inner = match encoding {
            Encoding::Gzip => Inner::Gzip(Box::new(MultiGzDecoder::new(raw))),
            Encoding::Plain => Inner::Plain(raw),
        };
        Ok((Decoder { inner, limit, produced: 0 }, encoding))
    }

    pub fn decompressed(&self) -> u64 {
        self.produced
    }

    /// The raw reader, e.g. to read its byte count.
    pub fn raw(&self) -> &R {
        match &self.inner {
            Inner::Gzip(d) => d.get_ref(),
            Inner::Plain(r) => r,
        }
    }

    /// Fills `dst` with decoded bytes, as far as the stream goes. Returns the number written;
    /// 0 means the end. The caller owns and reuses `dst`, so nothing is allocated or zeroed here.
    pub fn fill(&mut self, dst: &mut [u8]) -> Result<usize, DecodeError> {
        let mut filled = 0;
        let result = loop {
            if filled == dst.len() {
                break Ok(());
            }
            let read = match &mut self.inner {
                Inner::Gzip(d) => d.read(&mut dst[filled..]),
                Inner::Plain(r) => r.read(&mut dst[filled..]),
            };
            match read {
                Ok(0) => break Ok(()),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(self.classify(e)),
            }
        };
        self.produced += filled as u64;
        if self.produced > self.limit {
            return Err(DecodeError::TooLarge { limit: self.limit });
        }
        result.map(|()| filled)
    }

    fn classify(&self, e: io::Error) -> DecodeError {
        match (&self.inner, e.kind()) {
            (Inner::Gzip(_), io::ErrorKind::UnexpectedEof) => DecodeError::TruncatedGzip,
            (Inner::Gzip(_), io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData) => {
                DecodeError::BadGzip(e.to_string())
            }
            _ => DecodeError::Io(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn decode_all(raw: &[u8], limit: u64) -> Result<(Encoding, Vec<u8>), DecodeError> {
        let (mut d, enc) = Decoder::new(raw, limit)?;
        let (mut out, mut chunk) = (Vec::new(), [0u8; 7]);
        loop {
            match d.fill(&mut chunk)? {
                0 => return Ok((enc, out)),
                n => out.extend_from_slice(&chunk[..n]),
            }
        }
    }

    #[test]
    fn plain_and_gzip_and_multi_member() {
        assert_eq!(decode_all(b"{\"a\":1}", 100).unwrap(), (Encoding::Plain, b"{\"a\":1}".to_vec()));
        assert_eq!(decode_all(&gzip(b"hello world"), 100).unwrap(), (Encoding::Gzip, b"hello world".to_vec()));
        let mut two = gzip(b"first ");
        two.extend(gzip(b"second"));
        assert_eq!(decode_all(&two, 100).unwrap().1, b"first second");
    }

    #[test]
    fn truncated_and_corrupt_gzip() {
        let data: Vec<u8> = (0..20_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let z = gzip(&data);
        for cut in [z.len() / 2, z.len() - 4, 12] {
            let err = decode_all(&z[..cut], u64::MAX).unwrap_err();
            assert!(matches!(err, DecodeError::TruncatedGzip), "cut at {cut}: {err}");
        }
        let mut bad = z.clone();
        bad[3] = 0xff; // reserved header flags
        assert!(matches!(decode_all(&bad, u64::MAX).unwrap_err(), DecodeError::BadGzip(_)));
        let mut crc = z.clone();
        let n = crc.len();
        crc[n - 6] ^= 0x55;
        assert!(matches!(decode_all(&crc, u64::MAX).unwrap_err(), DecodeError::BadGzip(_)));
    }

    #[test]
    fn bomb_is_stopped_at_the_limit() {
        // 64 MiB of zeros compress to ~64 KiB; the limit stops decoding long before the end.
        let mut e = GzEncoder::new(Vec::new(), Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            e.write_all(&zeros).unwrap();
        }
        let bomb = e.finish().unwrap();
        let (mut d, _) = Decoder::new(&bomb[..], 4 << 20).unwrap();
        let mut buf = vec![0u8; CHUNK];
        let err = loop {
            match d.fill(&mut buf) {
                Ok(0) => panic!("bomb fully decoded"),
                Ok(_) => {}
                Err(e) => break e,
            }
        };
        assert!(matches!(err, DecodeError::TooLarge { limit } if limit == 4 << 20));
        assert!(d.decompressed() <= (4 << 20) + CHUNK as u64);
    }

    #[test]
    fn counts_compressed_bytes() {
        let z = gzip(b"some text to count");
        let (mut d, _) = Decoder::new(Counted::new(&z[..]), 100).unwrap();
        let mut out = [0u8; 1024];
        while d.fill(&mut out).unwrap() > 0 {}
        assert_eq!(d.raw().count, z.len() as u64);
    }
}
