//! letro-log's RFC 6962 tree against an independent implementation: tlog_tiles, Cloudflare's
//! port of Go's golang.org/x/mod/sumdb/tlog (the tree code of C2SP's witnesses and tile
//! servers). Roots, inclusion proofs and consistency proofs must be byte-identical, and each
//! side's proofs must verify with the other's checker.
#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use letro_log::rfc6962::{self, Tree};
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
