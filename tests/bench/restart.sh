#!/bin/bash
# A native download SIGKILLed mid-way and started again: the time from the
# restart to its "resuming" line (what it hashes before it goes on), and with
# FULL=1 to its end (byte-compared with the source).
#
#   tests/bench/restart.sh [MiB] [kill-after-s] [runs]    (1024 17 3)
#   COLD=1 ...   drop the page cache after each kill (root): as after a reboot
#   BIN=path ... another `webswarm` binary (e.g. an older build, to compare)
#
# The seeder is capped at 50 MB/s, so 17 s into 1 GiB is ~70 %.
set -eu
MIB=${1:-1024}; KILL=${2:-17}; RUNS=${3:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/target/release/webswarm}
TRACKER=$ROOT/target/release/webswarm-tracker
D=$(mktemp -d /tmp/webswarm-restart.XXXXXX)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$D"' EXIT
mkdir -p "$D/src"
head -c $((MIB << 20)) /dev/urandom > "$D/src/data.bin"
PORT=$((20000 + RANDOM % 10000))
"$TRACKER" --bind 127.0.0.1:$PORT > "$D/tracker.log" 2>&1 & PIDS+=($!)
sleep 0.5
NET=(--bind 127.0.0.1 --no-utp --listen-port 0)
"$BIN" seed "$D/src/data.bin" -t ws://127.0.0.1:$PORT "${NET[@]}" --max-upload-rate 50M \
  --torrent-out "$D/data.torrent" > "$D/seed.log" 2>&1 & PIDS+=($!)
until grep -q "^seeding" "$D/seed.log"; do sleep 0.2; done
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
for r in $(seq "$RUNS"); do
  rm -rf "$D/dl"
  "$BIN" get "$D/data.torrent" -o "$D/dl" "${NET[@]}" > /dev/null 2> "$D/get1.log" & G=$!
  sleep "$KILL"; kill -9 $G; wait $G 2>/dev/null || true
  sync
  [ -n "${COLD:-}" ] && echo 3 > /proc/sys/vm/drop_caches
  T0=$(now)
  "$BIN" get "$D/data.torrent" -o "$D/dl" "${NET[@]}" > /dev/null 2> "$D/get2.log" & G=$!
  until grep -q "resuming\|downloaded\|rror" "$D/get2.log" || ! kill -0 $G 2>/dev/null; do sleep 0.01; done
  echo "run $r: $(since "$T0") s to: $(grep -m1 -o 'resuming.*' "$D/get2.log")"
  if [ -n "${FULL:-}" ]; then
    wait $G
    echo "  ended after $(since "$T0") s; $(cmp "$D/src/data.bin" "$D/dl/data.bin" && echo same bytes)"
  else
    kill -9 $G; wait $G 2>/dev/null || true
  fi
done
