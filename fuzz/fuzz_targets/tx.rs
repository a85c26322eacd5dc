#![no_main]
// The body lives in keel-fuzz (crates/fuzz), which also runs this target's corpus on stable.
libfuzzer_sys::fuzz_target!(|data: &[u8]| keel_fuzz::tx(data));
