// The reference WebSocket tracker (npm bittorrent-tracker) for side-by-side
// benchmarks: WebSocket only, on 127.0.0.1, an ephemeral port printed on start.
import Server from 'bittorrent-tracker/server'

const server = new Server({ udp: false, http: false, ws: true, stats: false })
server.on('error', (e) => console.error('error:', e.message))
server.on('warning', () => {})
server.listen(0, '127.0.0.1', () => {
  console.log(`listening on ws://127.0.0.1:${server.ws.address().port}`)
})
