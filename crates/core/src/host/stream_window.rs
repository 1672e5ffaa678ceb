//! The byte range a file stream has deadlines for. A stream reads ahead: it
//! asks for the next chunk before the current one has arrived. Each read
//! used to replace the deadlines with its own range, so the chunk the player
//! needs first could lose its deadline to the one after it. A read that
//! continues the window extends it; a read elsewhere (a seek) starts anew.

/// How far behind the newest read the window may start; earlier bytes have
/// been read already.
const KEEP: u64 = 8 << 20;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StreamWindow(Option<(u64, u64)>);

impl StreamWindow {
    /// Records a read of `start..end`; returns the range to give deadlines.
    pub fn read(&mut self, start: u64, end: u64) -> (u64, u64) {
        let next = match self.0 {
            Some((ws, we)) if start >= ws && start <= we => {
                (ws.max(start.saturating_sub(KEEP)), we.max(end))
            }
            _ => (start, end),
        };
        self.0 = Some(next);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn read_ahead_extends_and_a_seek_restarts() {
        let mut w = StreamWindow::default();
        assert_eq!(w.read(0, 65_536), (0, 65_536));
        // The read-ahead of the next chunk keeps the first chunk's deadline.
        assert_eq!(w.read(65_536, 131_072), (0, 131_072));
        // A seek far away starts a new window.
        assert_eq!(
            w.read(50 << 20, (50 << 20) + 65_536),
            (50 << 20, (50 << 20) + 65_536)
        );
        // Reading on, the window keeps at most KEEP bytes behind the newest read.
        let mut end = (50 << 20) + 65_536;
        while end < (60 << 20) {
            let (s, e) = w.read(end, end + 65_536);
            assert!(s >= end - KEEP && e == end + 65_536);
            end = e;
        }
        // Going back inside the window (a re-read) does not shrink it.
        assert_eq!(w.read(end - 65_536, end - 1).1, end);
    }
}
