//! Replays every committed input of every fuzz target (`fuzz/corpus/<target>/`
//! and the crashes kept in `fuzz/regressions/<target>/`) through the target.

use std::path::Path;

#[test]
fn every_committed_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut ran = 0;
    for (name, run) in webswarm_fuzz_targets::TARGETS {
        let mut seen = 0;
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                continue;
            };
            for e in entries {
                let path = e.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                if let Err(panic) = std::panic::catch_unwind(|| run(&data)) {
                    eprintln!("{name}: {} fails", path.display());
                    std::panic::resume_unwind(panic);
                }
                seen += 1;
            }
        }
        assert!(seen > 0, "no corpus for fuzz target {name}");
        ran += seen;
    }
    eprintln!("{ran} inputs replayed");
}
