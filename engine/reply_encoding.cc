#include "engine/reply_encoding.h"

#include "codec/xdr_writer.h"

namespace ringrpc {

BufferPool& thread_reply_pool() {
  thread_local BufferPool pool(BufferPool::Options{16 * 1024, 4, 0});
  return pool;
}

bool encode_reply_bytes(uint32_t xid, rpc::accept_stat stat, internal::DeferredReply::EncodeFn fn,
                        const void* ctx, bool record_mark, std::vector<uint8_t>& out) {
  xdr::EncodeOptions opts;
  opts.record_mark = record_mark;
  bool ok = true;
  {
    xdr::OutMessage m;
    xdr::XdrWriter w(thread_reply_pool(), m, opts);
    if (rpc::encode_accepted_reply(w, xid, stat) &&
        (stat != rpc::accept_stat::SUCCESS || fn == nullptr || fn(ctx, w)) && w.finish()) {
      out = m.flatten();
      return true;
    }
    ok = false;
  }
  xdr::OutMessage m;
  xdr::XdrWriter w(thread_reply_pool(), m, opts);
  rpc::encode_accepted_reply(w, xid, rpc::accept_stat::SYSTEM_ERR);
  w.finish();
  out = m.flatten();
  return ok;
}

}  // namespace ringrpc
