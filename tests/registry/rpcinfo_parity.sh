#!/usr/bin/env bash
# The registry against the real thing, with the same registrations on both sides:
#   1. stock rpcinfo gives the same answers from ringrpc-bind as from stock rpcbind, for -p, -s,
#      the dump, -l, -T tcp|udp|tcp6, -t, -u, -a, -n, -d, and -m (whose counters must then
#      agree call for call);
#   2. ringrpc-info gives the same output as rpcinfo against stock rpcbind.
# Each run starts a fresh registry, then an rpcgen/libtirpc server that registers itself the way
# rpcgen's main() does (svc_create on every netpath transport) and a ringrpc echo-server that
# registers itself, then runs the same commands. Ports are ephemeral, so each run's ports are
# renamed P1, P2... in order of appearance before comparing.
#
# Needs root (rpcbind and ringrpc-bind on port 111 and /run/rpcbind.sock) and no registry
# already running; skips (77) otherwise. ctest runs it alone (RESOURCE_LOCK port111).
#
# usage: rpcinfo_parity.sh BIN_DIR TIRPC_PEER
set -euo pipefail
bin=$1
peer=$2
test_name=rpcinfo_parity
source "$(dirname "$0")/../../scripts/process_helpers.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root to serve port 111 and /run/rpcbind.sock"
command -v rpcbind >/dev/null && command -v rpcinfo >/dev/null || skip "rpcbind/rpcinfo not installed"
rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && skip "a registry already runs on this host"

sq=824377344
ec=824377345

# Starts registry $1 ("rpcbind" or "ringrpc-bind"), waits until it answers.
start_registry() {
  if [ "$1" = rpcbind ]; then
    rpcbind -f &
  else
    "$bin/ringrpc-bind" --no-state --quiet >/dev/null &
  fi
  registry_pid=$!
  pids+=("$registry_pid")
  for _ in $(seq 100); do rpcinfo -p >/dev/null 2>&1 && return 0; sleep 0.05; done
  fail "$1 did not start"
}

stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  reap "$1" 2>/dev/null || true
}

# run TOOL REGISTRY OUT [with-final-m]: one scenario's transcript in OUT.
run() {
  local tool=$1 registry=$2 out=$3 final_m=${4:-}
  start_registry "$registry"
  "$peer" server-netpath >"$work/tirpc.out" 2>"$work/tirpc.err" &
  local tirpc=$!
  pids+=("$tirpc")
  for _ in $(seq 100); do grep -q registered "$work/tirpc.out" && break; sleep 0.05; done
  grep -q registered "$work/tirpc.out" || fail "the rpcgen server did not register: $(cat "$work/tirpc.err")"
  start echo "$bin/echo-server" --port 0
  local echo_pid=$pid_echo port hi lo
  port=$(field echo tcp)
  hi=$((port >> 8))
  lo=$((port & 255))
  local cmds=(
    "-m" "-p" "-s" "" "-p 127.0.0.1" "-s localhost" "127.0.0.1"
    "-l localhost $sq 1" "-l localhost $ec 1" "-l 127.0.0.1 100000 2"
    "-T tcp localhost $sq 1" "-T udp localhost $sq" "-T tcp6 localhost $sq 1"
    "-T tcp6 localhost $ec 1" "-t localhost $ec" "-u localhost $ec 1" "-t localhost 99"
    "-u localhost $sq 2" "-a 127.0.0.1.$hi.$lo -T tcp $ec 1" "-n $port -t localhost $ec 1"
    "-d $ec 1" "-p" "-s"
  )
  [ -n "$final_m" ] && cmds+=("-m")
  : >"$out"
  for c in "${cmds[@]}"; do
    local rc=0
    # shellcheck disable=SC2086 # the commands are word lists
    "$tool" $c >"$work/o" 2>"$work/e" || rc=$?
    {
      echo "\$ rpcinfo $c (exit $rc)"
      cat "$work/o"
      echo "-- stderr"
      sed 's/^ringrpc-info:/rpcinfo:/' "$work/e"
    } >>"$out"
  done
  stop_pid "$echo_pid"
  stop_pid "$tirpc"
  stop_pid "$registry_pid"
  rm -f /run/rpcbind.sock
}

# Ports other than 111 become P1, P2... in order of first appearance, in the port column of -p,
# in universal addresses (h.h.h.h.p1.p2, x:x::x.p1.p2) and after -n. A line where a port was
# renamed has its runs of blanks squeezed (a port's digit count moves the columns); every other
# line is compared byte for byte.
normalize() {
  perl -ne '
    BEGIN { %m = (); $n = 0; }
    sub name { my $p = shift; return $p if $p == 111; $m{$p} //= "P" . ++$n; return $m{$p}; }
    my $before = $_;
    s/^(\s+\d+\s+\d+\s+(?:tcp|udp)\s+)(\d+)(?=\s|$)/$1 . name($2)/e;
    s/(\d+\.\d+\.\d+\.\d+|[0-9a-f]*:[0-9a-f:]*)\.(\d+)\.(\d+)(?=\s|$)/$1 . ":" . name($2 * 256 + $3)/ge;
    s/(-n )(\d+)/$1 . name($2)/e;
    s/[ \t]+/ /g if $_ ne $before;
    print;' "$1"
}

run rpcinfo rpcbind "$work/rpcbind.txt" final-m
run rpcinfo ringrpc-bind "$work/ringrpc-bind.txt" final-m
run "$bin/ringrpc-info" rpcbind "$work/ringrpc-info.txt"

normalize "$work/rpcbind.txt" >"$work/a"
normalize "$work/ringrpc-bind.txt" >"$work/b"
if ! diff -u "$work/a" "$work/b" >"$work/diff1"; then
  cat "$work/diff1" >&2
  fail "rpcinfo answers differently from ringrpc-bind than from rpcbind (diff above: - rpcbind, + ringrpc-bind)"
fi
# The same commands without the final -m (ringrpc-info's own calls are not rpcinfo's).
last_m=$(grep -n '^\$ rpcinfo -m (' "$work/rpcbind.txt" | tail -n 1 | cut -d: -f1)
head -n "$((last_m - 1))" "$work/rpcbind.txt" >"$work/prefix"
normalize "$work/prefix" >"$work/c"
normalize "$work/ringrpc-info.txt" >"$work/d"
if ! diff -u "$work/c" "$work/d" >"$work/diff2"; then
  cat "$work/diff2" >&2
  fail "ringrpc-info's output differs from rpcinfo's against rpcbind (diff above: - rpcinfo, + ringrpc-info)"
fi
[ -n "${RINGRPC_KEEP:-}" ] && cp "$work"/*.txt "$RINGRPC_KEEP"/
lines=$(grep -c '^\$ rpcinfo' "$work/a")
echo "rpcinfo_parity: all passed ($lines rpcinfo commands identical against rpcbind and ringrpc-bind;" \
  "$(grep -c '^\$ rpcinfo' "$work/d") identical from ringrpc-info)"
