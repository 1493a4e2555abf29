// SPDX-License-Identifier: AGPL-3.0-only
//! A message and its attachments, and their padded plaintext encoding (what the Signal session
//! encrypts).
//!
//! ```text
//! plaintext = 0x01                                  format version
//!             u32 len(body)        body             UTF-8
//!             u16 count            count × attachment
//!             0x80 0x00*                            padding to a multiple of 160 bytes
//! attachment = u16 len(name)         name           UTF-8
//!              u16 len(content_type) content_type   UTF-8
//!              u32 len(bytes)        bytes
//! ```
//!
//! Integers are big-endian. The padding is Signal's (`0x80` then zeros, to a multiple of 160
//! bytes), so the ciphertext length reveals the message size only to within 160 bytes. Decoding
//! is strict: lengths must fit, text must be UTF-8, the padding must be exactly `0x80 0x00*` up
//! to the next multiple of 160, and nothing may follow the last attachment but the padding.

use zeroize::Zeroizing;

/// The plaintext format version.
pub const PLAINTEXT_VERSION: u8 = 0x01;

/// Plaintexts are padded to a multiple of this many bytes (as Signal pads).
pub const PADDING_BLOCK: usize = 160;

/// The largest padded plaintext (16 MiB).
pub const MAX_PLAINTEXT_LEN: usize = 16 * 1024 * 1024;

/// The most attachments one message may carry.
pub const MAX_ATTACHMENTS: usize = 100;

/// The longest attachment name or content type, in bytes.
pub const MAX_ATTACHMENT_TEXT_LEN: usize = 255;

/// A message: a text body and attachments, encrypted together into one envelope.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// The text.
    pub body: String,
    /// Attachments, in order.
    pub attachments: Vec<Attachment>,
}

/// A file sent with a message.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Attachment {
    /// The file name (at most [`MAX_ATTACHMENT_TEXT_LEN`] bytes of UTF-8).
    pub name: String,
    /// The media type, e.g. `application/pdf` (at most [`MAX_ATTACHMENT_TEXT_LEN`] bytes).
    pub content_type: String,
    /// The content.
    pub bytes: Vec<u8>,
}

// Plaintext must not end up in logs by accident: Debug shows sizes only.
impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("body_len", &self.body.len())
            .field("attachments", &self.attachments)
            .finish()
    }
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("name_len", &self.name.len())
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Why a message cannot be encoded, or a decrypted plaintext is not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The padded plaintext would be, or is, larger than [`MAX_PLAINTEXT_LEN`].
    #[error("message is too large: {len} bytes, the limit is 16 MiB")]
    TooLarge {
        /// The size, or a lower bound of it.
        len: usize,
    },
    /// More than [`MAX_ATTACHMENTS`] attachments.
    #[error("{count} attachments, more than 100")]
    TooManyAttachments {
        /// How many.
        count: usize,
    },
    /// An attachment name or content type is longer than [`MAX_ATTACHMENT_TEXT_LEN`].
    #[error("attachment {field} is {len} bytes, more than 255")]
    TextTooLong {
        /// `name` or `content_type`.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// The plaintext's length is not a positive multiple of [`PADDING_BLOCK`], or its padding is
    /// not `0x80 0x00*`.
    #[error("plaintext padding is malformed")]
    Padding,
    /// The plaintext has another format version.
    #[error("unsupported plaintext version 0x{0:02x}")]
    UnsupportedVersion(u8),
    /// A length runs past the end of the plaintext.
    #[error("plaintext is truncated in {0}")]
    Truncated(&'static str),
    /// Text is not UTF-8.
    #[error("{0} is not utf-8")]
    Utf8(&'static str),
    /// Bytes other than padding follow the last attachment.
    #[error("plaintext has trailing bytes")]
    TrailingBytes,
}

impl Message {
    /// The padded plaintext. Fails if the message is over the limits.
    pub(crate) fn encode(&self) -> Result<Zeroizing<Vec<u8>>, MessageError> {
        if self.attachments.len() > MAX_ATTACHMENTS {
            return Err(MessageError::TooManyAttachments {
                count: self.attachments.len(),
            });
        }
        let mut len = 1 + 4 + self.body.len() + 2;
        for a in &self.attachments {
            for (field, text) in [("name", &a.name), ("content_type", &a.content_type)] {
                if text.len() > MAX_ATTACHMENT_TEXT_LEN {
                    return Err(MessageError::TextTooLong {
                        field,
                        len: text.len(),
                    });
                }
            }
            len = len.saturating_add(2 + a.name.len() + 2 + a.content_type.len() + 4);
            len = len.saturating_add(a.bytes.len());
        }
        // The 0x80 marker, then zeros up to the block boundary.
        let padded = (len / PADDING_BLOCK + 1).saturating_mul(PADDING_BLOCK);
        if padded > MAX_PLAINTEXT_LEN {
            return Err(MessageError::TooLarge { len: padded });
        }
        // Every length below is bounded by MAX_PLAINTEXT_LEN (16 MiB) or by the checks above,
        // so the conversions cannot fail; they are checked anyway rather than cast.
        let too_large = |_| MessageError::TooLarge { len: padded };
        let mut out = Zeroizing::new(Vec::with_capacity(padded));
        out.push(PLAINTEXT_VERSION);
        out.extend_from_slice(
            &u32::try_from(self.body.len())
                .map_err(too_large)?
                .to_be_bytes(),
        );
        out.extend_from_slice(self.body.as_bytes());
        let count = u16::try_from(self.attachments.len()).map_err(too_large)?;
        out.extend_from_slice(&count.to_be_bytes());
        for a in &self.attachments {
            for text in [&a.name, &a.content_type] {
                out.extend_from_slice(&u16::try_from(text.len()).map_err(too_large)?.to_be_bytes());
                out.extend_from_slice(text.as_bytes());
            }
            out.extend_from_slice(
                &u32::try_from(a.bytes.len())
                    .map_err(too_large)?
                    .to_be_bytes(),
            );
            out.extend_from_slice(&a.bytes);
        }
        out.push(0x80);
        out.resize(padded, 0);
        Ok(out)
    }

    /// Decodes a padded plaintext strictly.
    pub(crate) fn decode(plaintext: &[u8]) -> Result<Self, MessageError> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(MessageError::TooLarge {
                len: plaintext.len(),
            });
        }
        if plaintext.is_empty() || plaintext.len() % PADDING_BLOCK != 0 {
            return Err(MessageError::Padding);
        }
        // The marker is the last non-zero byte, and it lies in the last block.
        let marker = plaintext
            .iter()
            .rposition(|&b| b != 0)
            .ok_or(MessageError::Padding)?;
        if plaintext.get(marker) != Some(&0x80) || plaintext.len() - marker > PADDING_BLOCK {
            return Err(MessageError::Padding);
        }
        let mut r = Reader(plaintext.get(..marker).ok_or(MessageError::Padding)?);
        let version = r.u8("version")?;
        if version != PLAINTEXT_VERSION {
            return Err(MessageError::UnsupportedVersion(version));
        }
        let body_len = r.u32_len("body")?;
        let body = r.text(body_len, "body")?;
        let count = usize::from(r.u16("attachment count")?);
        if count > MAX_ATTACHMENTS {
            return Err(MessageError::TooManyAttachments { count });
        }
        let mut attachments = Vec::with_capacity(count);
        for _ in 0..count {
            let name_len = usize::from(r.u16("attachment name")?);
            let name = r.text(name_len, "attachment name")?;
            let ct_len = usize::from(r.u16("attachment content type")?);
            let content_type = r.text(ct_len, "attachment content type")?;
            for (field, text) in [("name", &name), ("content_type", &content_type)] {
                if text.len() > MAX_ATTACHMENT_TEXT_LEN {
                    return Err(MessageError::TextTooLong {
                        field,
                        len: text.len(),
                    });
                }
            }
            let len = r.u32_len("attachment bytes")?;
            let bytes = r.take(len, "attachment bytes")?.to_vec();
            attachments.push(Attachment {
                name,
                content_type,
                bytes,
            });
        }
        if !r.0.is_empty() {
            return Err(MessageError::TrailingBytes);
        }
        Ok(Self { body, attachments })
    }
}

/// A cursor over a byte slice that never panics.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], MessageError> {
        let (head, rest) = self
            .0
            .split_at_checked(n)
            .ok_or(MessageError::Truncated(what))?;
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], MessageError> {
        self.take(N, what)?
            .try_into()
            .map_err(|_| MessageError::Truncated(what))
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, MessageError> {
        Ok(u8::from_be_bytes(self.array(what)?))
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, MessageError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32_len(&mut self, what: &'static str) -> Result<usize, MessageError> {
        let n = u32::from_be_bytes(self.array(what)?);
        // A length that does not fit in usize cannot fit in the slice either.
        usize::try_from(n).map_err(|_| MessageError::Truncated(what))
    }

    fn text(&mut self, n: usize, what: &'static str) -> Result<String, MessageError> {
        let bytes = self.take(n, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| MessageError::Utf8(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        Message {
            body: "héllo".into(),
            attachments: vec![
                Attachment {
                    name: "a.pdf".into(),
                    content_type: "application/pdf".into(),
                    bytes: (0..=255u8).collect(),
                },
                Attachment::default(),
            ],
        }
    }

    #[test]
    fn round_trip_and_padding() {
        for m in [Message::default(), sample()] {
            let p = m.encode().unwrap();
            assert_eq!(p.len() % PADDING_BLOCK, 0);
            assert_eq!(Message::decode(&p).unwrap(), m);
        }
        // A message that fills a block exactly gets a whole block of padding.
        let m = Message {
            body: "x".repeat(PADDING_BLOCK - 7),
            attachments: vec![],
        };
        let p = m.encode().unwrap();
        assert_eq!(p.len(), 2 * PADDING_BLOCK);
        assert_eq!(Message::decode(&p).unwrap(), m);
    }

    #[test]
    fn debug_shows_no_content() {
        let s = format!("{:?}", sample());
        assert!(!s.contains("héllo") && !s.contains("a.pdf"), "{s}");
    }

    #[test]
    fn encode_limits() {
        let mut m = sample();
        m.attachments = vec![Attachment::default(); MAX_ATTACHMENTS + 1];
        assert_eq!(
            m.encode().unwrap_err(),
            MessageError::TooManyAttachments { count: 101 }
        );
        let mut m = sample();
        m.attachments[0].name = "n".repeat(256);
        assert_eq!(
            m.encode().unwrap_err(),
            MessageError::TextTooLong {
                field: "name",
                len: 256
            }
        );
        let m = Message {
            body: String::new(),
            attachments: vec![Attachment {
                bytes: vec![0; MAX_PLAINTEXT_LEN],
                ..Attachment::default()
            }],
        };
        assert!(matches!(m.encode(), Err(MessageError::TooLarge { .. })));
    }

    #[test]
    fn decode_rejects_bad_plaintexts() {
        let good = sample().encode().unwrap();
        assert_eq!(Message::decode(&[]), Err(MessageError::Padding));
        assert_eq!(
            Message::decode(&good[..good.len() - 1]),
            Err(MessageError::Padding)
        );
        assert_eq!(
            Message::decode(&[0u8; PADDING_BLOCK]),
            Err(MessageError::Padding)
        );
        // Padding longer than a block.
        let mut long = good.to_vec();
        long.extend_from_slice(&[0u8; PADDING_BLOCK]);
        assert_eq!(Message::decode(&long), Err(MessageError::Padding));
        // Marker not 0x80.
        let mut p = Message::default().encode().unwrap();
        p[7] = 0x81;
        assert_eq!(Message::decode(&p), Err(MessageError::Padding));
        let mut p = good.clone();
        p[0] = 2;
        assert_eq!(
            Message::decode(&p),
            Err(MessageError::UnsupportedVersion(2))
        );
        // Body length past the end.
        let mut p = good.clone();
        p[1] = 0xff;
        assert_eq!(Message::decode(&p), Err(MessageError::Truncated("body")));
        // Invalid UTF-8 in the body ("é" is 2 bytes at offset 6..8).
        let mut p = good.clone();
        p[6] = 0xff;
        assert_eq!(Message::decode(&p), Err(MessageError::Utf8("body")));
        // One attachment fewer announced: the second one becomes trailing bytes.
        let mut p = good.clone();
        p[12] = 1;
        assert_eq!(Message::decode(&p), Err(MessageError::TrailingBytes));
        // Flipping any byte never panics.
        for i in 0..good.len() {
            for bit in [0x01u8, 0x80] {
                let mut p = good.clone();
                p[i] ^= bit;
                let _ = Message::decode(&p);
            }
        }
    }
}
