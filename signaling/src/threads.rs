//! The threads that serve connections. Each is a single-threaded runtime that
//! accepts on its own handle of the listening socket and keeps the
//! connections it accepted: a connection's reads, writes and timers never
//! leave its thread. (tokio's multi-threaded runtime cost 98 µs of CPU per
//! announce against 55 µs on one thread in tracker-bench at 2000 announces/s:
//! its idle workers spin looking for work to steal.)

use std::sync::Arc;

use axum::Router;

use crate::handoff::{Accepted, PlainListener};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long the first thread waits, at shutdown, for the cluster link to
/// say goodbye (it gives up on a Redis that does not take it sooner).
const LINK_GOODBYE: std::time::Duration = std::time::Duration::from_secs(3);

/// Serves `router` on `threads` threads until `shutdown` completes; then every
/// connection is closed. `tls`: serve wss:// with this configuration;
/// `first_thread_task` runs beside the first thread's connections.
pub async fn serve_on_threads(
    listener: TcpListener,
    router: Router,
    threads: usize,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    mut first_thread_task: Option<crate::cluster::LinkTask>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Taken out of the caller's runtime: each thread registers its own handle.
    let socket = listener.into_std()?;
    let (stop, stopped) = watch::channel(false);
    let mut done = Vec::new();
    let homes = crate::home::homes(threads);
    for i in 0..threads.max(1) {
        let homes = homes.clone();
        let (socket, router, tls) = (socket.try_clone()?, router.clone(), tls.clone());
        let mut stopped = stopped.clone();
        let (finished, finished_rx) = tokio::sync::oneshot::channel::<std::io::Result<()>>();
        let task = first_thread_task.take();
        std::thread::Builder::new()
            .name(format!("conn-{i}"))
            .spawn(move || {
                let result = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .and_then(|rt| {
                        rt.block_on(async move {
                            let home = tokio::spawn(crate::home::serve_as(homes, i));
                            let task = task.map(tokio::spawn);
                            let listener = TcpListener::from_std(socket)?;
                            let stop = async move {
                                let _ = stopped.wait_for(|s| *s).await;
                            };
                            let served = serve_one(listener, router, tls, stop).await;
                            home.abort();
                            // The cluster link was told to leave: let its
                            // goodbye reach Redis before the runtime goes.
                            if let Some(t) = task {
                                let _ = tokio::time::timeout(LINK_GOODBYE, t).await;
                            }
                            served
                        })
                    });
                let _ = finished.send(result);
            })?;
        done.push(finished_rx);
    }
    shutdown.await;
    let _ = stop.send(true);
    let mut result = Ok(());
    for d in done {
        if let Ok(Err(e)) = d.await {
            result = Err(e);
        }
    }
    result
}

async fn serve_one(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = router.into_make_service_with_connect_info::<Accepted>();
    match tls {
        Some(tls) => {
            let listener = crate::tls::TlsListener::new(listener, tls)?;
            axum::serve(listener, service)
                .with_graceful_shutdown(stop)
                .await
        }
        None => {
            axum::serve(PlainListener(listener), service)
                .with_graceful_shutdown(stop)
                .await
        }
    }
}
