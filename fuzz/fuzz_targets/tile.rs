//! C2SP tlog-tiles: `TilePath::parse` on the first line and `parse_entry_bundle` on the rest.
//! Never panics; a path that parses prints back to exactly its input (one spelling per tile);
//! a bundle that parses re-encodes to exactly its bytes; a hash tile asked of a small tree is
//! either in it or refused.
#![no_main]

use letro_log::rfc6962::Tree;
use letro_log::tiles::{entry_bundle, hash_tile, parse_entry_bundle, TilePath};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (line, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(line) = std::str::from_utf8(line) else {
        return;
    };
    let path = match TilePath::parse(line) {
        Ok(p) => p,
        Err(e) => {
            letro_fuzz::render_error(&e);
            return;
        }
    };
    assert_eq!(
        path.to_string(),
        line,
        "a second spelling of a tile path parsed"
    );
    match parse_entry_bundle(rest, &path) {
        Ok(entries) => {
            let again = entry_bundle(&entries).expect("parsed entries re-encode");
            assert_eq!(
                again, rest,
                "an entry bundle did not re-encode to its bytes"
            );
        }
        Err(e) => {
            letro_fuzz::render_error(&e);
        }
    }
    let mut tree = Tree::new();
    for i in 0u16..300 {
        tree.push(&i.to_be_bytes());
    }
    match hash_tile(&tree, &path, 300) {
        Ok(bytes) => {
            assert!(path.in_tree(300));
            assert_eq!(bytes.len(), usize::from(path.width) * 32);
        }
        Err(e) => {
            letro_fuzz::render_error(&e);
        }
    }
});
