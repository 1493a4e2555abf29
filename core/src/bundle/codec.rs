//! Shared machinery of the strict JSON codecs: the size cap, the version check, a map-only
//! deserializer, RFC 3339 times, and the wire form of certificates (points and signatures: [`crate::receipt_json`]).

use std::fmt;

use serde::de::{DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// The largest document any of the codecs reads: 1 MiB.
pub const MAX_DOCUMENT_LEN: usize = 1 << 20;

/// The latest time the codecs can write: 9999-12-31T23:59:59Z, in Unix seconds.
pub const MAX_TIME: u64 = 253_402_300_799;

/// Why an RFC 3339 time was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// The text is not exactly `YYYY-MM-DDTHH:MM:SSZ` (an offset other than `Z`, a fraction,
    /// a lowercase `t` or `z`, a missing leading zero, a space...).
    #[error("time is not of the form YYYY-MM-DDTHH:MM:SSZ")]
    Format,
    /// The text has the right form but is not a calendar date and time (month 13, February 30,
    /// hour 24, leap second 60).
    #[error("time is not a valid date and time")]
    InvalidDate,
    /// The time is before 1970-01-01T00:00:00Z.
    #[error("time is before 1970-01-01T00:00:00Z")]
    BeforeEpoch,
}

/// Errors that come before the document's own fields are looked at.
pub(crate) enum FrontError {
    TooLarge { len: usize },
    Json(String),
    UnsupportedVersion(String),
}

/// A deserializer that accepts only a JSON object where a struct is expected.
///
/// serde's derived struct visitors also accept a JSON array of the fields in order; a strict
/// codec must not. Wrapping the deserializer turns every request into `deserialize_map`.
pub(crate) struct MapOnly<D>(pub(crate) D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for MapOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// `deserialize_with` helper: a nested struct that must be a JSON object.
pub(crate) fn map_only<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(MapOnly(d))
}

/// `deserialize_with` helper: `null` or a JSON object. Using `deserialize_with` also makes the
/// key mandatory (serde only defaults a missing `Option` without it).
pub(crate) fn opt_map_only<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct OptVisitor<T>(std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for OptVisitor<T> {
        type Value = Option<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("null or an object")
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            map_only(d).map(Some)
        }
    }

    d.deserialize_option(OptVisitor(std::marker::PhantomData))
}

/// Parses one JSON object into `T` with nothing but whitespace after it.
///
/// With a lenient `T` (no `deny_unknown_fields`) this peeks at one member; with a strict wire
/// type (`deny_unknown_fields`, nested objects through [`map_only`]) it enforces the exact
/// shape. serde's derived visitors reject a duplicate key of a known field in both cases.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(MapOnly(&mut de)).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// The `version` member, read leniently (other members ignored) so that a document of another
/// version is reported as such rather than as unknown fields.
#[derive(Deserialize)]
struct VersionPeek {
    version: String,
}

/// The checks every document starts with, in order: size; JSON syntax, UTF-8 and trailing
/// data; `version`.
pub(crate) fn check_front(bytes: &[u8], expected_version: &str) -> Result<(), FrontError> {
    check_front_versions(bytes, &[expected_version]).map(|_| ())
}

/// [`check_front`] for a document with several versions: the position in `versions` of the
/// one it has.
pub(crate) fn check_front_versions(bytes: &[u8], versions: &[&str]) -> Result<usize, FrontError> {
    if bytes.len() > MAX_DOCUMENT_LEN {
        return Err(FrontError::TooLarge { len: bytes.len() });
    }
    let peek: VersionPeek = parse_json(bytes).map_err(FrontError::Json)?;
    versions
        .iter()
        .position(|v| *v == peek.version)
        .ok_or(FrontError::UnsupportedVersion(peek.version))
}

/// Most RFC 3161 time-stamp tokens one document carries (one per configured TSA).
pub const MAX_TIMESTAMPS: usize = 8;

/// The `timestamps` member (SPEC §5.13): RFC 3161 time-stamp tokens over the checkpoint's
/// body, each standard base64 of its DER, at most [`MAX_TIMESTAMPS`] of at most
/// [`letro_log::timestamp::MAX_TOKEN_LEN`] bytes. Only the encoding is checked here; the
/// tokens are verified by the verifier.
pub(crate) fn timestamps_from_wire(wire: &[String]) -> Result<Vec<Vec<u8>>, String> {
    use base64::Engine;
    if wire.len() > MAX_TIMESTAMPS {
        return Err(format!("{} tokens, at most {MAX_TIMESTAMPS}", wire.len()));
    }
    wire.iter()
        .enumerate()
        .map(|(i, t)| {
            let der = base64::engine::general_purpose::STANDARD
                .decode(t)
                .map_err(|_| format!("token {i} is not standard base64"))?;
            if der.is_empty() || der.len() > letro_log::timestamp::MAX_TOKEN_LEN {
                return Err(format!(
                    "token {i} has {} bytes (1 to {})",
                    der.len(),
                    letro_log::timestamp::MAX_TOKEN_LEN
                ));
            }
            Ok(der)
        })
        .collect()
}

/// The wire form of time-stamp tokens.
pub(crate) fn timestamps_to_wire(tokens: &[Vec<u8>]) -> Vec<String> {
    use base64::Engine;
    tokens
        .iter()
        .map(|t| base64::engine::general_purpose::STANDARD.encode(t))
        .collect()
}

/// Canonical output: serde_json's pretty form (two-space indent, members in declaration
/// order) and a final newline.
pub(crate) fn to_canonical<T: Serialize>(value: &T) -> String {
    // Serialising these plain structs of strings and integers into a String cannot fail.
    let mut out = serde_json::to_string_pretty(value).unwrap_or_default();
    out.push('\n');
    out
}

const TIME_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// Parses exactly `YYYY-MM-DDTHH:MM:SSZ` (UTC) into Unix seconds.
pub fn parse_time(s: &str) -> Result<u64, TimeError> {
    const SHAPE: &[u8; 20] = b"dddd-dd-ddTdd:dd:ddZ";
    let b = s.as_bytes();
    if b.len() != SHAPE.len()
        || !b.iter().zip(SHAPE.iter()).all(|(&c, &want)| match want {
            b'd' => c.is_ascii_digit(),
            _ => c == want,
        })
    {
        return Err(TimeError::Format);
    }
    let dt = PrimitiveDateTime::parse(s, TIME_FORMAT).map_err(|_| TimeError::InvalidDate)?;
    u64::try_from(dt.assume_utc().unix_timestamp()).map_err(|_| TimeError::BeforeEpoch)
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`; `None` after [`MAX_TIME`].
pub fn format_time(t: u64) -> Option<String> {
    if t > MAX_TIME {
        return None;
    }
    let secs = i64::try_from(t).ok()?;
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()?
        .format(TIME_FORMAT)
        .ok()
}

/// The `receipt_key_certificate` object (its `signed_message` is derived, not stored).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CertificateWire {
    pub(crate) identity_key: String,
    pub(crate) signature: String,
}
