// Socket addresses and the few socket calls the transports share: make listening, datagram and
// connecting sockets for IPv4, IPv6 and Unix-domain (AF_LOCAL) stream sockets, and turn errno
// values into errors that say what failed.
//
// Every socket made here is non-blocking and close-on-exec, and TCP sockets have TCP_NODELAY:
// RPC messages are written whole, so Nagle's algorithm would only add latency.
//
// Threading: free functions and value types; nothing shared.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace ringrpc::transport {

// A transport-level failure: the errno and the operation that returned it (STYLE rule 21: errno
// values stop here, wrapped once).
struct IoError {
  int code = 0;         // errno; 0 = no error
  const char* op = "";  // "connect", "bind 127.0.0.1:111", ...

  bool ok() const noexcept { return code == 0; }
  std::string to_string() const;  // "connect: Connection refused"
};

// An IPv4, IPv6 or Unix-domain address. Value type.
class SockAddr {
 public:
  SockAddr() noexcept;
  static SockAddr ipv4(uint32_t host_order_addr, uint16_t port) noexcept;
  static SockAddr loopback4(uint16_t port) noexcept { return ipv4(0x7f000001u, port); }
  static SockAddr loopback6(uint16_t port) noexcept;
  static SockAddr any4(uint16_t port) noexcept { return ipv4(0, port); }
  static SockAddr any6(uint16_t port) noexcept;
  // A Unix-domain path; false when it does not fit in sun_path.
  static bool unix_path(std::string_view path, SockAddr& out) noexcept;
  // Numeric "1.2.3.4", "::1" or "[::1]" with a port; false when not numeric.
  static bool parse_ip(std::string_view host, uint16_t port, SockAddr& out) noexcept;
  // A host name or numeric address, through getaddrinfo (may block on DNS). Prefers IPv4,
  // like libtirpc's clnt_create with "tcp"/"udp"; `ipv6` asks for an IPv6 address only.
  static bool resolve(const std::string& host, uint16_t port, bool ipv6, SockAddr& out,
                      std::string* error = nullptr);
  static SockAddr from(const sockaddr* sa, socklen_t len) noexcept;

  int family() const noexcept { return storage_.ss_family; }
  bool is_unix() const noexcept { return family() == AF_UNIX; }
  uint16_t port() const noexcept;  // 0 for Unix addresses
  void set_port(uint16_t port) noexcept;
  bool is_loopback() const noexcept;  // 127.0.0.0/8, ::1, ::ffff:127.x, or a Unix socket
  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* get_mut() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t len() const noexcept { return len_; }
  void set_len(socklen_t len) noexcept { len_ = len; }
  static constexpr socklen_t capacity() noexcept { return sizeof(sockaddr_storage); }
  // "127.0.0.1:111", "[::1]:111", "/run/x.sock".
  std::string to_string() const;
  // The host part only: "127.0.0.1", "::1", or the path.
  std::string host_string() const;

  friend bool operator==(const SockAddr& a, const SockAddr& b) noexcept;

 private:
  sockaddr_storage storage_;
  socklen_t len_;
};

struct ListenOptions {
  int backlog = 1024;
  // Several sockets bound to one port, one per shard: the kernel spreads connections (or, for
  // UDP, flows) over them.
  bool reuse_port = false;
  bool v6_only = true;  // an IPv6 socket serves IPv6 only; bind an IPv4 socket for IPv4
};

// A bound, listening stream socket. `addr` gets the bound address (the port chosen for port 0).
int listen_stream(SockAddr& addr, const ListenOptions& options, IoError& error) noexcept;
// A bound datagram socket, same rules.
int bind_datagram(SockAddr& addr, const ListenOptions& options, IoError& error) noexcept;
// A non-blocking stream socket with connect() started: returns the fd; `in_progress` is set when
// the connection completes later (wait for writability, then check connect_result()).
int connect_stream(const SockAddr& addr, bool& in_progress, IoError& error) noexcept;
// The outcome of a non-blocking connect (SO_ERROR); 0 when connected.
int connect_result(int fd) noexcept;
// An unconnected non-blocking datagram socket of the family of `peer`.
int open_datagram(const SockAddr& peer, IoError& error) noexcept;
// Options every accepted stream socket gets: non-blocking, TCP_NODELAY where it applies.
void prepare_accepted(int fd) noexcept;
// Sets SO_SNDBUF/SO_RCVBUF when non-zero (the kernel doubles the value and caps it).
void set_buffer_sizes(int fd, int sndbuf, int rcvbuf) noexcept;

}  // namespace ringrpc::transport
