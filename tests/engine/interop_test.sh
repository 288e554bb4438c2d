#!/usr/bin/env bash
# Interop of the engine with libtirpc, both directions, over TCP and UDP on loopback:
#   1. rpcgen/libtirpc clients (tirpc_peer client) call ringrpc's square-server and echo-server;
#   2. ringrpc's square-client and echo-client call an rpcgen/libtirpc server (tirpc_peer server);
#   3. the same ringrpc clients call ringrpc's servers over shared memory, which libtirpc does not
#      speak, with the calls of 2 (and the servers also answer libtirpc over TCP meanwhile).
# No registry is involved (explicit ports). Stops only the processes it started, by pid.
#
# usage: interop_test.sh BIN_DIR TIRPC_PEER
set -euo pipefail
bin=$1
peer=$2
test_name=interop
source "$(dirname "$0")/../../scripts/process_helpers.sh"


echo "== libtirpc clients -> ringrpc servers"
for backend in io_uring epoll; do
  start "square-$backend" "$bin/square-server" --no-register --shards 2 --backend "$backend"
  start "echo-$backend" "$bin/echo-server" --no-register --shards 2 --backend "$backend"
  sq_tcp=$(field "square-$backend" tcp)
  sq_udp=$(field "square-$backend" udp)
  ec_tcp=$(field "echo-$backend" tcp)
  ec_udp=$(field "echo-$backend" udp)
  "$peer" client-square tcp "$sq_tcp" || fail "libtirpc square client over tcp ($backend)"
  "$peer" client-square udp "$sq_udp" || fail "libtirpc square client over udp ($backend)"
  "$peer" client-echo tcp "$ec_tcp" || fail "libtirpc echo client over tcp ($backend)"
  "$peer" client-echo udp "$ec_udp" || fail "libtirpc echo client over udp ($backend)"
done

echo "== ringrpc clients -> libtirpc server"
start tirpc "$peer" server
t_tcp=$(field tirpc tcp)
t_udp=$(field tirpc udp)
out=$("$bin/square-client" --port "$t_tcp" 11) || fail "square-client over tcp"
[ "$out" = "square(11) = 121" ] || fail "square-client over tcp printed: $out"
out=$("$bin/square-client" --port "$t_udp" --transport udp 7) || fail "square-client over udp"
[ "$out" = "square(7) = 49" ] || fail "square-client over udp printed: $out"
"$bin/square-client" --port "$t_tcp" --count 500 3 >/dev/null || fail "500 sequential calls"
"$bin/echo-client" --port "$t_tcp" --size 200000 >/dev/null || fail "echo-client 200000 bytes over tcp"
"$bin/echo-client" --port "$t_tcp" --size 0 >/dev/null || fail "echo-client 0 bytes over tcp"
"$bin/echo-client" --port "$t_udp" --transport udp --size 8000 >/dev/null ||
  fail "echo-client 8000 bytes over udp"
echo "== ringrpc clients -> ringrpc servers over shared memory"
for backend in io_uring epoll; do
  start "sq-shm-$backend" "$bin/square-server" --no-register --shards 2 --backend "$backend" \
    --shm "$work/square-$backend.shm"
  start "ec-shm-$backend" "$bin/echo-server" --no-register --shards 2 --backend "$backend" \
    --shm "$work/echo-$backend.shm"
  sq=$(field "sq-shm-$backend" shm)
  ec=$(field "ec-shm-$backend" shm)
  out=$("$bin/square-client" --shm "$sq" 11) || fail "square-client over shm ($backend)"
  [ "$out" = "square(11) = 121" ] || fail "square-client over shm ($backend) printed: $out"
  "$bin/square-client" --shm "$sq" --count 500 3 >/dev/null || fail "500 sequential calls over shm"
  "$bin/echo-client" --shm "$ec" --size 200000 >/dev/null || fail "echo-client 200000 bytes over shm"
  "$bin/echo-client" --shm "$ec" --size 0 >/dev/null || fail "echo-client 0 bytes over shm"
  "$bin/echo-client" --shm "$ec" --size 3000000 >/dev/null ||
    fail "echo-client 3000000 bytes over shm (records larger than the rings)"
  "$peer" client-square tcp "$(field "sq-shm-$backend" tcp)" ||
    fail "libtirpc square client over tcp next to shm ($backend)"
done
echo "interop: all passed"
