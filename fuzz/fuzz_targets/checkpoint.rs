//! `SignedCheckpoint::parse_bytes` and `Checkpoint::parse_body` on arbitrary bytes: never
//! panic; parsing is strict, so what parses is rebuilt byte for byte from the parsed value.
#![no_main]

use letro_core::bundle::signed_checkpoint_text;
use letro_log::checkpoint::{Checkpoint, SignedCheckpoint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match SignedCheckpoint::parse_bytes(data) {
        Ok(signed) => {
            let text = signed_checkpoint_text(&signed);
            assert_eq!(
                text.as_bytes(),
                data,
                "signed checkpoint text not rebuilt exactly"
            );
            assert_eq!(SignedCheckpoint::parse(&text).as_ref(), Ok(&signed));
            let checkpoint = signed.unverified_checkpoint();
            assert_eq!(
                checkpoint.to_body().as_deref(),
                Ok(signed.note().unverified_text()),
                "checkpoint body not rebuilt exactly"
            );
            if let Err(e) = signed.verify(&[letro_fuzz::test_log_key()]) {
                letro_fuzz::render_error(&e);
            }
        }
        Err(e) => {
            letro_fuzz::render_error(&e);
        }
    }

    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    match Checkpoint::parse_body(body) {
        Ok(checkpoint) => {
            assert_eq!(checkpoint.validate(), Ok(()));
            let again = checkpoint.to_body().expect("a parsed checkpoint encodes");
            assert_eq!(again, body, "parse_body(b)?.to_body()? != b");
            assert_eq!(Checkpoint::parse_body(&again), Ok(checkpoint));
        }
        Err(e) => {
            letro_fuzz::render_error(&e);
        }
    }
});
