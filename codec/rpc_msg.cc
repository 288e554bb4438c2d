#include "codec/rpc_msg.h"

namespace ringrpc::rpc {

using xdr::XdrErrc;
using xdr::XdrReader;
using xdr::XdrWriter;

const char* to_string(accept_stat s) noexcept {
  switch (s) {
    case accept_stat::SUCCESS:
      return "SUCCESS";
    case accept_stat::PROG_UNAVAIL:
      return "PROG_UNAVAIL";
    case accept_stat::PROG_MISMATCH:
      return "PROG_MISMATCH";
    case accept_stat::PROC_UNAVAIL:
      return "PROC_UNAVAIL";
    case accept_stat::GARBAGE_ARGS:
      return "GARBAGE_ARGS";
    case accept_stat::SYSTEM_ERR:
      return "SYSTEM_ERR";
  }
  return "unknown accept_stat";
}

const char* to_string(reject_stat s) noexcept {
  switch (s) {
    case reject_stat::RPC_MISMATCH:
      return "RPC_MISMATCH";
    case reject_stat::AUTH_ERROR:
      return "AUTH_ERROR";
  }
  return "unknown reject_stat";
}

const char* to_string(auth_stat s) noexcept {
  switch (s) {
    case auth_stat::AUTH_OK:
      return "AUTH_OK";
    case auth_stat::AUTH_BADCRED:
      return "AUTH_BADCRED";
    case auth_stat::AUTH_REJECTEDCRED:
      return "AUTH_REJECTEDCRED";
    case auth_stat::AUTH_BADVERF:
      return "AUTH_BADVERF";
    case auth_stat::AUTH_REJECTEDVERF:
      return "AUTH_REJECTEDVERF";
    case auth_stat::AUTH_TOOWEAK:
      return "AUTH_TOOWEAK";
    case auth_stat::AUTH_INVALIDRESP:
      return "AUTH_INVALIDRESP";
    case auth_stat::AUTH_FAILED:
      return "AUTH_FAILED";
    case auth_stat::AUTH_KERB_GENERIC:
      return "AUTH_KERB_GENERIC";
    case auth_stat::AUTH_TIMEEXPIRE:
      return "AUTH_TIMEEXPIRE";
    case auth_stat::AUTH_TKT_FILE:
      return "AUTH_TKT_FILE";
    case auth_stat::AUTH_DECODE:
      return "AUTH_DECODE";
    case auth_stat::AUTH_NET_ADDR:
      return "AUTH_NET_ADDR";
    case auth_stat::RPCSEC_GSS_CREDPROBLEM:
      return "RPCSEC_GSS_CREDPROBLEM";
    case auth_stat::RPCSEC_GSS_CTXPROBLEM:
      return "RPCSEC_GSS_CTXPROBLEM";
  }
  return "unknown auth_stat";
}

namespace {

constexpr bool is_accept_stat(int32_t v) { return v >= 0 && v <= 5; }
constexpr bool is_reject_stat(int32_t v) { return v == 0 || v == 1; }
constexpr bool is_auth_stat(int32_t v) { return v >= 0 && v <= 14; }

bool decode_msg_type(XdrReader& r, uint32_t& xid, msg_type want) noexcept {
  if (!r.get_u32(xid, "rpc_msg.xid")) return false;
  const size_t at = r.offset();
  uint32_t mtype = 0;
  if (!r.get_u32(mtype, "rpc_msg.mtype")) return false;
  if (mtype != static_cast<uint32_t>(want)) [[unlikely]] {
    // Strict and lenient alike: the other message type, or no message type at all, means this
    // is not the message the caller is waiting for.
    return r.fail_at(at, XdrErrc::kBadValue, mtype, static_cast<uint32_t>(want), "rpc_msg.mtype");
  }
  return true;
}

}  // namespace

bool decode_opaque_auth(XdrReader& r, OpaqueAuth& out, const char* what) noexcept {
  return r.get_u32(out.flavor, what) && r.get_opaque(out.body, kMaxAuthBytes, what);
}

bool decode_call_header(XdrReader& r, CallHeader& out) noexcept {
  return decode_msg_type(r, out.xid, msg_type::CALL) &&
         r.get_u32(out.rpcvers, "call_body.rpcvers") && r.get_u32(out.prog, "call_body.prog") &&
         r.get_u32(out.vers, "call_body.vers") && r.get_u32(out.proc, "call_body.proc") &&
         decode_opaque_auth(r, out.cred, "call_body.cred") &&
         decode_opaque_auth(r, out.verf, "call_body.verf");
}

bool decode_reply_header(XdrReader& r, ReplyHeader& out) noexcept {
  if (!decode_msg_type(r, out.xid, msg_type::REPLY)) return false;
  // Discriminants are checked whatever the mode: without a known arm there is nothing to decode.
  const size_t at = r.offset();
  uint32_t stat = 0;
  if (!r.get_u32(stat, "reply_body.stat")) return false;
  if (stat == static_cast<uint32_t>(reply_stat::MSG_ACCEPTED)) {
    out.stat = reply_stat::MSG_ACCEPTED;
    const size_t astat_at = r.offset() + 0;
    int32_t astat = 0;
    if (!decode_opaque_auth(r, out.verf, "accepted_reply.verf") ||
        !r.get_i32(astat, "accepted_reply.stat")) {
      return false;
    }
    if (!is_accept_stat(astat)) {
      return r.fail_at(astat_at, XdrErrc::kBadDiscriminant, static_cast<uint32_t>(astat), 0,
                       "accepted_reply.stat");
    }
    out.astat = static_cast<accept_stat>(astat);
    if (out.astat == accept_stat::PROG_MISMATCH) {
      return r.get_u32(out.mismatch.low, "mismatch_info.low") &&
             r.get_u32(out.mismatch.high, "mismatch_info.high");
    }
    return true;
  }
  if (stat == static_cast<uint32_t>(reply_stat::MSG_DENIED)) {
    out.stat = reply_stat::MSG_DENIED;
    const size_t rstat_at = r.offset();
    int32_t rstat = 0;
    if (!r.get_i32(rstat, "rejected_reply.stat")) return false;
    if (!is_reject_stat(rstat)) {
      return r.fail_at(rstat_at, XdrErrc::kBadDiscriminant, static_cast<uint32_t>(rstat), 0,
                       "rejected_reply.stat");
    }
    out.rstat = static_cast<reject_stat>(rstat);
    if (out.rstat == reject_stat::RPC_MISMATCH) {
      return r.get_u32(out.mismatch.low, "mismatch_info.low") &&
             r.get_u32(out.mismatch.high, "mismatch_info.high");
    }
    // auth_stat is an enum: unknown values are refused in strict mode, passed on in lenient
    // mode (a newer peer may send a newer code; the caller still learns it was AUTH_ERROR).
    return r.get_enum(out.why, is_auth_stat, "rejected_reply.auth_stat");
  }
  return r.fail_at(at, XdrErrc::kBadDiscriminant, stat, 0, "reply_body.stat");
}

bool decode_authsys(std::span<const uint8_t> body, AuthSysParms& out, xdr::DecodeOptions options,
                    xdr::XdrError* error) noexcept {
  XdrReader r(body, options);
  uint32_t n = 0;
  const bool ok = r.get_u32(out.stamp, "authsys_parms.stamp") &&
                  r.get_string(out.machinename, kMaxMachineName, "authsys_parms.machinename") &&
                  r.get_u32(out.uid, "authsys_parms.uid") &&
                  r.get_u32(out.gid, "authsys_parms.gid") &&
                  r.get_count(n, kMaxAuthSysGids, 4, "authsys_parms.gids") &&
                  r.get_array(out.gids, n, "authsys_parms.gids") && r.finish("authsys_parms");
  out.ngids = ok ? n : 0;
  if (!ok && error != nullptr) *error = r.error();
  return ok;
}

bool encode_opaque_auth(XdrWriter& w, const OpaqueAuth& auth) noexcept {
  return w.put_u32(auth.flavor) && w.put_opaque(auth.body, kMaxAuthBytes, "opaque_auth.body");
}

bool encode_call_header(XdrWriter& w, const CallHeader& h) noexcept {
  return w.put_u32(h.xid) && w.put_enum(msg_type::CALL) && w.put_u32(h.rpcvers) &&
         w.put_u32(h.prog) && w.put_u32(h.vers) && w.put_u32(h.proc) &&
         encode_opaque_auth(w, h.cred) && encode_opaque_auth(w, h.verf);
}

bool encode_reply_header(XdrWriter& w, const ReplyHeader& h) noexcept {
  if (!w.put_u32(h.xid) || !w.put_enum(msg_type::REPLY) || !w.put_enum(h.stat)) return false;
  if (h.stat == reply_stat::MSG_ACCEPTED) {
    if (!encode_opaque_auth(w, h.verf) || !w.put_enum(h.astat)) return false;
    if (h.astat == accept_stat::PROG_MISMATCH) {
      return w.put_u32(h.mismatch.low) && w.put_u32(h.mismatch.high);
    }
    return true;
  }
  if (!w.put_enum(h.rstat)) return false;
  if (h.rstat == reject_stat::RPC_MISMATCH) {
    return w.put_u32(h.mismatch.low) && w.put_u32(h.mismatch.high);
  }
  return w.put_enum(h.why);
}

bool encode_accepted_reply(XdrWriter& w, uint32_t xid, accept_stat stat, const OpaqueAuth& verf,
                           MismatchInfo mismatch) noexcept {
  ReplyHeader h;
  h.xid = xid;
  h.stat = reply_stat::MSG_ACCEPTED;
  h.verf = verf;
  h.astat = stat;
  h.mismatch = mismatch;
  return encode_reply_header(w, h);
}

bool encode_rpc_mismatch(XdrWriter& w, uint32_t xid, MismatchInfo supported) noexcept {
  ReplyHeader h;
  h.xid = xid;
  h.stat = reply_stat::MSG_DENIED;
  h.rstat = reject_stat::RPC_MISMATCH;
  h.mismatch = supported;
  return encode_reply_header(w, h);
}

bool encode_auth_error(XdrWriter& w, uint32_t xid, auth_stat why) noexcept {
  ReplyHeader h;
  h.xid = xid;
  h.stat = reply_stat::MSG_DENIED;
  h.rstat = reject_stat::AUTH_ERROR;
  h.why = why;
  return encode_reply_header(w, h);
}

size_t authsys_size(const AuthSysParms& p) noexcept {
  return 4 + 4 + p.machinename.size() + xdr::pad4(p.machinename.size()) + 4 + 4 + 4 + 4 * p.ngids;
}

bool encode_authsys(const AuthSysParms& p, std::span<uint8_t> out, size_t& written,
                    xdr::XdrError* error) noexcept {
  auto refuse = [&](XdrErrc code, uint64_t value, uint64_t limit, const char* what) {
    if (error != nullptr) *error = {code, 0, value, limit, what};
    return false;
  };
  if (p.machinename.size() > kMaxMachineName) {
    return refuse(XdrErrc::kEncodeOverMax, p.machinename.size(), kMaxMachineName,
                  "authsys_parms.machinename");
  }
  if (p.ngids > kMaxAuthSysGids) {
    return refuse(XdrErrc::kEncodeOverMax, p.ngids, kMaxAuthSysGids, "authsys_parms.gids");
  }
  const size_t size = authsys_size(p);
  if (out.size() < size) return refuse(XdrErrc::kNoSpace, size, out.size(), "authsys_parms");
  uint8_t* q = out.data();
  xdr::store_be32(q, p.stamp);
  xdr::store_be32(q + 4, static_cast<uint32_t>(p.machinename.size()));
  q += 8;
  std::memcpy(q, p.machinename.data(), p.machinename.size());
  q += p.machinename.size();
  for (size_t i = 0; i < xdr::pad4(p.machinename.size()); ++i) *q++ = 0;
  xdr::store_be32(q, p.uid);
  xdr::store_be32(q + 4, p.gid);
  xdr::store_be32(q + 8, p.ngids);
  q += 12;
  xdr::swap32_n(p.gids, q, p.ngids);
  written = size;
  return true;
}

}  // namespace ringrpc::rpc
