//! HTTP for webseeds (BEP 19): carries out the engine's `Fetch` as range
//! requests, with a bounded number of requests per host across all torrents.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::Semaphore;
use webswarm_core::webseed::RangeRequest;

/// Requests in flight to one host at once (browsers allow 6 per host).
const PER_HOST: usize = 4;
/// One range request, connect to last byte.
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("webseed {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("webseed {url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("webseed {url} sent {got} bytes for a {want}-byte range")]
    Length { url: String, got: usize, want: u64 },
}

pub struct Fetcher {
    http: reqwest::Client,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Fetcher {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("webswarm/", env!("CARGO_PKG_VERSION")))
            .build()
            // Only fails when the TLS backend cannot initialise, which the
            // built-in rustls with webpki roots always can.
            .expect("HTTP client with built-in rustls");
        Fetcher {
            http,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    fn host_slot(&self, url: &str) -> Arc<Semaphore> {
        let host = url
            .split("://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or(url)
            .to_owned();
        // A poisoned lock only means another fetch panicked; the map is still valid.
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts
            .entry(host)
            .or_insert_with(|| Arc::new(Semaphore::new(PER_HOST)))
            .clone()
    }

    /// Fetches `len` bytes described by `reqs`; bytes no request covers
    /// (padding files) stay zero.
    pub async fn fetch(&self, reqs: Vec<RangeRequest>, len: u32) -> Result<Bytes, FetchError> {
        let mut buf = BytesMut::zeroed(len as usize);
        for r in reqs {
            let data = self.range(&r).await?;
            let at = r.dest as usize;
            buf[at..at + data.len()].copy_from_slice(&data);
        }
        Ok(buf.freeze())
    }

    async fn range(&self, r: &RangeRequest) -> Result<Bytes, FetchError> {
        let slot = self.host_slot(&r.url);
        // The semaphore lives as long as the map, which is never closed.
        let _permit = slot
            .acquire()
            .await
            .expect("host semaphore is never closed");
        let http = |source| FetchError::Http {
            url: r.url.clone(),
            source,
        };
        let resp = self
            .http
            .get(&r.url)
            .header("Range", format!("bytes={}-{}", r.start, r.end))
            .send()
            .await
            .map_err(http)?;
        let status = resp.status().as_u16();
        let want = r.end - r.start + 1;
        // 200 is a server ignoring Range: usable only when the range is the
        // whole body, never worth downloading a whole file for one piece.
        let whole = status == 200 && r.start == 0 && resp.content_length() == Some(want);
        if status != 206 && !whole {
            return Err(FetchError::Status {
                url: r.url.clone(),
                status,
            });
        }
        let body = resp.bytes().await.map_err(http)?;
        if body.len() as u64 != want {
            return Err(FetchError::Length {
                url: r.url.clone(),
                got: body.len(),
                want,
            });
        }
        Ok(body)
    }
}

impl Default for Fetcher {
    fn default() -> Self {
        Self::new()
    }
}
