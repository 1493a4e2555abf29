//! `AddCheckpoint::parse` (C2SP tlog-witness requests) on arbitrary bytes: never panics; an
//! accepted request re-encodes to the same bytes, and the witness's decision and cosignature
//! verification on it never panic.
#![no_main]

use letro_log::cosignature::{self, CosignerSigner};
use letro_log::rfc6962;
use letro_log::witness::{decide, request_body, AddCheckpoint, FollowedLog, Latest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let request = match AddCheckpoint::parse(data) {
        Ok(r) => r,
        Err(e) => {
            letro_fuzz::render_error(&e);
            return;
        }
    };
    let note = letro_fuzz::rebuild_note(&request.checkpoint);
    assert_eq!(
        request_body(request.old, &request.proof, &note).as_bytes(),
        data,
        "request not rebuilt exactly"
    );
    let logs = [FollowedLog {
        origin: request.origin.clone(),
        keys: vec![letro_fuzz::test_log_key()],
    }];
    for latest in [
        None,
        Some(Latest {
            size: request.old,
            root: rfc6962::empty_root(),
        }),
    ] {
        if let Err(e) = decide(&request, &logs, latest) {
            letro_fuzz::render_error(&e);
            let _ = (e.status(), e.latest_size());
        }
    }
    let witness = CosignerSigner::from_seed("witness.invalid/fuzz", &[1; 32]).expect("valid name");
    if let Err(e) = cosignature::verify(&request.checkpoint, &[witness.cosigner_key()]) {
        letro_fuzz::render_error(&e);
    }
});
