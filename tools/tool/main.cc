// ringrpc-tool: Legato's rpctool for ringrpc-proxy. The same commands and the same output
// (apps/tools/rpcTool/tool.c), over the proxy's run-time configuration file
// (engine/legato/config.h) instead of Legato's config tree.
//
//   ringrpc-tool [--config FILE] set binding <serviceName> <systemName> <remoteServiceName>
//   ringrpc-tool [--config FILE] get|reset binding <serviceName>
//   ringrpc-tool [--config FILE] list bindings
//   ringrpc-tool [--config FILE] set link <systemName> <linkName> <parameters>
//   ringrpc-tool [--config FILE] get|reset link <systemName>
//   ringrpc-tool [--config FILE] list links
//   ringrpc-tool help | -h | --help
//
//   ringrpc-tool [--control PATH] stats [--json]      (beyond rpctool: the proxy's counters)
//
// Status: a binding is CONNECTED with its service id, and a link UP or DOWN, only while a proxy
// has them so; the live state comes from the proxy's control socket (engine/legato/proxy.h).
// With no proxy running every binding is NOT CONNECTED and every link NOT STARTED, as rpctool
// shows them before the proxy has brought anything up. After set and reset the tool asks a
// running proxy to apply the file at once (it would notice the change within a second anyway).
//
// Threading: single-threaded.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <optional>

#include "engine/legato/config.h"

namespace {

using ringrpc::legato::Binding;
using ringrpc::legato::RuntimeConfig;
using ringrpc::legato::System;

const char* kRule =
    "=============================================================================================="
    "==";

void help() {
  std::puts(
      "NAME:\n"
      "    ringrpc-tool - RPC Configuration command-line tool (Legato's rpctool, for\n"
      "    ringrpc-proxy).\n"
      "\n"
      "SYNOPSIS:\n"
      "    ringrpc-tool [--config FILE] set binding <serviceName> <systemName> "
      "<remoteServiceName>\n"
      "    ringrpc-tool [--config FILE] get binding <serviceName>\n"
      "    ringrpc-tool [--config FILE] reset binding <serviceName>\n"
      "    ringrpc-tool [--config FILE] list bindings\n"
      "    ringrpc-tool [--config FILE] set link <systemName> <linkName> <parameters>\n"
      "    ringrpc-tool [--config FILE] get link <systemName>\n"
      "    ringrpc-tool [--config FILE] reset link <systemName>\n"
      "    ringrpc-tool [--config FILE] list links\n"
      "    ringrpc-tool help\n"
      "    ringrpc-tool -h\n"
      "    ringrpc-tool --help\n"
      "\n"
      "DESCRIPTION:\n"
      "    set binding <serviceName> <systemName> <remoteServiceName>\n"
      "            Sets the RPC binding for the specified service-name with the\n"
      "            system-name and remote service-name.\n"
      "\n"
      "    get binding <serviceName>\n"
      "            Retrieves the system-name, remote service-name, and status\n"
      "            for the specified service.\n"
      "\n"
      "    reset binding <serviceName>\n"
      "            Resets the RPC binding for a given service-name.\n"
      "\n"
      "    list bindings\n"
      "            Lists all RPC bindings configured in the system.\n"
      "\n"
      "    set link <systemName> <linkName> <parameters>\n"
      "            Sets the RPC link-name and link-parameters (argument string, e.g.\n"
      "            \"192.168.3.2 54323\") for the specified system.\n"
      "\n"
      "    get link <systemName>\n"
      "            Retrieves the link-name, link-parameters, and status\n"
      "            for the specified system-name.\n"
      "\n"
      "    reset link <systemName>\n"
      "            Resets the RPC link for the specified system-name.\n"
      "\n"
      "    list links\n"
      "            Lists all RPC links configured in the system.\n"
      "\n"
      "    stats [--json]\n"
      "            Counters of the running proxy per binding (calls, errors, bytes,\n"
      "            latency) and per link (messages, bytes, keep-alives, ups and downs).\n"
      "\n"
      "    --config FILE\n"
      "            The configuration file (default: $RINGRPC_PROXY_CONFIG, else\n"
      "            /etc/ringrpc/proxy.conf). Changes are written atomically.\n"
      "\n"
      "    --control PATH\n"
      "            The running proxy's control socket, for live status and to apply\n"
      "            changes at once (default: $RINGRPC_PROXY_CONTROL, else\n"
      "            /run/ringrpc-proxy.sock).\n"
      "\n"
      "    All output is always sent to stdout and error messages to stderr.\n"
      "    Exit status: 0 success, 1 failure (\"Configuration not found!\" included),\n"
      "    2 bad usage.\n");
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr, "ringrpc-tool: %s.  Try 'ringrpc-tool help' for assistance.\n", why.c_str());
  std::exit(2);
}

// rpctool's block for one binding; a service id of 0 is NOT CONNECTED.
void print_binding(const Binding& b, uint32_t service_id) {
  char status[64];
  if (service_id == 0) {
    std::snprintf(status, sizeof status, "NOT CONNECTED");
  } else {
    std::snprintf(status, sizeof status, "CONNECTED, Service-ID: %-10" PRIu32, service_id);
  }
  std::printf(
      "\nService-Name: %-40s Status: %s\n    System-Name: %s\n    Remote Service-Name: %s\n",
      b.service_name.c_str(), status, b.system_name.c_str(), b.remote_service.c_str());
}

void print_link(const System& s, const char* state) {
  std::printf("\nSystem-Name: %-40s  Status: %s\n    Link-Name: %s\n    Parameters: %s\n",
              s.system_name.c_str(), state, s.link_name.c_str(), s.parameters.c_str());
}

// One command to the proxy's control socket; its JSON answer, or nullopt when no proxy answers
// (not running: the caller shows the file's state alone).
std::optional<nlohmann::json> ask_proxy(const std::string& path, const char* command,
                                        std::string* why) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.size() >= sizeof sun.sun_path) {
    *why = "control socket path too long";
    return std::nullopt;
  }
  std::memcpy(sun.sun_path, path.data(), path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{5, 0};  // a proxy answers from its loop at once; a stuck one must not hang us
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) {
    *why = std::string("no proxy at ") + path + ": " + std::strerror(errno);
    ::close(fd);
    return std::nullopt;
  }
  std::string cmd = std::string(command) + "\n";
  if (::send(fd, cmd.data(), cmd.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(cmd.size())) {
    *why = std::string("writing to ") + path + ": " + std::strerror(errno);
    ::close(fd);
    return std::nullopt;
  }
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      text.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *why = std::string("reading from ") + path + ": " + std::strerror(errno);
      ::close(fd);
      return std::nullopt;
    }
    break;
  }
  ::close(fd);
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *why = "the proxy at " + path + " answered something that is not its status";
    return std::nullopt;
  }
  return j;
}

struct Live {
  std::optional<nlohmann::json> status;
  uint32_t service_id(const std::string& service) const {
    if (!status) return 0;
    for (const auto& b : (*status)["bindings"]) {
      if (b.value("serviceName", "") == service && b.value("connected", false))
        return b.value("serviceId", 0u);
    }
    return 0;
  }
  std::string link_state(const std::string& system) const {
    if (!status) return "NOT STARTED";
    for (const auto& s : (*status)["systems"]) {
      if (s.value("systemName", "") == system) return s.value("state", "NOT STARTED");
    }
    return "NOT STARTED";
  }
};

void print_stats(const nlohmann::json& st) {
  std::printf("%-24s %-12s %-10s %10s %8s %12s %12s %8s %8s %8s\n", "Binding", "System", "Status",
              "Calls", "Errors", "Bytes-Out", "Bytes-In", "p50-us", "p99-us", "max-us");
  for (const auto& b : st["bindings"]) {
    const auto& s = b.contains("stats") ? b["stats"] : nlohmann::json::object();
    const auto& l = s.contains("latencyUs") ? s["latencyUs"] : nlohmann::json::object();
    std::printf("%-24s %-12s %-10s %10" PRIu64 " %8" PRIu64 " %12" PRIu64 " %12" PRIu64 " %8" PRIu64
                " %8" PRIu64 " %8" PRIu64 "\n",
                b.value("serviceName", "").c_str(), b.value("systemName", "").c_str(),
                b.value("connected", false) ? "CONNECTED" : "-", s.value("calls", uint64_t{0}),
                s.value("errors", uint64_t{0}), s.value("bytesOut", uint64_t{0}),
                s.value("bytesIn", uint64_t{0}), l.value("p50", uint64_t{0}),
                l.value("p99", uint64_t{0}), l.value("max", uint64_t{0}));
  }
  // KA-Out: our keep-alives the peer answered; KA-In: the peer's we answered. With equal periods
  // one of them may stay 0 (Legato restarts its period on the peer's), so both are shown.
  std::printf("\n%-16s %-12s %10s %10s %12s %12s %6s %6s %6s %6s  %s\n", "System", "Status",
              "Msgs-In", "Msgs-Out", "Bytes-In", "Bytes-Out", "KA-Out", "KA-In", "Ups", "Downs",
              "Last error");
  for (const auto& s : st["systems"]) {
    std::printf("%-16s %-12s %10" PRIu64 " %10" PRIu64 " %12" PRIu64 " %12" PRIu64 " %6" PRIu64
                " %6" PRIu64 " %6" PRIu64 " %6" PRIu64 "  %s\n",
                s.value("systemName", "").c_str(), s.value("state", "").c_str(),
                s.value("messagesIn", uint64_t{0}), s.value("messagesOut", uint64_t{0}),
                s.value("bytesIn", uint64_t{0}), s.value("bytesOut", uint64_t{0}),
                s.value("keepalivesAnswered", uint64_t{0}),
                s.value("keepalivesReceived", uint64_t{0}), s.value("ups", uint64_t{0}),
                s.value("downs", uint64_t{0}), s.value("lastError", "").c_str());
  }
}

int fail(const std::string& why) {
  std::fprintf(stderr, "ringrpc-tool: %s\n", why.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config;
  if (const char* env = std::getenv("RINGRPC_PROXY_CONFIG"); env != nullptr && *env != '\0') {
    config = env;
  } else {
    config = "/etc/ringrpc/proxy.conf";
  }
  std::string control = "/run/ringrpc-proxy.sock";
  if (const char* env = std::getenv("RINGRPC_PROXY_CONTROL"); env != nullptr && *env != '\0') {
    control = env;
  }
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      help();
      return 0;
    }
    if (a == "--config") {
      if (i + 1 >= argc) usage("--config needs a file");
      config = argv[++i];
      continue;
    }
    if (a == "--control") {
      if (i + 1 >= argc) usage("--control needs a path");
      control = argv[++i];
      continue;
    }
    args.push_back(a);
  }
  if (args.empty()) usage("no command");
  const std::string& cmd = args[0];
  if (cmd == "help") {
    help();
    return 0;
  }
  if (cmd == "stats") {
    const bool json = args.size() == 2 && args[1] == "--json";
    if (args.size() > 2 || (args.size() == 2 && !json)) usage("'stats' takes only --json");
    std::string why;
    auto st = ask_proxy(control, "status", &why);
    if (!st) return fail(why + " (is ringrpc-proxy running? --control gives its socket)");
    if (json) {
      std::printf("%s\n", st->dump(2).c_str());
    } else {
      print_stats(*st);
    }
    return 0;
  }
  if (cmd != "set" && cmd != "get" && cmd != "reset" && cmd != "list") {
    usage("Unrecognized command '" + cmd + "'");
  }
  if (args.size() < 2) usage("'" + cmd + "' needs an object type (binding or link)");
  const std::string& object = args[1];
  const bool list = cmd == "list";
  if ((list && object != "bindings" && object != "links") ||
      (!list && object != "binding" && object != "link")) {
    usage("Unknown object type '" + object + "'");
  }
  const bool binding = object == "binding" || object == "bindings";
  const size_t want = list ? 2 : cmd == "set" ? 5 : 3;
  if (args.size() != want) {
    usage("'" + cmd + " " + object + "' takes " + std::to_string(want - 2) + " argument" +
          (want - 2 == 1 ? "" : "s") + ", not " + std::to_string(args.size() - 2));
  }

  std::string error;
  if (cmd == "set" || cmd == "reset") {
    const bool ok =
        ringrpc::legato::update_config(config, &error, [&](RuntimeConfig& c, std::string* why) {
          if (cmd == "set") {
            return binding ? c.set_binding(Binding{args[2], args[3], args[4]}, why)
                           : c.set_system(System{args[2], args[3], args[4]}, why);
          }
          // Legato's reset of a name it does not have does nothing, quietly; so does this.
          if (binding) {
            c.reset_binding(args[2]);
          } else {
            c.reset_system(args[2]);
          }
          return true;
        });
    if (!ok) return fail(error);
    std::string why;
    auto answer = ask_proxy(control, "reload", &why);
    if (answer && answer->contains("error")) {
      std::fprintf(stderr, "ringrpc-tool: saved, but the running proxy did not apply it: %s\n",
                   (*answer)["error"].get<std::string>().c_str());
      return 1;
    }
    return 0;
  }
  Live live;
  {
    std::string why;
    live.status = ask_proxy(control, "status", &why);
  }

  const std::optional<RuntimeConfig> c = ringrpc::legato::load_config(config, &error);
  if (!c) return fail(error);
  if (cmd == "get") {
    if (binding) {
      const std::optional<Binding> b = c->binding(args[2]);
      if (!b) {
        std::printf("Configuration not found!\n");
        return 1;
      }
      std::printf(
          "\n========================================= RPC Binding "
          "==========================================\n");
      print_binding(*b, live.service_id(b->service_name));
    } else {
      const std::optional<System> s = c->system(args[2]);
      if (!s) {
        std::printf("Configuration not found!\n");
        return 1;
      }
      std::printf(
          "\n========================================== RPC Link "
          "============================================\n");
      print_link(*s, live.link_state(s->system_name).c_str());
    }
    std::printf("\n%s\n", kRule);
    return 0;
  }
  // list: nothing at all when there is nothing, as rpctool.
  if (binding) {
    bool any = false;
    for (const Binding& b : c->binding_slots()) {
      if (b.empty()) continue;
      if (!any) {
        std::printf(
            "\n========================================= RPC Bindings "
            "=========================================\n");
      }
      any = true;
      print_binding(b, live.service_id(b.service_name));
    }
    if (any) std::printf("\n%s\n", kRule);
  } else {
    bool any = false;
    for (const System& s : c->system_slots()) {
      if (s.empty()) continue;
      if (!any) {
        std::printf(
            "\n========================================== RPC Links "
            "===========================================\n");
      }
      any = true;
      print_link(s, live.link_state(s.system_name).c_str());
    }
    if (any) std::printf("\n%s\n", kRule);
  }
  return 0;
}
