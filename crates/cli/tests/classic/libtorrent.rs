//! python3-libtorrent programs the tests run (`/usr/bin/python3 -c`).

/// python3-libtorrent: a DHT of N nodes on loopback (ports given), the
/// first seeding `dir` (a torrent with no tracker). Prints the info-hash,
/// then "ready" once another node finds the seeder through the DHT.
pub const LIBTORRENT_DHT: &str = r#"
import sys, os, time, libtorrent as lt
src, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
def node(port):
    return lt.session({'listen_interfaces': '127.0.0.1:%d' % port, 'enable_dht': True,
        'dht_bootstrap_nodes': '', 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'enable_outgoing_utp': False, 'enable_incoming_utp': False,
        # Every node is 127.0.0.1: the defaults would keep one per address.
        'dht_restrict_routing_ips': False, 'dht_restrict_search_ips': False,
        'dht_ignore_dark_internet': False, 'dht_enforce_node_id': False,
        'dht_prefer_verified_node_ids': False, 'allow_multiple_connections_per_ip': True,
        'alert_mask': lt.alert.category_t.dht_operation_notification})
nodes = [node(p) for p in ports]
# Bootstrap routers are not kept in libtorrent's routing table: add nodes.
for s in nodes:
    for p in ports:
        s.add_dht_node(('127.0.0.1', p))
fs = lt.file_storage()
lt.add_files(fs, src)
# v1 only: a hybrid torrent's "best" info-hash is its truncated v2 one.
t = lt.create_torrent(fs, 0, lt.create_torrent.v1_only)
lt.set_piece_hashes(t, os.path.dirname(src))
ti = lt.torrent_info(t.generate())
nodes[0].add_torrent({'ti': ti, 'save_path': os.path.dirname(src)})
print(str(ti.info_hashes().v1), flush=True)
deadline = time.time() + 60
while time.time() < deadline:
    nodes[-1].dht_get_peers(ti.info_hashes().v1)
    time.sleep(1)
    if any(isinstance(a, lt.dht_get_peers_reply_alert) and a.num_peers() > 0 for a in nodes[-1].pop_alerts()):
        print('ready', flush=True)
        break
else:
    sys.exit('the DHT never found the seeder')
time.sleep(600)
"#;

/// python3-libtorrent, two sessions: B seeds `torrent` from `src` and is on
/// no tracker and speaks no PEX; A (announced to the torrent's tracker)
/// holds no data and downloads none (upload mode), connected to B. Whoever finishes from A's swarm
/// learnt B from A's PEX messages. Prints "ready"; exits when killed.
pub const LIBTORRENT_PEX: &str = r#"
import sys, time, libtorrent as lt
torrent, src, empty, pa, pb = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def sess(port, extra={}, plugins=True):
    s = {'listen_interfaces': '127.0.0.1:%d' % port, 'enable_dht': False, 'enable_lsd': False,
         'enable_upnp': False, 'enable_natpmp': False, 'enable_outgoing_utp': False,
         'enable_incoming_utp': False, 'allow_multiple_connections_per_ip': True,
         # A wants nothing and B has everything: kept connected all the same.
         'close_redundant_connections': False}
    s.update(extra)
    return lt.session(s) if plugins else lt.session(s, 0)
# B without plugins: no PEX of its own, so it cannot learn webswarm from A
# and connect first; the connection must be webswarm's.
a, b = sess(pa), sess(pb, plugins=False)
# Paused until its tracker is gone: B must not announce even once.
hb = b.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': src, 'flags': lt.torrent_flags.paused})
hb.replace_trackers([])
hb.resume()
# Upload mode: A downloads nothing (rate limits do not apply on loopback).
ha = a.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': empty,
                    'flags': lt.torrent_flags.upload_mode})
while not hb.status().is_seeding:
    time.sleep(0.1)
ha.connect_peer(('127.0.0.1', pb))
while not any(p.ip[1] == pb for p in ha.get_peer_info()):
    time.sleep(0.1)
print('ready', flush=True)
time.sleep(600)
"#;

/// python3-libtorrent, two sessions: B serves what `src` holds of `torrent`
/// through its tracker, with no PEX of its own; once told "go PORT" on
/// stdin, C (on no tracker) connects to PORT only, and exits 0 once it has
/// connected to B, which it can only have learnt from PORT's PEX.
pub const LIBTORRENT_PEX_LEARN: &str = r#"
import sys, time, libtorrent as lt
torrent, src, empty, pb, pc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def sess(port, plugins=True):
    s = {'listen_interfaces': '127.0.0.1:%d' % port, 'enable_dht': False, 'enable_lsd': False,
         'enable_upnp': False, 'enable_natpmp': False, 'enable_outgoing_utp': False,
         'enable_incoming_utp': False, 'allow_multiple_connections_per_ip': True,
         'close_redundant_connections': False}
    return lt.session(s) if plugins else lt.session(s, 0)
b, c = sess(pb, plugins=False), sess(pc)
hb = b.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': src})
while hb.status().state != lt.torrent_status.downloading:
    time.sleep(0.1)
print('ready', flush=True)
port = int(sys.stdin.readline().split()[1])
# Nobody has the second file: C never completes and keeps looking for peers.
hc = c.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': empty,
                    'flags': lt.torrent_flags.paused})
hc.replace_trackers([])
hc.resume()
t = time.time()
tried = 0
while time.time() - t < 60:
    peers = hc.get_peer_info()
    if any(p.ip[1] == pb for p in peers):
        print('learnt B after %.1f s' % (time.time() - t), flush=True)
        sys.exit(0)
    # Until the torrent has started, a connect is dropped: ask again.
    if not peers and time.time() - tried > 2:
        hc.connect_peer(('127.0.0.1', port))
        tried = time.time()
    time.sleep(0.2)
sys.exit('C never connected to B: %s' % [p.ip for p in hc.get_peer_info()])
"#;

/// A python3-libtorrent leecher: downloads `torrent` into `dir` over the
/// wire named third (`tcp` or `utp`) only and exits 0 once it is seeding.
/// `tcp+rc4` / `utp+rc4`: it speaks Message Stream Encryption only, RC4
/// for the data too ("require encryption").
pub const LIBTORRENT_GET: &str = r#"
import sys, time, libtorrent as lt
torrent, dest, wire = sys.argv[1], sys.argv[2], sys.argv[3]
wire, _, rc4 = wire.partition('+')
utp = wire == 'utp'
settings = {'listen_interfaces': '127.0.0.1:0', 'enable_dht': False, 'enable_lsd': False,
            'enable_upnp': False, 'enable_natpmp': False, 'enable_outgoing_utp': utp,
            'enable_incoming_utp': utp, 'enable_outgoing_tcp': not utp,
            'enable_incoming_tcp': not utp, 'allow_multiple_connections_per_ip': True}
if rc4:
    settings.update({'out_enc_policy': lt.enc_policy.forced, 'in_enc_policy': lt.enc_policy.forced,
                     'allowed_enc_level': lt.enc_level.rc4})
s = lt.session(settings)
h = s.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': dest})
t = time.time()
while not h.status().is_seeding:
    if time.time() - t > 100:
        sys.exit('libtorrent: no progress: %s' % h.status().progress)
    time.sleep(0.1)
print('libtorrent done in %.2f s over %s' % (time.time() - t, wire))
"#;

/// A python3-libtorrent seeder of `torrent` from `src`, announced to the
/// torrent's tracker from `port`, on one wire (`tcp` or `utp`: the other
/// takes and makes no connection); `+rc4` (`tcp+rc4`): Message Stream
/// Encryption only, RC4 for the data too. Prints "ready" once seeding.
pub const LIBTORRENT_SEED: &str = r#"
import sys, time, libtorrent as lt
torrent, src, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
wire, _, rc4 = sys.argv[4].partition('+')
utp = wire == 'utp'
settings = {'listen_interfaces': '127.0.0.1:%d' % port, 'enable_dht': False, 'enable_lsd': False,
            'enable_upnp': False, 'enable_natpmp': False, 'enable_outgoing_utp': utp,
            'enable_incoming_utp': utp, 'enable_outgoing_tcp': not utp,
            'enable_incoming_tcp': not utp, 'allow_multiple_connections_per_ip': True}
if rc4:
    settings.update({'out_enc_policy': lt.enc_policy.forced, 'in_enc_policy': lt.enc_policy.forced,
                     'allowed_enc_level': lt.enc_level.rc4})
s = lt.session(settings)
h = s.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': src})
while not h.status().is_seeding:
    time.sleep(0.1)
print('ready', flush=True)
time.sleep(600)
"#;
