/* One rpcgen-generated XDR routine, as the wire-compatibility tests see it. Plain C. */
#ifndef RINGRPC_TESTS_GEN_WIRE_C_H
#define RINGRPC_TESTS_GEN_WIRE_C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ringrpc_ctype {
  const char* name; /* the .x type name; NULL ends a table */
  void* proc;       /* its xdr_* routine */
  size_t size;      /* sizeof the C type */
};

/* Decodes in[0..n) with type's routine (all bytes must be used), encodes the value into
 * out[0..cap) and sets *out_n. 0 on success; 2: decoding failed; 3: bytes left over; 4: encoding
 * failed. */
int ringrpc_c_roundtrip(const struct ringrpc_ctype* type, const uint8_t* in, size_t n, uint8_t* out,
                        size_t cap, size_t* out_n);

#ifdef __cplusplus
}
#endif

#endif
