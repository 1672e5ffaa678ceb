//! Pure helpers for hosts that drive the engine (the native and browser
//! peers): decisions and caches that need no I/O, kept here so every host
//! makes them the same way.

mod glare;
mod read_cache;
mod stream_window;

pub use glare::{settle_glare, Glare};
pub use read_cache::{Lookup, ReadCache};
pub use stream_window::StreamWindow;
