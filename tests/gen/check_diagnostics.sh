#!/usr/bin/env bash
# Runs ringrpc-gen on every bad/*.x and checks that it exits 1 and reports exactly the errors in
# the matching .expected file (the lines with ": error: ", so that the C preprocessor's caret
# lines, which vary between versions, do not matter).
# usage: check_diagnostics.sh RINGRPC_GEN BAD_DIR
set -u
gen=$1
dir=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$dir" || exit 2
failed=0
count=0
for x in *.x; do
  count=$((count + 1))
  "$gen" -o "$out" "$x" 2> "$out/stderr"
  rc=$?
  if [ "$rc" -ne 1 ]; then
    echo "FAIL $x: exit status $rc, expected 1"
    failed=1
    continue
  fi
  if ! diff -u "${x%.x}.expected" <(grep ': error: ' "$out/stderr") > "$out/diff"; then
    echo "FAIL $x: diagnostics differ"
    cat "$out/diff"
    failed=1
  fi
  if ls "$out"/*.h "$out"/*.cc > /dev/null 2>&1; then
    echo "FAIL $x: output was written despite the errors"
    failed=1
  fi
done
echo "$count bad .x files checked"
exit $failed
