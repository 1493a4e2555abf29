//! C2SP tlog-tiles: the static read API of a log (<https://c2sp.org/tlog-tiles>).
//!
//! Under a URL prefix a log serves `checkpoint` (its signed checkpoint), hash tiles at
//! `tile/<L>/<N>[.p/<W>]` and entry bundles at `tile/entries/<N>[.p/<W>]`:
//!
//! - the tile `N` of level `L` holds the RFC 6962 hashes of the subtrees of `256^L` entries
//!   number `N·256 .. N·256 + 255` (the hashes of [`Tree::level`] `8L`), 32 bytes each; a
//!   full tile is 256 hashes wide, a partial one `W` (1 to 255) wide;
//! - the entry bundle `N` holds entries `N·256 ..` as big-endian `u16` lengths followed by the
//!   entries' bytes, and is full or partial as the level-0 tile `N` is;
//! - `N` is written in zero-padded three-digit path elements, all but the last prefixed with
//!   `x` (`1234067` is `x001/x234/067`), `L` and `W` in decimal without leading zeros.
//!
//! A given path always has the same content (a partial tile of width `W` is the first `W`
//! hashes of the full one), so every tile is immutable and cacheable for ever; only the
//! checkpoint changes. [`TilePath`] parses and prints paths; [`hash_tile`] and
//! [`entry_bundle`] make the files a tree of a given size serves, [`parse_entry_bundle`] reads
//! one back, and [`tiles_between`] lists the files that a tree's growth adds.

use std::fmt;

use crate::rfc6962::{Hash, Tree};

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 256;

/// The tree levels a tile level spans: tile level `L` holds tree level `8L`.
const LEVELS_PER_TILE: u32 = 8;

/// Tile levels a path may name (0 to 63, per the spec).
const MAX_LEVEL: u8 = 63;

/// The longest entry an entry bundle can hold (its length prefix is a `u16`).
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;

/// What a tile holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Hashes of tile level `L` (tree level `8L`).
    Hashes(u8),
    /// An entry bundle.
    Entries,
}

/// A tile's path below the log's prefix: `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TilePath {
    /// Hashes of a level, or entries.
    pub kind: TileKind,
    /// `N`, the tile's index in its level.
    pub index: u64,
    /// `W`: 1 to 255 for a partial tile, 256 for a full one.
    pub width: u16,
}

/// Why a tile path, a tile or an entry bundle was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// Not a tile path of the spec's form.
    #[error(
        "not a tlog-tiles path ({0}): expected tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]"
    )]
    Path(&'static str),
    /// The tile reaches beyond the tree it was asked of.
    #[error("the tile {path} is not in the tree of {size} entries")]
    NotInTree {
        /// The tile.
        path: String,
        /// The tree size.
        size: u64,
    },
    /// An entry too long for a bundle's `u16` length prefix.
    #[error("entry {index} is {len} bytes, more than an entry bundle's limit of 65535")]
    EntryTooLong {
        /// The entry's index in the bundle.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// An entry bundle that ends inside a length prefix or an entry.
    #[error("the entry bundle is truncated inside entry {0}")]
    Truncated(usize),
    /// An entry bundle with more entries than a tile holds.
    #[error("the entry bundle holds more than 256 entries")]
    TooManyEntries,
    /// An entry bundle with fewer entries than its path's width.
    #[error("the entry bundle holds {got} entries; its path calls for {want}")]
    WrongWidth {
        /// Entries found.
        got: usize,
        /// Entries the path calls for.
        want: u16,
    },
}

impl TilePath {
    /// The full tile of `kind` at `index`.
    pub fn full(kind: TileKind, index: u64) -> Self {
        Self {
            kind,
            index,
            width: TILE_WIDTH as u16,
        }
    }

    /// Whether the tile is full (256 wide).
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// Parses a path below the log's prefix, such as `tile/0/x001/234.p/7` or
    /// `tile/entries/005`. Only the spec's canonical spelling is accepted.
    pub fn parse(path: &str) -> Result<Self, TileError> {
        let rest = path
            .strip_prefix("tile/")
            .ok_or(TileError::Path("it must start with tile/"))?;
        let (kind, rest) = rest
            .split_once('/')
            .ok_or(TileError::Path("no tile index"))?;
        let kind = if kind == "entries" {
            TileKind::Entries
        } else {
            let level = canonical_decimal(kind).ok_or(TileError::Path("bad level"))?;
            let level = u8::try_from(level)
                .ok()
                .filter(|l| *l <= MAX_LEVEL)
                .ok_or(TileError::Path("the level must be 0 to 63"))?;
            TileKind::Hashes(level)
        };
        let (index, width) = match rest.split_once(".p/") {
            Some((index, width)) => {
                let w = canonical_decimal(width).ok_or(TileError::Path("bad width"))?;
                let w = u16::try_from(w)
                    .ok()
                    .filter(|w| (1..TILE_WIDTH as u16).contains(w))
                    .ok_or(TileError::Path("a partial width must be 1 to 255"))?;
                (index, w)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let index = parse_index(index)?;
        Ok(Self { kind, index, width })
    }

    /// The tree level of the hashes this tile holds (0 for an entry bundle, whose entries hash
    /// to the level-0 leaves).
    fn tree_level(&self) -> u32 {
        match self.kind {
            TileKind::Hashes(l) => u32::from(l) * LEVELS_PER_TILE,
            TileKind::Entries => 0,
        }
    }

    /// The first tree-level position this tile covers, and one past its last, or `None` if
    /// they overflow `u64` (no tree has them).
    fn positions(&self) -> Option<(u64, u64)> {
        let start = self.index.checked_mul(TILE_WIDTH)?;
        Some((start, start.checked_add(u64::from(self.width))?))
    }

    /// Whether the tree of `size` entries has every hash (or entry) this tile holds. A path
    /// the spec does not allow (a width of 0 or above 256, a level above 63) is in no tree.
    pub fn in_tree(&self, size: u64) -> bool {
        let valid = (1..=TILE_WIDTH as u16).contains(&self.width)
            && !matches!(self.kind, TileKind::Hashes(l) if l > MAX_LEVEL);
        if !valid {
            return false;
        }
        let available = size.checked_shr(self.tree_level()).unwrap_or(0);
        self.positions().is_some_and(|(_, end)| end <= available)
    }

    fn not_in_tree(&self, size: u64) -> TileError {
        TileError::NotInTree {
            path: self.to_string(),
            size,
        }
    }
}

impl fmt::Display for TilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TileKind::Hashes(l) => write!(f, "tile/{l}/")?,
            TileKind::Entries => f.write_str("tile/entries/")?,
        }
        // Three-digit groups, most significant first; all but the last prefixed with x.
        let mut groups = Vec::new();
        let mut n = self.index;
        loop {
            groups.push(n % 1000);
            n /= 1000;
            if n == 0 {
                break;
            }
        }
        for (i, g) in groups.iter().rev().enumerate() {
            if i + 1 < groups.len() {
                write!(f, "x{g:03}/")?;
            } else {
                write!(f, "{g:03}")?;
            }
        }
        if !self.is_full() {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

/// A decimal without sign or leading zeros (`0` itself is allowed).
fn canonical_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// `x001/x234/067` → 1234067: three-digit groups, all but the last with `x`, and no leading
/// zero group (`x000/001` would be a second spelling of 1).
fn parse_index(s: &str) -> Result<u64, TileError> {
    let groups: Vec<&str> = s.split('/').collect();
    let mut n: u64 = 0;
    for (i, g) in groups.iter().enumerate() {
        let last = i + 1 == groups.len();
        let digits = if last {
            *g
        } else {
            g.strip_prefix('x')
                .ok_or(TileError::Path("index groups but the last start with x"))?
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TileError::Path("index groups are three digits"));
        }
        if i == 0 && !last && digits == "000" {
            return Err(TileError::Path("the index has a leading zero group"));
        }
        let d: u64 = digits
            .parse()
            .map_err(|_| TileError::Path("index groups are three digits"))?;
        n = n
            .checked_mul(1000)
            .and_then(|n| n.checked_add(d))
            .ok_or(TileError::Path("the index is too large"))?;
    }
    Ok(n)
}

/// The hash tile `path` of the tree of the first `size` entries of `tree` (`size <= tree.len()`):
/// `path.width` hashes of 32 bytes.
pub fn hash_tile(tree: &Tree, path: &TilePath, size: u64) -> Result<Vec<u8>, TileError> {
    let TileKind::Hashes(_) = path.kind else {
        return Err(TileError::Path("an entry bundle is not a hash tile"));
    };
    if size > tree.len() || !path.in_tree(size) {
        return Err(path.not_in_tree(size));
    }
    let level = usize::try_from(path.tree_level()).map_err(|_| path.not_in_tree(size))?;
    let (start, end) = path.positions().ok_or_else(|| path.not_in_tree(size))?;
    let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
        return Err(path.not_in_tree(size));
    };
    let hashes: &[Hash] = tree
        .level(level)
        .get(start..end)
        .ok_or_else(|| path.not_in_tree(size))?;
    Ok(hashes.concat())
}

/// An entry bundle of `entries` (at most 256, each at most 65535 bytes).
pub fn entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, TileError> {
    if entries.len() as u64 > TILE_WIDTH {
        return Err(TileError::TooManyEntries);
    }
    let mut out = Vec::with_capacity(entries.iter().map(|e| 2 + e.as_ref().len()).sum());
    for (index, e) in entries.iter().enumerate() {
        let e = e.as_ref();
        let len = u16::try_from(e.len()).map_err(|_| TileError::EntryTooLong {
            index,
            len: e.len(),
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// The entries of an entry bundle, which must hold at least `path`'s width and at most 256.
/// (A full bundle fetched in place of a partial one holds more than the partial's width; the
/// caller takes the entries it needs.)
pub fn parse_entry_bundle<'a>(
    bytes: &'a [u8],
    path: &TilePath,
) -> Result<Vec<&'a [u8]>, TileError> {
    let mut entries = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if entries.len() as u64 == TILE_WIDTH {
            return Err(TileError::TooManyEntries);
        }
        let (len, tail) = rest
            .split_first_chunk::<2>()
            .ok_or(TileError::Truncated(entries.len()))?;
        let len = usize::from(u16::from_be_bytes(*len));
        let (entry, tail) = tail
            .split_at_checked(len)
            .ok_or(TileError::Truncated(entries.len()))?;
        entries.push(entry);
        rest = tail;
    }
    if entries.len() < usize::from(path.width) {
        return Err(TileError::WrongWidth {
            got: entries.len(),
            want: path.width,
        });
    }
    Ok(entries)
}

/// The tiles (hash tiles of every level, then entry bundles) that a tree of `new` entries serves
/// and a tree of `old` entries did not: the tiles that became full, and the partial ones of
/// size `new`. `tiles_between(0, n)` is every tile of the tree of `n` entries.
pub fn tiles_between(old: u64, new: u64) -> Vec<TilePath> {
    let mut out = Vec::new();
    if new <= old {
        return out;
    }
    let mut kinds: Vec<TileKind> = (0..=MAX_LEVEL).map(TileKind::Hashes).collect();
    kinds.push(TileKind::Entries);
    for kind in kinds {
        let shift = match kind {
            TileKind::Hashes(l) => u32::from(l) * LEVELS_PER_TILE,
            TileKind::Entries => 0,
        };
        let (Some(old_n), Some(new_n)) = (old.checked_shr(shift), new.checked_shr(shift)) else {
            continue;
        };
        if old_n == new_n {
            // This level did not change (and no level above it did).
            continue;
        }
        for index in (old_n / TILE_WIDTH)..(new_n / TILE_WIDTH) {
            out.push(TilePath::full(kind, index));
        }
        let w = new_n % TILE_WIDTH;
        if w > 0 {
            out.push(TilePath {
                kind,
                index: new_n / TILE_WIDTH,
                width: w as u16,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn paths_round_trip_in_the_specs_spelling() {
        for (s, kind, index, width) in [
            ("tile/0/000", TileKind::Hashes(0), 0, 256),
            ("tile/0/x001/x234/067", TileKind::Hashes(0), 1_234_067, 256),
            ("tile/2/001.p/17", TileKind::Hashes(2), 1, 17),
            ("tile/entries/x001/000.p/255", TileKind::Entries, 1000, 255),
            ("tile/63/999", TileKind::Hashes(63), 999, 256),
        ] {
            let p = TilePath::parse(s).unwrap();
            assert_eq!((p.kind, p.index, p.width), (kind, index, width), "{s}");
            assert_eq!(p.to_string(), s);
        }
        let big = TilePath::full(TileKind::Entries, u64::MAX);
        assert_eq!(TilePath::parse(&big.to_string()).unwrap(), big);
    }

    #[test]
    fn other_spellings_are_refused() {
        for s in [
            "",
            "tile",
            "tile/",
            "tile/0",
            "tile/0/",
            "tile/0/1",
            "tile/0/0001",
            "tile/00/000",
            "tile/01/000",
            "tile/64/000",
            "tile/-1/000",
            "tile/data/000",
            "tile/0/x000/001",
            "tile/0/001/002",
            "tile/0/x01/002",
            "tile/0/y001/002",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/07",
            "tile/0/000.p/",
            "tile/0/000.p",
            "tile/0/000/",
            "tile/entries/",
            "tile/0/x18446/x744/x073/x709/x551/616",
            "/tile/0/000",
            "checkpoint",
        ] {
            assert!(TilePath::parse(s).is_err(), "{s:?} was accepted");
        }
    }

    #[test]
    fn the_specs_example_tree_of_70000_entries() {
        // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial
        // level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width
        // 17, and one partial level 2 tile of width 1."
        let tiles = tiles_between(0, 70_000);
        let of = |kind| -> Vec<&TilePath> { tiles.iter().filter(|t| t.kind == kind).collect() };
        let l0 = of(TileKind::Hashes(0));
        assert_eq!(l0.iter().filter(|t| t.is_full()).count(), 273);
        assert_eq!(l0.last().unwrap().width, 112);
        let l1 = of(TileKind::Hashes(1));
        assert_eq!(l1.len(), 2);
        assert!(l1[0].is_full());
        assert_eq!(l1[1].width, 17);
        assert_eq!(of(TileKind::Hashes(2)).len(), 1);
        assert_eq!(of(TileKind::Hashes(2))[0].width, 1);
        assert_eq!(of(TileKind::Hashes(3)).len(), 0);
        assert_eq!(of(TileKind::Entries).len(), 274);
        // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1
        // tile of width 1."
        let t = tiles_between(0, 256);
        assert_eq!(t.len(), 3);
        assert!(t[0].is_full() && t[0].kind == TileKind::Hashes(0));
        assert_eq!((t[1].kind, t[1].width), (TileKind::Hashes(1), 1));
        assert!(t[2].is_full() && t[2].kind == TileKind::Entries);
        for path in &tiles {
            assert!(path.in_tree(70_000), "{path}");
        }
    }

    #[test]
    fn growth_adds_the_tiles_that_filled_and_the_new_partial_ones() {
        assert!(tiles_between(10, 10).is_empty());
        assert!(tiles_between(10, 5).is_empty());
        let t = tiles_between(250, 260);
        let names: Vec<String> = t.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "tile/0/000",
                "tile/0/001.p/4",
                "tile/1/000.p/1",
                "tile/entries/000",
                "tile/entries/001.p/4"
            ]
        );
        // Every tile of the grown tree is either added or was already served, unchanged.
        let before: std::collections::BTreeSet<TilePath> =
            tiles_between(0, 300).into_iter().collect();
        let added: std::collections::BTreeSet<TilePath> =
            tiles_between(300, 70_000).into_iter().collect();
        for t in tiles_between(0, 70_000) {
            assert!(before.contains(&t) || added.contains(&t), "{t}");
        }
    }

    #[test]
    fn hash_tiles_are_the_trees_level_hashes_and_stop_at_the_size() {
        let mut tree = Tree::new();
        for i in 0u32..600 {
            tree.push(&i.to_be_bytes());
        }
        let t = TilePath::parse("tile/0/001").unwrap();
        let bytes = hash_tile(&tree, &t, 600).unwrap();
        assert_eq!(bytes.len(), 256 * 32);
        assert_eq!(bytes[..32], tree.level(0)[256]);
        let p = TilePath::parse("tile/0/002.p/88").unwrap();
        assert_eq!(hash_tile(&tree, &p, 600).unwrap().len(), 88 * 32);
        // A partial tile is the prefix of the full one.
        let p3 = TilePath::parse("tile/0/001.p/3").unwrap();
        assert_eq!(hash_tile(&tree, &p3, 600).unwrap(), bytes[..96]);
        // Beyond the size (even if the tree holds more), or another level's width: refused.
        for (path, size) in [
            ("tile/0/002.p/89", 600),
            ("tile/0/002.p/88", 599),
            ("tile/0/002", 600),
            ("tile/1/000.p/3", 600),
            ("tile/1/000.p/2", 511),
            ("tile/0/x018/x446/x744/x073/x709/x551/615", 600),
            ("tile/9/000.p/1", 600),
            ("tile/0/000", 601),
        ] {
            let path = TilePath::parse(path).unwrap();
            assert!(
                matches!(
                    hash_tile(&tree, &path, size),
                    Err(TileError::NotInTree { .. })
                ),
                "{path} at {size}"
            );
        }
        assert_eq!(
            hash_tile(&tree, &TilePath::parse("tile/1/000.p/2").unwrap(), 512)
                .unwrap()
                .len(),
            64
        );
        assert!(hash_tile(&tree, &TilePath::parse("tile/entries/000").unwrap(), 600).is_err());
        // Paths built by hand outside the spec are in no tree.
        for bad in [
            TilePath {
                kind: TileKind::Hashes(0),
                index: 0,
                width: 0,
            },
            TilePath {
                kind: TileKind::Hashes(0),
                index: 0,
                width: 257,
            },
            TilePath {
                kind: TileKind::Hashes(64),
                index: 0,
                width: 1,
            },
        ] {
            assert!(!bad.in_tree(u64::MAX), "{bad:?}");
            assert!(hash_tile(&tree, &bad, 600).is_err());
        }
    }

    #[test]
    fn entry_bundles_round_trip_and_refuse_bad_bytes() {
        let entries: Vec<Vec<u8>> = (0u8..5).map(|i| vec![i; usize::from(i) * 3]).collect();
        let bundle = entry_bundle(&entries).unwrap();
        let p = TilePath::parse("tile/entries/000.p/5").unwrap();
        let back = parse_entry_bundle(&bundle, &p).unwrap();
        assert_eq!(back, entries.iter().map(Vec::as_slice).collect::<Vec<_>>());
        // A bundle wider than the path (a full one fetched for a partial) is fine.
        let p4 = TilePath::parse("tile/entries/000.p/4").unwrap();
        assert_eq!(parse_entry_bundle(&bundle, &p4).unwrap().len(), 5);
        let p6 = TilePath::parse("tile/entries/000.p/6").unwrap();
        assert_eq!(
            parse_entry_bundle(&bundle, &p6),
            Err(TileError::WrongWidth { got: 5, want: 6 })
        );
        for cut in 1..bundle.len() {
            let r = parse_entry_bundle(
                &bundle[..cut],
                &TilePath::parse("tile/entries/000.p/1").unwrap(),
            );
            assert!(r.is_err() || r.is_ok_and(|e| e.len() < 5), "cut {cut}");
        }
        assert_eq!(
            parse_entry_bundle(&[0, 3, 1], &p),
            Err(TileError::Truncated(0))
        );
        let too_many = entry_bundle(&vec![[7u8; 1]; 256]).unwrap();
        let mut more = too_many.clone();
        more.extend_from_slice(&[0, 0]);
        assert_eq!(
            parse_entry_bundle(&more, &TilePath::full(TileKind::Entries, 0)),
            Err(TileError::TooManyEntries)
        );
        assert!(entry_bundle(&vec![[0u8; 1]; 257]).is_err());
        assert!(matches!(
            entry_bundle(&[vec![0u8; 65_536]]),
            Err(TileError::EntryTooLong {
                index: 0,
                len: 65_536
            })
        ));
    }
}
