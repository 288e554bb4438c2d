// The proxy's run-time configuration in Legato's shape (shared/reference/legato-rpc.md 3.2):
// RPC bindings `bindings/N/{serviceName, systemName, remoteService}` (a local service alias ->
// the system that serves it and that system's alias for it) and RPC systems
// `systems/N/{systemName, linkName, parameters}` (how to reach a system: the link and its
// argument string, e.g. "192.168.3.2 54323").
//
// Slots behave as Legato's config tree does: N runs 0, 1, 2, ... without gaps; a deleted slot
// holds "<EMPTY>" in every field (reset writes it); set reuses the slot with the same name, else
// the first <EMPTY> slot, else appends one. The file (engine/legato/DESIGN.md "Configuration
// file") is one `path = "value"` line per field, and is replaced atomically: written to a
// temporary file, fsync'ed, renamed over the old one, with an exclusive lock held across the
// read-modify-write so that two writers cannot lose each other's change.
//
// Threading: value types; the file functions may be called from any thread (the lock is a file
// lock, so it also orders processes).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringrpc::legato {

constexpr std::string_view kEmpty = "<EMPTY>";

struct Binding {
  std::string service_name;    // the local extern alias
  std::string system_name;     // the remote system's name
  std::string remote_service;  // the remote system's extern alias for the service
  bool empty() const { return service_name == kEmpty; }
};

struct System {
  std::string system_name;
  std::string link_name;
  std::string parameters;  // the link's argument string: at most 3 space-separated tokens
  bool empty() const { return system_name == kEmpty; }
};

class RuntimeConfig {
 public:
  // False, with the reason, when a name is empty, too long for the wire's fields, holds a
  // character the file cannot keep, or the parameters have more than 3 tokens.
  bool set_binding(const Binding& b, std::string* error);
  bool set_system(const System& s, std::string* error);
  // False when there is no such binding / system.
  bool reset_binding(std::string_view service_name);
  bool reset_system(std::string_view system_name);
  std::optional<Binding> binding(std::string_view service_name) const;
  std::optional<System> system(std::string_view system_name) const;

  // Every slot, <EMPTY> ones included, in slot order.
  const std::vector<Binding>& binding_slots() const noexcept { return bindings_; }
  const std::vector<System>& system_slots() const noexcept { return systems_; }

  // The file's text, and back. parse() is strict: an unknown path, a gap in the slot numbers, a
  // slot with a missing field or a malformed line is an error with its line number.
  std::string format() const;
  static std::optional<RuntimeConfig> parse(std::string_view text, std::string* error);

  bool operator==(const RuntimeConfig&) const = default;

 private:
  std::vector<Binding> bindings_;
  std::vector<System> systems_;
};

bool operator==(const Binding& a, const Binding& b);
bool operator==(const System& a, const System& b);

// Reads `path`; a missing file is an empty configuration.
std::optional<RuntimeConfig> load_config(const std::string& path, std::string* error);
// Replaces `path` atomically with `config`.
bool save_config(const std::string& path, const RuntimeConfig& config, std::string* error);
// Load, change, save, under an exclusive lock on `path`.lock. `change` returns false (with
// *error set) to leave the file as it was.
bool update_config(const std::string& path, std::string* error,
                   const std::function<bool(RuntimeConfig&, std::string*)>& change);

}  // namespace ringrpc::legato
