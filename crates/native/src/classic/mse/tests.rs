use super::*;
use tokio::io::{duplex, split, AsyncReadExt, AsyncWriteExt, DuplexStream};

const TORRENT: InfoHash = InfoHash([7; 20]);

fn known(marker: &[u8; 20]) -> Option<InfoHash> {
    (*marker == torrent_marker(&TORRENT)).then_some(TORRENT)
}

/// A handshake over an in-memory pipe, as the listener runs it (68 bytes of
/// A's key read first).
/// A side whose handshake failed hangs up, as the listener and dialer do.
async fn pair(
    provide: u32,
    allow: u32,
) -> (
    Result<Negotiated, MseError>,
    Result<Accepted, MseError>,
    Option<DuplexStream>,
    Option<DuplexStream>,
) {
    let (mut a, mut b) = duplex(1 << 16);
    let ours = async {
        let r = initiate(&mut a, &TORRENT, provide).await;
        let a = r.is_ok().then_some(a);
        (r, a)
    };
    let theirs = async {
        let mut first = [0u8; 68];
        b.read_exact(&mut first).await.unwrap();
        let r = accept(&mut b, &first, known, allow).await;
        let b = r.is_ok().then_some(b);
        (r, b)
    };
    let ((ra, a), (rb, b)) = tokio::join!(ours, theirs);
    (ra, rb, a, b)
}

/// Bytes written on one side come out on the other, through the ciphers.
async fn talk(a: DuplexStream, na: Negotiated, b: DuplexStream, nb: Negotiated) {
    let (ar, aw) = split(a);
    let (br, bw) = split(b);
    let (mut ar, mut aw) = (Decrypting::new(ar, na.read), Encrypting::new(aw, na.write));
    let (mut br, mut bw) = (Decrypting::new(br, nb.read), Encrypting::new(bw, nb.write));
    let msg: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    aw.write_all(&msg).await.unwrap();
    aw.flush().await.unwrap();
    let mut got = vec![0u8; msg.len()];
    br.read_exact(&mut got).await.unwrap();
    assert_eq!(got, msg);
    bw.write_all(b"and back").await.unwrap();
    bw.flush().await.unwrap();
    let mut got = [0u8; 8];
    ar.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"and back");
}

#[tokio::test]
async fn rc4_when_only_rc4_is_offered() {
    let (a, b, sa, sb) = pair(RC4, PLAINTEXT | RC4).await;
    let (a, b, sa, sb) = (a.unwrap(), b.unwrap(), sa.unwrap(), sb.unwrap());
    assert!(a.is_encrypted() && b.negotiated.is_encrypted());
    assert_eq!(b.info_hash, TORRENT);
    assert!(b.initial.is_empty());
    talk(sa, a, sb, b.negotiated).await;
}

#[tokio::test]
async fn plaintext_after_the_handshake_when_both_allow_it() {
    let (a, b, sa, sb) = pair(PLAINTEXT | RC4, PLAINTEXT | RC4).await;
    let (a, b, sa, sb) = (a.unwrap(), b.unwrap(), sa.unwrap(), sb.unwrap());
    assert!(!a.is_encrypted() && !b.negotiated.is_encrypted());
    talk(sa, a, sb, b.negotiated).await;
}

#[tokio::test]
async fn refusals_say_why() {
    let (a, b, _, _) = pair(PLAINTEXT, RC4).await;
    assert!(matches!(b, Err(MseError::NoMethod(PLAINTEXT, RC4))));
    assert!(
        matches!(a, Err(MseError::Io(_))),
        "the initiator sees the hang-up"
    );

    // A torrent the listener does not have.
    let (mut a, mut b) = duplex(1 << 16);
    let other = async { initiate(&mut a, &InfoHash([8; 20]), RC4).await };
    let ours = async move { accept(&mut b, &[], known, RC4).await };
    let (_, r) = tokio::join!(other, ours);
    assert!(matches!(r, Err(MseError::UnknownTorrent)));
}

#[tokio::test]
async fn junk_is_refused_without_reading_forever() {
    // A key of all ones is P's neighbourhood: refused as a key.
    let (mut a, mut b) = duplex(1 << 16);
    a.write_all(&[0xff; 96]).await.unwrap();
    assert!(matches!(
        accept(&mut b, &[], known, RC4).await,
        Err(MseError::BadKey)
    ));

    // A fine key followed by junk: no marker within the padding limit.
    let (mut a, mut b) = duplex(1 << 16);
    let mut junk = vec![0x55u8; 96 + 2000];
    junk[0] = 0x12;
    a.write_all(&junk).await.unwrap();
    let r = accept(&mut b, &[], known, RC4).await;
    assert!(
        matches!(r, Err(MseError::NoSync(n)) if n == MAX_PAD + 20),
        "{:?}",
        r.err()
    );

    // A peer that hangs up half-way.
    let (mut a, mut b) = duplex(1 << 16);
    a.write_all(&[0x12; 50]).await.unwrap();
    drop(a);
    assert!(matches!(
        accept(&mut b, &[], known, RC4).await,
        Err(MseError::Io(_))
    ));
}

#[test]
fn the_prime_is_the_specified_768_bits() {
    assert_eq!(prime().bits(), 768);
    assert_eq!(fixed(&prime()).len(), KEY_LEN);
    assert_eq!(fixed(&BigUint::from(258u32))[94..], [1, 2]);
}

/// Random streams of every length up to past the padding limits: each ends
/// in an error (none of them is a handshake), none panics or waits for more
/// once the peer has hung up.
#[tokio::test]
async fn random_streams_end_in_an_error() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..300 {
        let len = (next() % 1600) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let (mut a, mut b) = duplex(1 << 16);
        a.write_all(&bytes).await.unwrap();
        drop(a);
        let r = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            accept(&mut b, &[], known, PLAINTEXT | RC4),
        )
        .await
        .expect("returns once the peer hung up");
        assert!(r.is_err());
        // The initiator's side of the same: a responder that talks junk.
        // (It stays to take what the initiator writes, and sends no more.)
        let (mut a, mut b) = duplex(1 << 16);
        b.write_all(&bytes).await.unwrap();
        b.shutdown().await.unwrap();
        assert!(initiate(&mut a, &TORRENT, RC4).await.is_err());
        drop(b);
    }
}
