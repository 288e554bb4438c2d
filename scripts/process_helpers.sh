# Sourced (not run) by the scripts that start servers: tests, benchmarks and the demo. Gives them
# a scratch directory ($work), the pids they started ($pids) and an EXIT trap that stops exactly
# those processes, by pid, and removes the directory (also when the script is stopped by SIGINT,
# SIGTERM or SIGHUP).
#
#   start NAME CMD...   run CMD in the background, stdout in $work/NAME.out and stderr in
#                       $work/NAME.err, pid in $pids and in $pid_NAME; wait (5 s at most) for
#                       its "listening ..." line; fail with its stderr if none comes or it
#                       exits first
#   field NAME KEY      the value of KEY=... on NAME's listening line (tcp, udp, unix)
#   track PID           stop PID with the others should the script end first (a load started
#                       with &, which has no listening line)
#   reap PID            wait for PID, return its status, and drop it from $pids: once reaped its
#                       number may be the kernel's to give to another process, which the EXIT
#                       trap must then not signal. Use it, not wait, for every started process
#   fail MESSAGE        "NAME: FAILED: MESSAGE" on stderr, exit 1 (NAME: $test_name, else the
#                       script's name)
#   skip MESSAGE        "NAME: SKIPPED: MESSAGE", exit 77 (ctest's SKIP_RETURN_CODE)
work=$(mktemp -d)
pids=()
stop_started_processes() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
track() { pids+=("$1"); }
reap() {
  local rc=0 p keep=()
  wait "$1" || rc=$?
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
  return "$rc"
}
trap stop_started_processes EXIT
# Under `set -e` (every script that sources this sets it) a command that fails outside a test
# of its status ends the script at once and says nothing, so a test could fail in CI with no
# output at all. Name the command and where it was. errtrace carries this into functions;
# subshells (command substitutions) stay quiet, since their failures are the caller's to judge,
# and so do `set +e` stretches, where a script tests a status itself.
if [[ $- == *e* ]]; then
  set -o errtrace
  trap 'helpers_rc=$?; [[ $BASH_SUBSHELL -ne 0 || $- != *e* ]] || echo "${test_name:-$(basename "$0" .sh)}:" \
    "FAILED: ${BASH_SOURCE[0]##*/} line $LINENO: '"'"'$BASH_COMMAND'"'"' exited with status $helpers_rc" >&2' ERR
fi
# Without these, a script stopped by a signal (Ctrl-C, a CI runner's SIGTERM) dies without running
# its EXIT trap and leaves its servers and proxies running. `exit` from a trap runs the EXIT trap
# (a script's own, where it set one), with the status a shell killed by that signal reports.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

start() {
  local name=$1
  shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  eval "pid_${name//-/_}=$!"
  local pid=$!
  for _ in $(seq 100); do
    grep -q '^listening' "$work/$name.out" && return 0
    kill -0 "$pid" 2>/dev/null || break  # it exited: its stderr says why, no need to wait
    sleep 0.05
  done
  grep -q '^listening' "$work/$name.out" && return 0
  echo "$(basename "$0"): $name did not start: $(cat "$work/$name.err")" >&2
  exit 1
}

field() { sed -E "s/.*$2=([^ ]+).*/\1/" "$work/$1.out"; }

fail() {
  echo "${test_name:-$(basename "$0" .sh)}: FAILED: $*" >&2
  exit 1
}
skip() {
  echo "${test_name:-$(basename "$0" .sh)}: SKIPPED: $*"
  exit 77
}
