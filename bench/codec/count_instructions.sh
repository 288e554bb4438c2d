#!/usr/bin/env bash
# Instructions per operation for the codec, ringrpc and libtirpc, counted by callgrind: the same
# number on a quiet machine and a busy one. Each operation runs twice (N and 11 N iterations) and
# the difference is divided by 10 N, which cancels start-up and set-up costs.
#
#   bench/codec/count_instructions.sh [BUILD_DIR] [N]     (defaults: build, 1000)
#
# Note: valgrind does not emulate AVX-512, so arrays go through the AVX2 kernel here.
set -euo pipefail
build=${1:-build}
n=${2:-1000}
ops="$build/bin/ringrpc-codec-ops"
if ! command -v valgrind >/dev/null 2>&1; then
  echo "count_instructions.sh: valgrind is not installed (apt-get install valgrind)" >&2
  exit 1
fi
if [ ! -x "$ops" ]; then
  echo "count_instructions.sh: $ops not found; build first (cmake --build $build)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

count() {  # op impl iterations -> total instructions
  valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$ops" "$1" "$2" "$3" >/dev/null 2>&1
  awk '/^summary:/ {print $2}' "$tmp/out"
}

declare -A per_op
for op in encode decode; do
  for impl in ringrpc libtirpc; do
    a=$(count "$op" "$impl" "$n")
    b=$(count "$op" "$impl" $((11 * n)))
    per_op[$op.$impl]=$(( (b - a) / (10 * n) ))
  done
  printf '%-7s ringrpc %6d  libtirpc %6d  instructions/op  (libtirpc / ringrpc = %s)\n' "$op" \
    "${per_op[$op.ringrpc]}" "${per_op[$op.libtirpc]}" \
    "$(awk -v a="${per_op[$op.libtirpc]}" -v b="${per_op[$op.ringrpc]}" 'BEGIN {printf "%.2f", a / b}')"
done
