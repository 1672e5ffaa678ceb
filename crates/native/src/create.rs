//! Making a .torrent from files on disk: the host reads, the core hashes.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use webswarm_core::{Metainfo, MetainfoError, TorrentCreator};

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{0} has no files to share")]
    Empty(PathBuf),
    #[error("{path} has a name that is not UTF-8")]
    Name { path: PathBuf },
    #[error(transparent)]
    Metainfo(#[from] MetainfoError),
}

pub struct CreateOptions {
    pub trackers: Vec<String>,
    pub webseeds: Vec<String>,
    pub piece_len: Option<u64>,
    /// BEP 27.
    pub private: bool,
}

/// Hashes `path` (a file, or a directory taken recursively in name order)
/// and returns the .torrent bytes and their parsed form. `progress` gets the
/// bytes hashed so far and the total.
pub fn create_torrent(
    path: &Path,
    opts: &CreateOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(Vec<u8>, Metainfo), CreateError> {
    let read_err = |p: &Path| {
        let path = p.to_path_buf();
        move |source| CreateError::Read { path, source }
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| CreateError::Name {
            path: path.to_path_buf(),
        })?
        .to_owned();
    let meta = std::fs::metadata(path).map_err(read_err(path))?;
    let files: Vec<(Vec<String>, PathBuf, u64)> = if meta.is_dir() {
        let mut out = Vec::new();
        walk(path, &mut Vec::new(), &mut out)?;
        out
    } else {
        vec![(Vec::new(), path.to_path_buf(), meta.len())]
    };
    if files.is_empty() {
        return Err(CreateError::Empty(path.to_path_buf()));
    }
    let list = files.iter().map(|(p, _, len)| (p.clone(), *len)).collect();
    let mut c = TorrentCreator::new(&name, list, opts.piece_len)?;
    c.trackers = opts.trackers.iter().map(|t| vec![t.clone()]).collect();
    c.url_list = opts.webseeds.clone();
    c.private = opts.private;
    let total = c.total_len();
    let mut done = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    for (_, p, _) in &files {
        let mut f = File::open(p).map_err(read_err(p))?;
        loop {
            let n = f.read(&mut buf).map_err(read_err(p))?;
            if n == 0 {
                break;
            }
            c.update(&buf[..n]);
            done += n as u64;
            progress(done, total);
        }
    }
    Ok(c.finish()?)
}

fn walk(
    dir: &Path,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, PathBuf, u64)>,
) -> Result<(), CreateError> {
    let err = |source| CreateError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = e
            .file_name()
            .into_string()
            .map_err(|_| CreateError::Name { path: path.clone() })?;
        let meta = e.metadata().map_err(err)?;
        prefix.push(name);
        if meta.is_dir() {
            walk(&path, prefix, out)?;
        } else if meta.is_file() {
            out.push((prefix.clone(), path, meta.len()));
        }
        prefix.pop();
    }
    Ok(())
}
