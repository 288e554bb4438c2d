// Encoding a reply on a thread that is not a shard (an offload thread, or the thread answering a
// deferred call): into a thread-local buffer pool, then flattened into bytes the shard sends.
// Private to engine/.
//
// Threading: uses thread-local state only.
#pragma once

#include <cstdint>
#include <vector>

#include "codec/rpc_msg.h"
#include "engine/service.h"

namespace ringrpc {

// The whole reply (record mark included when `record_mark`): the accepted-reply header with
// `stat`, then, for SUCCESS, what `fn` writes. When `fn` fails, SYSTEM_ERR instead, and false.
bool encode_reply_bytes(uint32_t xid, rpc::accept_stat stat, internal::DeferredReply::EncodeFn fn,
                        const void* ctx, bool record_mark, std::vector<uint8_t>& out);

// A thread-local pool for writers on non-shard threads.
BufferPool& thread_reply_pool();

}  // namespace ringrpc
