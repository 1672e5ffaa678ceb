"""A python3-libtorrent peer on loopback that speaks one wire (tcp or utp),
for bench/hybrid.mjs.

  libtorrent_peer.py seed WIRE TORRENT DIR PORT   seeds until killed; prints "ready"
                                                  once its tracker has answered
  libtorrent_peer.py get WIRE TORRENT DIR [PORT]  downloads (from 127.0.0.1:PORT, or
                                                  the tracker's peers); prints one JSON line
"""
import json, resource, sys, time
import libtorrent as lt

SETTINGS = {
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'allow_multiple_connections_per_ip': True,
    # Encryption as libtorrent has it by default: MSE tried first, plaintext
    # data preferred after it.
    'alert_mask': lt.alert.category_t.tracker_notification,
}

def session(port, wire):
    utp = wire == 'utp'
    return lt.session(dict(SETTINGS, listen_interfaces='127.0.0.1:%d' % port,
                           enable_outgoing_utp=utp, enable_incoming_utp=utp,
                           enable_outgoing_tcp=not utp, enable_incoming_tcp=not utp))

mode, wire, torrent, d = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
if mode == 'seed':
    s = session(int(sys.argv[5]), wire)
    # Checked before it serves, as a seeder that has been running is: with
    # seed_mode it would hash each piece on its first request instead, inside
    # the measured transfer.
    h = s.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': d})
    # A downloader that announces first would wait out the tracker's min interval.
    deadline, replied = time.time() + 30, False
    while time.time() < deadline and not (replied and h.status().is_seeding):
        replied |= any(isinstance(a, lt.tracker_reply_alert) for a in s.pop_alerts())
        time.sleep(0.02)
    print('ready', flush=True)
    while True:
        time.sleep(1)
else:
    s = session(0, wire)
    start = time.time()
    h = s.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': d})
    peer = ('127.0.0.1', int(sys.argv[5])) if len(sys.argv) > 5 else None
    first, asked = None, 0.0
    while not h.status().is_seeding:
        # A connect before the torrent has started is dropped: ask again.
        if peer and not h.get_peer_info() and time.time() - asked > 0.2:
            h.connect_peer(peer)
            asked = time.time()
        if first is None and h.status().num_pieces > 0:
            first = time.time() - start
        if time.time() - start > 300:
            sys.exit('libtorrent: no progress after 300 s')
        time.sleep(0.01)
    r = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({'secs': time.time() - start, 'first': first,
                      'cpu': r.ru_utime + r.ru_stime}), flush=True)
