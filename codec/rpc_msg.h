// RPC version 2 message headers (RFC 5531): call and reply headers, every accept and reject
// status, opaque_auth, and the AUTH_SYS credential body.
//
// Decoders read a header from an XdrReader and leave it positioned at the procedure arguments
// (calls) or results (replies), which the caller decodes with the program's own types. Auth
// bodies are views into the message (zero copy); other flavors than AUTH_NONE and AUTH_SYS are
// carried as opaque, for a hook above to judge. A header is decoded in full even when the engine
// must then refuse it (rpcvers != 2, a flavor it does not accept): that is the engine's decision,
// and it needs the xid to reply.
//
// Names follow the RFC (STYLE rule 8). libtirpc defines some of them (AUTH_NONE, ...) as macros:
// never include its headers in a translation unit that includes this one.
//
// Threading: free functions on caller-owned values; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "codec/xdr_reader.h"
#include "codec/xdr_writer.h"

namespace ringrpc::rpc {

inline constexpr uint32_t kRpcVersion = 2;
inline constexpr uint32_t kMaxAuthBytes = 400;    // opaque_auth body<400>
inline constexpr uint32_t kMaxMachineName = 255;  // authsys_parms machinename<255>
inline constexpr uint32_t kMaxAuthSysGids = 16;   // authsys_parms gids<16>

enum class msg_type : uint32_t { CALL = 0, REPLY = 1 };
enum class reply_stat : uint32_t { MSG_ACCEPTED = 0, MSG_DENIED = 1 };
enum class accept_stat : uint32_t {
  SUCCESS = 0,
  PROG_UNAVAIL = 1,
  PROG_MISMATCH = 2,
  PROC_UNAVAIL = 3,
  GARBAGE_ARGS = 4,
  SYSTEM_ERR = 5,
};
enum class reject_stat : uint32_t { RPC_MISMATCH = 0, AUTH_ERROR = 1 };
enum class auth_stat : uint32_t {
  AUTH_OK = 0,
  AUTH_BADCRED = 1,
  AUTH_REJECTEDCRED = 2,
  AUTH_BADVERF = 3,
  AUTH_REJECTEDVERF = 4,
  AUTH_TOOWEAK = 5,
  AUTH_INVALIDRESP = 6,
  AUTH_FAILED = 7,
  AUTH_KERB_GENERIC = 8,
  AUTH_TIMEEXPIRE = 9,
  AUTH_TKT_FILE = 10,
  AUTH_DECODE = 11,
  AUTH_NET_ADDR = 12,
  RPCSEC_GSS_CREDPROBLEM = 13,
  RPCSEC_GSS_CTXPROBLEM = 14,
};
// Flavors are an open set (new numbers are assigned; 390000+ are pseudo-flavors), so opaque_auth
// carries the raw number and these are the ones with a name here.
enum class auth_flavor : uint32_t {
  AUTH_NONE = 0,
  AUTH_SYS = 1,
  AUTH_SHORT = 2,
  AUTH_DH = 3,
  RPCSEC_GSS = 6,
  AUTH_TLS = 7,
};

const char* to_string(accept_stat s) noexcept;
const char* to_string(reject_stat s) noexcept;
const char* to_string(auth_stat s) noexcept;

struct OpaqueAuth {
  uint32_t flavor = 0;
  std::span<const uint8_t> body;  // at most kMaxAuthBytes; a view, not owned

  static OpaqueAuth none() noexcept { return {}; }
};

struct CallHeader {
  uint32_t xid = 0;
  uint32_t rpcvers = kRpcVersion;
  uint32_t prog = 0;
  uint32_t vers = 0;
  uint32_t proc = 0;
  OpaqueAuth cred;
  OpaqueAuth verf;
};

struct MismatchInfo {
  uint32_t low = 0;
  uint32_t high = 0;
  friend bool operator==(const MismatchInfo&, const MismatchInfo&) = default;
};

// A reply header, flattened: which fields mean something depends on stat / astat / rstat.
struct ReplyHeader {
  uint32_t xid = 0;
  reply_stat stat = reply_stat::MSG_ACCEPTED;
  // MSG_ACCEPTED
  OpaqueAuth verf;
  accept_stat astat = accept_stat::SUCCESS;
  // PROG_MISMATCH (accepted) or RPC_MISMATCH (denied): the supported range
  MismatchInfo mismatch;
  // MSG_DENIED
  reject_stat rstat = reject_stat::RPC_MISMATCH;
  auth_stat why = auth_stat::AUTH_OK;  // AUTH_ERROR
};

struct AuthSysParms {
  uint32_t stamp = 0;
  std::string_view machinename;  // at most kMaxMachineName bytes; a view, not owned
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t ngids = 0;
  uint32_t gids[kMaxAuthSysGids] = {};
};

// Reads an opaque_auth (flavor, body<400>).
bool decode_opaque_auth(xdr::XdrReader& r, OpaqueAuth& out, const char* what) noexcept;
// Reads xid and msg_type CALL and the call body up to the arguments. A message whose msg_type is
// not CALL fails with kBadValue ("msg_type"); out.xid is set as soon as it has been read.
bool decode_call_header(xdr::XdrReader& r, CallHeader& out) noexcept;
// Reads xid, msg_type REPLY and the reply body up to the results (if SUCCESS).
bool decode_reply_header(xdr::XdrReader& r, ReplyHeader& out) noexcept;
// Decodes an AUTH_SYS credential body; the body must hold exactly one authsys_parms (in strict
// mode; lenient mode, like libtirpc, ignores bytes after it).
bool decode_authsys(std::span<const uint8_t> body, AuthSysParms& out,
                    xdr::DecodeOptions options = {}, xdr::XdrError* error = nullptr) noexcept;

bool encode_opaque_auth(xdr::XdrWriter& w, const OpaqueAuth& auth) noexcept;
bool encode_call_header(xdr::XdrWriter& w, const CallHeader& h) noexcept;
// Encodes any reply header from its flattened form.
bool encode_reply_header(xdr::XdrWriter& w, const ReplyHeader& h) noexcept;
// Shorthands for the replies a server sends.
bool encode_accepted_reply(xdr::XdrWriter& w, uint32_t xid, accept_stat stat,
                           const OpaqueAuth& verf = {}, MismatchInfo mismatch = {}) noexcept;
bool encode_rpc_mismatch(xdr::XdrWriter& w, uint32_t xid, MismatchInfo supported) noexcept;
bool encode_auth_error(xdr::XdrWriter& w, uint32_t xid, auth_stat why) noexcept;

// Size of an AUTH_SYS body for these parameters, and its encoding into `out` (which must hold
// authsys_size() bytes). Fails with kEncodeOverMax on a machine name or gid list over the limit.
size_t authsys_size(const AuthSysParms& p) noexcept;
bool encode_authsys(const AuthSysParms& p, std::span<uint8_t> out, size_t& written,
                    xdr::XdrError* error = nullptr) noexcept;

}  // namespace ringrpc::rpc
