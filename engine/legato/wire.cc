#include "engine/legato/wire.h"

#include <algorithm>
#include <cstring>

namespace ringrpc::legato {

namespace {

void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}
uint32_t get_be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

// A name in its fixed, NUL-terminated field.
bool put_name(std::vector<uint8_t>& out, std::string_view name, size_t width) {
  if (name.size() >= width || name.find('\0') != std::string_view::npos) return false;
  out.insert(out.end(), name.begin(), name.end());
  out.insert(out.end(), width - name.size(), 0);
  return true;
}

bool get_name(const uint8_t* p, size_t width, std::string& out) {
  const void* nul = std::memchr(p, 0, width);
  if (nul == nullptr) return false;
  // Legato does not zero the struct before it fills it: bytes after the NUL may be anything.
  out.assign(reinterpret_cast<const char*>(p),
             static_cast<size_t>(static_cast<const uint8_t*>(nul) - p));
  return true;
}

size_t fixed_body_size(MsgType t) {
  return t == MsgType::kKeepAliveRequest || t == MsgType::kKeepAliveResponse
             ? kSystemNameBytes
             : kConnectMessageSize - kHeaderSize;
}

// What a tag requires of the item it tags.
enum TagRule { kNone = 0, kUint32 = 1, kUint16 = 2, kAnyItem = 3 };

TagRule tag_rule(uint64_t tag) {
  switch (tag) {
    case 2001:  // REFERENCE
    case 2006:  // CONTEXT_PTR_REFERENCE
    case 2007:  // ASYNC_HANDLER_REFERENCE
    case 2011:  // OUT string size (RTOS senders)
    case 2012:  // OUT array size (RTOS senders)
      return kUint32;
    case 2008:  // file stream id
    case 2009:  // file stream flags
    case 2010:  // file stream requested size
      return kUint16;
    case 2013:  // buffered output data (RTOS senders)
    case 2014:
      return kAnyItem;
    default:
      return kNone;
  }
}

}  // namespace

const char* to_string(MsgType t) noexcept {
  switch (t) {
    case MsgType::kConnectServiceRequest:
      return "CONNECT_SERVICE_REQUEST";
    case MsgType::kConnectServiceResponse:
      return "CONNECT_SERVICE_RESPONSE";
    case MsgType::kDisconnectService:
      return "DISCONNECT_SERVICE";
    case MsgType::kClientRequest:
      return "CLIENT_REQUEST";
    case MsgType::kServerResponse:
      return "SERVER_RESPONSE";
    case MsgType::kKeepAliveRequest:
      return "KEEPALIVE_REQUEST";
    case MsgType::kKeepAliveResponse:
      return "KEEPALIVE_RESPONSE";
    case MsgType::kServerAsyncEvent:
      return "SERVER_ASYNC_EVENT";
    case MsgType::kFileStreamMessage:
      return "FILESTREAM_MESSAGE";
  }
  return "unknown";
}

bool is_fixed(MsgType t) noexcept {
  return t == MsgType::kConnectServiceRequest || t == MsgType::kConnectServiceResponse ||
         t == MsgType::kDisconnectService || t == MsgType::kKeepAliveRequest ||
         t == MsgType::kKeepAliveResponse;
}

bool encode(const Message& m, std::vector<uint8_t>& out) {
  if (!m.payload_pieces.empty()) return false;  // its body is not all in `body`
  std::vector<uint8_t> b;
  put_be32(b, m.header.id);
  put_be32(b, m.header.service_id);
  b.push_back(static_cast<uint8_t>(m.header.type));
  if (is_fixed(m.header.type)) {
    if (!put_name(b, m.system_name, kSystemNameBytes)) return false;
    if (fixed_body_size(m.header.type) != kSystemNameBytes) {
      if (!put_name(b, m.service_name, kServiceNameBytes) ||
          !put_name(b, m.protocol_id, kProtocolIdBytes)) {
        return false;
      }
      put_be32(b, static_cast<uint32_t>(m.service_code));
    }
  } else {
    if (has_msg_id(m.header.type)) put_be32(b, m.msg_id);
    b.insert(b.end(), m.body.begin(), m.body.end());
    // The body must be exactly what a receiver will take as one message: check by reading it.
    MessageReader check(ReaderLimits{std::max<size_t>(m.body.size(), 1), 64});
    std::span<const uint8_t> in(b);
    Message back;
    if (check.next(in, back) != MessageReader::Status::kMessage || !in.empty()) return false;
  }
  out.insert(out.end(), b.begin(), b.end());
  return true;
}

void MessageReader::reset() {
  stage_ = Stage::kHeader;
  buf_.clear();
  msg_ = Message{};
  levels_.clear();
  string_left_ = 0;
  pending_tag_ = 0;
  first_item_ = true;
  event_tag_due_ = false;
  piece_string_ = false;
  pieces_len_ = 0;
  offset_ = 0;
  error_.clear();
}

MessageReader::Status MessageReader::fail(const std::string& what) {
  stage_ = Stage::kDone;
  error_ = "legato: " + what + " (" + to_string(msg_.header.type) + " id " +
           std::to_string(msg_.header.id) + ", stream offset " + std::to_string(offset_) + ")";
  return Status::kError;
}

bool MessageReader::take(std::span<const uint8_t>& in, size_t want) {
  const size_t n = std::min(want - buf_.size(), in.size());
  buf_.insert(buf_.end(), in.begin(), in.begin() + static_cast<ptrdiff_t>(n));
  in = in.subspan(n);
  offset_ += n;
  return buf_.size() == want;
}

// A streamed message to the caller: its names are empty, so only the scalars and the body move,
// and the body by swapping, so that both buffers live on and a caller that reuses `out` stops
// allocating after the first messages.
void MessageReader::hand_over(Message& out) {
  out.header = msg_.header;
  out.system_name.clear();
  out.service_name.clear();
  out.protocol_id.clear();
  out.service_code = 0;
  out.msg_id = msg_.msg_id;
  out.body.swap(msg_.body);
  out.payload_pieces.swap(msg_.payload_pieces);
  msg_.payload_pieces.clear();  // whatever `out` held before: its buffers are not ours to keep
  piece_string_ = false;
  pieces_len_ = 0;
}

void MessageReader::clear_message() {
  msg_.header = {};
  msg_.system_name.clear();
  msg_.service_name.clear();
  msg_.protocol_id.clear();
  msg_.service_code = 0;
  msg_.msg_id = 0;
  msg_.body.clear();
  msg_.payload_pieces.clear();
  piece_string_ = false;
  pieces_len_ = 0;
}

void MessageReader::flatten() {
  for (const BufferPiece& p : msg_.payload_pieces) {
    msg_.body.insert(msg_.body.end(), p.bytes.begin(), p.bytes.end());
  }
  msg_.payload_pieces.clear();
  piece_string_ = false;
  pieces_len_ = 0;
}

// The data path's message, whole in one chunk: a request or response whose body is exactly 9F,
// one definite byte string, FF (oncrpc.h's shape). Everything the general
// path checks holds for it by construction (no tags, no nesting, the string bounded below), so
// it is taken in one step; any other shape, or a message split across chunks, goes the long way.
namespace {
// The shape both shortcuts take, whole at the front of `in`: the message's length, else 0.
size_t parse_wrapped(std::span<const uint8_t> in, size_t max_body, WrappedMessage& out) {
  if (in.size() < kHeaderSize + 4 + 3) return 0;
  const uint8_t type = in[8];
  if (type != 4 && type != 5) return 0;  // events need their tag check: the long way
  const uint8_t* b = in.data() + kHeaderSize + 4;
  if (b[0] != 0x9F || (b[1] & 0xE0) != 0x40) return 0;
  const uint8_t ai = b[1] & 31;
  size_t head = 2;
  uint64_t len = 0;
  if (ai < 24) {
    len = ai;
  } else if (ai == 24 || ai == 25 || ai == 26) {
    const size_t n = ai == 24 ? 1 : ai == 25 ? 2 : 4;
    if (in.size() < kHeaderSize + 4 + 2 + n) return 0;
    for (size_t i = 0; i < n; ++i) len = len << 8 | b[2 + i];
    head += n;
  } else {
    return 0;
  }
  const size_t body = head + len + 1;
  if (body > max_body || in.size() < kHeaderSize + 4 + body) return 0;
  if (b[body - 1] != 0xFF) return 0;
  out.header.id = get_be32(in.data());
  out.header.service_id = get_be32(in.data() + 4);
  out.header.type = static_cast<MsgType>(type);
  out.msg_id = get_be32(in.data() + kHeaderSize);
  out.body = {b, body};
  out.payload = {b + head, static_cast<size_t>(len)};
  return kHeaderSize + 4 + body;
}
}  // namespace

bool MessageReader::try_whole_data_message(std::span<const uint8_t>& in, Message& out) {
  WrappedMessage w;
  const size_t total = parse_wrapped(in, limits_.max_body, w);
  if (total == 0) return false;
  clear_message();
  msg_.header = w.header;
  msg_.msg_id = w.msg_id;
  msg_.body.assign(w.body.begin(), w.body.end());
  in = in.subspan(total);
  offset_ += total;
  hand_over(out);
  return true;
}

bool MessageReader::next_wrapped(std::span<const uint8_t>& in, WrappedMessage& out) {
  if (stage_ != Stage::kHeader || !buf_.empty()) return false;
  const size_t total = parse_wrapped(in, limits_.max_body, out);
  if (total == 0) return false;
  in = in.subspan(total);
  offset_ += total;
  return true;
}

bool MessageReader::start_body() {
  msg_.body.clear();
  levels_.clear();
  pending_tag_ = 0;
  first_item_ = true;
  event_tag_due_ = msg_.header.type == MsgType::kServerAsyncEvent;
  stage_ = Stage::kItemHead;
  return true;
}

void MessageReader::item_done() {
  while (!levels_.empty() && !levels_.back().indefinite) {
    if (--levels_.back().left != 0) return;
    levels_.pop_back();  // a definite array is complete: it is one item of its parent
  }
}

bool MessageReader::on_item(uint8_t initial, uint64_t arg) {
  const uint8_t major = initial >> 5;
  const uint8_t ai = initial & 31;
  if (first_item_) {
    if (initial != 0x9f) {
      error_ = "the body does not start with a CBOR indefinite-length array (0x9F)";
      return false;
    }
    first_item_ = false;
    levels_.push_back({true, 0});
    return true;
  }
  if (event_tag_due_) {
    // Legato's receiver reads [msgId][9F][D9 hi lo] before anything else of an event, to find
    // the client the event is for.
    if (major != 6 || (arg != kTagContextPtrReference && arg != kTagAsyncHandlerReference)) {
      error_ = "an event's first element is not tag 2006 or 2007";
      return false;
    }
    event_tag_due_ = false;
  }
  const int pending = pending_tag_;
  if (pending != 0 && initial == 0xff) {
    error_ = "a tag with no item after it";
    return false;
  }
  if (pending_tag_ == kUint32 || pending_tag_ == kUint16) {
    const uint64_t max = pending_tag_ == kUint32 ? 0xffffffffu : 0xffffu;
    if (major != 0 || ai == 31 || arg > max) {
      error_ = "a tag is not followed by an unsigned integer of at most " + std::to_string(max);
      return false;
    }
  }
  pending_tag_ = 0;
  switch (major) {
    case 0:  // unsigned integer
    case 1:  // negative integer
      if (ai == 31) break;
      item_done();
      return true;
    case 2:  // byte string
    case 3:  // text string
      if (ai == 31) {
        error_ = "an indefinite-length string (Legato's receiver takes definite ones only)";
        return false;
      }
      if (arg > limits_.max_body) {
        error_ = "a string of " + std::to_string(arg) + " bytes, over the body limit";
        return false;
      }
      string_left_ = arg;
      // The data path's shape (9F, this string, FF) so far, and a string worth gathering by
      // reference: the first element of a request's or response's outer array.
      piece_string_ = major == 2 && limits_.reference_from != 0 && arg >= limits_.reference_from &&
                      (msg_.header.type == MsgType::kClientRequest ||
                       msg_.header.type == MsgType::kServerResponse) &&
                      levels_.size() == 1 && msg_.body.size() == 2 + arg_bytes_;
      if (string_left_ == 0) {
        item_done();
      } else {
        stage_ = Stage::kString;
      }
      return true;
    case 4:  // array
      if (levels_.size() >= limits_.max_depth) {
        error_ = "arrays nested deeper than " + std::to_string(limits_.max_depth);
        return false;
      }
      if (ai == 31) {
        levels_.push_back({true, 0});
      } else if (arg > limits_.max_body) {
        error_ = "an array of " + std::to_string(arg) + " items, over the body limit";
        return false;
      } else if (arg == 0) {
        item_done();
      } else {
        levels_.push_back({false, arg});
      }
      return true;
    case 5:
      error_ = "a CBOR map (Legato's receiver refuses maps)";
      return false;
    case 6: {
      if (ai == 31) break;
      const TagRule rule = tag_rule(arg);
      if (rule == kNone) {
        error_ = "CBOR tag " + std::to_string(arg) + " (not one Legato's receiver accepts)";
        return false;
      }
      pending_tag_ = rule;  // a tag is a prefix: the item it tags completes it
      return true;
    }
    case 7:
      switch (ai) {
        case 20:  // false
        case 21:  // true
        case 27:  // double
          item_done();
          return true;
        case 31:  // break
          if (levels_.empty() || !levels_.back().indefinite) {
            error_ = "a break (0xFF) outside an indefinite-length array";
            return false;
          }
          levels_.pop_back();
          item_done();
          return true;
        case 22:
          error_ = "null (Legato's receiver refuses it)";
          return false;
        case 25:
        case 26:
          error_ = "a half or single precision float (Legato sends doubles only)";
          return false;
        default:
          error_ = "CBOR simple value " + std::to_string(ai);
          return false;
      }
  }
  error_ = "reserved CBOR additional information " + std::to_string(ai);
  return false;
}

MessageReader::Status MessageReader::next(std::span<const uint8_t>& in, Message& out,
                                          const Buffer* owner) {
  // Pieces only of bytes that really lie in the owner: anything else is copied.
  if (!lies_in(in, owner)) owner = nullptr;
  while (true) {
    switch (stage_) {
      case Stage::kDone:
        if (error_.empty()) error_ = "legato: the reader was used after an error";
        return Status::kError;
      case Stage::kHeader: {
        if (buf_.empty() && try_whole_data_message(in, out)) return Status::kMessage;
        if (!take(in, kHeaderSize)) return Status::kNeedMore;
        clear_message();
        msg_.header.id = get_be32(buf_.data());
        msg_.header.service_id = get_be32(buf_.data() + 4);
        const uint8_t type = buf_[8];
        buf_.clear();
        if (type == 0 || type > 9) {
          return fail("message type " + std::to_string(type) + " (Legato knows 1 to 9)");
        }
        msg_.header.type = static_cast<MsgType>(type);
        if (is_fixed(msg_.header.type)) {
          stage_ = Stage::kFixed;
        } else if (has_msg_id(msg_.header.type)) {
          stage_ = Stage::kMsgId;
        } else {
          start_body();
        }
        break;
      }
      case Stage::kFixed: {
        if (!take(in, fixed_body_size(msg_.header.type))) return Status::kNeedMore;
        const uint8_t* p = buf_.data();
        if (!get_name(p, kSystemNameBytes, msg_.system_name)) {
          return fail("systemName is not NUL-terminated within its 64 bytes");
        }
        if (buf_.size() > kSystemNameBytes) {
          p += kSystemNameBytes;
          if (!get_name(p, kServiceNameBytes, msg_.service_name)) {
            return fail("serviceName is not NUL-terminated within its 128 bytes");
          }
          p += kServiceNameBytes;
          if (!get_name(p, kProtocolIdBytes, msg_.protocol_id)) {
            return fail("protocolIdStr is not NUL-terminated within its 128 bytes");
          }
          p += kProtocolIdBytes;
          msg_.service_code = static_cast<int32_t>(get_be32(p));
        }
        buf_.clear();
        stage_ = Stage::kHeader;
        std::swap(out, msg_);
        return Status::kMessage;
      }
      case Stage::kMsgId:
        if (!take(in, 4)) return Status::kNeedMore;
        msg_.msg_id = get_be32(buf_.data());
        buf_.clear();
        start_body();
        break;
      case Stage::kItemHead: {
        if (in.empty()) return Status::kNeedMore;
        initial_ = in[0];
        in = in.subspan(1);
        ++offset_;
        // Anything but the closing break after a string taken in pieces: not the data path's
        // shape after all, so the body is made whole again.
        if (!msg_.payload_pieces.empty() && initial_ != 0xFF) flatten();
        msg_.body.push_back(initial_);
        const uint8_t ai = initial_ & 31;
        arg_bytes_ = ai == 24 ? 1 : ai == 25 ? 2 : ai == 26 ? 4 : ai == 27 ? 8 : 0;
        if (ai >= 28 && ai <= 30) {
          return fail("reserved CBOR additional information " + std::to_string(ai));
        }
        if (arg_bytes_ == 0) {
          if (!on_item(initial_, ai)) return fail(error_);
        } else {
          buf_.clear();
          stage_ = Stage::kItemArg;
        }
        break;
      }
      case Stage::kItemArg: {
        if (!take(in, arg_bytes_)) return Status::kNeedMore;
        uint64_t arg = 0;
        for (uint8_t b : buf_) arg = arg << 8 | b;
        msg_.body.insert(msg_.body.end(), buf_.begin(), buf_.end());
        buf_.clear();
        stage_ = Stage::kItemHead;
        if (!on_item(initial_, arg)) return fail(error_);
        break;
      }
      case Stage::kString: {
        if (in.empty()) return Status::kNeedMore;
        const size_t n = static_cast<size_t>(std::min<uint64_t>(string_left_, in.size()));
        // No owner, or a chunk that is all a sliver of the string's middle (a peer trickling
        // bytes would have us pin a whole buffer for each): the string goes on by copy.
        const bool sliver = owner != nullptr && !msg_.payload_pieces.empty() && n < string_left_ &&
                            n == in.size() && in.data() == owner->data() &&
                            n < limits_.reference_from / 2;
        if (piece_string_ && (owner == nullptr || sliver)) flatten();
        if (piece_string_) {
          msg_.payload_pieces.push_back({in.first(n), *owner});
          pieces_len_ += n;
        } else {
          msg_.body.insert(msg_.body.end(), in.begin(), in.begin() + static_cast<ptrdiff_t>(n));
        }
        in = in.subspan(n);
        offset_ += n;
        string_left_ -= n;
        if (string_left_ == 0) {
          stage_ = Stage::kItemHead;
          item_done();
        }
        break;
      }
    }
    if (stage_ == Stage::kItemHead || stage_ == Stage::kItemArg || stage_ == Stage::kString) {
      if (msg_.body.size() + pieces_len_ > limits_.max_body) {
        return fail("a body longer than " + std::to_string(limits_.max_body) + " bytes");
      }
      if (stage_ == Stage::kItemHead && !first_item_ && levels_.empty()) {
        stage_ = Stage::kHeader;
        hand_over(out);
        return Status::kMessage;
      }
    }
  }
}

}  // namespace ringrpc::legato
