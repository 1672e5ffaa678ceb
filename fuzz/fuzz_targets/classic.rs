#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    (webswarm_fuzz_targets::target("classic").expect("a target of that name"))(data)
});
