#!/usr/bin/env bash
# ringrpc-tool against rpctool's output, for the helloRpc sample's configuration on "Alice"
# (reference/legato-rpc.md 3.3): the same commands print what Legato's rpctool prints
# (apps/tools/rpcTool/tool.c formats) with no proxy running: every binding NOT CONNECTED, every
# link NOT STARTED. Then resets, slot reuse in the file, and the exit codes.
#
# usage: tool_test.sh BIN_DIR
set -euo pipefail
bin=$1
test_name=ringrpc_tool
source "$(dirname "$0")/../../scripts/process_helpers.sh"
tool() { "$bin/ringrpc-tool" --config "$work/proxy.conf" "$@"; }

tool set binding bobServer Bob bobClient
tool set binding aliceClient Bob aliceServer
tool set link Bob LinkToBob "192.168.3.2 54323"

tool list bindings >"$work/list.txt"
cat >"$work/want.txt" <<'WANT'

========================================= RPC Bindings =========================================

Service-Name: bobServer                                Status: NOT CONNECTED
    System-Name: Bob
    Remote Service-Name: bobClient

Service-Name: aliceClient                              Status: NOT CONNECTED
    System-Name: Bob
    Remote Service-Name: aliceServer

================================================================================================
WANT
diff -u "$work/want.txt" "$work/list.txt" || fail "list bindings differs from rpctool's output"

tool get link Bob >"$work/link.txt"
cat >"$work/want.txt" <<'WANT'

========================================== RPC Link ============================================

System-Name: Bob                                       Status: NOT STARTED
    Link-Name: LinkToBob
    Parameters: 192.168.3.2 54323

================================================================================================
WANT
diff -u "$work/want.txt" "$work/link.txt" || fail "get link differs from rpctool's output"

tool reset binding bobServer
out=$(tool get binding bobServer) && fail "get of a reset binding succeeded"
[ "$out" = "Configuration not found!" ] || fail "get of a reset binding said: $out"
grep -q 'bindings/0/serviceName = "<EMPTY>"' "$work/proxy.conf" || fail "reset did not leave <EMPTY>"
tool set binding fStream Bob bobFStream
grep -q 'bindings/0/serviceName = "fStream"' "$work/proxy.conf" || fail "the free slot was not reused"
tool reset binding nobody  # quietly nothing, as Legato

set +e
tool frob binding x 2>/dev/null; [ $? = 2 ] || fail "an unknown command is not exit 2"
tool set binding onlyone 2>/dev/null; [ $? = 2 ] || fail "a missing argument is not exit 2"
tool set link Bob L "a b c d" 2>/dev/null; [ $? = 1 ] || fail "4 link parameters were accepted"
set -e
tool help | grep -q "set binding <serviceName> <systemName> <remoteServiceName>" || fail "help"
[ -z "$(tool --config "$work/none.conf" list links)" ] || fail "an empty list printed something"
echo "ringrpc_tool: PASSED"
