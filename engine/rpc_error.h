// The error taxonomy of an RPC call as its caller sees it, and Result<T>, the value a call returns.
//
// One code per thing a caller can act on: retry elsewhere (refused, timed out), fix the call
// (PROG_UNAVAIL ... GARBAGE_ARGS), authenticate (AUTH_ERROR, with the auth_stat), or report a bug
// (cannot decode, cannot encode). The server's verdicts keep their RFC 5531 names; transport
// failures keep their errno. Nothing here allocates until to_string() is called.
//
// Threading: value types.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "codec/rpc_msg.h"

namespace ringrpc {

enum class Errc : uint8_t {
  kOk = 0,
  // Transport: the call may or may not have run.
  kTimedOut,       // no reply before the deadline
  kRefused,        // connection refused (nothing listens there)
  kReset,          // the connection broke while the call was in flight
  kCannotSend,     // another transport failure (errno says which)
  kUnknownHost,    // the name does not resolve
  kNotRegistered,  // the registry knows no such program/version/transport on that host
  kCancelled,      // the channel was closed before a reply came
  kTooManyCalls,   // the channel's limit of calls in flight was reached
  // The server's verdicts (RFC 5531): the call did not run, or failed inside the server.
  kProgUnavail,
  kProgMismatch,  // mismatch.low/high: the versions the server has
  kProcUnavail,
  kGarbageArgs,
  kSystemErr,
  kRpcMismatch,  // mismatch.low/high: the RPC versions the server speaks
  kAuthError,    // auth: the server's auth_stat
  // Bytes that do not make sense.
  kCannotDecode,  // a reply (or its results) that is not what the procedure returns
  kCannotEncode,  // the arguments break their declared limits
};

const char* errc_name(Errc e) noexcept;

struct RpcError {
  Errc code = Errc::kOk;
  int sys_errno = 0;                              // transport errors
  rpc::auth_stat auth = rpc::auth_stat::AUTH_OK;  // kAuthError
  rpc::MismatchInfo mismatch;                     // kProgMismatch, kRpcMismatch

  bool ok() const noexcept { return code == Errc::kOk; }
  // In the words of libtirpc's clnt_sperrno where there is one: "RPC: Program unavailable",
  // "RPC: Authentication error; why = Client credential too weak", "RPC: Timed out".
  std::string to_string() const;

  static RpcError io(Errc c, int err) noexcept {
    RpcError e;
    e.code = c;
    e.sys_errno = err;
    return e;
  }
  static RpcError of(Errc c) noexcept {
    RpcError e;
    e.code = c;
    return e;
  }
};

// A call's outcome: a value, or an error that says what is known.
template <typename T>
class Result {
 public:
  Result() = default;
  Result(T value) : value_(std::move(value)) {}     // NOLINT: implicit on purpose
  Result(const RpcError& error) : error_(error) {}  // NOLINT

  bool ok() const noexcept { return error_.ok(); }
  explicit operator bool() const noexcept { return ok(); }
  const RpcError& error() const noexcept { return error_; }
  T& value() & noexcept { return value_; }
  const T& value() const& noexcept { return value_; }
  T&& value() && noexcept { return std::move(value_); }
  T* operator->() noexcept { return &value_; }
  const T* operator->() const noexcept { return &value_; }
  T& operator*() & noexcept { return value_; }

 private:
  T value_{};
  RpcError error_;
};

}  // namespace ringrpc
