//! `webswarm`: create torrents, seed files into browser swarms, download, and
//! run the tracker.

mod cli;
mod demo;

use std::process::ExitCode;

use clap::Parser;
use cli::{run, Cli};
// The peer library's modules, under the names the commands use.
use webswarm_native::{create, session, tracker_client, transport, util};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("webswarm: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(run(cli));
    // Stop background tasks (tracker retries) first, so the error is the last line.
    rt.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("webswarm: {e}");
            ExitCode::FAILURE
        }
    }
}
