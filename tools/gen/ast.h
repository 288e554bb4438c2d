// ringrpc-gen's model of a .x file: what the parser builds, the checker resolves, and the C++
// emitter walks. Plain data; every name and bound is resolved before emission begins, so the
// emitter never reports an error about the input.
//
// Threading: one Spec per compilation, used by one thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ringrpc::gen {

// Constant values: .x constants range over int and unsigned hyper and their negatives.
using Int = __int128;

struct Loc {
  std::string file;
  int line = 0;
  int col = 0;
};

enum class Base : uint8_t {
  kVoid,
  kInt,
  kUInt,
  kHyper,
  kUHyper,
  kFloat,
  kDouble,
  kQuadruple,
  kBool,
  kChar,
  kUChar,
  kShort,
  kUShort,
  kOpaque,
  kString,
  kNamed,  // a typedef, struct, union or enum, found in `def`
};

struct Def;

struct TypeRef {
  Base base = Base::kVoid;
  std::string name;  // kNamed: the .x name as written
  Def* def = nullptr;
  Loc loc;
};

enum class Shape : uint8_t { kPlain, kFixed, kVar, kOptional, kVoid };

// A value where the grammar takes `constant | identifier`: an array size, a bound, a case label.
struct ValueRef {
  std::string text;  // as written: "16", "0x10", "MAXNAMELEN"
  Int value = 0;     // resolved by the checker
  bool is_name = false;
  Loc loc;
};

struct Decl {
  Shape shape = Shape::kPlain;
  TypeRef type;
  std::string name;
  std::optional<ValueRef> size;  // kFixed: the count; kVar: the maximum (absent: unbounded)
  uint32_t bound = 0xffffffff;   // resolved size or maximum
  Loc loc;
};

struct EnumMember {
  std::string name;
  std::optional<ValueRef> value_ref;
  int32_t value = 0;
  Loc loc;
};

struct Arm {
  std::vector<ValueRef> labels;  // empty for the default arm
  bool is_default = false;
  Decl decl;  // shape kVoid for `void`
  Loc loc;
};

struct Proc {
  std::string name;
  ValueRef number;
  TypeRef result;             // base kVoid for void
  std::vector<Decl> args;     // none for void; several with rpcgen -N style
  Def* arg_struct = nullptr;  // several arguments: the synthesized struct that carries them
  Loc loc;
};

struct Version {
  std::string name;
  ValueRef number;
  std::vector<Proc> procs;
  Loc loc;
};

enum class DefKind : uint8_t { kConst, kTypedef, kEnum, kStruct, kUnion, kProgram, kPassthrough };

struct Def {
  DefKind kind = DefKind::kConst;
  std::string name;
  Loc loc;
  bool synthesized = false;  // an anonymous nested type or a multi-argument struct, named by us

  // kConst: a number, or a "string" (rpcgen allows those).
  ValueRef value;
  bool is_string = false;
  // kTypedef
  Decl decl;
  // kEnum
  std::vector<EnumMember> members;
  // kStruct
  std::vector<Decl> fields;
  // kUnion
  Decl disc;
  std::vector<Arm> arms;
  // kProgram
  ValueRef number;
  std::vector<Version> versions;
  // kPassthrough: a `%` line (or a backslash-continued run of them), without the `%`.
  std::string text;

  // Set on the definitions of an imported file (--import): they are referred to, not emitted.
  std::string import_ns;

  // Filled by the checker.
  bool flat = false;      // no strings, opaque, variable arrays or optional data: its view is
                          // itself
  int list_field = -1;    // kStruct: index of a last field `T *next` pointing back at T
  uint64_t min_size = 0;  // fewest bytes an encoding can take (bounds hostile array counts)
};

struct Spec {
  std::string source;                      // the .x file given on the command line
  std::vector<std::unique_ptr<Def>> defs;  // in source order, anonymous types before their user
  std::map<std::string, Def*> types;       // typedef, enum, struct, union by name
  std::map<std::string, Int> constants;    // const and enum members by name
  std::map<std::string, Def*> enum_of;     // enum member name -> its enum
  std::vector<Def*> order;                 // type definitions in an order C++ can declare them
};

// Another .x file whose types and constants this one uses (as nis_callback.x uses nis.x's
// through `%#include <rpcsvc/nis.h>`): already parsed, generated into `ns`, included as `header`.
struct Import {
  std::shared_ptr<const Spec> spec;
  std::string ns;
  std::string header;
};

struct Options {
  std::vector<std::string> defines;   // NAME or NAME=VALUE, as for cpp -D
  std::vector<std::string> includes;  // directories, as for cpp -I
  std::string cpp = "cpp";            // the C preprocessor to run
  std::vector<Import> imports;
};

// A constant's value in decimal.
std::string to_decimal(Int v);

// Parses and checks `path`. Diagnostics go to `errors`, one `file:line:col: error: ...` each;
// returns nullopt when there was any.
std::optional<Spec> parse_file(const std::string& path, const Options& options,
                               std::vector<std::string>& errors);
// The same, over text that has already been preprocessed (tests, and cpp's output).
std::optional<Spec> parse_text(const std::string& text, const std::string& path,
                               std::vector<std::string>& errors,
                               const std::vector<Import>& imports = {});

}  // namespace ringrpc::gen
