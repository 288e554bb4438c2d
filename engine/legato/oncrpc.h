// How ONC RPC rides on Legato's rpcProxy protocol (the proxy issue: "define and document how an
// ONC RPC call and reply sit inside the CLIENT_REQUEST and SERVER_RESPONSE bodies").
//
//  - A bound ONC RPC service is one program version. Its protocol id string, which both proxies
//    compare in the connect-service handshake as Legato compares API hashes, is
//    "oncrpc/PROG/VERS" in decimal ("oncrpc/824377344/1" for SQUARE_PROG version 1): readable,
//    far below the 127 bytes of the field, and never equal to a Legato API hash (32 hex digits),
//    so a Legato peer refuses it cleanly with LE_FORMAT_ERROR instead of misreading the calls.
//  - A call travels as CLIENT_REQUEST: the 4-byte message id is the RPC procedure number (Legato
//    puts the API function's index there; this keeps traces readable), and the body is a CBOR
//    indefinite array holding exactly one definite byte string: the RPC call message as it
//    appeared in one record (RFC 5531 record marking removed, xid included). The reply comes
//    back as SERVER_RESPONSE with the same proxy id and service id, the same message id, and the
//    reply message as the byte string. Byte strings use the shortest CBOR length, which Legato's
//    receiver accepts in any width.
// The proxies do not touch the RPC message: xids, credentials and verifiers pass end to end, so
// a libtirpc client and a libtirpc server see each other's bytes.
//
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringrpc::legato {

std::string oncrpc_protocol_id(uint32_t program, uint32_t version);
// False for anything but "oncrpc/PROG/VERS" with PROG and VERS decimal and within 32 bits.
bool parse_oncrpc_protocol_id(std::string_view id, uint32_t& program, uint32_t& version);

// The body (0x9F, one byte string, 0xFF) carrying one RPC message.
std::vector<uint8_t> wrap_rpc_message(std::span<const uint8_t> message);
// The RPC message inside a body, as a view into it; false when the body is anything but one
// definite byte string in the outer array.
bool unwrap_rpc_message(std::span<const uint8_t> body, std::span<const uint8_t>& message);

}  // namespace ringrpc::legato
