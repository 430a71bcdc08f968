//! The structural splitter: every engine this CPU has, fed whole and in several chunkings, hands
//! out the same items, shape and error (offset included); and when serde_json reads the input
//! as a sequence of JSON values, the items are exactly the records serde_json sees.
#![no_main]

use denytrail_core::fuzzing;
use denytrail_fuzz::{depth, reference, split_chunked};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let want = fuzzing::with_engine(0, || split_chunked(data, usize::MAX));
    let odd = 1 + data.first().map_or(0, |&b| b as usize);
    for engine in 0..fuzzing::engines() {
        for chunk in [usize::MAX, 1, 7, 64, odd] {
            let got = fuzzing::with_engine(engine, || split_chunked(data, chunk));
            assert_eq!(got, want, "engine {engine}, chunk {chunk}");
        }
    }
    if depth(data) > 100 {
        return;
    }
    if let Some((items, shape, rejects)) = reference(data) {
        if rejects {
            assert!(want.end.is_err(), "a top-level scalar was accepted");
            assert!(want.items.len() >= items.len() && want.items[..items.len()] == items[..]);
            assert_eq!(want.items.len(), items.len(), "items after a top-level scalar");
        } else {
            assert_eq!(want.end, Ok(()), "valid JSON rejected");
            assert_eq!(want.items, items, "records differ from serde_json's");
            assert_eq!(want.shape, shape, "shape differs from serde_json's");
        }
    }
});
