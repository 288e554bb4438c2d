#!/usr/bin/env bash
# Installs what ringrpc needs to build and test on Debian 12 (bookworm), and nothing else.
# Runs as root, or re-runs itself with sudo. Safe to run again: apt-get skips what is installed.
set -euo pipefail

packages=(
  # toolchain
  g++ clang clang-format libclang-rt-14-dev cmake make pkg-config
  # runtime dependencies
  liburing-dev libmimalloc-dev
  # ringrpc-bench: JSON results (read back by compare), instruction counts where perf has none
  nlohmann-json3-dev valgrind
  # tests and benchmarks (jq reads the proxy's status in shell tests; iproute2 makes netns)
  libgtest-dev libgmock-dev libbenchmark-dev jq iproute2
  # interop peers used by the tests
  libtirpc-dev rpcsvc-proto rpcbind
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: missing packages (${missing[*]}); run this script as root or install sudo" >&2
    exit 1
  fi
  exec sudo "$0" "$@"
fi

echo "install-deps: installing ${missing[*]}" >&2
apt-get update -qq
# rpcbind's postinst tries to start the daemon; tests start their own, so tell invoke-rc.d not to.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
