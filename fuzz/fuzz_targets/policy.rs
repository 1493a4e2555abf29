//! `Policy::parse` (C2SP tlog-policy) on arbitrary bytes: never panics, and evaluating the
//! quorum of a parsed policy for any subset of its witnesses never panics.
#![no_main]

use letro_log::policy::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let policy = match Policy::parse(data) {
        Ok(p) => p,
        Err(e) => {
            letro_fuzz::render_error(&e);
            return;
        }
    };
    let names: Vec<&str> = policy.witnesses().iter().map(|w| w.name.as_str()).collect();
    let all = policy.satisfied_by(&names);
    // More cosigners never undo a quorum.
    for i in 0..names.len() {
        let some: Vec<&str> = names.iter().copied().take(i).collect();
        if policy.satisfied_by(&some) {
            assert!(
                all,
                "a subset satisfies the quorum but the whole set does not"
            );
        }
    }
    let _ = (policy.logs().len(), policy.requires_none());
});
