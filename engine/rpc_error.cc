#include "engine/rpc_error.h"

#include <cstring>

namespace ringrpc {

const char* errc_name(Errc e) noexcept {
  switch (e) {
    case Errc::kOk:
      return "ok";
    case Errc::kTimedOut:
      return "timed out";
    case Errc::kRefused:
      return "connection refused";
    case Errc::kReset:
      return "connection reset";
    case Errc::kCannotSend:
      return "cannot send";
    case Errc::kUnknownHost:
      return "unknown host";
    case Errc::kNotRegistered:
      return "program not registered";
    case Errc::kCancelled:
      return "cancelled";
    case Errc::kTooManyCalls:
      return "too many calls in flight";
    case Errc::kProgUnavail:
      return "program unavailable";
    case Errc::kProgMismatch:
      return "program/version mismatch";
    case Errc::kProcUnavail:
      return "procedure unavailable";
    case Errc::kGarbageArgs:
      return "server can't decode arguments";
    case Errc::kSystemErr:
      return "remote system error";
    case Errc::kRpcMismatch:
      return "incompatible versions of RPC";
    case Errc::kAuthError:
      return "authentication error";
    case Errc::kCannotDecode:
      return "can't decode result";
    case Errc::kCannotEncode:
      return "can't encode arguments";
  }
  return "unknown error";
}

// libtirpc's auth_errlist wording, so logs read the same whichever side produced them.
static const char* auth_why(rpc::auth_stat s) {
  switch (s) {
    case rpc::auth_stat::AUTH_OK:
      return "Authentication OK";
    case rpc::auth_stat::AUTH_BADCRED:
      return "Invalid client credential";
    case rpc::auth_stat::AUTH_REJECTEDCRED:
      return "Server rejected credential";
    case rpc::auth_stat::AUTH_BADVERF:
      return "Invalid client verifier";
    case rpc::auth_stat::AUTH_REJECTEDVERF:
      return "Server rejected verifier";
    case rpc::auth_stat::AUTH_TOOWEAK:
      return "Client credential too weak";
    case rpc::auth_stat::AUTH_INVALIDRESP:
      return "Invalid server verifier";
    case rpc::auth_stat::AUTH_FAILED:
      return "Failed (unspecified error)";
    default:
      return rpc::to_string(s);
  }
}

std::string RpcError::to_string() const {
  std::string s = "RPC: ";
  switch (code) {
    case Errc::kOk:
      return "RPC: Success";
    case Errc::kTimedOut:
      return "RPC: Timed out";
    case Errc::kProgUnavail:
      return "RPC: Program unavailable";
    case Errc::kProcUnavail:
      return "RPC: Procedure unavailable";
    case Errc::kGarbageArgs:
      return "RPC: Server can't decode arguments";
    case Errc::kSystemErr:
      return "RPC: Remote system error";
    case Errc::kCannotDecode:
      return "RPC: Can't decode result";
    case Errc::kCannotEncode:
      return "RPC: Can't encode arguments";
    case Errc::kUnknownHost:
      return "RPC: Unknown host";
    case Errc::kNotRegistered:
      return "RPC: Program not registered";
    case Errc::kProgMismatch:
    case Errc::kRpcMismatch:
      s +=
          code == Errc::kProgMismatch ? "Program/version mismatch" : "Incompatible versions of RPC";
      s += "; low version = " + std::to_string(mismatch.low) +
           ", high version = " + std::to_string(mismatch.high);
      return s;
    case Errc::kAuthError:
      return s + "Authentication error; why = " + auth_why(auth);
    default:
      break;
  }
  s += errc_name(code);
  if (sys_errno != 0) {
    s += "; errno = ";
    s += std::strerror(sys_errno);
  }
  return s;
}

}  // namespace ringrpc
