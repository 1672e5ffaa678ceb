//! The browser peer in headless Chromium: the API, storage, resume, and
//! real WebRTC between two peers of one page (signalled in memory).
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use webswarm_web::api::{Client, Torrent};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(cb: &js_sys::Function, ms: i32) -> i32;
}

// Loses the verified-piece record, as a reload during its write can.
#[wasm_bindgen(inline_js = r#"
export async function dropHave(hex) {
  const root = await navigator.storage.getDirectory();
  const dir = await (await root.getDirectoryHandle('webswarm')).getDirectoryHandle(hex);
  await dir.removeEntry('have');
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = dropHave)]
    fn drop_have(hex: &str) -> js_sys::Promise;
}

fn opts(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

/// No STUN: the test network has only loopback.
fn client(storage: &str) -> Client {
    Client::new(opts(&[
        ("iceServers", Array::new().into()),
        ("storage", storage.into()),
    ]))
    .unwrap()
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn blob(data: &[u8], name: &str) -> JsValue {
    let parts = Array::of1(&Uint8Array::from(data));
    web_sys::File::new_with_u8_array_sequence(&parts, name)
        .unwrap()
        .into()
}

async fn error_of(p: js_sys::Promise) -> String {
    match JsFuture::from(p).await {
        Ok(_) => panic!("expected a rejection"),
        Err(e) => e.dyn_into::<js_sys::Error>().unwrap().message().into(),
    }
}

async fn seeded(c: &Client, data: &[u8]) -> Torrent {
    c.seed_files(
        &blob(data, "data.bin"),
        &opts(&[("pieceLength", 65536.into())]),
    )
    .await
    .unwrap()
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..600 {
        if f() {
            return;
        }
        sleep(50).await;
    }
    panic!("timed out waiting for {what}");
}

async fn sleep(ms: i32) {
    let p = js_sys::Promise::new(&mut |r, _| {
        set_timeout(&r, ms);
    });
    JsFuture::from(p).await.unwrap();
}

#[wasm_bindgen_test]
async fn bad_input_is_rejected_with_a_clear_error() {
    let c = client("memory");
    let e = error_of(c.add("magnet:?xt=urn:btih:nothex".into(), JsValue::UNDEFINED)).await;
    assert!(e.contains("invalid magnet link"), "{e}");
    let junk = Uint8Array::from(&b"d4:infoi3ee"[..]);
    let e = error_of(c.add(junk.into(), JsValue::UNDEFINED)).await;
    assert!(e.contains("invalid torrent file"), "{e}");
    let e = error_of(c.add(42.into(), JsValue::UNDEFINED)).await;
    assert!(e.contains("expected a magnet link"), "{e}");
    let e = error_of(c.add(
        "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567".into(),
        opts(&[("storage", "disk".into())]),
    ))
    .await;
    assert!(e.contains("option `storage`"), "{e}");
    assert!(Client::new(opts(&[("maxConnections", "many".into())])).is_err());
}

#[wasm_bindgen_test]
async fn seeding_makes_a_torrent_whose_data_reads_back() {
    let c = client("memory");
    let data = pattern(300_000, 1);
    let t = seeded(&c, &data).await;
    assert_eq!(t.length(), Some(300_000.0));
    assert!(t.done());
    assert!(t.magnet_uri().starts_with("magnet:?xt=urn:btih:"));
    let file = t.torrent_file().unwrap().to_vec();
    let meta = webswarm_core::Metainfo::from_bytes(&file).unwrap();
    assert_eq!(meta.info.info_hash.to_hex(), t.info_hash());
    assert_eq!(
        meta.info.piece_hashes[1],
        webswarm_core::sha1(&data[65536..131072])
    );
    let part = t.read_range(70_000, 200_000).await.unwrap().to_vec();
    assert_eq!(part, &data[70_000..200_000]);
    // The same content twice is refused.
    let e = c
        .seed_files(
            &blob(&data, "data.bin"),
            &opts(&[("pieceLength", 65536.into())]),
        )
        .await;
    assert!(e.is_err());
}

/// Seeds in one client, downloads in another of the same page over a real
/// data channel, and checks every byte.
async fn transfer(storage: &str, len: usize) -> (Client, Torrent, Vec<u8>) {
    let data = pattern(len, 7);
    let (seeder, s, leecher, l) = connected(storage, &data).await;
    wait_until("the download", || l.done()).await;
    assert_eq!(l.read_range(0, len as u64).await.unwrap().to_vec(), data);
    assert!(s.uploaded() >= len as f64);
    drop(seeder);
    (leecher, l, data)
}

/// A memory seeder of `data` and a leecher with `storage`, connected
/// directly; returns both clients and torrents.
async fn connected(storage: &str, data: &[u8]) -> (Client, Torrent, Client, Torrent) {
    let seeder = client("memory");
    let s = seeded(&seeder, data).await;
    let leecher = client(storage);
    let l = leecher
        .add_torrent(&s.torrent_file().unwrap().into(), &JsValue::UNDEFINED)
        .await
        .unwrap();
    l.wait_ready().await.unwrap();
    l.connect_direct(&s).await.unwrap();
    (seeder, s, leecher, l)
}

/// The same torrent added by magnet to a new OPFS client, as after a reload.
async fn reopened(t: &Torrent) -> Torrent {
    let magnet = format!("magnet:?xt=urn:btih:{}", t.info_hash());
    client("opfs")
        .add_torrent(&magnet.into(), &JsValue::UNDEFINED)
        .await
        .unwrap()
}

#[wasm_bindgen_test]
async fn two_peers_in_one_page_transfer_over_webrtc() {
    transfer("memory", 3 << 20).await;
}

#[wasm_bindgen_test]
async fn opfs_download_resumes_after_the_client_is_gone() {
    let (leecher, l, data) = transfer("opfs", 2 << 20).await;
    leecher.destroy();
    // A new client (as after a reload) finds every piece verified on disk.
    let t = reopened(&l).await;
    t.wait_ready().await.unwrap();
    assert!(t.done(), "resumed torrent should be complete without peers");
    assert_eq!(
        t.read_range(0, data.len() as u64).await.unwrap().to_vec(),
        data
    );
    assert_eq!(t.downloaded(), 0.0, "nothing was fetched again");
    JsFuture::from(t.destroy(opts(&[("removeStorage", true.into())])))
        .await
        .unwrap();
}

#[wasm_bindgen_test]
async fn pieces_on_disk_are_recovered_when_the_record_is_lost() {
    let (leecher, l, data) = transfer("opfs", 1 << 20).await;
    leecher.destroy();
    sleep(200).await;
    JsFuture::from(drop_have(&l.info_hash())).await.unwrap();
    let t = reopened(&l).await;
    t.wait_ready().await.unwrap();
    assert!(t.done(), "every piece file should be found and verified");
    assert_eq!(
        t.read_range(0, data.len() as u64).await.unwrap().to_vec(),
        data
    );
    JsFuture::from(t.destroy(opts(&[("removeStorage", true.into())])))
        .await
        .unwrap();
}

#[wasm_bindgen_test]
async fn removing_storage_mid_download_deletes_everything() {
    let (_seeder, _s, leecher, l) = connected("opfs", &pattern(8 << 20, 9)).await;
    wait_until("some progress", || l.progress() > 0.2).await;
    // Piece and bitfield writes are in flight: removal must wait for them.
    JsFuture::from(l.destroy(opts(&[("removeStorage", true.into())])))
        .await
        .expect("removal waits for in-flight writes");
    leecher.destroy();
    let t = reopened(&l).await;
    assert_eq!(t.length(), None, "nothing of the torrent is left in OPFS");
}
