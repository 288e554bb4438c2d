// ringrpc-gen: compiles ONC RPC .x files (RFC 4506/5531 plus rpcgen's dialect) into C++20.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tools/gen/ast.h"
#include "tools/gen/emit.h"

namespace {

constexpr const char kUsage[] =
    "usage: ringrpc-gen [options] FILE.x\n"
    "\n"
    "Compiles an ONC RPC interface definition (.x, the language of RFC 4506 and RFC 5531 with\n"
    "rpcgen's additions) into C++20: BASE.h and BASE.cc, where BASE is FILE's name without .x.\n"
    "\n"
    "options:\n"
    "  -o DIR            write the files into DIR (default: the current directory)\n"
    "  -D NAME[=VALUE]   define a macro for the C preprocessor, which runs first\n"
    "  -I DIR            add DIR to the preprocessor's #include search path\n"
    "  --namespace NS    C++ namespace of the generated code, may be nested (a::b);\n"
    "                    default: BASE\n"
    "  --import FILE.x[=NS]\n"
    "                    use the types and constants of FILE.x, generated separately into\n"
    "                    namespace NS (default: its base name); repeatable\n"
    "  --cpp PROGRAM     the C preprocessor to run (default: cpp)\n"
    "  --sample-server   write BASE_server.cc instead: a server whose procedures are left to\n"
    "                    fill in, that builds and runs as it is (like rpcgen -Ss)\n"
    "  --sample-client   write BASE_client.cc instead: a client calling every procedure once\n"
    "                    (like rpcgen -Sc); an existing file is never overwritten\n"
    "  --help            print this help and exit\n"
    "  --version         print the version and exit\n"
    "\n"
    "The preprocessor sees RINGRPC defined to 1. rpcgen's RPC_HDR, RPC_XDR, RPC_SVC and RPC_CLNT\n"
    "are not defined: the text they guard is C for rpcgen's own files. Lines starting with % are\n"
    "copied into the header, before its namespace.\n"
    "\n"
    "Errors are reported as FILE:LINE:COLUMN: error: MESSAGE; the exit status is 1 when the input\n"
    "has errors, 2 for a bad command line.\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "ringrpc-gen: %s\n(ringrpc-gen --help for usage)\n", msg.c_str());
  return 2;
}

bool valid_namespace(const std::string& ns) {
  if (ns.empty()) return false;
  size_t i = 0;
  while (i < ns.size()) {
    const size_t end = ns.find("::", i);
    const std::string part = ns.substr(i, end == std::string::npos ? std::string::npos : end - i);
    if (part.empty() || std::isdigit(static_cast<unsigned char>(part[0]))) return false;
    for (char c : part) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    }
    if (end == std::string::npos) break;
    i = end + 2;
  }
  return true;
}

// Writes through a temporary file and a rename, so a build interrupted halfway never leaves a
// truncated file that looks up to date.
bool write_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp" + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      std::fprintf(stderr, "ringrpc-gen: cannot write %s: %s\n", tmp.c_str(), std::strerror(errno));
      return false;
    }
    out << text;
    out.close();
    if (!out) {
      std::fprintf(stderr, "ringrpc-gen: cannot write %s\n", tmp.c_str());
      std::remove(tmp.c_str());
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::fprintf(stderr, "ringrpc-gen: cannot rename %s to %s: %s\n", tmp.c_str(), path.c_str(),
                 std::strerror(errno));
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

std::string base_name(const std::string& path) {
  std::string base = path;
  if (const size_t slash = base.rfind('/'); slash != std::string::npos)
    base = base.substr(slash + 1);
  if (base.size() > 2 && base.compare(base.size() - 2, 2, ".x") == 0) base.resize(base.size() - 2);
  return base;
}

std::string default_namespace(const std::string& base) {
  std::string ns;
  for (char c : base) ns += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (ns.empty() || std::isdigit(static_cast<unsigned char>(ns[0]))) ns = "_" + ns;
  return ringrpc::gen::cxx_name(ns);
}

}  // namespace

int main(int argc, char** argv) {
  ringrpc::gen::Options options;
  std::string out_dir = ".";
  std::string ns;
  std::string input;
  std::vector<std::string> imports;
  bool sample_server = false;
  bool sample_client = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      if (i + 1 >= argc) return nullptr;
      (void)flag;
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--version") {
      std::puts("ringrpc-gen 0.1");
      return 0;
    } else if (a == "-o") {
      const char* v = value("-o");
      if (v == nullptr) return usage_error("-o needs a directory");
      out_dir = v;
    } else if (a == "-D" || a == "-I") {
      const char* v = value(a.c_str());
      if (v == nullptr) return usage_error(a + " needs an argument");
      (a == "-D" ? options.defines : options.includes).push_back(v);
    } else if (a.size() > 2 && (a.compare(0, 2, "-D") == 0 || a.compare(0, 2, "-I") == 0)) {
      (a[1] == 'D' ? options.defines : options.includes).push_back(a.substr(2));
    } else if (a == "--namespace") {
      const char* v = value("--namespace");
      if (v == nullptr) return usage_error("--namespace needs a name");
      ns = v;
      if (!valid_namespace(ns)) return usage_error("'" + ns + "' is not a C++ namespace name");
    } else if (a == "--import") {
      const char* v = value("--import");
      if (v == nullptr) return usage_error("--import needs a .x file");
      imports.emplace_back(v);
    } else if (a == "--sample-server") {
      sample_server = true;
    } else if (a == "--sample-client") {
      sample_client = true;
    } else if (a == "--cpp") {
      const char* v = value("--cpp");
      if (v == nullptr) return usage_error("--cpp needs a program");
      options.cpp = v;
    } else if (!a.empty() && a[0] == '-') {
      return usage_error("unknown option '" + a + "'");
    } else {
      if (!input.empty())
        return usage_error("one .x file at a time (got '" + input + "' and '" + a + "')");
      input = a;
    }
  }
  if (input.empty()) return usage_error("no input file");

  const std::string base = base_name(input);
  if (ns.empty()) ns = default_namespace(base);

  std::vector<std::string> errors;
  std::vector<std::string> import_headers;
  for (const std::string& spec : imports) {
    // FILE.x or FILE.x=NAMESPACE
    const size_t eq = spec.find('=');
    const std::string file = spec.substr(0, eq);
    const std::string ib = base_name(file);
    const std::string ins = eq == std::string::npos ? default_namespace(ib) : spec.substr(eq + 1);
    if (!valid_namespace(ins)) return usage_error("'" + ins + "' is not a C++ namespace name");
    std::optional<ringrpc::gen::Spec> is = ringrpc::gen::parse_file(file, options, errors);
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
    if (!is) return 1;
    auto shared = std::make_shared<ringrpc::gen::Spec>(std::move(*is));
    for (auto& d : shared->defs) d->import_ns = ins;
    options.imports.push_back({shared, ins, ib + ".h"});
    import_headers.push_back(ib + ".h");
  }
  std::optional<ringrpc::gen::Spec> spec = ringrpc::gen::parse_file(input, options, errors);
  for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
  if (!spec) return 1;

  ringrpc::gen::EmitOptions eo;
  eo.ns = ns;
  eo.header_name = base + ".h";
  eo.includes = import_headers;
  eo.input_name = input.substr(input.rfind('/') == std::string::npos ? 0 : input.rfind('/') + 1);
  if (sample_server || sample_client) {
    // Samples are the user's to edit: never overwrite one.
    for (const auto& [want, suffix] :
         {std::pair{sample_server, "_server.cc"}, std::pair{sample_client, "_client.cc"}}) {
      if (!want) continue;
      const std::string path = out_dir + "/" + base + suffix;
      if (std::ifstream(path).good()) {
        std::fprintf(stderr, "ringrpc-gen: %s exists; not overwriting it\n", path.c_str());
        return 1;
      }
      const std::string text = sample_server && std::string(suffix) == "_server.cc"
                                   ? ringrpc::gen::emit_sample_server(*spec, eo)
                                   : ringrpc::gen::emit_sample_client(*spec, eo);
      if (!write_file(path, text)) return 1;
    }
    return 0;
  }
  const ringrpc::gen::Output out = ringrpc::gen::emit_cpp(*spec, eo);
  if (!write_file(out_dir + "/" + base + ".h", out.header) ||
      !write_file(out_dir + "/" + base + ".cc", out.source)) {
    return 1;
  }
  return 0;
}
