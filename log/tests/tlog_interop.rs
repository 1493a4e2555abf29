//! letro-log's RFC 6962 tree against an independent implementation: tlog_tiles, Cloudflare's
//! port of Go's golang.org/x/mod/sumdb/tlog (the tree code of C2SP's witnesses and tile
//! servers). Roots, inclusion proofs and consistency proofs must be byte-identical, and each
//! side's proofs must verify with the other's checker.
#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use letro_log::rfc6962::{self, Tree};
use letro_log::tiles::{self, TileKind, TilePath};
use tlog_tiles::{Hash, HashReader};

/// Go tlog's storage: every stored hash, in stored-hash-index order.
struct Stored(Vec<Hash>);

impl HashReader for Stored {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                self.0
                    .get(i as usize)
                    .copied()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

fn entry(i: u64) -> Vec<u8> {
    // Entries of varied length, as a log's are.
    let mut e = format!("entry {i}").into_bytes();
    e.resize(1 + (i as usize * 7) % 40, b'.');
    e
}

fn both(n: u64) -> (Tree, Stored) {
    let mut ours = Tree::new();
    let mut theirs = Stored(Vec::new());
    for i in 0..n {
        let e = entry(i);
        ours.push(&e);
        let new = tlog_tiles::stored_hashes(i, &e, &theirs).unwrap();
        theirs.0.extend(new);
    }
    (ours, theirs)
}

fn hashes(p: &[Hash]) -> Vec<[u8; 32]> {
    p.iter().map(|h| h.0).collect()
}

#[test]
fn roots_and_proofs_are_those_of_go_tlog() {
    let n = 300;
    let (ours, theirs) = both(n);
    for size in 0..=n {
        let root = ours.root_at(size).unwrap();
        assert_eq!(
            root,
            tlog_tiles::tree_hash(size, &theirs).unwrap().0,
            "size {size}"
        );
    }
    // Every inclusion proof in a few sizes, and every consistency proof into them.
    for size in [1, 2, 3, 7, 8, 9, 64, 255, 256, 257, 300] {
        let root = ours.root_at(size).unwrap();
        for index in 0..size {
            let p = ours.inclusion_proof(index, size).unwrap();
            let q = tlog_tiles::prove_record(size, index, &theirs).unwrap();
            assert_eq!(p, hashes(&q), "inclusion {index} in {size}");
            let leaf = rfc6962::leaf_hash(&entry(index));
            assert_eq!(leaf, tlog_tiles::record_hash(&entry(index)).0);
            let proof: Vec<Hash> = p.iter().copied().map(Hash).collect();
            tlog_tiles::check_record(&proof, size, Hash(root), index, Hash(leaf)).unwrap();
            rfc6962::verify_inclusion(index, size, &leaf, &hashes(&q), &root).unwrap();
        }
        for old in 1..=size {
            let old_root = ours.root_at(old).unwrap();
            let p = ours.consistency_proof(old, size).unwrap();
            let q = tlog_tiles::prove_tree(size, old, &theirs).unwrap();
            assert_eq!(p, hashes(&q), "consistency {old} -> {size}");
            let proof: Vec<Hash> = p.iter().copied().map(Hash).collect();
            tlog_tiles::check_tree(&proof, size, Hash(root), old, Hash(old_root)).unwrap();
            rfc6962::verify_consistency(old, size, &old_root, &root, &hashes(&q)).unwrap();
        }
    }
}

#[test]
fn our_levels_are_go_tlogs_stored_hashes() {
    let (ours, theirs) = both(600);
    for level in 0..10u8 {
        for (i, h) in ours.level(level as usize).iter().enumerate() {
            let index = tlog_tiles::stored_hash_index(level, i as u64);
            assert_eq!(*h, theirs.0[index as usize].0, "level {level} hash {i}");
        }
    }
}

/// Go tlog's tile paths are `tile/8/<L>/<N>[.p/<W>]` and `tile/8/data/<N>...` (the sumdb
/// layout, with the height in the path); C2SP tlog-tiles drops the height and calls the data
/// tiles `entries`.
fn c2sp_path(t: &tlog_tiles::Tile) -> String {
    let go = t.path();
    let rest = go.strip_prefix("tile/8/").unwrap();
    match rest.strip_prefix("data/") {
        Some(n) => format!("tile/entries/{n}"),
        None => format!("tile/{rest}"),
    }
}

/// A tile server over letro-log's tiles of the tree of `size` entries, for Go tlog's reader.
struct OurTiles<'a> {
    tree: &'a Tree,
    size: u64,
}

impl tlog_tiles::TileReader for OurTiles<'_> {
    fn height(&self) -> u8 {
        8
    }

    fn read_tiles(&self, tiles: &[tlog_tiles::Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| {
                let path = TilePath::parse(&c2sp_path(t)).unwrap();
                tiles::hash_tile(self.tree, &path, self.size)
                    .map_err(|_| tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }

    fn save_tiles(&self, _tiles: &[tlog_tiles::Tile], _data: &[Vec<u8>]) {}
}

#[test]
fn our_tiles_are_go_tlogs_tiles() {
    let n = 70_000;
    let (ours, theirs) = both(n);
    for size in [1, 255, 256, 257, 511, 512, 65_535, 65_536, 65_537, 70_000] {
        // The same tiles, by name...
        let go: Vec<tlog_tiles::Tile> = tlog_tiles::Tile::new_tiles(8, 0, size);
        let go_names: Vec<String> = go.iter().map(c2sp_path).collect();
        let our_names: Vec<String> = tiles::tiles_between(0, size)
            .iter()
            .filter(|t| t.kind != TileKind::Entries)
            .map(ToString::to_string)
            .collect();
        let mut sorted = go_names.clone();
        sorted.sort();
        let mut our_sorted = our_names.clone();
        our_sorted.sort();
        assert_eq!(sorted, our_sorted, "tiles of size {size}");
        // ...with the same bytes...
        for (t, name) in go.iter().zip(&go_names) {
            // A handful per size: every tile at the edges, a sample in between.
            if t.level_index() % 37 != 0 && t.width() == 256 && t.level_index() > 2 {
                continue;
            }
            let want = t.read_data(&theirs).unwrap();
            let got = tiles::hash_tile(&ours, &TilePath::parse(name).unwrap(), size).unwrap();
            assert_eq!(got, want, "{name} of size {size}");
        }
        // ...and Go's tile reader authenticates ours against the root.
        let root = tlog_tiles::Hash(ours.root_at(size).unwrap());
        let reader = OurTiles { tree: &ours, size };
        let hr = tlog_tiles::TileHashReader::new(size, root, &reader);
        let last = tlog_tiles::stored_hash_index(0, size - 1);
        let got = hr.read_hashes(&[0, last]).unwrap();
        assert_eq!(got[1].0, ours.level(0)[(size - 1) as usize]);
        let proof = tlog_tiles::prove_record(size, size / 2, &hr).unwrap();
        assert_eq!(
            hashes(&proof),
            ours.inclusion_proof(size / 2, size).unwrap()
        );
    }
    // A tile with one wrong hash is caught by Go's reader.
    struct Tampered<'a>(OurTiles<'a>);
    impl tlog_tiles::TileReader for Tampered<'_> {
        fn height(&self) -> u8 {
            8
        }
        fn read_tiles(&self, t: &[tlog_tiles::Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
            let mut data = self.0.read_tiles(t)?;
            if let Some(first) = data.first_mut().and_then(|d| d.first_mut()) {
                *first ^= 1;
            }
            Ok(data)
        }
        fn save_tiles(&self, _t: &[tlog_tiles::Tile], _d: &[Vec<u8>]) {}
    }
    let size = 1000;
    let reader = Tampered(OurTiles { tree: &ours, size });
    let hr = tlog_tiles::TileHashReader::new(
        size,
        tlog_tiles::Hash(ours.root_at(size).unwrap()),
        &reader,
    );
    assert!(hr.read_hashes(&[0]).is_err());
}

#[test]
fn our_entry_bundles_hash_to_the_level_zero_tiles() {
    let (ours, _) = both(600);
    for path in tiles::tiles_between(0, 600) {
        if path.kind != TileKind::Entries {
            continue;
        }
        let start = path.index * 256;
        let entries: Vec<Vec<u8>> = (start..start + u64::from(path.width)).map(entry).collect();
        let bundle = tiles::entry_bundle(&entries).unwrap();
        let parsed = tiles::parse_entry_bundle(&bundle, &path).unwrap();
        let leaf_tile = TilePath {
            kind: TileKind::Hashes(0),
            ..path
        };
        let hashes_tile = tiles::hash_tile(&ours, &leaf_tile, 600).unwrap();
        for (i, e) in parsed.iter().enumerate() {
            assert_eq!(
                tlog_tiles::record_hash(e).0,
                hashes_tile[i * 32..(i + 1) * 32],
                "{path} entry {i}"
            );
        }
    }
}
