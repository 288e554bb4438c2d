# Sourced after process_helpers.sh by the scripts that run ringrpc-proxy systems (the proxy tests
# and the proxy benchmark). Each system NAME keeps its files in $work: NAME.decl (declarations),
# NAME.conf (run-time configuration, edited with ringrpc-tool) and NAME.sock (control socket).
# Needs $bin (the build's bin directory).
#
#   start_proxy NAME [OPTIONS...]   start ringrpc-proxy for NAME (waits for its listening line)
#   tool NAME ARGS...               ringrpc-tool on NAME's configuration and control socket
#   status NAME                     NAME's live status as JSON
#   link_port NAME SYSTEM           the port NAME's listening link to SYSTEM got
#   local_port NAME ALIAS           the port local clients of NAME call ALIAS on
#   wait_for SECONDS NAME JQ        true as soon as the jq filter JQ on NAME's status is true
#   declare_system NAME SYSTEM EXTERN... -- LINK...
#                                   NAME.decl: "system SYSTEM", the extern: lines, the links:
#   declare_hello SQ EC             helloRpc's two systems for SQUARE and ECHO: alice.decl
#                                   (the servers at SQ and EC: a port on 127.0.0.1, or
#                                   "shm PATH" or "unix PATH"; link LinkToBob listens) and
#                                   bob.decl (squareClient, echoClient, LinkToAlice connects)
#   start_registry_if_free          as root with no registry on port 111, start the test's own
#                                   (ringrpc-bind) and set registry=yes; else registry=no and
#                                   say that the registry part is skipped
start_proxy() {
  local name=$1
  shift
  start "$name" "$bin/ringrpc-proxy" --declarations "$work/$name.decl" --config "$work/$name.conf" \
    --control "$work/$name.sock" "$@"
}
tool() {
  local name=$1
  shift
  "$bin/ringrpc-tool" --config "$work/$name.conf" --control "$work/$name.sock" "$@"
}
status() { tool "$1" stats --json; }
link_port() {
  status "$1" | jq -r --arg s "$2" '.systems[] | select(.systemName == $s) | .listening' |
    sed 's/.*://'
}
local_port() { field "$1" "$2 tcp"; }
wait_for() {
  local end=$((SECONDS + $1)) name=$2 filter=$3
  while [ $SECONDS -le $end ]; do
    [ "$(status "$name" 2>/dev/null | jq -r "$filter" 2>/dev/null)" = true ] && return 0
    sleep 0.1
  done
  return 1
}
declare_system() {
  local name=$1 system=$2 line
  shift 2
  {
    echo "system $system"
    printf 'extern:\n{\n'
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
      echo "    $1"
      shift
    done
    [ $# -gt 0 ] && shift
    printf '}\nlinks:\n{\n'
    for line in "$@"; do echo "    $line"; done
    echo "}"
  } >"$work/$name.decl"
}
declare_hello() {
  local sq=$1 ec=$2
  [[ $sq == *' '* ]] || sq="127.0.0.1 $sq"
  [[ $ec == *' '* ]] || ec="127.0.0.1 $ec"
  declare_system alice Alice "squareServer = server 824377344 1 at $sq" \
    "echoServer = server 824377345 1 at $ec" -- "LinkToBob = networkSocket listen"
  declare_system bob Bob "squareClient = client 824377344 1" "echoClient = client 824377345 1" \
    -- "LinkToAlice = networkSocket connect"
}
start_registry_if_free() {
  registry=no
  if [ "$(id -u)" -eq 0 ] && ! rpcinfo -p 127.0.0.1 >/dev/null 2>&1; then
    start bind "$bin/ringrpc-bind" --no-state --sweep-interval 200
    registry=yes
  else
    echo "${test_name:-$(basename "$0" .sh)}: the registry part is skipped: it needs root and" \
      "no registry on port 111"
  fi
}
