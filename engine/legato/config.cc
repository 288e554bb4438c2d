#include "engine/legato/config.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/legato/wire.h"

namespace ringrpc::legato {

namespace {

// What the wire's fixed fields hold, less the NUL (wire.h); parameters as rpctool's buffer.
constexpr size_t kMaxSystemName = kSystemNameBytes - 1;
constexpr size_t kMaxServiceName = kServiceNameBytes - 1;
constexpr size_t kMaxParameters = 127;

bool check_text(std::string_view what, std::string_view v, size_t max, std::string* error) {
  if (v.empty()) {
    *error = std::string(what) + " is empty";
    return false;
  }
  if (v == kEmpty) {
    *error = std::string(what) + " cannot be " + std::string(kEmpty) + " (it marks a free slot)";
    return false;
  }
  if (v.size() > max) {
    *error = std::string(what) + " '" + std::string(v) + "' is longer than " + std::to_string(max) +
             " bytes";
    return false;
  }
  for (char c : v) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      *error = std::string(what) + " holds a control character";
      return false;
    }
  }
  return true;
}

template <typename T, typename Name>
T* find_slot(std::vector<T>& slots, std::string_view name, Name name_of) {
  for (T& s : slots) {
    if (name_of(s) == name) return &s;
  }
  return nullptr;
}

template <typename T, typename Name>
void put_slot(std::vector<T>& slots, const T& value, Name name_of) {
  if (T* same = find_slot(slots, name_of(value), name_of)) {
    *same = value;
    return;
  }
  if (T* free = find_slot(slots, kEmpty, name_of)) {
    *free = value;
    return;
  }
  slots.push_back(value);
}

std::string quote(std::string_view v) {
  std::string q = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

bool unquote(std::string_view v, std::string& out) {
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return false;
  out.clear();
  for (size_t i = 1; i + 1 < v.size(); ++i) {
    char c = v[i];
    if (c == '\\') {
      if (i + 2 >= v.size()) return false;
      c = v[++i];
    } else if (c == '"') {
      return false;
    }
    out += c;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

bool operator==(const Binding& a, const Binding& b) {
  return a.service_name == b.service_name && a.system_name == b.system_name &&
         a.remote_service == b.remote_service;
}
bool operator==(const System& a, const System& b) {
  return a.system_name == b.system_name && a.link_name == b.link_name &&
         a.parameters == b.parameters;
}

bool RuntimeConfig::set_binding(const Binding& b, std::string* error) {
  if (!check_text("the service name", b.service_name, kMaxServiceName, error) ||
      !check_text("the system name", b.system_name, kMaxSystemName, error) ||
      !check_text("the remote service name", b.remote_service, kMaxServiceName, error)) {
    return false;
  }
  put_slot(bindings_, b, [](const Binding& x) -> std::string_view { return x.service_name; });
  return true;
}

bool RuntimeConfig::set_system(const System& s, std::string* error) {
  if (!check_text("the system name", s.system_name, kMaxSystemName, error) ||
      !check_text("the link name", s.link_name, kMaxServiceName, error) ||
      !check_text("the link parameters", s.parameters, kMaxParameters, error)) {
    return false;
  }
  std::istringstream words(s.parameters);
  std::string w;
  int n = 0;
  while (words >> w) ++n;
  if (n > 3) {
    *error = "the link parameters have " + std::to_string(n) +
             " words; Legato's links take at most 3 (e.g. \"192.168.3.2 54323\")";
    return false;
  }
  put_slot(systems_, s, [](const System& x) -> std::string_view { return x.system_name; });
  return true;
}

bool RuntimeConfig::reset_binding(std::string_view name) {
  Binding* b = find_slot(bindings_, name,
                         [](const Binding& x) -> std::string_view { return x.service_name; });
  if (b == nullptr || name == kEmpty) return false;
  *b = Binding{std::string(kEmpty), std::string(kEmpty), std::string(kEmpty)};
  return true;
}

bool RuntimeConfig::reset_system(std::string_view name) {
  System* s =
      find_slot(systems_, name, [](const System& x) -> std::string_view { return x.system_name; });
  if (s == nullptr || name == kEmpty) return false;
  *s = System{std::string(kEmpty), std::string(kEmpty), std::string(kEmpty)};
  return true;
}

std::optional<Binding> RuntimeConfig::binding(std::string_view name) const {
  if (name == kEmpty) return std::nullopt;
  for (const Binding& b : bindings_) {
    if (b.service_name == name) return b;
  }
  return std::nullopt;
}

std::optional<System> RuntimeConfig::system(std::string_view name) const {
  if (name == kEmpty) return std::nullopt;
  for (const System& s : systems_) {
    if (s.system_name == name) return s;
  }
  return std::nullopt;
}

std::string RuntimeConfig::format() const {
  std::string o =
      "# ringrpc-proxy run-time configuration: RPC bindings and systems, in Legato's layout\n"
      "# (engine/legato/DESIGN.md). ringrpc-tool writes it; \"<EMPTY>\" marks a free slot.\n";
  for (size_t i = 0; i < bindings_.size(); ++i) {
    const std::string p = "bindings/" + std::to_string(i) + "/";
    o += p + "serviceName = " + quote(bindings_[i].service_name) + "\n";
    o += p + "systemName = " + quote(bindings_[i].system_name) + "\n";
    o += p + "remoteService = " + quote(bindings_[i].remote_service) + "\n";
  }
  for (size_t i = 0; i < systems_.size(); ++i) {
    const std::string p = "systems/" + std::to_string(i) + "/";
    o += p + "systemName = " + quote(systems_[i].system_name) + "\n";
    o += p + "linkName = " + quote(systems_[i].link_name) + "\n";
    o += p + "parameters = " + quote(systems_[i].parameters) + "\n";
  }
  return o;
}

std::optional<RuntimeConfig> RuntimeConfig::parse(std::string_view text, std::string* error) {
  // kind -> slot -> field -> value
  std::map<std::string, std::map<size_t, std::map<std::string, std::string>>> seen;
  size_t line_no = 0;
  size_t at = 0;
  while (at < text.size()) {
    const size_t nl = text.find('\n', at);
    std::string_view line =
        text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
    at = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    auto bad = [&](const std::string& why) {
      *error = "line " + std::to_string(line_no) + ": " + why;
      return std::nullopt;
    };
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) return bad("expected PATH = \"VALUE\"");
    const std::string path(trim(line.substr(0, eq)));
    std::string value;
    if (!unquote(trim(line.substr(eq + 1)), value))
      return bad("the value must be in double quotes");
    const size_t s1 = path.find('/');
    const size_t s2 = s1 == std::string::npos ? s1 : path.find('/', s1 + 1);
    if (s2 == std::string::npos) return bad("unknown path '" + path + "'");
    const std::string kind = path.substr(0, s1);
    const std::string index = path.substr(s1 + 1, s2 - s1 - 1);
    const std::string field = path.substr(s2 + 1);
    const bool fields_ok =
        (kind == "bindings" &&
         (field == "serviceName" || field == "systemName" || field == "remoteService")) ||
        (kind == "systems" &&
         (field == "systemName" || field == "linkName" || field == "parameters"));
    if (!fields_ok || index.empty() || index.size() > 4 ||
        index.find_first_not_of("0123456789") != std::string::npos) {
      return bad("unknown path '" + path + "'");
    }
    auto& slot = seen[kind][std::stoul(index)];
    if (slot.count(field)) return bad("'" + path + "' is given twice");
    slot[field] = value;
  }
  RuntimeConfig c;
  for (const std::string kind : {"bindings", "systems"}) {
    size_t expect = 0;
    for (auto& [index, fields] : seen[kind]) {
      if (index != expect) {
        *error =
            kind + "/" + std::to_string(expect) + " is missing (slots are numbered 0, 1, 2, ...)";
        return std::nullopt;
      }
      ++expect;
      if (fields.size() != 3) {
        *error = kind + "/" + std::to_string(index) + " lacks a field (each slot has three)";
        return std::nullopt;
      }
      std::string why;
      if (kind == "bindings") {
        Binding b{fields["serviceName"], fields["systemName"], fields["remoteService"]};
        if (b.empty()) {
          c.bindings_.push_back(b);
        } else if (c.binding(b.service_name)) {
          *error = "bindings/" + std::to_string(index) + ": service '" + b.service_name +
                   "' is bound twice";
          return std::nullopt;
        } else {
          // Validated as set_binding would, but kept in its own slot (set_binding could move
          // it into an earlier free one).
          RuntimeConfig check;
          if (!check.set_binding(b, &why)) {
            *error = "bindings/" + std::to_string(index) + ": " + why;
            return std::nullopt;
          }
          c.bindings_.push_back(b);
        }
      } else {
        System s{fields["systemName"], fields["linkName"], fields["parameters"]};
        if (s.empty()) {
          c.systems_.push_back(s);
        } else if (c.system(s.system_name)) {
          *error = "systems/" + std::to_string(index) + ": system '" + s.system_name +
                   "' is given twice";
          return std::nullopt;
        } else {
          RuntimeConfig check;
          if (!check.set_system(s, &why)) {
            *error = "systems/" + std::to_string(index) + ": " + why;
            return std::nullopt;
          }
          c.systems_.push_back(s);
        }
      }
    }
  }
  return c;
}

std::optional<RuntimeConfig> load_config(const std::string& path, std::string* error) {
  std::ifstream f(path);
  if (!f) {
    if (errno == ENOENT) return RuntimeConfig{};
    *error = "cannot read " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  std::string why;
  std::optional<RuntimeConfig> c = RuntimeConfig::parse(ss.str(), &why);
  if (!c) *error = path + ": " + why;
  return c;
}

bool save_config(const std::string& path, const RuntimeConfig& config, std::string* error) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  const std::string text = config.format();
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = "cannot write " + tmp + ": " + std::strerror(errno);
    return false;
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = "cannot write " + tmp + ": " + std::strerror(errno);
      close(fd);
      unlink(tmp.c_str());
      return false;
    }
    done += static_cast<size_t>(n);
  }
  // The data must be on disk before the rename makes it the configuration: a crash in between
  // leaves the old file, never an empty one.
  if (fsync(fd) != 0 || close(fd) != 0) {
    *error = "cannot sync " + tmp + ": " + std::strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot replace " + path + ": " + std::strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dfd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return true;
}

bool update_config(const std::string& path, std::string* error,
                   const std::function<bool(RuntimeConfig&, std::string*)>& change) {
  const std::string lock_path = path + ".lock";
  const int lock = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0) {
    *error = "cannot open " + lock_path + ": " + std::strerror(errno);
    return false;
  }
  if (flock(lock, LOCK_EX) != 0) {
    *error = "cannot lock " + lock_path + ": " + std::strerror(errno);
    close(lock);
    return false;
  }
  bool ok = false;
  std::optional<RuntimeConfig> c = load_config(path, error);
  if (c && change(*c, error)) ok = save_config(path, *c, error);
  close(lock);  // releases the lock
  return ok;
}

}  // namespace ringrpc::legato
