use crate::types::PeerId;

/// What to do when a second connection to an already connected peer opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Glare {
    /// Keep the old connection and close the new one.
    KeepOld,
    /// Close the old connection and keep the new one.
    KeepNew,
}

/// Two peers that offer to each other at the same moment end up with two
/// connections. Each side must keep the same one, or each closes the one the
/// other kept and they have none: both keep the one whose offerer has the
/// lower peer id. `*_we_offered` say which side made each connection's offer.
pub fn settle_glare(
    ours: PeerId,
    remote: PeerId,
    old_we_offered: bool,
    new_we_offered: bool,
) -> Glare {
    let keep_ours = ours.0 < remote.0;
    if new_we_offered == keep_ours && old_we_offered != keep_ours {
        Glare::KeepNew
    } else {
        Glare::KeepOld
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn both_sides_keep_the_same_connection() {
        let (a, b) = (PeerId([1; 20]), PeerId([2; 20]));
        // Connection X was offered by a, connection Y by b; either may open first.
        for x_first in [true, false] {
            // a's view: X is "we offered".
            let a_keeps_x = match settle_glare(a, b, x_first, !x_first) {
                Glare::KeepNew => !x_first,
                Glare::KeepOld => x_first,
            };
            // b's view: X is "they offered".
            let b_keeps_x = match settle_glare(b, a, !x_first, x_first) {
                Glare::KeepNew => !x_first,
                Glare::KeepOld => x_first,
            };
            assert!(
                a_keeps_x && b_keeps_x,
                "the lower id's offer wins on both sides"
            );
        }
    }
}
