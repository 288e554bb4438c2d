// The C++ back end of ringrpc-gen: turns a checked Spec into one header and one source file.
// The shape of the generated code is described in tools/gen/DESIGN.md.
//
// Threading: a pure function of its inputs.
#pragma once

#include <string>
#include <vector>

#include "tools/gen/ast.h"

namespace ringrpc::gen {

struct EmitOptions {
  std::string ns;                     // C++ namespace, may be nested (a::b)
  std::string header_name;            // how the source includes the header, e.g. "mount.h"
  std::string input_name;             // the .x file, for the banner
  std::vector<std::string> includes;  // headers of imported .x files
};

struct Output {
  std::string header;
  std::string source;
};

Output emit_cpp(const Spec& spec, const EmitOptions& options);
// Programs that build and run as they are, like rpcgen -Ss and -Sc: a server with one class per
// program version whose methods are left to fill in, and a client that calls every procedure
// once. They include the header emit_cpp() makes (options.header_name).
std::string emit_sample_server(const Spec& spec, const EmitOptions& options);
std::string emit_sample_client(const Spec& spec, const EmitOptions& options);

// A .x name as a C++ identifier: C++ keywords and the names the generated code reserves for
// itself (view, codec, xdr, std, ringrpc) get a trailing underscore.
std::string cxx_name(const std::string& name);
// The C++ name of a type defined in .x (also names its codec struct, whose members it avoids).
std::string cxx_type_name(const std::string& name);
// The C++ name of a struct member or union arm accessor of `parent` (which may not share its
// name with its class, nor with a union's own members).
std::string cxx_member_name(const std::string& name, const std::string& parent);
std::string cxx_arm_name(const std::string& name, const std::string& parent);

}  // namespace ringrpc::gen
