/* The libtirpc side of the wire-compatibility tests: decode bytes with an rpcgen-generated xdr_*
 * routine, encode the C value again, free it. Kept in C, away from the C++ tests: libtirpc's
 * headers define macros (AUTH_NONE, TRUE, ...) that collide with the generated C++ names. */
#include <rpc/rpc.h>
#include <stdlib.h>
#include <string.h>

#include "tests/gen/wire_c.h"

int ringrpc_c_roundtrip(const struct ringrpc_ctype* type, const uint8_t* in, size_t n, uint8_t* out,
                        size_t cap, size_t* out_n) {
  XDR x;
  xdrproc_t proc = (xdrproc_t)type->proc;
  void* obj = calloc(1, type->size);
  int rc = 0;
  if (obj == NULL) return 1;
  xdrmem_create(&x, (char*)(uintptr_t)in, (u_int)n, XDR_DECODE);
  if (!proc(&x, obj, 0)) {
    rc = 2; /* libtirpc refused our bytes */
  } else if (xdr_getpos(&x) != n) {
    rc = 3; /* it did not consume all of them */
  }
  xdr_destroy(&x);
  if (rc == 0) {
    xdrmem_create(&x, (char*)out, (u_int)cap, XDR_ENCODE);
    if (!proc(&x, obj, 0)) rc = 4;
    *out_n = xdr_getpos(&x);
    xdr_destroy(&x);
  }
  xdr_free(proc, obj);
  free(obj);
  return rc;
}

/* rpcgen's code for rpcb_prot.x calls an xdr_* routine for each of these libtirpc typedefs,
 * which libtirpc does not export (its own rpcb_prot.c uses xdr_u_int32_t). */
bool_t xdr_rpcprog_t(XDR* x, rpcprog_t* v) { return xdr_u_int32_t(x, v); }
bool_t xdr_rpcvers_t(XDR* x, rpcvers_t* v) { return xdr_u_int32_t(x, v); }
bool_t xdr_rpcproc_t(XDR* x, rpcproc_t* v) { return xdr_u_int32_t(x, v); }
bool_t xdr_rpcprot_t(XDR* x, rpcprot_t* v) { return xdr_u_int32_t(x, v); }
bool_t xdr_rpcport_t(XDR* x, rpcport_t* v) { return xdr_u_int32_t(x, v); }
