// Legato rpcProxy's wire protocol (shared/reference/legato-rpc.md 1.2-1.8): the messages two
// proxies exchange over a link, encoded and decoded byte for byte as Legato's le_rpcProxy.c does.
//
// Framing has no length prefix: every message is a 9-byte header (id, serviceId, both big-endian,
// and a type byte 1..9) and a body whose length the type decides. Types 1-3 (connect, connect
// response, disconnect) carry a fixed 324-byte body of three NUL-terminated names and a result
// code; types 6-7 (keep-alive) a 64-byte system name; types 4, 5, 8 (client request, server
// response, event) a 4-byte message id and a CBOR indefinite-length array that is parsed item by
// item to find its end; type 9 (file stream) the CBOR array alone. MessageReader takes the link's
// bytes in any chunking and returns whole messages; every length and nesting level is bounded,
// and anything Legato's receiver would reject (a type outside 1..9, a map, a float narrower than
// a double, null, a tag outside Legato's list, an unterminated name) is an error with the byte
// offset, after which the link must be dropped, as Legato drops it.
//
// Threading: value types and a per-link reader; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "codec/buffer_piece.h"
#include "codec/buffer_pool.h"

namespace ringrpc::legato {

enum class MsgType : uint8_t {
  kConnectServiceRequest = 1,
  kConnectServiceResponse = 2,
  kDisconnectService = 3,
  kClientRequest = 4,
  kServerResponse = 5,
  kKeepAliveRequest = 6,
  kKeepAliveResponse = 7,
  kServerAsyncEvent = 8,
  kFileStreamMessage = 9,
};
const char* to_string(MsgType t) noexcept;

constexpr size_t kHeaderSize = 9;
constexpr size_t kSystemNameBytes = 64;    // LIMIT_MAX_SYSTEM_NAME_BYTES
constexpr size_t kServiceNameBytes = 128;  // LIMIT_MAX_IPC_INTERFACE_NAME_BYTES
constexpr size_t kProtocolIdBytes = 128;   // LIMIT_MAX_PROTOCOL_ID_BYTES
constexpr size_t kConnectMessageSize =
    kHeaderSize + kSystemNameBytes + kServiceNameBytes + kProtocolIdBytes + 4;  // 333
constexpr size_t kKeepAliveMessageSize = kHeaderSize + kSystemNameBytes;        // 73

// le_result_t codes a connect response carries.
constexpr int32_t kLeOk = 0;
constexpr int32_t kLeFormatError = -13;  // protocol ids differ
constexpr int32_t kLeDuplicate = -14;    // the service is already connected
constexpr int32_t kLeUnavailable = -21;  // no such service on this system

// CBOR semantic tags Legato's receiver accepts (le_rpcProxyStream.c); any other is an error.
constexpr uint64_t kTagReference = 2001;
constexpr uint64_t kTagContextPtrReference = 2006;
constexpr uint64_t kTagAsyncHandlerReference = 2007;
constexpr uint64_t kTagFileStreamId = 2008;
constexpr uint64_t kTagFileStreamFlags = 2009;
constexpr uint64_t kTagFileStreamRequestSize = 2010;

struct Header {
  uint32_t id = 0;
  uint32_t service_id = 0;
  MsgType type = MsgType::kKeepAliveRequest;
};

// One message as it travels. Which fields mean something depends on the type: the names and
// service_code for types 1-3, system_name for 6-7, msg_id and body for 4, 5, 8 and body for 9.
struct Message {
  Header header;
  std::string system_name;
  std::string service_name;
  std::string protocol_id;
  int32_t service_code = 0;
  uint32_t msg_id = 0;        // types 4, 5, 8: the Legato IPC message id
  std::vector<uint8_t> body;  // types 4, 5, 8, 9: the CBOR array, 0x9F ... 0xFF, as received
  // Not empty only for a request or response read with owners (MessageReader::next) whose body
  // is 9F, one definite byte string of at least ReaderLimits::reference_from bytes, FF (how ONC
  // RPC rides): that string's bytes as pieces of the receive buffers they arrived in, and `body`
  // holds the rest (9F, the string's head, FF) without them. encode() refuses such a message.
  std::vector<BufferPiece> payload_pieces;
};

// A request or response (types 4, 5) whose body is exactly one definite byte string, the shape
// ONC RPC rides in (oncrpc.h), seen where it was read: `body` and `payload` point into the
// receive buffer and are valid only during the call they are passed to.
struct WrappedMessage {
  Header header;
  uint32_t msg_id = 0;
  std::span<const uint8_t> body;     // 9F, the string's head, its bytes, FF
  std::span<const uint8_t> payload;  // the string's bytes
  // The receive buffer the bytes lie in, when the caller has one (Link does): a handler may keep
  // a reference to it to forward the payload without copying it (OutBatch::append_ref).
  const Buffer* owner = nullptr;
};

bool is_fixed(MsgType t) noexcept;  // types 1-3, 6, 7
// Types 4, 5, 8. Inline: the data path asks it of every message it sends.
constexpr bool has_msg_id(MsgType t) noexcept {
  return t == MsgType::kClientRequest || t == MsgType::kServerResponse ||
         t == MsgType::kServerAsyncEvent;
}

// Appends the message's bytes to `out`. False (nothing appended) when a name does not fit its
// field with its NUL, or a streamed body is not one well-formed CBOR indefinite array.
bool encode(const Message& m, std::vector<uint8_t>& out);

struct ReaderLimits {
  size_t max_body = 1u << 20;  // CBOR bytes of one streamed body
  size_t max_depth = 32;       // nesting of arrays inside the body
  // With owners (next()), a data message's one byte string of this many bytes or more is
  // gathered as pieces of the receive buffers (Message::payload_pieces) instead of copied (0:
  // never). Smaller ones are copied: pinning a 64 KiB buffer costs more than a few KiB of copy.
  size_t reference_from = 32 * 1024;
};

// Splits a link's byte stream into messages.
class MessageReader {
 public:
  enum class Status : uint8_t { kMessage, kNeedMore, kError };

  explicit MessageReader(ReaderLimits limits = {}) : limits_(limits) {}

  // Consumes bytes from the front of `in` until one message is complete (kMessage: `out` holds
  // it, `in` starts after it), `in` is used up (kNeedMore), or the stream is broken (kError,
  // for good: error() says what and where). `owner`, when given, is the pooled buffer `in` lies
  // in: a large payload may then come back as pieces (Message::payload_pieces), which `out`
  // holds (and with them the buffers) until the caller clears them or the next message. A call
  // without an owner copies what was gathered so far and goes on copying.
  Status next(std::span<const uint8_t>& in, Message& out, const Buffer* owner = nullptr);
  // The data path's shortcut: between messages, a WrappedMessage whole at the front of `in` is
  // taken in place, without a copy (true: `in` starts after it). False, with nothing consumed,
  // for anything else (another type or shape, a message split across chunks, a reader inside a
  // message or failed): call next(), which reads every message, these included, the long way.
  bool next_wrapped(std::span<const uint8_t>& in, WrappedMessage& out);
  const std::string& error() const noexcept { return error_; }
  // Bytes of the stream consumed so far, for error offsets.
  uint64_t offset() const noexcept { return offset_; }
  void reset();

 private:
  enum class Stage : uint8_t { kHeader, kFixed, kMsgId, kItemHead, kItemArg, kString, kDone };
  struct Level {
    bool indefinite;
    uint64_t left;  // items left in a definite array
  };

  Status fail(const std::string& what);
  void clear_message();  // keeps the buffers' capacity
  void hand_over(Message& out);
  bool try_whole_data_message(std::span<const uint8_t>& in, Message& out);
  bool start_body();
  // Handles a complete CBOR item head (initial byte + argument); false on a format error.
  bool on_item(uint8_t initial, uint64_t arg);
  void item_done();  // one data item finished: count it in its container
  void flatten();    // payload pieces -> body: the message goes on by copy
  bool take(std::span<const uint8_t>& in, size_t want);  // fills buf_ up to `want` bytes

  ReaderLimits limits_;
  Stage stage_ = Stage::kHeader;
  std::vector<uint8_t> buf_;  // the header, a fixed body, or an item head being gathered
  Message msg_;
  std::vector<Level> levels_;
  uint64_t string_left_ = 0;
  uint8_t initial_ = 0;
  size_t arg_bytes_ = 0;
  int pending_tag_ = 0;     // 0, or what the item after a tag must be: 1 uint32, 2 uint16, 3 any
  bool first_item_ = true;  // the body's array has not yet started
  bool event_tag_due_ = false;  // an event's first element must be tag 2006/2007
  bool piece_string_ = false;   // the byte string being read goes to msg_.payload_pieces
  size_t pieces_len_ = 0;       // bytes in msg_.payload_pieces
  uint64_t offset_ = 0;
  std::string error_;
};

}  // namespace ringrpc::legato
