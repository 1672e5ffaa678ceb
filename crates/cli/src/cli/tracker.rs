//! `webswarm tracker`: the same tracker as the `webswarm-tracker` binary.

pub use webswarm_signaling::cli::TrackerArgs;

pub async fn run(a: TrackerArgs) -> Result<(), String> {
    webswarm_signaling::cli::run(a).await.map_err(|e| e.message)
}
