#include "transport/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace ringrpc::transport {

std::string IoError::to_string() const {
  std::string s = op;
  s += ": ";
  s += std::strerror(code);
  return s;
}

SockAddr::SockAddr() noexcept : len_(0) {
  std::memset(&storage_, 0, sizeof storage_);
  storage_.ss_family = AF_UNSPEC;
}

SockAddr SockAddr::ipv4(uint32_t host_order_addr, uint16_t port) noexcept {
  SockAddr a;
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(host_order_addr);
  std::memcpy(&a.storage_, &sin, sizeof sin);
  a.len_ = sizeof sin;
  return a;
}

static SockAddr make6(const in6_addr& addr, uint16_t port) noexcept {
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  sin6.sin6_addr = addr;
  return SockAddr::from(reinterpret_cast<const sockaddr*>(&sin6), sizeof sin6);
}

SockAddr SockAddr::loopback6(uint16_t port) noexcept { return make6(in6addr_loopback, port); }
SockAddr SockAddr::any6(uint16_t port) noexcept { return make6(in6addr_any, port); }

bool SockAddr::unix_path(std::string_view path, SockAddr& out) noexcept {
  sockaddr_un sun{};
  if (path.empty() || path.size() >= sizeof sun.sun_path) return false;
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.data(), path.size());
  out = from(reinterpret_cast<const sockaddr*>(&sun),
             static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1));
  return true;
}

bool SockAddr::parse_ip(std::string_view host, uint16_t port, SockAddr& out) noexcept {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  char buf[INET6_ADDRSTRLEN + 1];
  if (host.size() >= sizeof buf) return false;
  std::memcpy(buf, host.data(), host.size());
  buf[host.size()] = '\0';
  in_addr a4{};
  if (inet_pton(AF_INET, buf, &a4) == 1) {
    out = ipv4(ntohl(a4.s_addr), port);
    return true;
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, buf, &a6) == 1) {
    out = make6(a6, port);
    return true;
  }
  return false;
}

bool SockAddr::resolve(const std::string& host, uint16_t port, bool ipv6, SockAddr& out,
                       std::string* error) {
  if (parse_ip(host, port, out)) {
    if (ipv6 == (out.family() == AF_INET6)) return true;
    if (error) *error = "address " + host + (ipv6 ? " is not IPv6" : " is not IPv4");
    return false;
  }
  addrinfo hints{};
  hints.ai_family = ipv6 ? AF_INET6 : AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    if (error) *error = "cannot resolve host " + host + ": " + gai_strerror(rc);
    return false;
  }
  out = from(res->ai_addr, res->ai_addrlen);
  out.set_port(port);
  freeaddrinfo(res);
  return true;
}

SockAddr SockAddr::from(const sockaddr* sa, socklen_t len) noexcept {
  SockAddr a;
  if (len > sizeof a.storage_) len = sizeof a.storage_;
  std::memcpy(&a.storage_, sa, len);
  a.len_ = len;
  return a;
}

uint16_t SockAddr::port() const noexcept {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

void SockAddr::set_port(uint16_t port) noexcept {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
}

bool SockAddr::is_loopback() const noexcept {
  if (family() == AF_UNIX) return true;
  if (family() == AF_INET) {
    const uint32_t a = ntohl(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr.s_addr);
    return (a >> 24) == 127;
  }
  if (family() == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&a)) return true;
    return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
  }
  return false;
}

std::string SockAddr::host_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
    return buf;
  }
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
              sizeof buf);
    return buf;
  }
  if (family() == AF_UNIX) {
    const auto* sun = reinterpret_cast<const sockaddr_un*>(&storage_);
    const size_t max =
        len_ > offsetof(sockaddr_un, sun_path) ? len_ - offsetof(sockaddr_un, sun_path) : 0;
    return std::string(sun->sun_path, strnlen(sun->sun_path, max));
  }
  return "(unspecified)";
}

std::string SockAddr::to_string() const {
  if (family() == AF_INET) return host_string() + ":" + std::to_string(port());
  if (family() == AF_INET6) {
    // Built with append: gcc 12 warns (-Wrestrict, a false positive) on "[" + std::string.
    std::string s(1, '[');
    s.append(host_string()).append("]:").append(std::to_string(port()));
    return s;
  }
  return host_string();
}

bool operator==(const SockAddr& a, const SockAddr& b) noexcept {
  if (a.family() != b.family()) return false;
  if (a.family() == AF_INET) {
    const auto* x = reinterpret_cast<const sockaddr_in*>(&a.storage_);
    const auto* y = reinterpret_cast<const sockaddr_in*>(&b.storage_);
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (a.family() == AF_INET6) {
    const auto* x = reinterpret_cast<const sockaddr_in6*>(&a.storage_);
    const auto* y = reinterpret_cast<const sockaddr_in6*>(&b.storage_);
    return x->sin6_port == y->sin6_port &&
           std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
  }
  return a.len_ == b.len_ && std::memcmp(&a.storage_, &b.storage_, a.len_) == 0;
}

static void set_int_option(int fd, int level, int name, int value) noexcept {
  (void)setsockopt(fd, level, name, &value, sizeof value);
}

static int bound_socket(SockAddr& addr, int type, const ListenOptions& options,
                        IoError& error) noexcept {
  const int fd = socket(addr.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = {errno, "socket"};
    return -1;
  }
  if (!addr.is_unix()) {
    set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (options.reuse_port) set_int_option(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (addr.family() == AF_INET6) set_int_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, options.v6_only);
    // Linux copies TCP_NODELAY from the listener to accepted sockets.
    if (type == SOCK_STREAM) set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  }
  if (bind(fd, addr.get(), addr.len()) != 0) {
    error = {errno, "bind"};
    close(fd);
    return -1;
  }
  SockAddr bound;
  socklen_t len = SockAddr::capacity();
  if (getsockname(fd, bound.get_mut(), &len) == 0) {
    bound.set_len(len);
    if (!addr.is_unix()) addr = bound;
  }
  return fd;
}

int listen_stream(SockAddr& addr, const ListenOptions& options, IoError& error) noexcept {
  const int fd = bound_socket(addr, SOCK_STREAM, options, error);
  if (fd < 0) return -1;
  if (listen(fd, options.backlog) != 0) {
    error = {errno, "listen"};
    close(fd);
    return -1;
  }
  return fd;
}

int bind_datagram(SockAddr& addr, const ListenOptions& options, IoError& error) noexcept {
  return bound_socket(addr, SOCK_DGRAM, options, error);
}

int connect_stream(const SockAddr& addr, bool& in_progress, IoError& error) noexcept {
  in_progress = false;
  const int fd = socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = {errno, "socket"};
    return -1;
  }
  if (!addr.is_unix()) set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  if (connect(fd, addr.get(), addr.len()) != 0) {
    if (errno == EINPROGRESS || errno == EAGAIN) {
      in_progress = true;
      return fd;
    }
    error = {errno, "connect"};
    close(fd);
    return -1;
  }
  return fd;
}

int connect_result(int fd) noexcept {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

int open_datagram(const SockAddr& peer, IoError& error) noexcept {
  const int fd = socket(peer.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) error = {errno, "socket"};
  return fd;
}

void prepare_accepted(int fd) noexcept {
  const int flags = fcntl(fd, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK) == 0) (void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

void set_buffer_sizes(int fd, int sndbuf, int rcvbuf) noexcept {
  if (sndbuf > 0) set_int_option(fd, SOL_SOCKET, SO_SNDBUF, sndbuf);
  if (rcvbuf > 0) set_int_option(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf);
}

}  // namespace ringrpc::transport
