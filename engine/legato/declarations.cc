#include "engine/legato/declarations.h"

#include <netdb.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/legato/wire.h"

namespace ringrpc::legato {
namespace {

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    if (i >= line.size()) break;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
    out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

bool parse_u32(std::string_view s, uint32_t& out) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc() && p == s.data() + s.size();
}

bool valid_name(std::string_view s, size_t max) {
  if (s.empty() || s.size() >= max) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '.' || c == '"' || c == '\\' || c == 0x7f)
      return false;
  }
  return true;
}

// "\"name\"", built by appending: gcc 12 warns (-Wrestrict, falsely) on "literal" + string.
std::string quoted(std::string_view v) {
  std::string out;
  out.reserve(v.size() + 2);
  out += '"';
  out += v;
  out += '"';
  return out;
}

}  // namespace

bool parse_program(std::string_view s, uint32_t& out) {
  if (parse_u32(s, out)) return true;
  if (s.empty() || s.size() > 255) return false;
  std::string name(s);
  rpcent ent{};
  rpcent* found = nullptr;
  char buf[1024];
  // getrpcbyname_r: the plain one shares a static entry between threads.
  if (getrpcbyname_r(name.c_str(), &ent, buf, sizeof buf, &found) != 0 || found == nullptr)
    return false;
  out = static_cast<uint32_t>(found->r_number);
  return true;
}

const Extern* Declarations::find_extern(std::string_view alias) const {
  for (const Extern& e : externs) {
    if (e.alias == alias) return &e;
  }
  return nullptr;
}

const LinkDeclaration* Declarations::find_link(std::string_view name) const {
  for (const LinkDeclaration& l : links) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

std::optional<Declarations> Declarations::parse(std::string_view text, std::string* error) {
  Declarations d;
  enum class Section { kTop, kExtern, kLinks } section = Section::kTop;
  bool in_braces = false;
  int lineno = 0;
  auto fail = [&](const std::string& what) -> std::optional<Declarations> {
    if (error != nullptr) *error = "line " + std::to_string(lineno) + ": " + what;
    return std::nullopt;
  };
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++lineno;
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    std::vector<std::string_view> w = words(line);
    if (w.empty()) continue;

    if (w.size() == 1 && (w[0] == "extern:" || w[0] == "links:")) {
      if (in_braces) return fail(quoted(w[0]) + " inside a section's braces");
      section = w[0] == "extern:" ? Section::kExtern : Section::kLinks;
      continue;
    }
    if (w.size() == 1 && w[0] == "{") {
      if (section == Section::kTop || in_braces) return fail("unexpected \"{\"");
      in_braces = true;
      continue;
    }
    if (w.size() == 1 && w[0] == "}") {
      if (!in_braces) return fail("unexpected \"}\"");
      in_braces = false;
      section = Section::kTop;
      continue;
    }
    if (w[0] == "system") {
      if (section != Section::kTop) return fail("\"system\" inside a section");
      if (w.size() != 2) return fail("expected: system NAME");
      if (!valid_name(w[1], kSystemNameBytes))
        return fail("bad system name \"" + std::string(w[1]) + "\" (1-63 bytes, no spaces)");
      d.system_name = std::string(w[1]);
      continue;
    }
    if (section == Section::kTop) {
      return fail("unknown keyword \"" + std::string(w[0]) +
                  "\" (expected system, extern: or links:)");
    }
    if (w.size() < 3 || w[1] != "=") return fail("expected: NAME = ...");

    if (section == Section::kLinks) {
      LinkDeclaration l;
      l.name = std::string(w[0]);
      l.line = lineno;
      if (!valid_name(l.name, kServiceNameBytes)) return fail("bad link name \"" + l.name + "\"");
      std::string_view kind = w[2];
      // Legato writes the component in parentheses: LinkToBob = (networkSocket).
      if (kind.size() > 2 && kind.front() == '(' && kind.back() == ')')
        kind = kind.substr(1, kind.size() - 2);
      if (find_link_kind(kind) == nullptr) {
        return fail("unknown link kind " + quoted(kind) + " (this build has: " + link_kind_names() +
                    ")");
      }
      l.kind = std::string(kind);
      if (w.size() != 4 || (w[3] != "listen" && w[3] != "connect"))
        return fail("expected: " + l.name + " = " + l.kind + " listen|connect");
      l.role = w[3] == "listen" ? LinkRole::kListen : LinkRole::kConnect;
      if (d.find_link(l.name) != nullptr) return fail("link \"" + l.name + "\" declared twice");
      d.links.push_back(std::move(l));
      continue;
    }

    Extern e;
    e.alias = std::string(w[0]);
    e.line = lineno;
    if (!valid_name(e.alias, kServiceNameBytes))
      return fail("bad alias \"" + e.alias + "\" (1-127 bytes, no spaces or dots)");
    if (d.find_extern(e.alias) != nullptr)
      return fail("alias \"" + e.alias + "\" declared twice (an alias names one extern)");
    if (w[2] != "server" && w[2] != "client") {
      return fail("expected: " + e.alias + " = server|client PROGRAM VERSION ...");
    }
    e.kind = w[2] == "server" ? ExternKind::kServer : ExternKind::kClient;
    if (w.size() < 5)
      return fail("expected: " + e.alias + " = " + std::string(w[2]) + " PROGRAM VERSION ...");
    if (!parse_program(w[3], e.program))
      return fail("unknown program \"" + std::string(w[3]) + "\" (a number or a name in /etc/rpc)");
    if (!parse_u32(w[4], e.version)) return fail("bad version \"" + std::string(w[4]) + "\"");
    e.local_program = e.program;
    e.local_version = e.version;
    size_t i = 5;
    while (i < w.size()) {
      std::string_view opt = w[i];
      if (e.kind == ExternKind::kServer && opt == "at") {
        if (i + 2 >= w.size()) return fail("expected: at HOST PORT | at unix PATH | at shm PATH");
        transport::SockAddr a;
        if (w[i + 1] == "shm") {
          if (!transport::SockAddr::unix_path(std::string(w[i + 2]), a))
            return fail("at shm: the path '" + std::string(w[i + 2]) + "' is too long");
          e.server_shm = true;
        } else {
          std::string params = std::string(w[i + 1]) + " " + std::string(w[i + 2]);
          std::string why;
          if (!parse_link_parameters(params, a, &why)) return fail("at: " + why);
        }
        e.server_address = a;
        i += 3;
      } else if (e.kind == ExternKind::kClient && opt == "as") {
        if (i + 2 >= w.size()) return fail("expected: as PROGRAM VERSION");
        if (!parse_program(w[i + 1], e.local_program))
          return fail("unknown program \"" + std::string(w[i + 1]) + "\"");
        if (!parse_u32(w[i + 2], e.local_version))
          return fail("bad version \"" + std::string(w[i + 2]) + "\"");
        i += 3;
      } else if (e.kind == ExternKind::kClient && opt == "port") {
        uint32_t p = 0;
        if (i + 1 >= w.size() || !parse_u32(w[i + 1], p) || p > 65535)
          return fail("expected: port N (0-65535)");
        e.local_port = static_cast<uint16_t>(p);
        i += 2;
      } else {
        return fail("unknown option \"" + std::string(opt) + "\" for a " + std::string(w[2]) +
                    " extern (server: at HOST PORT; client: as PROGRAM VERSION, port N)");
      }
    }
    d.externs.push_back(std::move(e));
  }
  if (in_braces) return fail("a section's \"{\" is not closed");
  return d;
}

std::optional<Declarations> load_declarations(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    if (error != nullptr) *error = path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string why;
  auto d = Declarations::parse(ss.str(), &why);
  if (!d && error != nullptr) *error = path + ": " + why;
  return d;
}

}  // namespace ringrpc::legato
