// The proxy's static declarations: Legato's `extern:` and `links:` sections of a system's .sdef
// (shared/reference/legato-rpc.md 3.1, 4), for ONC RPC services. Fixed for the life of a proxy,
// as Legato fixes them at build time; the run-time bindings and systems (config.h) refer to them
// by name.
//
//  - A *server* extern is an ONC RPC server on this host that other systems may call (Legato's
//    extern server interface, a clientReference of its proxy): its alias, its program and
//    version, and where it is (through the host's registry, like clnt_create, or at a fixed
//    address).
//  - A *client* extern is a service local clients call while it runs on another system (an
//    extern client interface, a serverReference): its alias, the program and version the remote
//    server has (which make the protocol id), and optionally the program, version and port it
//    appears as here.
//  - A *link* is a name, a kind (networkSocket, the one le_comm plug-in) and a role.
//
// The file (engine/legato/DESIGN.md "Declarations") keeps the .sdef's shape:
//
//   system Alice
//   extern:
//   {
//       squareServer = server 824377344 1
//       echoClient = client echo 1 as 824377399 1 port 40001
//   }
//   links:
//   {
//       LinkToBob = networkSocket listen
//   }
//
// Threading: value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/legato/link.h"
#include "transport/socket.h"

namespace ringrpc::legato {

enum class ExternKind : uint8_t { kServer, kClient };

struct Extern {
  std::string alias;
  ExternKind kind = ExternKind::kServer;
  uint32_t program = 0;  // the real server's program and version: the protocol id
  uint32_t version = 0;
  // Client externs: what local clients call (defaults: program, version, any port).
  uint32_t local_program = 0;
  uint32_t local_version = 0;
  uint16_t local_port = 0;
  // Server externs: a fixed address of the server, else (nullopt) the host's registry says.
  std::optional<transport::SockAddr> server_address;
  bool server_shm = false;  // server_address is the server's shared-memory endpoint (ringrpc-shm)
  int line = 0;             // in the file, for messages
};

struct LinkDeclaration {
  std::string name;
  std::string kind;  // "networkSocket"
  LinkRole role = LinkRole::kConnect;
  int line = 0;
};

struct Declarations {
  std::string system_name;  // ours; optional (logs and status)
  std::vector<Extern> externs;
  std::vector<LinkDeclaration> links;

  const Extern* find_extern(std::string_view alias) const;
  const LinkDeclaration* find_link(std::string_view name) const;

  // Strict: an unknown keyword, a duplicate alias or link, a bad number, an unknown program
  // name or a malformed line is an error with its line number.
  static std::optional<Declarations> parse(std::string_view text, std::string* error);
};

std::optional<Declarations> load_declarations(const std::string& path, std::string* error);

// A program number, decimal or 0x hex, or a name from /etc/rpc (getrpcbyname).
bool parse_program(std::string_view s, uint32_t& out);

}  // namespace ringrpc::legato
