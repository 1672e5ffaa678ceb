//! One small in-place heapsort for the few lists the engine sorts.
//!
//! `slice::sort*` is fast but large: each call site instantiates a quicksort,
//! a drift/merge sort and small-sort networks for its element type, up to
//! ~4 KB of wasm each, 22 KB of the browser peer in all (twiggy). The lists
//! sorted here are peers, deadlines, dictionary keys and file lists:
//! O(n log n) matters (a hostile magnet link may select 100 000 files),
//! speed beyond that does not.
//!
//! Not stable: call sites that care about ties sort by a key that has none.

/// Sorts `v` ascending by `key`.
pub fn sort_by_key<T, K: Ord>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(v, |a, b| key(a) < key(b));
}

/// Sorts `v` so that no element is `less` than one before it.
pub fn sort_by<T>(v: &mut [T], mut less: impl FnMut(&T, &T) -> bool) {
    let n = v.len();
    for start in (0..n / 2).rev() {
        sift_down(v, start, n, &mut less);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift_down(v, 0, end, &mut less);
    }
}

fn sift_down<T>(v: &mut [T], mut node: usize, end: usize, less: &mut impl FnMut(&T, &T) -> bool) {
    loop {
        let mut child = 2 * node + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && less(&v[child], &v[child + 1]) {
            child += 1;
        }
        if !less(&v[node], &v[child]) {
            return;
        }
        v.swap(node, child);
        node = child;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn sorts_small_and_edge_cases() {
        for mut v in [
            vec![],
            vec![1],
            vec![2, 1],
            vec![3, 1, 2, 3, 0, 0],
            (0..50).rev().collect::<Vec<i32>>(),
        ] {
            let mut want = v.clone();
            want.sort();
            sort_by_key(&mut v, |&x| x);
            assert_eq!(v, want);
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #[test]
        fn matches_std_sort(mut v in proptest::collection::vec(0u16..500, 0..600)) {
            let mut want = v.clone();
            want.sort_unstable_by(|a, b| b.cmp(a));
            sort_by(&mut v, |a, b| a > b);
            proptest::prop_assert_eq!(v, want);
        }
    }
}
