/* The libtirpc side of the interop tests: rpcgen's stubs for square.x and echo.x, driven the way
 * rpcgen's tutorials do, with explicit ports instead of rpcbind so tests need no registry.
 *
 *   tirpc_peer server                 serves SQUARE_PROG and ECHO_PROG v1 on TCP and UDP
 *                                     (any port; prints "listening tcp=P udp=Q"), until killed
 *   tirpc_peer client-square tcp|udp PORT   calls SQUAREPROC 203 times and checks the answers
 *   tirpc_peer client-echo tcp|udp PORT     calls ECHO with payloads of several sizes
 *   tirpc_peer client-square-once tcp|udp PORT   one SQUAREPROC; libtirpc's error on failure
 *   tirpc_peer server-netpath         serves SQUARE_PROG v1 as rpcgen's own main() does: svc_create
 *                                     on every "netpath" transport, registered with the host's
 *                                     registry; prints "registered" (SIGTERM leaves the
 *                                     registrations behind, as rpcgen's servers do)
 *   tirpc_peer client-bind tcp|udp          clnt_create("127.0.0.1", SQUARE_PROG, 1, nettype)
 *                                           through rpcbind, then one SQUAREPROC
 * A client exits 0 when every answer is right. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <rpc/rpc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "echo.h"
#include "square.h"

void square_prog_1(struct svc_req* rqstp, SVCXPRT* transp);
void echo_prog_1(struct svc_req* rqstp, SVCXPRT* transp);

square_out* squareproc_1_svc(square_in* in, struct svc_req* req) {
  static square_out out;
  (void)req;
  out.res1 = (long)(int)((unsigned)in->arg1 * (unsigned)in->arg1);
  return &out;
}

blob* echo_1_svc(blob* in, struct svc_req* req) {
  static blob out;
  (void)req;
  free(out.blob_val);
  out.blob_len = in->blob_len;
  out.blob_val = malloc(in->blob_len ? in->blob_len : 1);
  memcpy(out.blob_val, in->blob_val, in->blob_len);
  return &out;
}

static unsigned short port_of(int fd) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr*)&a, &len);
  return ntohs(a.sin_port);
}

static int serve(void) {
  /* A client that closes with replies pending makes libtirpc write to a closed socket; rpcgen's
   * own main() would die of SIGPIPE, which would end a benchmark baseline between runs. */
  signal(SIGPIPE, SIG_IGN);
  SVCXPRT* tcp = svctcp_create(RPC_ANYSOCK, 0, 0);
  SVCXPRT* udp = svcudp_create(RPC_ANYSOCK);
  if (tcp == NULL || udp == NULL) {
    fprintf(stderr, "tirpc_peer: cannot create transports\n");
    return 1;
  }
  /* Protocol 0: register the dispatch functions without telling rpcbind. */
  if (!svc_register(tcp, SQUARE_PROG, SQUARE_VERS, square_prog_1, 0) ||
      !svc_register(udp, SQUARE_PROG, SQUARE_VERS, square_prog_1, 0) ||
      !svc_register(tcp, ECHO_PROG, ECHO_VERS, echo_prog_1, 0) ||
      !svc_register(udp, ECHO_PROG, ECHO_VERS, echo_prog_1, 0)) {
    fprintf(stderr, "tirpc_peer: svc_register failed\n");
    return 1;
  }
  printf("listening tcp=%u udp=%u\n", port_of(tcp->xp_fd), port_of(udp->xp_fd));
  fflush(stdout);
  svc_run();
  return 1;
}

static CLIENT* make_client(const char* transport, int port, unsigned long prog) {
  struct sockaddr_in a;
  int sock = RPC_ANYSOCK;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (strcmp(transport, "udp") == 0) {
    struct timeval wait = {1, 0};
    return clntudp_create(&a, prog, 1, wait, &sock);
  }
  return clnttcp_create(&a, prog, 1, &sock, 0, 0);
}

static int call_square(const char* transport, int port) {
  CLIENT* sq = make_client(transport, port, SQUARE_PROG);
  if (sq == NULL) {
    clnt_pcreateerror("tirpc_peer");
    return 1;
  }
  for (long i = -3; i < 200; ++i) {
    square_in in = {i};
    square_out* out = squareproc_1(&in, sq);
    if (out == NULL) {
      clnt_perror(sq, "tirpc_peer: squareproc_1");
      return 1;
    }
    if (out->res1 != i * i) {
      fprintf(stderr, "tirpc_peer: square(%ld) = %ld\n", i, out->res1);
      return 1;
    }
  }
  clnt_destroy(sq);
  printf("ok square %s\n", transport);
  return 0;
}

/* One call with rpcgen's 25 s timeout: "ok square-once" on stdout, or libtirpc's error on stderr
 * (the proxy tests read it: "RPC: Remote system error", "RPC: Program unavailable"). */
static int call_square_once(const char* transport, int port) {
  CLIENT* sq = make_client(transport, port, SQUARE_PROG);
  if (sq == NULL) {
    clnt_pcreateerror("tirpc_peer");
    return 1;
  }
  square_in in = {12};
  square_out* out = squareproc_1(&in, sq);
  if (out == NULL) {
    clnt_perror(sq, "tirpc_peer: squareproc_1");
    return 1;
  }
  if (out->res1 != 144) {
    fprintf(stderr, "tirpc_peer: square(12) = %ld\n", out->res1);
    return 1;
  }
  clnt_destroy(sq);
  printf("ok square-once %s\n", transport);
  return 0;
}

static int call_echo(const char* transport, int port) {
  CLIENT* ec = make_client(transport, port, ECHO_PROG);
  if (ec == NULL) {
    clnt_pcreateerror("tirpc_peer");
    return 1;
  }
  /* Up to 3 MB over TCP (libtirpc sends it in fragments of its 64 KiB buffer, which a proxy
   * forwards as pieces of its receive buffers); within the 8800-byte datagram libtirpc's own UDP
   * client can receive. */
  static const unsigned sizes_tcp[] = {0,     1,     3,     4,      1000,   4096,
                                       30000, 65535, 65536, 200000, 3000000};
  static const unsigned sizes_udp[] = {0, 1, 3, 4, 1000, 8000};
  const int udp = strcmp(transport, "udp") == 0;
  const unsigned* sizes = udp ? sizes_udp : sizes_tcp;
  const size_t n =
      udp ? sizeof sizes_udp / sizeof sizes_udp[0] : sizeof sizes_tcp / sizeof sizes_tcp[0];
  for (size_t k = 0; k < n; ++k) {
    blob in;
    in.blob_len = sizes[k];
    in.blob_val = malloc(sizes[k] + 1);
    for (unsigned j = 0; j < sizes[k]; ++j) in.blob_val[j] = (char)(j * 7 + k);
    blob* out = echo_1(&in, ec);
    if (out == NULL) {
      clnt_perror(ec, "tirpc_peer: echo_1");
      return 1;
    }
    if (out->blob_len != in.blob_len || memcmp(out->blob_val, in.blob_val, in.blob_len) != 0) {
      fprintf(stderr, "tirpc_peer: echo of %u bytes came back different\n", sizes[k]);
      return 1;
    }
    xdr_free((xdrproc_t)xdr_blob, (char*)out);
    free(in.blob_val);
  }
  clnt_destroy(ec);
  printf("ok echo %s\n", transport);
  return 0;
}

static int call_bound(const char* nettype) {
  CLIENT* c = clnt_create("127.0.0.1", SQUARE_PROG, SQUARE_VERS, nettype);
  if (c == NULL) {
    clnt_pcreateerror("tirpc_peer: clnt_create");
    return 1;
  }
  square_in in = {12};
  square_out* out = squareproc_1(&in, c);
  if (out == NULL || out->res1 != 144) {
    clnt_perror(c, "tirpc_peer: squareproc_1");
    return 1;
  }
  clnt_destroy(c);
  printf("ok bound %s\n", nettype);
  return 0;
}

static int serve_registered(void) {
  signal(SIGPIPE, SIG_IGN);
  if (!svc_create(square_prog_1, SQUARE_PROG, SQUARE_VERS, "netpath")) {
    fprintf(stderr, "tirpc_peer: svc_create could not register SQUARE_PROG\n");
    return 1;
  }
  printf("registered\n");
  fflush(stdout);
  svc_run();
  return 1;
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "server") == 0) return serve();
  if (argc == 2 && strcmp(argv[1], "server-netpath") == 0) return serve_registered();
  if (argc == 4 && strcmp(argv[1], "client-square") == 0)
    return call_square(argv[2], atoi(argv[3]));
  if (argc == 3 && strcmp(argv[1], "client-bind") == 0) return call_bound(argv[2]);
  if (argc == 4 && strcmp(argv[1], "client-square-once") == 0)
    return call_square_once(argv[2], atoi(argv[3]));
  if (argc == 4 && strcmp(argv[1], "client-echo") == 0) return call_echo(argv[2], atoi(argv[3]));
  fprintf(stderr,
          "usage: tirpc_peer server | server-netpath | "
          "client-square|client-square-once|client-echo tcp|udp PORT |"
          " client-bind tcp|udp\n");
  return 2;
}
