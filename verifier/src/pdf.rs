//! The attachments (embedded files) of a PDF: how `letro-verify` finds the JSON documents
//! embedded in an evidence certificate, a PDF/A-3 file.
//!
//! The attachments prove themselves (each is signed or proved, and checked after this), so this
//! module only has to find them exactly. It reads the small part of PDF that Letro writes (with
//! the `pdf-writer` crate) and that a later incremental update (for example a signature added by
//! a PDF tool) keeps, and refuses everything else, and everything ambiguous, with an error that
//! says what is wrong and where: a byte offset, or an object number and generation `N G`. It
//! never decodes, decompresses, renders or runs anything, and it never panics.
//!
//! ## The file (ISO 32000-1 §7.5)
//!
//! 1. The file starts with `%PDF-` — [`PdfError::NotPdf`].
//! 2. It ends with `startxref`, the byte offset of the newest cross-reference section, and
//!    `%%EOF`, with nothing after them but white space — [`PdfError::NoStartXref`].
//! 3. A cross-reference section is a classic table: the keyword `xref` (at the offset given),
//!    subsections `first count`, each followed by `count` entries of exactly 20 bytes,
//!    `oooooooooo ggggg n` (object `first + i` in use, generation `g`, at byte offset `o` of the
//!    file) or `oooooooooo ggggg f` (free), ended by `SP CR`, `SP LF` or `CR LF`; then `trailer`
//!    and a dictionary — [`PdfError::Xref`]. An object number listed twice in one section is
//!    refused. A cross-reference stream (PDF 1.5, `/Type /XRef`) where a section should be, a
//!    hybrid trailer (`/XRefStm`), and an object stream (`/Type /ObjStm`) where an embedded file
//!    should be are refused — [`PdfError::Compressed`]. (An object compressed in an object
//!    stream is listed only by a cross-reference stream, so none is ever read.)
//! 4. Incremental updates: a trailer's `/Prev` is the offset of the previous (older) section.
//!    Sections are read newest first, and for each object number the newest entry wins (a free
//!    entry deletes the object). At most 32 sections, none read twice — [`PdfError::Xref`]. The
//!    document's catalog is the newest trailer's `/Root`. A trailer with `/Encrypt` is refused —
//!    [`PdfError::Encrypted`].
//!
//! ## Objects (ISO 32000-1 §7.2, §7.3)
//!
//! 5. Tokens are separated by white space (NUL, TAB, LF, FF, CR, SP) and comments (`%` to the end
//!    of the line). Objects are: `null`, `true`, `false`; integers (`[+-]digits`, 64-bit) and
//!    reals (`[+-]digits.digits`, no exponent); literal strings `( )`, with balanced parentheses
//!    and the escapes `\n \r \t \b \f \( \) \\`, `\ddd` (1 to 3 octal digits, modulo 256), `\`
//!    before an end of line (line continuation: nothing), `\` before any other byte (that byte),
//!    an unescaped CR, CR LF or LF being one LF; hex strings `< >` (white space ignored, an odd
//!    last digit followed by 0); names `/...` with `#xx` escapes (not `#00`); arrays `[ ]`;
//!    dictionaries `<< >>` whose keys are names, each at most once; references `N G R`
//!    (`N > 0`, `G < 65536`). Anything else is [`PdfError::Syntax`]. Arrays and dictionaries
//!    nest at most 32 deep — [`PdfError::TooDeep`].
//! 6. Indirect object `N G` is read at the offset of the newest in-use entry for `N`, which must
//!    have generation `G` — else [`PdfError::MissingObject`]; `N G obj` must start exactly there
//!    (not after white space, not in the middle of a number) — else
//!    [`PdfError::ObjectMismatch`]. Objects that no entry points at are never read. The object
//!    ends with `endobj`, or:
//! 7. a stream: a dictionary, `stream`, CR LF or LF, exactly `/Length` bytes (an integer, or a
//!    reference to an integer object), then `endstream` and `endobj` —
//!    [`PdfError::StreamLength`] if the length is negative, runs past the end of the file, or is
//!    not followed by `endstream`.
//! 8. A reference is followed where a value is expected (a dictionary, an array, a string, a
//!    length); the object it leads to must not be a stream, nor only another reference —
//!    [`PdfError::Structure`].
//!
//! ## Attachments (ISO 32000-1 §7.7.2, §7.9.6, §7.11)
//!
//! 9. The catalog (`/Root`) is a dictionary with `/Type /Catalog`. Without `/Names`, or without
//!    `/EmbeddedFiles` in it, the PDF has no attachments (an empty list, not an error).
//! 10. `/EmbeddedFiles` is a name tree: each node a dictionary with either `/Names [key value
//!     ...]` (keys strings) or `/Kids [references]`, not both, not neither; no node reached
//!     twice — [`PdfError::Structure`]; at most 32 levels — [`PdfError::TreeTooDeep`]. Keys are
//!     compared byte for byte and each appears once — [`PdfError::DuplicateKey`]; at most 64
//!     entries — [`PdfError::TooManyAttachments`]. `/Limits` is not read.
//! 11. Each value is a file specification dictionary, `/Type /Filespec`, with the attachment's
//!     name in `/UF` (or, without `/UF`, in `/F`), and `/EF`, whose entries (`/F`, `/UF`, ...)
//!     all reference the same stream. Two attachments with the same name are refused —
//!     [`PdfError::DuplicateName`].
//! 12. That stream is the embedded file: `/Type /EmbeddedFile` if it has a `/Type`; no `/F`,
//!     `/FFilter` or `/FDecodeParms` (data in another file); no `/Filter` (or an empty array) —
//!     [`PdfError::Filter`]; at most 1 MiB — [`PdfError::TooLarge`]; if `/Params` has a `/Size`,
//!     it is the stream's length. The attachment's bytes are exactly the stream's bytes.
//! 13. Names are text strings: UTF-16BE after the bytes FE FF, UTF-8 after EF BB BF, else
//!     PDFDocEncoding (Latin-1 but for 0x18–0x1F and 0x80–0xA0, and 0x7F, 0x9F and 0xAD which it
//!     does not define); not empty, no control character (U+0000–U+001F, U+007F–U+009F), no
//!     unpaired surrogate — [`PdfError::Structure`].
//!
//! ## Limits
//!
//! Work and memory are bounded for every input: at most 1,048,576 objects (numbers, names,
//! strings, arrays, ...) are parsed in all, and the syntax read (stream data excepted) adds up to
//! at most twice the file's size plus 64 KiB — [`PdfError::TooComplex`]. Only the objects on the
//! way to the attachments are read, each once, so a certificate uses a small part of this; a file
//! made to slow the reader down (objects that overlap, huge arrays) reaches it.
//!
//! ## Not read
//!
//! Pages and their content, the `/AF` arrays of PDF/A-3 (the name tree is what is read),
//! `/AFRelationship`, `/Desc`, the dates and MD5 `/CheckSum` of `/Params`, and signatures: an
//! incremental update is read like any other, so an update can replace or add an attachment —
//! which then has to prove itself like every other one.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

/// Rules 5 and 10: how deep arrays and dictionaries nest, and how many levels a name tree has.
pub const MAX_DEPTH: usize = 32;
/// Rule 4: how many cross-reference sections (the original and its incremental updates).
pub const MAX_XREF_SECTIONS: usize = 32;
/// Rule 10: how many attachments.
pub const MAX_ATTACHMENTS: usize = 64;
/// Rule 12: how large one attachment may be, in bytes (1 MiB).
pub const MAX_ATTACHMENT_BYTES: usize = 1 << 20;
/// Limits: how many objects are parsed in all.
pub const MAX_OBJECTS: usize = 1 << 20;
/// Limits: how much syntax is read beyond twice the file's size.
const EXTRA_SYNTAX_BYTES: usize = 64 * 1024;

/// One attachment of a PDF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its file name (`/UF`, else `/F`, of its file specification), decoded (rule 13).
    pub name: String,
    /// Its bytes, exactly the embedded file stream's.
    pub bytes: Vec<u8>,
}

/// An indirect object's number and generation, `N G`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    /// The object number `N`.
    pub num: u32,
    /// The generation `G`.
    pub gen: u16,
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.num, self.gen)
    }
}

impl ObjectId {
    /// `N G` if `N` is a positive 32-bit number and `G` a 16-bit one.
    fn new(num: i64, gen: i64) -> Option<Self> {
        let num = u32::try_from(num).ok().filter(|n| *n > 0)?;
        let gen = u16::try_from(gen).ok()?;
        Some(Self { num, gen })
    }
}

/// Why the attachments of a PDF could not be read. The variants follow the rules of the
/// [module documentation](self).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PdfError {
    /// Rule 1: the file does not start with `%PDF-`.
    #[error("not a PDF: the file does not start with %PDF-")]
    NotPdf,
    /// Rule 2: no `startxref`, offset and `%%EOF` at the end of the file.
    #[error("the file does not end with `startxref`, an offset and `%%EOF`: it is truncated, or has data after its end")]
    NoStartXref,
    /// Rules 3 and 4: a malformed cross-reference section or trailer, or a `/Prev` chain that
    /// loops or is too long.
    #[error("bad cross-reference section at byte {offset}: {what}")]
    Xref {
        /// Where (a byte offset in the file).
        offset: usize,
        /// What is wrong.
        what: String,
    },
    /// Rule 3: a cross-reference stream, a hybrid trailer or an object stream.
    #[error("compressed object streams are not supported: letro-verify reads certificates as Letro writes them, with a classic cross-reference table and uncompressed objects; this file has {what}")]
    Compressed {
        /// What was found, and where.
        what: String,
    },
    /// Rule 4: the PDF is encrypted.
    #[error("the PDF is encrypted (/Encrypt in the trailer of the cross-reference section at byte {offset}): encrypted certificates are not supported")]
    Encrypted {
        /// The offset of the cross-reference section whose trailer has `/Encrypt`.
        offset: usize,
    },
    /// Rule 5: not PDF object syntax.
    #[error("malformed PDF syntax at byte {offset}: {what}")]
    Syntax {
        /// Where (a byte offset in the file).
        offset: usize,
        /// What is wrong.
        what: String,
    },
    /// Rule 5: arrays and dictionaries nested more than [`MAX_DEPTH`] deep.
    #[error("arrays and dictionaries nested more than {MAX_DEPTH} deep at byte {offset}")]
    TooDeep {
        /// Where the innermost one starts.
        offset: usize,
    },
    /// Rule 6: a reference to an object that the newest cross-reference entries do not list in
    /// use with this generation.
    #[error("object {object} is referenced but not in use in the cross-reference table")]
    MissingObject {
        /// The object referenced.
        object: ObjectId,
    },
    /// Rule 6: the cross-reference table's offset for an object is not where that object starts.
    #[error("the cross-reference table puts object {object} at byte {offset}, but `{object} obj` does not start there")]
    ObjectMismatch {
        /// The object.
        object: ObjectId,
        /// The offset the table gives.
        offset: usize,
    },
    /// Rule 7: a stream's `/Length` is negative, runs past the end of the file, or is not
    /// followed by `endstream`.
    #[error("object {object}: the stream's /Length {length} {problem}")]
    StreamLength {
        /// The stream object.
        object: ObjectId,
        /// Its `/Length`.
        length: i64,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// Rules 8 to 13: an object that is not what the structure requires there.
    #[error("object {object}: {what}")]
    Structure {
        /// The object (the indirect object that holds the value).
        object: ObjectId,
        /// What is wrong.
        what: String,
    },
    /// Rule 10: the embedded-files name tree has more than [`MAX_DEPTH`] levels.
    #[error("the embedded-files name tree has more than {MAX_DEPTH} levels (at object {object})")]
    TreeTooDeep {
        /// The node beyond the limit.
        object: ObjectId,
    },
    /// Rule 10: the same key twice in the embedded-files name tree.
    #[error(
        "the embedded-files name tree has the key {0:?} twice: refusing an ambiguous certificate"
    )]
    DuplicateKey(String),
    /// Rule 10: more than [`MAX_ATTACHMENTS`] attachments.
    #[error("the PDF has more than {MAX_ATTACHMENTS} attachments")]
    TooManyAttachments,
    /// Rule 11: two attachments with the same name.
    #[error("two attachments are named {0:?}: refusing an ambiguous certificate")]
    DuplicateName(String),
    /// Rule 12: an attachment is encoded (compressed) with a filter.
    #[error("the attachment {name:?} (object {object}) is encoded with {filter}: only unencoded attachments are supported (letro-verify reads certificates as Letro writes them)")]
    Filter {
        /// The attachment's name.
        name: String,
        /// Its embedded file stream.
        object: ObjectId,
        /// The filter or filters, as written (`/FlateDecode`).
        filter: String,
    },
    /// Rule 12: an attachment over [`MAX_ATTACHMENT_BYTES`].
    #[error(
        "the attachment {name:?} is {size} bytes, more than the limit of {MAX_ATTACHMENT_BYTES}"
    )]
    TooLarge {
        /// The attachment's name.
        name: String,
        /// Its size in bytes.
        size: usize,
    },
    /// Limits: the file takes more work to read than any certificate needs.
    #[error("the file takes more work to read than any certificate needs ({what}): refused")]
    TooComplex {
        /// Which limit was reached.
        what: &'static str,
    },
}

/// Whether `bytes` start like a PDF (`%PDF-`, rule 1).
pub fn is_pdf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"%PDF-")
}

/// The attachments of `pdf`, in the order of its embedded-files name tree, following the rules of
/// the [module documentation](self).
pub fn attachments(pdf: &[u8]) -> Result<Vec<Attachment>, PdfError> {
    if !is_pdf(pdf) {
        return Err(PdfError::NotPdf);
    }
    let (mut doc, root) = Document::open(pdf)?;
    doc.attachments(root)
}

// ---------------------------------------------------------------------------------------------
// Objects (rule 5).

/// A PDF object.
#[derive(Debug, Clone, PartialEq)]
enum Object {
    Null,
    Bool(bool),
    Integer(i64),
    Real(f64),
    String(Vec<u8>),
    Name(Vec<u8>),
    Array(Vec<Object>),
    Dict(Dict),
    Ref(ObjectId),
}

impl Object {
    /// What kind of object this is, for messages.
    fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Integer(_) => "an integer",
            Self::Real(_) => "a real number",
            Self::String(_) => "a string",
            Self::Name(_) => "a name",
            Self::Array(_) => "an array",
            Self::Dict(_) => "a dictionary",
            Self::Ref(_) => "a reference",
        }
    }
}

/// A dictionary: each key once.
#[derive(Debug, Clone, PartialEq, Default)]
struct Dict(BTreeMap<Vec<u8>, Object>);

impl Dict {
    fn get(&self, key: &[u8]) -> Option<&Object> {
        self.0.get(key)
    }

    /// The value of `key` if it is a name (written directly).
    fn name(&self, key: &[u8]) -> Option<&[u8]> {
        match self.get(key) {
            Some(Object::Name(n)) => Some(n),
            _ => None,
        }
    }
}

/// A token of PDF syntax.
#[derive(Debug, Clone, PartialEq)]
enum Token<'a> {
    Integer(i64),
    Real(f64),
    String(Vec<u8>),
    Name(Vec<u8>),
    /// A run of regular characters that is not a number: `true`, `obj`, `R`, ...
    Keyword(&'a [u8]),
    ArrayStart,
    ArrayEnd,
    DictStart,
    DictEnd,
    /// The end of the file.
    End,
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, 0 | b'\t' | b'\n' | 0x0c | b'\r' | b' ')
}

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

fn is_regular(b: u8) -> bool {
    !is_whitespace(b) && !is_delimiter(b)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether a token can start at `offset`: the byte before it (if any) is not a regular
/// character, so `offset` is not in the middle of a number or keyword.
fn starts_token(data: &[u8], offset: usize) -> bool {
    offset
        .checked_sub(1)
        .and_then(|i| data.get(i))
        .is_none_or(|b| !is_regular(*b))
}

/// Some bytes for a message: at most 40, lossily as UTF-8.
fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes.get(..40).unwrap_or(bytes)).into_owned()
}

/// A recursive-descent parser of PDF objects, from a byte offset of the file.
struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    /// What is left of [`MAX_OBJECTS`].
    objects_left: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn advance(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n);
    }

    fn next_byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.advance(1);
        Some(b)
    }

    fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }

    fn syntax(offset: usize, what: impl Into<String>) -> PdfError {
        PdfError::Syntax {
            offset,
            what: what.into(),
        }
    }

    /// Skips white space only.
    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(is_whitespace) {
            self.advance(1);
        }
    }

    /// Skips white space and comments, and returns the offset of what follows.
    fn skip_space(&mut self) -> usize {
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'%') {
                return self.pos;
            }
            while self.peek().is_some_and(|b| b != b'\r' && b != b'\n') {
                self.advance(1);
            }
        }
    }

    /// The next token.
    fn token(&mut self) -> Result<Token<'a>, PdfError> {
        let start = self.skip_space();
        let Some(b) = self.peek() else {
            return Ok(Token::End);
        };
        let next = self.data.get(start.saturating_add(1)).copied();
        match b {
            b'[' => {
                self.advance(1);
                Ok(Token::ArrayStart)
            }
            b']' => {
                self.advance(1);
                Ok(Token::ArrayEnd)
            }
            b'<' if next == Some(b'<') => {
                self.advance(2);
                Ok(Token::DictStart)
            }
            b'>' if next == Some(b'>') => {
                self.advance(2);
                Ok(Token::DictEnd)
            }
            b'<' => self.hex_string(),
            b'(' => self.literal_string(),
            b'/' => self.name(),
            b')' | b'>' | b'{' | b'}' => Err(Self::syntax(
                start,
                format!("unexpected `{}`", char::from(b)),
            )),
            _ => {
                while self.peek().is_some_and(is_regular) {
                    self.advance(1);
                }
                let word = self.data.get(start..self.pos).unwrap_or_default();
                number_or_keyword(start, word)
            }
        }
    }

    /// A literal string `( ... )`, from its `(`.
    fn literal_string(&mut self) -> Result<Token<'a>, PdfError> {
        let start = self.pos;
        self.advance(1);
        let unterminated = || Self::syntax(start, "a string without its closing `)`");
        let mut out = Vec::new();
        let mut open = 0usize;
        loop {
            let b = self.next_byte().ok_or_else(unterminated)?;
            match b {
                b'(' => {
                    open = open.saturating_add(1);
                    out.push(b);
                }
                b')' => match open.checked_sub(1) {
                    None => return Ok(Token::String(out)),
                    Some(o) => {
                        open = o;
                        out.push(b);
                    }
                },
                b'\\' => {
                    let e = self.next_byte().ok_or_else(unterminated)?;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        // Line continuation: the end of line is not part of the string.
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.advance(1);
                            }
                        }
                        b'\n' => {}
                        b'0'..=b'7' => {
                            // 1 to 3 octal digits; high-order overflow is ignored (modulo 256).
                            let mut v = e - b'0';
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v.wrapping_mul(8).wrapping_add(d - b'0');
                                        self.advance(1);
                                    }
                                    _ => break,
                                }
                            }
                            out.push(v);
                        }
                        // `\(`, `\)`, `\\`, and a backslash before any other byte: that byte.
                        other => out.push(other),
                    }
                }
                // An unescaped end of line (CR, CR LF or LF) is one LF.
                b'\r' => {
                    if self.peek() == Some(b'\n') {
                        self.advance(1);
                    }
                    out.push(b'\n');
                }
                _ => out.push(b),
            }
        }
    }

    /// A hex string `< ... >`, from its `<`.
    fn hex_string(&mut self) -> Result<Token<'a>, PdfError> {
        let start = self.pos;
        self.advance(1);
        let mut out = Vec::new();
        let mut high = None;
        loop {
            let at = self.pos;
            let b = self
                .next_byte()
                .ok_or_else(|| Self::syntax(start, "a hex string without its closing `>`"))?;
            if b == b'>' {
                break;
            }
            if is_whitespace(b) {
                continue;
            }
            let v = hex_value(b).ok_or_else(|| {
                Self::syntax(at, "a hex string with a byte that is not a hex digit")
            })?;
            match high.take() {
                None => high = Some(v),
                Some(h) => out.push(h * 16 + v),
            }
        }
        if let Some(h) = high {
            out.push(h * 16);
        }
        Ok(Token::String(out))
    }

    /// A name `/...`, from its `/`.
    fn name(&mut self) -> Result<Token<'a>, PdfError> {
        self.advance(1);
        let mut out = Vec::new();
        while let Some(b) = self.peek().filter(|b| is_regular(*b)) {
            let at = self.pos;
            self.advance(1);
            if b == b'#' {
                let hi = self.next_byte().and_then(hex_value);
                let lo = self.next_byte().and_then(hex_value);
                match (hi, lo) {
                    (Some(h), Some(l)) if (h, l) != (0, 0) => out.push(h * 16 + l),
                    _ => {
                        return Err(Self::syntax(
                            at,
                            "a `#` in a name is not followed by two hex digits (other than 00)",
                        ))
                    }
                }
            } else {
                out.push(b);
            }
        }
        Ok(Token::Name(out))
    }

    /// The next object.
    fn object(&mut self, depth: usize) -> Result<Object, PdfError> {
        let start = self.skip_space();
        let token = self.token()?;
        self.value(token, start, depth)
    }

    /// The object that starts with `token`, read at `start`, `depth` arrays and dictionaries
    /// deep.
    fn value(&mut self, token: Token<'a>, start: usize, depth: usize) -> Result<Object, PdfError> {
        self.objects_left = self
            .objects_left
            .checked_sub(1)
            .ok_or(PdfError::TooComplex {
                what: "more than 1,048,576 objects",
            })?;
        match token {
            Token::Integer(n) => Ok(self
                .reference_after(n, start)?
                .unwrap_or(Object::Integer(n))),
            Token::Real(r) => Ok(Object::Real(r)),
            Token::String(s) => Ok(Object::String(s)),
            Token::Name(n) => Ok(Object::Name(n)),
            Token::Keyword(b"null") => Ok(Object::Null),
            Token::Keyword(b"true") => Ok(Object::Bool(true)),
            Token::Keyword(b"false") => Ok(Object::Bool(false)),
            Token::ArrayStart => {
                if depth >= MAX_DEPTH {
                    return Err(PdfError::TooDeep { offset: start });
                }
                let mut items = Vec::new();
                loop {
                    let at = self.skip_space();
                    match self.token()? {
                        Token::ArrayEnd => return Ok(Object::Array(items)),
                        Token::End => {
                            return Err(Self::syntax(start, "an array without its closing `]`"))
                        }
                        t => items.push(self.value(t, at, depth.saturating_add(1))?),
                    }
                }
            }
            Token::DictStart => {
                if depth >= MAX_DEPTH {
                    return Err(PdfError::TooDeep { offset: start });
                }
                let mut dict = Dict::default();
                loop {
                    let at = self.skip_space();
                    match self.token()? {
                        Token::DictEnd => return Ok(Object::Dict(dict)),
                        Token::Name(key) => {
                            let value = self.object(depth.saturating_add(1))?;
                            match dict.0.entry(key) {
                                Entry::Vacant(e) => {
                                    e.insert(value);
                                }
                                Entry::Occupied(e) => {
                                    return Err(Self::syntax(
                                        at,
                                        format!(
                                            "a dictionary with the key /{} twice",
                                            show(e.key())
                                        ),
                                    ))
                                }
                            }
                        }
                        Token::End => {
                            return Err(Self::syntax(
                                start,
                                "a dictionary without its closing `>>`",
                            ))
                        }
                        _ => return Err(Self::syntax(at, "a dictionary key that is not a name")),
                    }
                }
            }
            Token::Keyword(w) => Err(Self::syntax(start, format!("unexpected `{}`", show(w)))),
            Token::ArrayEnd => Err(Self::syntax(start, "unexpected `]`")),
            Token::DictEnd => Err(Self::syntax(start, "unexpected `>>`")),
            Token::End => Err(Self::syntax(start, "unexpected end of file")),
        }
    }

    /// After the integer `num` read at `start`: the reference `num G R` if `G R` follow,
    /// else nothing (and the position is unchanged).
    fn reference_after(&mut self, num: i64, start: usize) -> Result<Option<Object>, PdfError> {
        let save = self.pos;
        if let Ok(Token::Integer(gen)) = self.token() {
            if let Ok(Token::Keyword(b"R")) = self.token() {
                return match ObjectId::new(num, gen) {
                    Some(id) => Ok(Some(Object::Ref(id))),
                    None => Err(Self::syntax(
                        start,
                        format!("the reference {num} {gen} R is out of range"),
                    )),
                };
            }
        }
        self.pos = save;
        Ok(None)
    }

    /// Whether `N G obj` for `id` starts exactly here (rule 6).
    fn at_object_header(&mut self, id: ObjectId) -> bool {
        starts_token(self.data, self.pos)
            && self.peek().is_some_and(|b| b.is_ascii_digit())
            && matches!(self.token(), Ok(Token::Integer(n)) if n == i64::from(id.num))
            && matches!(self.token(), Ok(Token::Integer(g)) if g == i64::from(id.gen))
            && matches!(self.token(), Ok(Token::Keyword(b"obj")))
    }
}

/// A run of regular characters read at `start`: a number if it has a number's form (rule 5),
/// else a keyword.
fn number_or_keyword(start: usize, word: &[u8]) -> Result<Token<'_>, PdfError> {
    let unsigned = match word {
        [b'+' | b'-', rest @ ..] => rest,
        _ => word,
    };
    let (int, frac) = match unsigned.iter().position(|b| *b == b'.') {
        Some(dot) => (
            unsigned.get(..dot).unwrap_or_default(),
            Some(unsigned.get(dot.saturating_add(1)..).unwrap_or_default()),
        ),
        None => (unsigned, None),
    };
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let is_number = digits(int)
        && frac.is_none_or(digits)
        && int.len().saturating_add(frac.map_or(0, <[u8]>::len)) > 0;
    if !is_number {
        return Ok(Token::Keyword(word));
    }
    // Only ASCII digits, signs and a dot from here.
    let text = std::str::from_utf8(word).unwrap_or_default();
    let out_of_range =
        || Parser::syntax(start, format!("the number {} is out of range", show(word)));
    match frac {
        None => text.parse().map(Token::Integer).map_err(|_| out_of_range()),
        Some(_) => text.parse().map(Token::Real).map_err(|_| out_of_range()),
    }
}

// ---------------------------------------------------------------------------------------------
// The file (rules 2 to 4) and indirect objects (rules 6 to 8).

/// A cross-reference entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum XrefEntry {
    InUse { offset: usize, gen: u16 },
    Free,
}

/// A PDF file with its cross-reference entries (the newest for each object number).
struct Document<'a> {
    data: &'a [u8],
    xref: BTreeMap<u32, XrefEntry>,
    /// What is left of [`MAX_OBJECTS`].
    objects_left: usize,
    /// What is left of the syntax to read (Limits).
    bytes_left: usize,
}

impl<'a> Document<'a> {
    /// Rules 2 to 4: reads the cross-reference sections, newest first; returns the document and
    /// its catalog's id.
    fn open(data: &'a [u8]) -> Result<(Self, ObjectId), PdfError> {
        let mut doc = Document {
            data,
            xref: BTreeMap::new(),
            objects_left: MAX_OBJECTS,
            bytes_left: data
                .len()
                .saturating_mul(2)
                .saturating_add(EXTRA_SYNTAX_BYTES),
        };
        let newest = startxref(data)?;
        let mut seen = BTreeSet::new();
        let trailer = doc.read_section(newest, &mut seen)?;
        let root = match trailer.get(b"Root") {
            Some(Object::Ref(id)) => *id,
            _ => {
                return Err(PdfError::Xref {
                    offset: newest,
                    what: "the newest trailer has no /Root reference".into(),
                })
            }
        };
        let mut prev = previous(&trailer, newest)?;
        while let Some(offset) = prev {
            let trailer = doc.read_section(offset, &mut seen)?;
            prev = previous(&trailer, offset)?;
        }
        Ok((doc, root))
    }

    fn parser(&self, offset: usize) -> Parser<'a> {
        Parser {
            data: self.data,
            pos: offset,
            objects_left: self.objects_left,
        }
    }

    /// Counts what `p` read from `from` against the limits.
    fn charge(&mut self, p: &Parser<'a>, from: usize) -> Result<(), PdfError> {
        self.objects_left = p.objects_left;
        self.bytes_left = self
            .bytes_left
            .checked_sub(p.pos.saturating_sub(from))
            .ok_or(PdfError::TooComplex {
                what: "objects that overlap, read over and over",
            })?;
        Ok(())
    }

    /// Rules 3 and 4: the cross-reference section at `offset`, not in `seen` (the offsets of the
    /// newer sections); adds the entries of object numbers not yet listed (by a newer section)
    /// and returns the trailer.
    fn read_section(
        &mut self,
        offset: usize,
        seen: &mut BTreeSet<usize>,
    ) -> Result<Dict, PdfError> {
        let xref_error = |offset, what: &str| PdfError::Xref {
            offset,
            what: what.into(),
        };
        if !seen.insert(offset) {
            return Err(xref_error(
                offset,
                "the /Prev chain comes back to this section",
            ));
        }
        if seen.len() > MAX_XREF_SECTIONS {
            return Err(PdfError::Xref {
                offset,
                what: format!("more than {MAX_XREF_SECTIONS} cross-reference sections"),
            });
        }
        let mut p = self.parser(offset);
        match p.token() {
            Ok(Token::Keyword(b"xref"))
                if starts_token(self.data, offset)
                    && self
                        .data
                        .get(offset..)
                        .is_some_and(|r| r.starts_with(b"xref")) => {}
            Ok(Token::Integer(_)) => return Err(self.not_a_table(offset)),
            _ => {
                return Err(xref_error(
                    offset,
                    "startxref or /Prev does not point at the keyword `xref`",
                ))
            }
        }
        let mut listed = BTreeSet::new();
        loop {
            let at = p.skip_space();
            let first = match p.token()? {
                Token::Keyword(b"trailer") => break,
                Token::Integer(first) => first,
                _ => {
                    return Err(xref_error(
                        at,
                        "expected a subsection `first count` or `trailer`",
                    ))
                }
            };
            let count = match p.token()? {
                Token::Integer(count) => count,
                _ => return Err(xref_error(at, "a subsection header is not two integers")),
            };
            let first = u32::try_from(first).map_err(|_| {
                xref_error(at, "a subsection's first object number is out of range")
            })?;
            let count = u64::try_from(count)
                .map_err(|_| xref_error(at, "a subsection's count is negative"))?;
            p.skip_whitespace();
            for i in 0..count {
                let entry_at = p.pos;
                let entry = p.rest().get(..20).and_then(xref_entry).ok_or_else(|| {
                    xref_error(
                        entry_at,
                        "an entry is not `oooooooooo ggggg n` or `... f` and a 2-byte end of line",
                    )
                })?;
                let num = u32::try_from(i)
                    .ok()
                    .and_then(|i| first.checked_add(i))
                    .ok_or_else(|| xref_error(entry_at, "an object number is out of range"))?;
                if !listed.insert(num) {
                    return Err(PdfError::Xref {
                        offset: entry_at,
                        what: format!("object {num} is listed twice in one section"),
                    });
                }
                // Newest first: an entry from a newer section stays.
                self.xref.entry(num).or_insert(entry);
                p.advance(20);
            }
        }
        let trailer_at = p.skip_space();
        let trailer = match p.object(0)? {
            Object::Dict(d) => d,
            other => {
                return Err(PdfError::Xref {
                    offset: trailer_at,
                    what: format!("the trailer is {}, not a dictionary", other.kind()),
                })
            }
        };
        self.charge(&p, offset)?;
        if trailer.get(b"Encrypt").is_some() {
            return Err(PdfError::Encrypted { offset });
        }
        if trailer.get(b"XRefStm").is_some() {
            return Err(PdfError::Compressed {
                what: format!(
                    "a hybrid cross-reference section (/XRefStm in its trailer) at byte {offset}"
                ),
            });
        }
        Ok(trailer)
    }

    /// The error for a section offset that points at an object rather than at `xref`: a
    /// cross-reference stream (rule 3) or a bad offset.
    fn not_a_table(&self, offset: usize) -> PdfError {
        let mut p = self.parser(offset);
        let is_xref_stream = matches!(p.token(), Ok(Token::Integer(_)))
            && matches!(p.token(), Ok(Token::Integer(_)))
            && matches!(p.token(), Ok(Token::Keyword(b"obj")))
            && matches!(p.object(0), Ok(Object::Dict(d)) if d.name(b"Type") == Some(b"XRef"));
        if is_xref_stream {
            PdfError::Compressed {
                what: format!("a cross-reference stream (/Type /XRef) at byte {offset}"),
            }
        } else {
            PdfError::Xref {
                offset,
                what: "startxref or /Prev points at an object, not at the keyword `xref`".into(),
            }
        }
    }

    /// Rule 6: object `id`, read at its offset: its value, and for a stream the offset where its
    /// data starts.
    fn read_object(&mut self, id: ObjectId) -> Result<(Object, Option<usize>), PdfError> {
        let offset = match self.xref.get(&id.num) {
            Some(XrefEntry::InUse { offset, gen }) if *gen == id.gen => *offset,
            _ => return Err(PdfError::MissingObject { object: id }),
        };
        let mut p = self.parser(offset);
        if !p.at_object_header(id) {
            return Err(PdfError::ObjectMismatch { object: id, offset });
        }
        let value = p.object(0)?;
        let at = p.skip_space();
        let stream = match p.token()? {
            Token::Keyword(b"endobj") => None,
            Token::Keyword(b"stream") => {
                let eol = if p.rest().starts_with(b"\r\n") {
                    2
                } else if p.rest().starts_with(b"\n") {
                    1
                } else {
                    return Err(Parser::syntax(
                        p.pos,
                        "the keyword `stream` is not followed by CR LF or LF",
                    ));
                };
                p.advance(eol);
                Some(p.pos)
            }
            _ => {
                return Err(Parser::syntax(
                    at,
                    format!("object {id} is not followed by `endobj` or `stream`"),
                ))
            }
        };
        self.charge(&p, offset)?;
        Ok((value, stream))
    }

    /// Rule 8: object `id`, which must be neither a stream nor only a reference.
    fn fetch_value(&mut self, id: ObjectId) -> Result<Object, PdfError> {
        match self.read_object(id)? {
            (_, Some(_)) => Err(structure(id, "is a stream, where a value was expected")),
            (Object::Ref(r), None) => Err(structure(
                id,
                format!("is only a reference (to {r} R), where a value was expected"),
            )),
            (value, None) => Ok(value),
        }
    }

    /// Rule 7: stream `id`: its dictionary and where its data is in the file.
    fn fetch_stream(&mut self, id: ObjectId) -> Result<(Dict, Range<usize>), PdfError> {
        let (dict, start) = match self.read_object(id)? {
            (Object::Dict(dict), Some(start)) => (dict, start),
            (other, _) => return Err(structure(id, format!("is {}, not a stream", other.kind()))),
        };
        match dict.name(b"Type") {
            Some(b"ObjStm") => {
                return Err(PdfError::Compressed {
                    what: format!("an object stream (/Type /ObjStm), object {id}"),
                })
            }
            Some(b"XRef") => {
                return Err(PdfError::Compressed {
                    what: format!("a cross-reference stream (/Type /XRef), object {id}"),
                })
            }
            _ => {}
        }
        let length = match dict.get(b"Length") {
            Some(Object::Integer(n)) => *n,
            Some(Object::Ref(r)) => match self.fetch_value(*r)? {
                Object::Integer(n) => n,
                other => {
                    return Err(structure(
                        id,
                        format!(
                            "the stream's /Length (object {r}) is {}, not an integer",
                            other.kind()
                        ),
                    ))
                }
            },
            Some(other) => {
                return Err(structure(
                    id,
                    format!("the stream's /Length is {}, not an integer", other.kind()),
                ))
            }
            None => return Err(structure(id, "a stream without /Length")),
        };
        let bad_length = |problem| PdfError::StreamLength {
            object: id,
            length,
            problem,
        };
        let end = usize::try_from(length)
            .map_err(|_| bad_length("is negative"))?
            .checked_add(start)
            .filter(|end| *end <= self.data.len())
            .ok_or_else(|| bad_length("runs past the end of the file"))?;
        let mut p = self.parser(end);
        if !matches!(p.token(), Ok(Token::Keyword(b"endstream"))) {
            return Err(bad_length("is not followed by `endstream`"));
        }
        let at = p.skip_space();
        if !matches!(p.token()?, Token::Keyword(b"endobj")) {
            return Err(Parser::syntax(
                at,
                format!("`endstream` of object {id} is not followed by `endobj`"),
            ));
        }
        self.charge(&p, end)?;
        Ok((dict, start..end))
    }

    /// Rule 8: `value` (held by object `at`), or if it is a reference the value of the object it
    /// references; with the object that holds the result.
    fn resolve(&mut self, value: &Object, at: ObjectId) -> Result<(Object, ObjectId), PdfError> {
        match value {
            Object::Ref(id) => Ok((self.fetch_value(*id)?, *id)),
            other => Ok((other.clone(), at)),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Attachments (rules 9 to 13).

    /// Rules 9 to 12.
    fn attachments(&mut self, root: ObjectId) -> Result<Vec<Attachment>, PdfError> {
        let catalog = expect_dict(self.fetch_value(root)?, root, "the document catalog")?;
        if catalog.name(b"Type") != Some(b"Catalog") {
            return Err(structure(
                root,
                "the document catalog's /Type is not /Catalog",
            ));
        }
        let Some(names) = catalog.get(b"Names") else {
            return Ok(Vec::new());
        };
        let (names, at) = self.resolve(names, root)?;
        let names = expect_dict(names, at, "the catalog's /Names")?;
        let Some(tree) = names.get(b"EmbeddedFiles") else {
            return Ok(Vec::new());
        };
        let mut entries = Vec::new();
        self.name_tree(tree, at, 0, &mut BTreeSet::new(), &mut entries)?;
        let mut out: Vec<Attachment> = Vec::new();
        for entry in &entries {
            out.push(self.attachment(entry, &out)?);
        }
        Ok(out)
    }

    /// Rule 10: the entries of the name tree node `node` (held by object `at`), `depth` levels
    /// below the root, appended to `entries`.
    fn name_tree(
        &mut self,
        node: &Object,
        at: ObjectId,
        depth: usize,
        visited: &mut BTreeSet<ObjectId>,
        entries: &mut Vec<TreeEntry>,
    ) -> Result<(), PdfError> {
        if let Object::Ref(id) = node {
            if depth >= MAX_DEPTH {
                return Err(PdfError::TreeTooDeep { object: *id });
            }
            if !visited.insert(*id) {
                return Err(structure(
                    *id,
                    "the embedded-files name tree reaches this node twice",
                ));
            }
        }
        let (node, at) = self.resolve(node, at)?;
        let node = expect_dict(node, at, "an embedded-files name tree node")?;
        match (node.get(b"Names"), node.get(b"Kids")) {
            (Some(_), Some(_)) => Err(structure(
                at,
                "an embedded-files name tree node has both /Names and /Kids",
            )),
            (None, None) => Err(structure(
                at,
                "an embedded-files name tree node has neither /Names nor /Kids",
            )),
            (Some(names), None) => {
                let (names, at) = self.resolve(names, at)?;
                let names = expect_array(names, at, "a name tree node's /Names")?;
                let mut items = names.into_iter();
                while let Some(key) = items.next() {
                    let value = items.next().ok_or_else(|| {
                        structure(at, "a name tree node's /Names has an odd number of items")
                    })?;
                    let (key, key_at) = self.resolve(&key, at)?;
                    let key = match key {
                        Object::String(s) => s,
                        other => {
                            return Err(structure(
                                key_at,
                                format!("a name tree key is {}, not a string", other.kind()),
                            ))
                        }
                    };
                    if entries.iter().any(|e| e.key == key) {
                        return Err(PdfError::DuplicateKey(
                            decode_text(&key).unwrap_or_else(|_| show(&key)),
                        ));
                    }
                    if entries.len() >= MAX_ATTACHMENTS {
                        return Err(PdfError::TooManyAttachments);
                    }
                    entries.push(TreeEntry { key, value, at });
                }
                Ok(())
            }
            (None, Some(kids)) => {
                let (kids, at) = self.resolve(kids, at)?;
                for kid in expect_array(kids, at, "a name tree node's /Kids")? {
                    if !matches!(kid, Object::Ref(_)) {
                        return Err(structure(
                            at,
                            format!(
                                "a name tree node's /Kids has {}, not a reference",
                                kid.kind()
                            ),
                        ));
                    }
                    self.name_tree(&kid, at, depth.saturating_add(1), visited, entries)?;
                }
                Ok(())
            }
        }
    }

    /// Rules 11 to 13: the attachment of a name tree entry; `earlier` are those already read.
    fn attachment(
        &mut self,
        entry: &TreeEntry,
        earlier: &[Attachment],
    ) -> Result<Attachment, PdfError> {
        // 11. The file specification, its name, its /EF.
        let (spec, at) = self.resolve(&entry.value, entry.at)?;
        let spec = match spec {
            Object::Dict(d) => d,
            Object::String(_) => return Err(structure(
                at,
                "a file specification is a string (a file outside the PDF), not an embedded file",
            )),
            other => {
                return Err(structure(
                    at,
                    format!("a file specification is {}, not a dictionary", other.kind()),
                ))
            }
        };
        if spec.name(b"Type") != Some(b"Filespec") {
            return Err(structure(
                at,
                "a file specification's /Type is not /Filespec",
            ));
        }
        let name = spec
            .get(b"UF")
            .or_else(|| spec.get(b"F"))
            .ok_or_else(|| structure(at, "a file specification has neither /UF nor /F"))?;
        let (name, name_at) = self.resolve(name, at)?;
        let name = match name {
            Object::String(s) => decode_text(&s)
                .map_err(|e| structure(name_at, format!("an attachment's name {e}")))?,
            other => {
                return Err(structure(
                    name_at,
                    format!("an attachment's name is {}, not a string", other.kind()),
                ))
            }
        };
        if earlier.iter().any(|a| a.name == name) {
            return Err(PdfError::DuplicateName(name));
        }
        let ef = spec.get(b"EF").ok_or_else(|| {
            structure(
                at,
                format!("the file specification of {name:?} has no /EF (it is not embedded)"),
            )
        })?;
        let (ef, ef_at) = self.resolve(ef, at)?;
        let ef = expect_dict(ef, ef_at, "a file specification's /EF")?;
        let mut stream = None;
        for (key, value) in &ef.0 {
            match (value, stream) {
                (Object::Ref(id), None) => stream = Some(*id),
                (Object::Ref(id), Some(s)) if *id == s => {}
                (Object::Ref(_), Some(_)) => {
                    return Err(structure(
                        ef_at,
                        format!("the /EF of {name:?} references two different streams: ambiguous"),
                    ))
                }
                (other, _) => {
                    return Err(structure(
                        ef_at,
                        format!(
                            "/EF /{} of {name:?} is {}, not a reference to a stream",
                            show(key),
                            other.kind()
                        ),
                    ))
                }
            }
        }
        let stream =
            stream.ok_or_else(|| structure(ef_at, format!("the /EF of {name:?} is empty")))?;

        // 12. The embedded file stream.
        let (dict, range) = self.fetch_stream(stream)?;
        if dict.get(b"Type").is_some() && dict.name(b"Type") != Some(b"EmbeddedFile") {
            return Err(structure(
                stream,
                "an embedded file stream's /Type is not /EmbeddedFile",
            ));
        }
        if [&b"F"[..], b"FFilter", b"FDecodeParms"]
            .iter()
            .any(|k| dict.get(k).is_some())
        {
            return Err(structure(
                stream,
                format!("the data of {name:?} is in another file (/F in its stream dictionary)"),
            ));
        }
        if let Some(filter) = dict.get(b"Filter") {
            let (filter, filter_at) = self.resolve(filter, stream)?;
            let written = match filter {
                Object::Array(a) if a.is_empty() => None,
                Object::Name(n) => Some(format!("/{}", show(&n))),
                Object::Array(a) => Some(format!(
                    "[{}]",
                    a.iter()
                        .map(|f| match f {
                            Object::Name(n) => format!("/{}", show(n)),
                            other => other.kind().to_owned(),
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                )),
                other => {
                    return Err(structure(
                        filter_at,
                        format!("the /Filter of {name:?} is {}", other.kind()),
                    ))
                }
            };
            if let Some(filter) = written {
                return Err(PdfError::Filter {
                    name,
                    object: stream,
                    filter,
                });
            }
        }
        let size = range.len();
        if size > MAX_ATTACHMENT_BYTES {
            return Err(PdfError::TooLarge { name, size });
        }
        if let Some(params) = dict.get(b"Params") {
            let (params, params_at) = self.resolve(params, stream)?;
            let params = expect_dict(params, params_at, "an embedded file's /Params")?;
            if let Some(declared) = params.get(b"Size") {
                let (declared, size_at) = self.resolve(declared, params_at)?;
                match declared {
                    Object::Integer(n) if usize::try_from(n) == Ok(size) => {}
                    Object::Integer(n) => {
                        return Err(structure(
                            size_at,
                            format!(
                                "/Params /Size of {name:?} is {n}, but its stream has {size} bytes"
                            ),
                        ))
                    }
                    other => {
                        return Err(structure(
                            size_at,
                            format!(
                                "/Params /Size of {name:?} is {}, not an integer",
                                other.kind()
                            ),
                        ))
                    }
                }
            }
        }
        let bytes = self
            .data
            .get(range)
            .ok_or(PdfError::StreamLength {
                object: stream,
                length: i64::try_from(size).unwrap_or(i64::MAX),
                problem: "runs past the end of the file",
            })?
            .to_vec();
        Ok(Attachment { name, bytes })
    }
}

/// An entry of the embedded-files name tree: its key, its value, and the object that holds it.
struct TreeEntry {
    key: Vec<u8>,
    value: Object,
    at: ObjectId,
}

fn structure(object: ObjectId, what: impl Into<String>) -> PdfError {
    PdfError::Structure {
        object,
        what: what.into(),
    }
}

fn expect_dict(value: Object, at: ObjectId, what: &str) -> Result<Dict, PdfError> {
    match value {
        Object::Dict(d) => Ok(d),
        other => Err(structure(
            at,
            format!("{what} is {}, not a dictionary", other.kind()),
        )),
    }
}

fn expect_array(value: Object, at: ObjectId, what: &str) -> Result<Vec<Object>, PdfError> {
    match value {
        Object::Array(a) => Ok(a),
        other => Err(structure(
            at,
            format!("{what} is {}, not an array", other.kind()),
        )),
    }
}

/// Rule 2: the offset after the last `startxref`, followed by `%%EOF` and only white space.
fn startxref(data: &[u8]) -> Result<usize, PdfError> {
    let keyword = data
        .windows(9)
        .rposition(|w| w == b"startxref")
        .ok_or(PdfError::NoStartXref)?;
    let rest = trim(data.get(keyword.saturating_add(9)..).unwrap_or_default());
    let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let (digits, rest) = rest.split_at_checked(n).ok_or(PdfError::NoStartXref)?;
    let offset = decimal(digits)
        .and_then(|o| usize::try_from(o).ok())
        .ok_or(PdfError::NoStartXref)?;
    let rest = trim(rest)
        .strip_prefix(b"%%EOF")
        .ok_or(PdfError::NoStartXref)?;
    if !rest.iter().all(|b| is_whitespace(*b)) {
        return Err(PdfError::NoStartXref);
    }
    Ok(offset)
}

/// Rule 4: the trailer's `/Prev`, of the section at `offset`.
fn previous(trailer: &Dict, offset: usize) -> Result<Option<usize>, PdfError> {
    match trailer.get(b"Prev") {
        None => Ok(None),
        Some(Object::Integer(prev)) => match usize::try_from(*prev) {
            Ok(prev) => Ok(Some(prev)),
            Err(_) => Err(PdfError::Xref {
                offset,
                what: format!("the trailer's /Prev {prev} is negative"),
            }),
        },
        Some(other) => Err(PdfError::Xref {
            offset,
            what: format!("the trailer's /Prev is {}, not an integer", other.kind()),
        }),
    }
}

/// `s` without its leading white space.
fn trim(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| is_whitespace(**b)).count();
    s.get(n..).unwrap_or_default()
}

/// The value of one or more ASCII decimal digits.
fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, d| {
        if d.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        } else {
            None
        }
    })
}

/// Rule 3: a 20-byte cross-reference entry.
fn xref_entry(entry: &[u8]) -> Option<XrefEntry> {
    let offset = decimal(entry.get(0..10)?)?;
    let gen = decimal(entry.get(11..16)?)?;
    let separators = entry.get(10) == Some(&b' ') && entry.get(16) == Some(&b' ');
    let eol = matches!(
        entry.get(18..20)?,
        [b' ', b'\r'] | [b' ', b'\n'] | [b'\r', b'\n']
    );
    if !separators || !eol {
        return None;
    }
    match entry.get(17)? {
        b'n' => Some(XrefEntry::InUse {
            offset: usize::try_from(offset).ok()?,
            gen: u16::try_from(gen).ok()?,
        }),
        b'f' => Some(XrefEntry::Free),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Text strings (rule 13).

/// PDFDocEncoding 0x18 to 0x1F: breve, caron, circumflex, dot above, double acute, ogonek, ring,
/// small tilde.
const PDF_DOC_18: [char; 8] = [
    '\u{02D8}', '\u{02C7}', '\u{02C6}', '\u{02D9}', '\u{02DD}', '\u{02DB}', '\u{02DA}', '\u{02DC}',
];

/// PDFDocEncoding 0x80 to 0xA0 (0x9F is not defined).
const PDF_DOC_80: [Option<char>; 33] = [
    Some('\u{2022}'), // 0x80 bullet
    Some('\u{2020}'), // dagger
    Some('\u{2021}'), // double dagger
    Some('\u{2026}'), // ellipsis
    Some('\u{2014}'), // em dash
    Some('\u{2013}'), // en dash
    Some('\u{0192}'), // florin
    Some('\u{2044}'), // fraction slash
    Some('\u{2039}'), // 0x88 single left angle quotation mark
    Some('\u{203A}'), // single right angle quotation mark
    Some('\u{2212}'), // minus
    Some('\u{2030}'), // per mille
    Some('\u{201E}'), // double low-9 quotation mark
    Some('\u{201C}'), // left double quotation mark
    Some('\u{201D}'), // right double quotation mark
    Some('\u{2018}'), // left single quotation mark
    Some('\u{2019}'), // 0x90 right single quotation mark
    Some('\u{201A}'), // single low-9 quotation mark
    Some('\u{2122}'), // trade mark
    Some('\u{FB01}'), // fi
    Some('\u{FB02}'), // fl
    Some('\u{0141}'), // Ł
    Some('\u{0152}'), // Œ
    Some('\u{0160}'), // Š
    Some('\u{0178}'), // 0x98 Ÿ
    Some('\u{017D}'), // Ž
    Some('\u{0131}'), // dotless i
    Some('\u{0142}'), // ł
    Some('\u{0153}'), // œ
    Some('\u{0161}'), // š
    Some('\u{017E}'), // ž
    None,             // 0x9F
    Some('\u{20AC}'), // 0xA0 euro
];

/// The character of a PDFDocEncoding byte, if it defines one.
fn pdf_doc_char(b: u8) -> Option<char> {
    match b {
        0x18..=0x1F => PDF_DOC_18.get(usize::from(b - 0x18)).copied(),
        0x7F | 0xAD => None,
        0x80..=0xA0 => PDF_DOC_80.get(usize::from(b - 0x80)).copied().flatten(),
        _ => Some(char::from(b)),
    }
}

/// Rule 13: a text string as a Rust string; the error completes "the name ...".
fn decode_text(bytes: &[u8]) -> Result<String, String> {
    let text = if let Some(utf16) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        if utf16.len() % 2 != 0 {
            return Err("is UTF-16BE with an odd number of bytes".into());
        }
        let units = utf16
            .chunks_exact(2)
            .map(|pair| pair.iter().fold(0u16, |acc, b| (acc << 8) | u16::from(*b)));
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|_| "is not UTF-16BE (an unpaired surrogate)".to_owned())?
    } else if let Some(utf8) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        String::from_utf8(utf8.to_vec()).map_err(|_| "is not UTF-8".to_owned())?
    } else {
        bytes
            .iter()
            .map(|b| {
                pdf_doc_char(*b).ok_or_else(|| {
                    format!("has the byte 0x{b:02X}, which PDFDocEncoding does not define")
                })
            })
            .collect::<Result<String, _>>()?
    };
    if text.is_empty() {
        return Err("is empty".into());
    }
    if text.chars().any(char::is_control) {
        return Err(format!("{text:?} has a control character"));
    }
    Ok(text)
}
