//! The iden3 binary container shared by `.r1cs`, `.ptau` and `.zkey` files.
//!
//! A file is a four-byte magic (`r1cs`, `ptau`, `zkey`), a `u32` version and a `u32` section
//! count, then that many sections, each a `u32` type, a `u64` length and the bytes. Integers are
//! little-endian. The reader refuses a wrong magic or version, a section that runs past the end,
//! trailing bytes, and (for the types a caller asks for) a missing or repeated section.

use std::ops::Range;

use crate::CeremonyError;

/// A parsed container: where each section's bytes are.
#[derive(Debug)]
pub struct BinFile<'a> {
    data: &'a [u8],
    sections: Vec<(u32, Range<usize>)>,
}

impl<'a> BinFile<'a> {
    /// Parses the section table of `data`, a file of kind `magic` at version `version`.
    pub fn parse(data: &'a [u8], magic: &[u8; 4], version: u32) -> Result<Self, CeremonyError> {
        let what = String::from_utf8_lossy(magic).into_owned();
        let bad = |reason: String| CeremonyError::Format {
            file: what.clone(),
            reason,
        };
        let mut r = Reader::new(data);
        let m = r
            .bytes(4)
            .map_err(|_| bad("shorter than its header".into()))?;
        if m != magic {
            return Err(bad(format!(
                "not a .{} file (magic {:?})",
                what,
                String::from_utf8_lossy(m)
            )));
        }
        let v = r.u32().map_err(|_| bad("shorter than its header".into()))?;
        if v != version {
            return Err(bad(format!("version {v}; only version {version} is read")));
        }
        let n = r.u32().map_err(|_| bad("shorter than its header".into()))?;
        if n > 64 {
            return Err(bad(format!("{n} sections; at most 64 are read")));
        }
        let mut sections = Vec::new();
        for i in 0..n {
            let kind = r
                .u32()
                .map_err(|_| bad(format!("section {i}: truncated header")))?;
            let len = r
                .u64()
                .map_err(|_| bad(format!("section {i}: truncated header")))?;
            let len = usize::try_from(len)
                .ok()
                .filter(|l| *l <= r.remaining())
                .ok_or_else(|| bad(format!("section {i} (type {kind}) runs past the end")))?;
            let start = r.pos;
            r.pos += len;
            sections.push((kind, start..start + len));
        }
        if r.remaining() != 0 {
            return Err(bad(format!(
                "{} bytes after the last section",
                r.remaining()
            )));
        }
        Ok(Self { data, sections })
    }

    /// The one section of type `kind`.
    pub fn section(&self, kind: u32) -> Result<&'a [u8], CeremonyError> {
        let mut found = self.sections.iter().filter(|(k, _)| *k == kind);
        let first = found.next().ok_or_else(|| self.error(kind, "missing"))?;
        if found.next().is_some() {
            return Err(self.error(kind, "repeated"));
        }
        self.data
            .get(first.1.clone())
            .ok_or_else(|| self.error(kind, "out of range"))
    }

    /// Whether a section of type `kind` is present.
    pub fn has(&self, kind: u32) -> bool {
        self.sections.iter().any(|(k, _)| *k == kind)
    }

    /// The section types in file order.
    pub fn kinds(&self) -> Vec<u32> {
        self.sections.iter().map(|(k, _)| *k).collect()
    }

    fn error(&self, kind: u32, what: &str) -> CeremonyError {
        CeremonyError::Format {
            file: String::from_utf8_lossy(self.data.get(..4).unwrap_or_default()).into_owned(),
            reason: format!("section {kind} is {what}"),
        }
    }
}

/// Writes a container: sections are appended in the order they are written.
#[derive(Debug)]
pub struct BinWriter {
    out: Vec<u8>,
    count_at: usize,
    count: u32,
}

impl BinWriter {
    /// Starts a file of kind `magic`, version `version`.
    pub fn new(magic: &[u8; 4], version: u32) -> Self {
        let mut out = Vec::new();
        out.extend_from_slice(magic);
        out.extend_from_slice(&version.to_le_bytes());
        let count_at = out.len();
        out.extend_from_slice(&0u32.to_le_bytes());
        Self {
            out,
            count_at,
            count: 0,
        }
    }

    /// Appends a section.
    pub fn section(&mut self, kind: u32, bytes: &[u8]) {
        self.out.extend_from_slice(&kind.to_le_bytes());
        self.out
            .extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        self.out.extend_from_slice(bytes);
        self.count += 1;
    }

    /// The file's bytes.
    pub fn finish(mut self) -> Vec<u8> {
        let count = self.count.to_le_bytes();
        if let Some(slot) = self.out.get_mut(self.count_at..self.count_at + 4) {
            slot.copy_from_slice(&count);
        }
        self.out
    }
}

/// A bounds-checked little-endian reader over a byte slice.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    /// The position of the next byte.
    pub pos: usize,
}

/// The reader ran past the end of its data.
#[derive(Debug, Clone, Copy)]
pub struct Truncated;

impl<'a> Reader<'a> {
    /// A reader at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        let end = self.pos.checked_add(n).ok_or(Truncated)?;
        let out = self.data.get(self.pos..end).ok_or(Truncated)?;
        self.pos = end;
        Ok(out)
    }

    /// The next byte.
    pub fn u8(&mut self) -> Result<u8, Truncated> {
        Ok(self.bytes(1)?.first().copied().unwrap_or_default())
    }

    /// The next little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, Truncated> {
        let b: [u8; 4] = self.bytes(4)?.try_into().map_err(|_| Truncated)?;
        Ok(u32::from_le_bytes(b))
    }

    /// The next little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, Truncated> {
        let b: [u8; 8] = self.bytes(8)?.try_into().map_err(|_| Truncated)?;
        Ok(u64::from_le_bytes(b))
    }
}
