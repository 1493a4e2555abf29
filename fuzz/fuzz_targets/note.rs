//! `Note::parse` on arbitrary bytes: never panics; parsing is strict, so the note is rebuilt
//! byte for byte from its text and signature lines, and verifying it never panics.
#![no_main]

use letro_log::note::Note;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let note = match Note::parse(data) {
        Ok(n) => n,
        Err(e) => {
            letro_fuzz::render_error(&e);
            return;
        }
    };
    let rebuilt = letro_fuzz::rebuild_note(&note);
    assert_eq!(rebuilt.as_bytes(), data, "note not rebuilt exactly");
    assert_eq!(Note::parse(rebuilt.as_bytes()), Ok(note.clone()));
    if let Err(e) = note.verify(&[letro_fuzz::test_log_key()]) {
        letro_fuzz::render_error(&e);
    }
});
