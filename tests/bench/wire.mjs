// WebTorrent's wire parser (bittorrent-protocol) on the same streams as
// crates/core/examples/wire_bench.rs. Prints one JSON line.
import Wire from 'bittorrent-protocol'

function u32 (n) { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b }

function handshake () {
  const b = new Uint8Array(68)
  b[0] = 19
  b.set(new TextEncoder().encode('BitTorrent protocol'), 1)
  b[25] = 0x10; b[27] = 0x04
  b.fill(1, 28, 48); b.fill(2, 48, 68)
  return b
}

function stream (count, size, encode) {
  const out = new Uint8Array(68 + count * size)
  out.set(handshake(), 0)
  for (let i = 0; i < count; i++) encode(out, 68 + i * size, i)
  return out
}

function decode (data, chunk, event, expected) {
  let best = Infinity
  for (let run = 0; run < 5; run++) {
    const wire = new Wire()
    wire.on('error', () => {})
    let count = 0
    wire.on(event, () => { count++ })
    const started = performance.now()
    for (let i = 0; i < data.length; i += chunk) wire._write(data.subarray(i, i + chunk), () => {})
    const secs = (performance.now() - started) / 1000
    if (count !== expected) throw new Error(`${event}: ${count} of ${expected}`)
    best = Math.min(best, secs)
    wire.destroy()
  }
  return best
}

const pieces = 8192
const block = new Uint8Array(16384).fill(7)
const pieceStream = stream(pieces, 13 + 16384, (out, at, i) => {
  out.set(u32(9 + 16384), at); out[at + 4] = 7
  out.set(u32(Math.floor(i / 16)), at + 5); out.set(u32((i % 16) * 16384), at + 9)
  out.set(block, at + 13)
})
const haves = 1_000_000
const haveStream = stream(haves, 9, (out, at, i) => { out.set(u32(5), at); out[at + 4] = 4; out.set(u32(i), at + 5) })

const pieceSecs = decode(pieceStream, 16384 + 13, 'piece', pieces)
const haveSecs = decode(haveStream, 16384, 'have', haves)
console.log(JSON.stringify({ piece_mb_per_s: Math.round(pieces * 16384 / pieceSecs / 1e6), have_msgs_per_s: Math.round(haves / haveSecs) }))
