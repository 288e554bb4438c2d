/*
 * A C interface to libtirpc's own XDR and RPC routines, for golden vectors, differential tests and
 * benchmark baselines. libtirpc's headers define AUTH_NONE, SUCCESS, ... as macros and enums at
 * global scope, so they are only ever included in tirpc_shim.c, never next to ringrpc's headers.
 *
 * Encoders write into buf[0..cap) with xdrmem and return the bytes written, or -1 when libtirpc
 * refuses. Decoders return 1 when libtirpc accepts the bytes, 0 when it refuses. Thread-safe.
 */
#ifndef RINGRPC_TESTS_SUPPORT_TIRPC_SHIM_H
#define RINGRPC_TESTS_SUPPORT_TIRPC_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int tirpc_enc_int(int32_t v, uint8_t* buf, size_t cap);
int tirpc_enc_uint(uint32_t v, uint8_t* buf, size_t cap);
int tirpc_enc_enum(int32_t v, uint8_t* buf, size_t cap);
int tirpc_enc_bool(int v, uint8_t* buf, size_t cap);
int tirpc_enc_hyper(int64_t v, uint8_t* buf, size_t cap);
int tirpc_enc_uhyper(uint64_t v, uint8_t* buf, size_t cap);
int tirpc_enc_float(float v, uint8_t* buf, size_t cap);
int tirpc_enc_double(double v, uint8_t* buf, size_t cap);
int tirpc_enc_void(uint8_t* buf, size_t cap);
int tirpc_enc_fixed_opaque(const uint8_t* p, uint32_t n, uint8_t* buf, size_t cap);
int tirpc_enc_bytes(const uint8_t* p, uint32_t n, uint32_t max, uint8_t* buf, size_t cap);
int tirpc_enc_string(const char* s, uint32_t max, uint8_t* buf, size_t cap);
/* xdr_array (variable) and xdr_vector (fixed) of int, unsigned hyper and double. */
int tirpc_enc_int_array(const int32_t* v, uint32_t n, uint32_t max, uint8_t* buf, size_t cap);
int tirpc_enc_int_vector(const int32_t* v, uint32_t n, uint8_t* buf, size_t cap);
int tirpc_enc_uhyper_array(const uint64_t* v, uint32_t n, uint32_t max, uint8_t* buf, size_t cap);
int tirpc_enc_double_array(const double* v, uint32_t n, uint32_t max, uint8_t* buf, size_t cap);
/* xdr_pointer to an int: p == NULL encodes "absent". */
int tirpc_enc_optional_int(const int32_t* p, uint8_t* buf, size_t cap);
/* xdr_union over an int discriminant: case 1: int; case 2: unsigned hyper; case 3: void;
 * default: string<16> when has_default, else no default arm. */
int tirpc_enc_union(int32_t disc, int32_t i, uint64_t uh, const char* s, int has_default,
                    uint8_t* buf, size_t cap);

int tirpc_dec_int(const uint8_t* buf, size_t len, int32_t* out);
int tirpc_dec_uint(const uint8_t* buf, size_t len, uint32_t* out);
int tirpc_dec_bool(const uint8_t* buf, size_t len, int* out);
int tirpc_dec_hyper(const uint8_t* buf, size_t len, int64_t* out);
int tirpc_dec_uhyper(const uint8_t* buf, size_t len, uint64_t* out);
int tirpc_dec_float(const uint8_t* buf, size_t len, float* out);
int tirpc_dec_double(const uint8_t* buf, size_t len, double* out);
int tirpc_dec_fixed_opaque(const uint8_t* buf, size_t len, uint8_t* out, uint32_t n);
/* out must hold max bytes; *n receives the length. */
int tirpc_dec_bytes(const uint8_t* buf, size_t len, uint32_t max, uint8_t* out, uint32_t* n);
/* out must hold max + 1 bytes. */
int tirpc_dec_string(const uint8_t* buf, size_t len, uint32_t max, char* out);
int tirpc_dec_int_array(const uint8_t* buf, size_t len, uint32_t max, int32_t* out, uint32_t* n);
int tirpc_dec_uhyper_array(const uint8_t* buf, size_t len, uint32_t max, uint64_t* out,
                           uint32_t* n);
int tirpc_dec_double_array(const uint8_t* buf, size_t len, uint32_t max, double* out, uint32_t* n);
int tirpc_dec_optional_int(const uint8_t* buf, size_t len, int* present, int32_t* out);
/* How many bytes the last successful decode consumed (xdr_getpos). */
size_t tirpc_last_pos(void);

/* RPC messages (xdr_callmsg, xdr_replymsg, xdr_authunix_parms). */
struct tirpc_auth {
  uint32_t flavor;
  const uint8_t* body;
  uint32_t len;
};
int tirpc_enc_call(uint32_t xid, uint32_t prog, uint32_t vers, uint32_t proc,
                   struct tirpc_auth cred, struct tirpc_auth verf, uint8_t* buf, size_t cap);
/* Decodes a call header; returns 1 and fills the fields, 0 on refusal. */
int tirpc_dec_call(const uint8_t* buf, size_t len, uint32_t* xid, uint32_t* rpcvers, uint32_t* prog,
                   uint32_t* vers, uint32_t* proc, uint32_t* cred_flavor, uint32_t* cred_len,
                   uint32_t* verf_flavor, uint32_t* verf_len);
/* astat: accept_stat; low/high used for PROG_MISMATCH; SUCCESS carries no results. */
int tirpc_enc_accepted_reply(uint32_t xid, int astat, uint32_t low, uint32_t high, uint8_t* buf,
                             size_t cap);
/* rstat: 0 RPC_MISMATCH (low/high) or 1 AUTH_ERROR (why). */
int tirpc_enc_denied_reply(uint32_t xid, int rstat, uint32_t low, uint32_t high, int why,
                           uint8_t* buf, size_t cap);
/* Decodes a reply header: stat 0 accepted (astat, low/high) or 1 denied (rstat, low/high, why). */
int tirpc_dec_reply(const uint8_t* buf, size_t len, uint32_t* xid, int* stat, int* astat,
                    int* rstat, uint32_t* low, uint32_t* high, int* why);
int tirpc_enc_authsys(uint32_t stamp, const char* machine, uint32_t uid, uint32_t gid,
                      uint32_t ngids, const uint32_t* gids, uint8_t* buf, size_t cap);
int tirpc_dec_authsys(const uint8_t* buf, size_t len, uint32_t* stamp, char* machine /*256*/,
                      uint32_t* uid, uint32_t* gid, uint32_t* ngids, uint32_t* gids /*16*/);

/* Record marking: libtirpc's xdrrec writes an opaque<> of n bytes as one record, with sendsize
 * as its fragment buffer size; returns the bytes of the stream. */
int tirpc_rec_encode_bytes(const uint8_t* p, uint32_t n, unsigned sendsize, uint8_t* out,
                           size_t cap);

/* The benchmark struct (bench_record.x), as plain C. */
struct tirpc_bench_item_plain {
  int32_t id;
  int64_t value;
};
struct tirpc_bench_plain {
  int32_t a;
  uint32_t b;
  int32_t c;
  int64_t h;
  uint64_t uh;
  double d;
  float f;
  int flag;
  int32_t e;
  int32_t g;
  char name[65];
  uint32_t nvalues;
  int32_t values[32];
  uint32_t nitems;
  struct tirpc_bench_item_plain items[8];
};
/* Builds libtirpc's native struct once (for benchmarks); free with tirpc_bench_destroy. */
void* tirpc_bench_make(const struct tirpc_bench_plain* in);
void tirpc_bench_destroy(void* native);
int tirpc_bench_encode(const void* native, uint8_t* buf, size_t cap);
/* Decodes into libtirpc's native struct, folds every field into *checksum, frees it. */
int tirpc_bench_decode_free(const uint8_t* buf, size_t len, uint64_t* checksum);
/* Decodes into the plain struct (tests); at most 8 items. */
int tirpc_bench_decode_plain(const uint8_t* buf, size_t len, struct tirpc_bench_plain* out);

#ifdef __cplusplus
}
#endif

#endif
