//! The Origin Private File System. Each torrent gets a directory
//! `webswarm/<info-hash hex>/` holding one file per verified piece (`p<N>`),
//! the info dictionary (`info`) and the verified-piece bitfield (`have`).
//! One file per piece means every write is a small new file: no whole-file
//! copy, which `createWritable` on a big file would make on each commit.

use js_sys::{ArrayBuffer, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    File, FileSystemDirectoryHandle, FileSystemFileHandle, FileSystemGetDirectoryOptions,
    FileSystemGetFileOptions, FileSystemRemoveOptions, FileSystemWritableFileStream,
};
use webswarm_core::{Bitfield, Info, InfoHash, PieceIndex};

use super::Resume;
use crate::error::{js_message, WebError};

#[wasm_bindgen(inline_js = r#"
export function opfsRoot() {
  const s = globalThis.navigator && navigator.storage;
  return s && s.getDirectory ? s.getDirectory() : null;
}
export async function entryNames(dir) {
  const names = [];
  for await (const name of dir.keys()) names.push(name);
  return names;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = opfsRoot)]
    fn opfs_root() -> Option<Promise>;
    #[wasm_bindgen(js_name = entryNames)]
    fn entry_names(dir: &FileSystemDirectoryHandle) -> Promise;
}

const ROOT_DIR: &str = "webswarm";

pub fn opfs_available() -> bool {
    opfs_root().is_some()
}

fn err(e: JsValue) -> WebError {
    WebError::Storage(js_message(&e))
}

async fn await_as<T: JsCast>(p: Promise) -> Result<T, WebError> {
    JsFuture::from(p)
        .await
        .map_err(err)?
        .dyn_into()
        .map_err(err)
}

async fn torrent_dir(hash: InfoHash, create: bool) -> Result<FileSystemDirectoryHandle, WebError> {
    let root = opfs_root().ok_or_else(|| {
        WebError::Storage("this browser has no Origin Private File System".into())
    })?;
    let root: FileSystemDirectoryHandle = await_as(root).await?;
    let opts = FileSystemGetDirectoryOptions::new();
    opts.set_create(create);
    let ours: FileSystemDirectoryHandle =
        await_as(root.get_directory_handle_with_options(ROOT_DIR, &opts)).await?;
    await_as(ours.get_directory_handle_with_options(&hash.to_hex(), &opts)).await
}

async fn write_file(
    dir: &FileSystemDirectoryHandle,
    name: &str,
    data: &Uint8Array,
) -> Result<(), WebError> {
    let opts = FileSystemGetFileOptions::new();
    opts.set_create(true);
    let fh: FileSystemFileHandle = await_as(dir.get_file_handle_with_options(name, &opts)).await?;
    let w: FileSystemWritableFileStream = await_as(fh.create_writable()).await?;
    JsFuture::from(w.write_with_js_u8_array(data).map_err(err)?)
        .await
        .map_err(err)?;
    JsFuture::from(w.close()).await.map_err(err)?;
    Ok(())
}

async fn file(dir: &FileSystemDirectoryHandle, name: &str) -> Result<File, WebError> {
    let fh: FileSystemFileHandle = await_as(dir.get_file_handle(name)).await?;
    await_as(fh.get_file()).await
}

async fn read_file(dir: &FileSystemDirectoryHandle, name: &str) -> Result<Uint8Array, WebError> {
    let f = file(dir, name).await?;
    let buf: ArrayBuffer = await_as(f.array_buffer()).await?;
    Ok(Uint8Array::new(&buf))
}

/// A DOMException saying a file is open for writing elsewhere.
fn is_busy(e: &JsValue) -> bool {
    js_sys::Reflect::get(e, &JsValue::from_str("name"))
        .ok()
        .and_then(|n| n.as_string())
        .is_some_and(|n| n == "NoModificationAllowedError" || n == "InvalidModificationError")
}

fn piece_name(piece: PieceIndex) -> String {
    format!("p{}", piece.get())
}

pub struct OpfsStore {
    hash: InfoHash,
    dir: FileSystemDirectoryHandle,
}

impl OpfsStore {
    pub async fn open(hash: InfoHash) -> Result<Self, WebError> {
        Ok(OpfsStore {
            hash,
            dir: torrent_dir(hash, true).await?,
        })
    }

    pub async fn read(&self, piece: PieceIndex) -> Result<Uint8Array, WebError> {
        read_file(&self.dir, &piece_name(piece)).await
    }

    pub async fn write(&self, piece: PieceIndex, data: &Uint8Array) -> Result<(), WebError> {
        write_file(&self.dir, &piece_name(piece), data).await
    }

    /// The piece's file: a disk-backed Blob.
    pub async fn part(&self, piece: PieceIndex) -> Result<JsValue, WebError> {
        Ok(file(&self.dir, &piece_name(piece)).await?.into())
    }

    pub async fn save_have(&self, have: &Bitfield) -> Result<(), WebError> {
        write_file(&self.dir, "have", &Uint8Array::from(have.as_bytes())).await
    }

    pub async fn remove(&self) -> Result<(), WebError> {
        let root: FileSystemDirectoryHandle =
            await_as(opfs_root().ok_or(WebError::Destroyed)?).await?;
        let ours: FileSystemDirectoryHandle = await_as(root.get_directory_handle(ROOT_DIR)).await?;
        let opts = FileSystemRemoveOptions::new();
        opts.set_recursive(true);
        // Writes still in flight (a piece, the bitfield) keep files open, and
        // removal fails while they are: wait for them, up to a few seconds.
        let mut tries = 0;
        loop {
            match JsFuture::from(ours.remove_entry_with_options(&self.hash.to_hex(), &opts)).await {
                Ok(_) => return Ok(()),
                Err(e) if tries < 60 && is_busy(&e) => {
                    tries += 1;
                    crate::platform::sleep(50.0).await;
                }
                Err(e) => return Err(err(e)),
            }
        }
    }
}

pub async fn save_info(info: &Info) -> Result<(), WebError> {
    let dir = torrent_dir(info.info_hash, true).await?;
    write_file(&dir, "info", &Uint8Array::from(&info.raw[..])).await
}

pub async fn load_resume(hash: InfoHash) -> Resume {
    let none = Resume {
        info: None,
        have: None,
    };
    let Ok(dir) = torrent_dir(hash, false).await else {
        return none;
    };
    let Ok(raw) = read_file(&dir, "info").await else {
        return none;
    };
    // A record that does not hash to the torrent's id is ignored, not trusted.
    let Ok(info) = Info::from_bytes_checked(&raw.to_vec(), hash) else {
        return none;
    };
    let n = info.layout.num_pieces();
    let mut have = match read_file(&dir, "have").await {
        Ok(bits) => Bitfield::from_wire(&bits.to_vec(), n),
        Err(_) => None,
    }
    .unwrap_or_else(|| Bitfield::new(n));
    recover_unrecorded(&dir, &info, &mut have).await;
    Resume {
        info: Some(info),
        have: Some(have),
    }
}

/// Piece files written after the last bitfield write (a reload can cut that
/// write short): each is hashed and, if right, counted. Only these are
/// hashed; pieces the bitfield records are trusted.
async fn recover_unrecorded(dir: &FileSystemDirectoryHandle, info: &Info, have: &mut Bitfield) {
    let Ok(names) = JsFuture::from(entry_names(dir)).await else {
        return;
    };
    let names: js_sys::Array = names.unchecked_into();
    for name in names.iter().filter_map(|n| n.as_string()) {
        let Some(piece) = name
            .strip_prefix('p')
            .and_then(|i| i.parse::<u32>().ok())
            .and_then(|i| info.layout.piece(i))
        else {
            continue;
        };
        if have.get(piece.get()) {
            continue;
        }
        let Ok(data) = read_file(dir, &name).await else {
            continue;
        };
        if data.length() == info.layout.piece_size(piece)
            && crate::hash::sha1_js(&data).await == info.piece_hash(piece)
        {
            have.set(piece.get());
        }
    }
}
