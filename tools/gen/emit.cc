// The C++ back end of ringrpc-gen. See tools/gen/DESIGN.md for the shape of what it writes.
#include "tools/gen/emit.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace ringrpc::gen {

namespace {

const std::set<std::string>& reserved() {
  static const std::set<std::string> k = {
      // C++20 keywords and alternative tokens
      "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break",
      "case", "catch", "char", "char8_t", "char16_t", "char32_t", "class", "compl", "concept",
      "const", "consteval", "constexpr", "constinit", "const_cast", "continue", "co_await",
      "co_return", "co_yield", "decltype", "default", "delete", "do", "double", "dynamic_cast",
      "else", "enum", "explicit", "export", "extern", "false", "float", "for", "friend", "goto",
      "if", "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
      "nullptr", "operator", "or", "or_eq", "private", "protected", "public", "register",
      "reinterpret_cast", "requires", "return", "short", "signed", "sizeof", "static",
      "static_assert", "static_cast", "struct", "switch", "template", "this", "thread_local",
      "throw", "true", "try", "typedef", "typeid", "typename", "union", "unsigned", "using",
      "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq",
      // names the generated code uses in the user's namespace
      "view", "codec", "xdr", "std", "ringrpc",
      // macros from <cstdint>/<cstddef> and friends that an identifier must not meet
      "NULL", "EOF", "assert", "errno", "stdin", "stdout", "stderr", "major", "minor"};
  return k;
}

// Names inside a generated union class besides its arm accessors.
const std::set<std::string>& union_members() {
  static const std::set<std::string> k = {
      "discriminant", "set_discriminant", "arm_of", "discriminant_type", "select", "disc_", "arm_"};
  return k;
}

std::string int_literal(Int v) {
  // INT64_MIN cannot be written as a negated literal.
  if (v == -(Int{1} << 63)) return "(-9223372036854775807LL - 1)";
  return to_decimal(v) + (v > 0xffffffff || v < -(Int{1} << 31) ? "LL" : "");
}

std::string cstr(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

class Code {
 public:
  void line(int indent, const std::string& text) {
    if (!text.empty()) s_.append(static_cast<size_t>(indent) * 2, ' ');
    s_ += text;
    s_ += '\n';
  }
  void raw(const std::string& text) { s_ += text; }
  std::string& str() { return s_; }

 private:
  std::string s_;
};

constexpr const char* kX = "::ringrpc::xdr::";

class Emitter {
 public:
  Emitter(const Spec& spec, const EmitOptions& opt) : spec_(spec), opt_(opt) {
    q_ = "::" + opt.ns + "::";
  }

  Output run() {
    header_prologue();
    constants();
    enums();
    forward_declarations();
    for (const Def* d : spec_.order) {
      switch (d->kind) {
        case DefKind::kTypedef:
          typedef_def(*d);
          break;
        case DefKind::kStruct:
          struct_def(*d, false);
          if (!d->flat) struct_def(*d, true);
          break;
        case DefKind::kUnion:
          union_def(*d, false);
          if (!d->flat) union_def(*d, true);
          break;
        default:
          break;
      }
    }
    codec_declarations();
    list_functions();
    printers();
    programs();
    h_.line(0, "}  // namespace " + opt_.ns);

    source();
    return Output{std::move(h_.str()), std::move(c_.str())};
  }

 private:
  // ------------------------------------------------------------------------------------------
  // Names and types

  std::string name(const std::string& n) const { return cxx_name(n); }
  // A type's name also names its codec struct, so it must not be one of that struct's members.
  std::string tname(const std::string& n) const { return cxx_type_name(n); }
  // A member's name: C++ does not allow one named like its class.
  std::string mname(const std::string& n, const Def& parent) const {
    return cxx_member_name(n, parent.name);
  }
  std::string q(const Def* d) const {
    return d->import_ns.empty() ? q_ : "::" + d->import_ns + "::";
  }
  std::string qual(const Def* d) const { return q(d) + tname(d->name); }
  std::string qview(const Def* d) const { return q(d) + "view::" + tname(d->name); }
  std::string qcodec(const Def* d) const { return q(d) + "codec::" + tname(d->name); }

  static const char* scalar(Base b) {
    switch (b) {
      case Base::kInt:
        return "int32_t";
      case Base::kUInt:
        return "uint32_t";
      case Base::kHyper:
        return "int64_t";
      case Base::kUHyper:
        return "uint64_t";
      case Base::kFloat:
        return "float";
      case Base::kDouble:
        return "double";
      case Base::kQuadruple:
        return "::ringrpc::xdr::Quadruple";
      case Base::kBool:
        return "bool";
      case Base::kChar:
        return "int8_t";
      case Base::kUChar:
        return "uint8_t";
      case Base::kShort:
        return "int16_t";
      case Base::kUShort:
        return "uint16_t";
      default:
        return "void";
    }
  }

  std::string type_name(const TypeRef& t, bool view) const {
    if (t.base == Base::kNamed) return view ? qview(t.def) : qual(t.def);
    return scalar(t.base);
  }

  static std::string bound(uint32_t b) { return std::to_string(b) + "u"; }

  std::string decl_type(const Decl& d, bool view) const {
    const bool opaque = d.type.base == Base::kOpaque;
    switch (d.shape) {
      case Shape::kVoid:
        return "void";
      case Shape::kPlain:
        if (d.type.base == Base::kString)
          return view ? "std::string_view" : std::string(kX) + "String<>";
        return type_name(d.type, view);
      case Shape::kFixed:
        if (opaque) return "std::array<uint8_t, " + std::to_string(d.bound) + ">";
        return "std::array<" + type_name(d.type, view) + ", " + std::to_string(d.bound) + ">";
      case Shape::kVar:
        if (d.type.base == Base::kString) {
          return view ? "std::string_view"
                      : std::string(kX) + "String<" + (d.size ? bound(d.bound) : "") + ">";
        }
        if (opaque) {
          return view ? "std::span<const uint8_t>"
                      : std::string(kX) + "Opaque<" + (d.size ? bound(d.bound) : "") + ">";
        }
        if (view) return "std::span<const " + type_name(d.type, true) + ">";
        return std::string(kX) + "Vec<" + type_name(d.type, false) +
               (d.size ? ", " + bound(d.bound) : "") + ">";
      case Shape::kOptional:
        if (view) return "const " + type_name(d.type, true) + "*";
        return std::string(kX) + "Ptr<" + type_name(d.type, false) + ">";
    }
    return "void";
  }

  // The type behind typedefs of plain shape.
  static const TypeRef& underlying(const TypeRef& t) {
    const TypeRef* r = &t;
    while (r->base == Base::kNamed && r->def->kind == DefKind::kTypedef &&
           r->def->decl.shape == Shape::kPlain && r->def->decl.type.base != Base::kString) {
      r = &r->def->decl.type;
    }
    return *r;
  }

  // 4- and 8-byte numbers: arrays of them are byte-swapped in bulk.
  static bool is_number(const TypeRef& t) {
    switch (underlying(t).base) {
      case Base::kInt:
      case Base::kUInt:
      case Base::kHyper:
      case Base::kUHyper:
      case Base::kFloat:
      case Base::kDouble:
        return true;
      default:
        return false;
    }
  }

  std::string default_init(const Decl& d) const {
    if (d.shape == Shape::kPlain) {
      const TypeRef& u = underlying(d.type);
      if (u.base == Base::kNamed && u.def->kind == DefKind::kEnum && !u.def->members.empty()) {
        return " = " + qual(u.def) + "::" + name(u.def->members[0].name);
      }
    }
    if (d.shape == Shape::kOptional) return "";
    return "{}";
  }

  uint64_t min_size(const TypeRef& t) const {
    if (t.base == Base::kNamed) return t.def->min_size;
    switch (t.base) {
      case Base::kHyper:
      case Base::kUHyper:
      case Base::kDouble:
        return 8;
      case Base::kQuadruple:
        return 16;
      default:
        return 4;
    }
  }

  std::string tmp(const char* prefix) { return prefix + std::to_string(++tmp_); }

  // ------------------------------------------------------------------------------------------
  // Header

  void header_prologue() {
    h_.line(0, "// Generated by ringrpc-gen from " + opt_.input_name + ". Do not edit.");
    h_.line(0, "//");
    h_.line(0,
            "// Types, codecs, printers and service interfaces for the ONC RPC protocol that file");
    h_.line(0,
            "// declares. Generated values are plain C++ values: a thread may use its own freely;");
    h_.line(0, "// sharing one across threads needs the caller's synchronisation.");
    h_.line(0, "#pragma once");
    h_.line(0, "");
    for (const char* inc :
         {"<array>", "<cstddef>", "<cstdint>", "<span>", "<stdexcept>", "<string>", "<string_view>",
          "<variant>", "<functional>", "<future>", "<memory>"}) {
      h_.line(0, std::string("#include ") + inc);
    }
    h_.line(0, "");
    h_.line(0, "#include \"codec/xdr_generated.h\"");
    if (has_programs()) {
      h_.line(0, "#include \"engine/client.h\"");
      h_.line(0, "#include \"engine/service.h\"");
    }
    for (const auto& inc : opt_.includes) h_.line(0, "#include \"" + inc + "\"");
    h_.line(0, "");
    bool any = false;
    for (const auto& d : spec_.defs) {
      if (d->kind != DefKind::kPassthrough) continue;
      if (!any) h_.line(0, "// Passed through from the .x file (`%` lines), at global scope.");
      any = true;
      // SCCS identification (`#pragma ident`) means nothing to a C++ compiler but a warning.
      const size_t b = d->text.find_first_not_of(" \t");
      const bool ident = b != std::string::npos && d->text[b] == '#' &&
                         (d->text.find("pragma", b) != std::string::npos &&
                          d->text.find("ident", b) != std::string::npos);
      h_.line(0, ident ? "// " + d->text : d->text);
    }
    if (any) h_.line(0, "");
    h_.line(0, "namespace " + opt_.ns + " {");
    h_.line(0, "");
  }

  void constants() {
    bool any = false;
    for (const auto& d : spec_.defs) {
      if (d->kind != DefKind::kConst) continue;
      any = true;
      if (d->is_string) {
        h_.line(0, "inline constexpr std::string_view " + name(d->name) + " = \"" + d->value.text +
                       "\";");
        continue;
      }
      const Int v = d->value.value;
      const char* t = v < 0 ? (v >= INT32_MIN ? "int32_t" : "int64_t")
                            : (v <= 0xffffffff ? "uint32_t" : "uint64_t");
      constant(t, name(d->name), int_literal(v) + (v > 0 && v <= 0xffffffff ? "u" : ""));
    }
    std::set<std::string> procs;
    for (const auto& d : spec_.defs) {
      if (d->kind != DefKind::kProgram) continue;
      any = true;
      constant("uint32_t", name(d->name), int_literal(d->number.value) + "u");
      for (const auto& v : d->versions) {
        constant("uint32_t", name(v.name), int_literal(v.number.value) + "u");
        for (const auto& p : v.procs) {
          if (!procs.insert(p.name).second) continue;
          constant("uint32_t", name(p.name), int_literal(p.number.value) + "u");
        }
      }
    }
    if (any) h_.line(0, "");
  }

  // A .x constant may share its name with a C macro (rex.x declares SIGINT): then the macro,
  // which must have the same value, stands for it.
  void constant(const std::string& type, const std::string& n, const std::string& value) {
    h_.line(0, "#ifndef " + n);
    h_.line(0, "inline constexpr " + type + " " + n + " = " + value + ";");
    h_.line(0, "#else");
    h_.line(0, "static_assert(" + n + " == " + value + ", \"the macro " + n +
                   " differs from the .x constant\");");
    h_.line(0, "#endif");
  }

  void enums() {
    for (const auto& dp : spec_.defs) {
      const Def& d = *dp;
      if (d.kind != DefKind::kEnum) continue;
      h_.line(0, "enum class " + tname(d.name) + " : int32_t {");
      for (const auto& m : d.members) {
        h_.line(1, name(m.name) + " = " + int_literal(m.value) + ",");
      }
      h_.line(0, "};");
      h_.line(0, "");
    }
  }

  void forward_declarations() {
    std::vector<const Def*> classes;
    for (const auto& d : spec_.defs) {
      if (d->kind == DefKind::kStruct || d->kind == DefKind::kUnion) classes.push_back(d.get());
    }
    for (const Def* d : classes) {
      h_.line(0, std::string(d->kind == DefKind::kStruct ? "struct " : "class ") + tname(d->name) +
                     ";");
    }
    h_.line(0, "");
    h_.line(0, "// Decoded views: strings and opaque data point into the received message, arrays");
    h_.line(0, "// and optional data into an Arena. Types without such fields are their own view.");
    h_.line(0, "namespace view {");
    for (const auto& dp : spec_.defs) {
      const Def* d = dp.get();
      if (d->kind == DefKind::kEnum) {
        h_.line(0, "using " + tname(d->name) + " = " + qual(d) + ";");
      } else if (d->kind == DefKind::kStruct || d->kind == DefKind::kUnion) {
        if (d->flat) {
          h_.line(0, "using " + tname(d->name) + " = " + qual(d) + ";");
        } else {
          h_.line(0, std::string(d->kind == DefKind::kStruct ? "struct " : "class ") +
                         tname(d->name) + ";");
        }
      }
    }
    h_.line(0, "}  // namespace view");
    h_.line(0, "");
    h_.line(0, "// One codec per named type: encode, decode (owning or view), print.");
    h_.line(0, "namespace codec {");
    for (const auto& d : spec_.defs) {
      if (d->kind == DefKind::kEnum || d->kind == DefKind::kStruct || d->kind == DefKind::kUnion ||
          d->kind == DefKind::kTypedef) {
        h_.line(0, "struct " + tname(d->name) + ";");
      }
    }
    h_.line(0, "}  // namespace codec");
    h_.line(0, "");
  }

  void typedef_def(const Def& d) {
    h_.line(0, "using " + tname(d.name) + " = " + decl_type(d.decl, false) + ";");
    h_.line(0, "namespace view {");
    h_.line(0, "using " + tname(d.name) + " = " + decl_type(d.decl, true) + ";");
    h_.line(0, "}  // namespace view");
    h_.line(0, "");
  }

  void struct_def(const Def& d, bool view) {
    const std::string n = tname(d.name);
    if (view) h_.line(0, "namespace view {");
    h_.line(0, "struct " + n + " {");
    for (const auto& f : d.fields) {
      h_.line(1, decl_type(f, view) + " " + mname(f.name, d) +
                     (view && f.shape == Shape::kOptional ? " = nullptr" : default_init(f)) + ";");
    }
    if (d.list_field >= 0 && !view) {
      // A linked list (`T *next` last): copying, comparing and destroying walk it in a loop,
      // since the defaults would recurse once per node and a long list would exhaust the stack.
      h_.line(0, "");
      h_.line(1, n + "() = default;");
      h_.line(1, n + "(const " + n + "& o) { *this = o; }");
      h_.line(1, n + "(" + n + "&&) noexcept = default;");
      h_.line(1, n + "& operator=(const " + n + "& o);");
      h_.line(1, n + "& operator=(" + n + "&&) noexcept = default;");
      h_.line(1, "~" + n + "();");
      h_.line(1, "friend bool operator==(const " + n + "& a, const " + n + "& b);");
    } else if (d.list_field >= 0 || view) {
      h_.line(0, "");
      h_.line(1, "friend bool operator==(const " + n + "& a, const " + n + "& b);");
    } else {
      h_.line(0, "");
      h_.line(1, "friend bool operator==(const " + n + "&, const " + n + "&) = default;");
    }
    h_.line(0, "};");
    if (view) h_.line(0, "}  // namespace view");
    h_.line(0, "");
  }

  // The index in the arm variant of each arm: 0 (monostate) for void arms, then 1, 2, ...
  static std::vector<int> arm_indices(const Def& d) {
    std::vector<int> idx;
    int next = 1;
    for (const auto& a : d.arms) idx.push_back(a.decl.shape == Shape::kVoid ? 0 : next++);
    return idx;
  }

  std::string arm_accessor(const Decl& decl, const Def& d) const {
    return cxx_arm_name(decl.name, d.name);
  }

  void union_def(const Def& d, bool view) {
    const std::string n = tname(d.name);
    const std::vector<int> idx = arm_indices(d);
    const std::string dt = decl_type(d.disc, false);
    if (view) h_.line(0, "namespace view {");
    h_.line(0, "class " + n + " {");
    h_.line(0, " public:");
    h_.line(1, "using discriminant_type = " + dt + ";");
    h_.line(0, "");
    h_.line(1, "discriminant_type discriminant() const noexcept { return disc_; }");
    h_.line(1, "// Selects the arm `d` chooses; a newly selected arm is default-constructed.");
    h_.line(1, "// Throws std::invalid_argument when no arm (and no default) takes `d`.");
    h_.line(1, "void set_discriminant(discriminant_type d) {");
    h_.line(2, "const int k = arm_of(d);");
    h_.line(2, "if (k < 0) throw std::invalid_argument(\"union " + d.name +
                   ": no arm for this discriminant\");");
    h_.line(2, "disc_ = d;");
    h_.line(2, "if (static_cast<int>(arm_.index()) != k) select(k);");
    h_.line(1, "}");
    h_.line(1, "// The index in the arm variant that `d` selects (0: a void arm), or -1.");
    h_.line(1, "static int arm_of(discriminant_type d) noexcept {");
    h_.line(2, "switch (static_cast<int64_t>(d)) {");
    int default_idx = -1;
    for (size_t i = 0; i < d.arms.size(); ++i) {
      const Arm& a = d.arms[i];
      if (a.is_default) {
        default_idx = idx[i];
        continue;
      }
      std::string labels;
      for (const auto& l : a.labels) labels += "case " + int_literal(l.value) + ": ";
      h_.line(3, labels + "return " + std::to_string(idx[i]) + ";");
    }
    h_.line(3, "default: return " + std::to_string(default_idx) + ";");
    h_.line(2, "}");
    h_.line(1, "}");
    for (size_t i = 0; i < d.arms.size(); ++i) {
      const Decl& a = d.arms[i].decl;
      if (a.shape == Shape::kVoid) continue;
      const std::string t = decl_type(a, view);
      const std::string acc = arm_accessor(a, d);
      const std::string k = std::to_string(idx[i]);
      const std::string check = "if (arm_.index() != " + k + ") throw " + kX + "WrongArm(\"" +
                                d.name + "\", \"" + a.name + "\");";
      h_.line(0, "");
      h_.line(1, t + "& " + acc + "() {");
      h_.line(2, check);
      h_.line(2, "return std::get<" + k + ">(arm_);");
      h_.line(1, "}");
      h_.line(1, "const " + t + "& " + acc + "() const {");
      h_.line(2, check);
      h_.line(2, "return std::get<" + k + ">(arm_);");
      h_.line(1, "}");
      h_.line(1, t + "* " + acc + "_if() noexcept { return std::get_if<" + k + ">(&arm_); }");
      h_.line(1, "const " + t + "* " + acc + "_if() const noexcept { return std::get_if<" + k +
                     ">(&arm_); }");
    }
    h_.line(0, "");
    if (view) {
      h_.line(1, "friend bool operator==(const " + n + "& a, const " + n + "& b);");
    } else {
      h_.line(1, "friend bool operator==(const " + n + "&, const " + n + "&) = default;");
    }
    h_.line(0, "");
    h_.line(0, " private:");
    h_.line(1, "friend struct " + qcodec(&d) + ";");
    h_.line(1, "void select(int k) {");
    h_.line(2, "switch (k) {");
    int count = 0;
    for (int i : idx) count = std::max(count, i);
    for (int i = 0; i <= count; ++i) {
      h_.line(3,
              "case " + std::to_string(i) + ": arm_.emplace<" + std::to_string(i) + ">(); break;");
    }
    h_.line(3, "default: break;");
    h_.line(2, "}");
    h_.line(1, "}");
    h_.line(0, "");
    const ValueRef& first = d.arms[0].labels[0];
    h_.line(1, "discriminant_type disc_ = static_cast<discriminant_type>(" +
                   int_literal(first.value) + ");");
    std::string alts = "std::monostate";
    for (size_t i = 0; i < d.arms.size(); ++i) {
      if (idx[i] != 0) alts += ", " + decl_type(d.arms[i].decl, view);
    }
    h_.line(
        1, "std::variant<" + alts + "> arm_{std::in_place_index<" + std::to_string(idx[0]) + ">};");
    h_.line(0, "};");
    if (view) h_.line(0, "}  // namespace view");
    h_.line(0, "");
  }

  void codec_declarations() {
    h_.line(0, "namespace codec {");
    h_.line(0, "");
    for (const Def* d : spec_.order) {
      const std::string n = tname(d->name);
      const std::string w = std::string("::ringrpc::xdr::XdrWriter& w");
      const std::string r = std::string("::ringrpc::xdr::XdrReader& r");
      const std::string p = std::string("::ringrpc::xdr::Printer& p");
      h_.line(0, "struct " + n + " {");
      h_.line(1, "using type = " + qual(d) + ";");
      h_.line(1, "using view_type = " + qview(d) + ";");
      h_.line(1, "static constexpr const char* kName = " + cstr(d->name) + ";");
      h_.line(1, "// The fewest bytes an encoding takes.");
      h_.line(1, "static constexpr size_t kMinSize = " + std::to_string(d->min_size) + ";");
      if (d->kind == DefKind::kEnum) {
        h_.line(0, "");
        h_.line(1, "static bool is_member(int32_t v) noexcept {");
        h_.line(2, "switch (v) {");
        std::set<int32_t> seen;
        std::string labels;
        for (const auto& m : d->members) {
          if (seen.insert(m.value).second) labels += "case " + int_literal(m.value) + ": ";
        }
        h_.line(3, labels + "return true;");
        h_.line(3, "default: return false;");
        h_.line(2, "}");
        h_.line(1, "}");
        h_.line(1, "// The member's name, or nullptr for a value that is not a member.");
        h_.line(1, "static const char* name_of(type v) noexcept {");
        h_.line(2, "switch (static_cast<int32_t>(v)) {");
        seen.clear();
        for (const auto& m : d->members) {
          if (seen.insert(m.value).second) {
            h_.line(3, "case " + int_literal(m.value) + ": return " + cstr(m.name) + ";");
          }
        }
        h_.line(3, "default: return nullptr;");
        h_.line(2, "}");
        h_.line(1, "}");
        h_.line(1, "static bool encode(" + w + ", type v) noexcept { return w.put_enum(v); }");
        h_.line(1, "static bool decode(" + r + ", type& v) noexcept {");
        h_.line(2, "return r.get_enum(v, &is_member, kName);");
        h_.line(1, "}");
        h_.line(1, "static void print(" + p +
                       ", type v) { p.enumerator(name_of(v), "
                       "static_cast<int32_t>(v)); }");
      } else {
        h_.line(0, "");
        h_.line(1, "static bool encode(" + w + ", const type& v) noexcept;");
        h_.line(1, "static bool decode(" + r + ", type& v);");
        h_.line(1, "static void print(" + p + ", const type& v);");
      }
      if (d->flat) {
        h_.line(1, "static bool encode_view(" + w + ", const view_type& v) noexcept {");
        h_.line(2, "return encode(w, v);");
        h_.line(1, "}");
        h_.line(1,
                "static bool decode_view(" + r + ", view_type& v, ::ringrpc::Arena&) noexcept {");
        h_.line(2, "return decode(r, v);");
        h_.line(1, "}");
        h_.line(1, "static void print_view(" + p + ", const view_type& v) { print(p, v); }");
      } else {
        h_.line(1, "static bool encode_view(" + w + ", const view_type& v) noexcept;");
        h_.line(1, "static bool decode_view(" + r +
                       ", view_type& v, ::ringrpc::Arena& arena) noexcept;");
        h_.line(1, "static void print_view(" + p + ", const view_type& v);");
      }
      h_.line(0, "");
      h_.line(1, "// One line of text, for logs and tools; or JSON.");
      h_.line(1, "template <typename T>");
      h_.line(1, "static std::string to_string(const T& v) {");
      h_.line(2, std::string("return ") + kX + "to_string_with<" + n + ">(v, false);");
      h_.line(1, "}");
      h_.line(1, "template <typename T>");
      h_.line(1, "static std::string to_json(const T& v) {");
      h_.line(2, std::string("return ") + kX + "to_string_with<" + n + ">(v, true);");
      h_.line(1, "}");
      h_.line(0, "};");
      h_.line(0, "");
    }
    h_.line(0, "}  // namespace codec");
    h_.line(0, "");
  }

  // Copy, comparison and teardown of linked lists, and comparison of views (spans compare by
  // element).
  void list_functions() {
    for (const Def* d : spec_.order) {
      if (d->kind == DefKind::kStruct && (d->list_field >= 0 || !d->flat)) {
        struct_equality(*d);
      }
      if (d->kind == DefKind::kUnion && !d->flat) union_view_equality(*d);
    }
  }

  void struct_equality(const Def& d) {
    const std::string n = tname(d.name);
    const int lf = d.list_field;
    const std::string next = lf >= 0 ? mname(d.fields[static_cast<size_t>(lf)].name, d) : "";
    for (bool view : {false, true}) {
      if (view && d.flat) continue;
      if (!view && lf < 0) continue;
      const std::string t = view ? qview(&d) : qual(&d);
      std::string cmp;
      for (size_t i = 0; i < d.fields.size(); ++i) {
        if (static_cast<int>(i) == lf) continue;
        const std::string f = mname(d.fields[i].name, d);
        if (!cmp.empty()) cmp += " && ";
        cmp += view ? std::string(kX) + "view_eq(x->" + f + ", y->" + f + ")"
                    : "x->" + f + " == y->" + f;
      }
      if (cmp.empty()) cmp = "true";
      if (view) h_.line(0, "namespace view {");
      h_.line(0, "inline bool operator==(const " + t + "& a, const " + t + "& b) {");
      if (lf >= 0) {
        const std::string get = view ? "" : ".get()";
        h_.line(1, "const " + t + "* x = &a;");
        h_.line(1, "const " + t + "* y = &b;");
        h_.line(1, "while (x != nullptr && y != nullptr) {");
        h_.line(2, "if (!(" + cmp + ")) return false;");
        h_.line(2, "x = x->" + next + get + ";");
        h_.line(2, "y = y->" + next + get + ";");
        h_.line(1, "}");
        h_.line(1, "return x == nullptr && y == nullptr;");
      } else {
        h_.line(1, "const " + t + "* x = &a;");
        h_.line(1, "const " + t + "* y = &b;");
        h_.line(1, "return " + cmp + ";");
      }
      h_.line(0, "}");
      if (view) h_.line(0, "}  // namespace view");
    }
    if (lf < 0) {
      h_.line(0, "");
      return;
    }
    const std::string t = qual(&d);
    h_.line(0, "inline " + t + "::~" + n + "() {");
    h_.line(1, "auto rr_node = " + next + ".release_owned();");
    h_.line(1, "while (rr_node) {");
    h_.line(2, "auto rr_rest = rr_node->" + next + ".release_owned();");
    h_.line(2, "rr_node = std::move(rr_rest);");
    h_.line(1, "}");
    h_.line(0, "}");
    h_.line(0, "inline " + t + "& " + t + "::operator=(const " + n + "& o) {");
    h_.line(1, "if (this == &o) return *this;");
    h_.line(1, decl_type(d.fields[static_cast<size_t>(lf)], false) + " rr_chain;");
    h_.line(1, "auto* rr_tail = &rr_chain;");
    h_.line(1, "for (const " + n + "* rr_q = o." + next + ".get(); rr_q != nullptr; rr_q = rr_q->" +
                   next + ".get()) {");
    h_.line(2, n + "& rr_copy = rr_tail->emplace();");
    for (size_t i = 0; i < d.fields.size(); ++i) {
      if (static_cast<int>(i) == lf) continue;
      const std::string f = mname(d.fields[i].name, d);
      h_.line(2, "rr_copy." + f + " = rr_q->" + f + ";");
    }
    h_.line(2, "rr_tail = &rr_copy." + next + ";");
    h_.line(1, "}");
    for (size_t i = 0; i < d.fields.size(); ++i) {
      if (static_cast<int>(i) == lf) continue;
      const std::string f = mname(d.fields[i].name, d);
      h_.line(1, f + " = o." + f + ";");
    }
    h_.line(1, next + " = std::move(rr_chain);");
    h_.line(1, "return *this;");
    h_.line(0, "}");
    h_.line(0, "");
  }

  void union_view_equality(const Def& d) {
    const std::string t = qview(&d);
    const std::vector<int> idx = arm_indices(d);
    h_.line(0, "namespace view {");
    h_.line(0, "inline bool operator==(const " + t + "& a, const " + t + "& b) {");
    h_.line(1, "if (a.disc_ != b.disc_ || a.arm_.index() != b.arm_.index()) return false;");
    h_.line(1, "switch (a.arm_.index()) {");
    for (size_t i = 0; i < d.arms.size(); ++i) {
      if (idx[i] == 0) continue;
      const std::string k = std::to_string(idx[i]);
      h_.line(2, "case " + k + ": return " + kX + "view_eq(std::get<" + k + ">(a.arm_), std::get<" +
                     k + ">(b.arm_));");
    }
    h_.line(2, "default: return true;");
    h_.line(1, "}");
    h_.line(0, "}");
    h_.line(0, "}  // namespace view");
    h_.line(0, "");
  }

  // to_string()/to_json() found by argument-dependent lookup, for the types that are distinct
  // C++ types (typedefs are aliases: use codec::T::to_string for those).
  void printers() {
    for (const Def* d : spec_.order) {
      if (d->kind == DefKind::kTypedef) continue;
      const std::string c = qcodec(d);
      const std::string n = tname(d->name);
      h_.line(0, "inline std::string to_string(const " + qual(d) + "& v) { return " + c +
                     "::to_string(v); }");
      h_.line(0, "inline std::string to_json(const " + qual(d) + "& v) { return " + c +
                     "::to_json(v); }");
      if (!d->flat) {
        h_.line(0, "namespace view {");
        h_.line(0, "inline std::string to_string(const " + n + "& v) { return " + c +
                       "::to_string(v); }");
        h_.line(0,
                "inline std::string to_json(const " + n + "& v) { return " + c + "::to_json(v); }");
        h_.line(0, "}  // namespace view");
      }
    }
    h_.line(0, "");
  }

  // The codec of a procedure's argument or result type.
  std::string proc_codec(const TypeRef& t) const {
    switch (t.base) {
      case Base::kVoid:
        return std::string(kX) + "VoidCodec";
      case Base::kString:
        return std::string(kX) + "StringCodec<>";
      case Base::kNamed:
        return qcodec(t.def);
      default:
        return std::string(kX) + "ScalarCodec<" + scalar(t.base) + ">";
    }
  }

  bool has_programs() const {
    for (const auto& dp : spec_.defs) {
      if (dp->kind == DefKind::kProgram) return true;
    }
    return false;
  }

  void programs() {
    for (const auto& dp : spec_.defs) {
      if (dp->kind != DefKind::kProgram) continue;
      for (const auto& v : dp->versions) version(*dp, v);
    }
  }

  void version(const Def& prog, const Version& v) {
    const std::string vn = name(v.name);
    h_.line(0, "// Program " + prog.name + " (" + int_literal(prog.number.value) + "), version " +
                   v.name + " (" + int_literal(v.number.value) + ").");
    h_.line(0, "struct " + vn + "_Proto {");
    h_.line(1, "static constexpr uint32_t program = " + int_literal(prog.number.value) + "u;");
    h_.line(1, "static constexpr uint32_t version = " + int_literal(v.number.value) + "u;");
    h_.line(1, "static constexpr const char* program_name = " + cstr(prog.name) + ";");
    h_.line(1, "static constexpr const char* version_name = " + cstr(v.name) + ";");
    for (const auto& p : v.procs) {
      h_.line(1, "struct " + name(p.name) + "_t {");
      h_.line(2, "static constexpr uint32_t number = " + int_literal(p.number.value) + "u;");
      h_.line(2, "static constexpr const char* name = " + cstr(p.name) + ";");
      h_.line(2, "using arg = " + arg_codec(p) + ";");
      h_.line(2, "using result = " + proc_codec(p.result) + ";");
      h_.line(1, "};");
    }
    h_.line(0, "};");
    h_.line(0, "");
    h_.line(0, "// The server side of " + v.name + ": implement one method per procedure and add");
    h_.line(0, "// the object to a ::ringrpc::Server. Arguments are views into the request, valid");
    h_.line(0,
            "// while the method runs; fill in `result`, or answer through `call` (fail, defer).");
    h_.line(0, "// Methods are called from every shard thread at once: make them thread-safe.");
    h_.line(0, "class " + vn + "_Service : public ::ringrpc::Service {");
    h_.line(0, " public:");
    h_.line(1, "using Proto = " + vn + "_Proto;");
    h_.line(1, vn + "_Service()");
    h_.line(3, ": ::ringrpc::Service(Proto::program, Proto::version, Proto::program_name,");
    h_.line(3, "                     Proto::version_name) {}");
    h_.line(0, "");
    bool has_null = false;
    for (const auto& p : v.procs) {
      has_null |= p.number.value == 0;
      if (p.number.value == 0 && p.args.empty() && p.result.base == Base::kVoid) {
        h_.line(1, "// The NULL procedure answers with nothing unless overridden.");
        h_.line(1, "virtual void " + name(p.name) + "(::ringrpc::Call&) {}");
      } else {
        h_.line(1, "virtual void " + method_signature(p) + " = 0;");
      }
    }
    h_.line(0, "");
    h_.line(1, std::string(kX) + "DispatchStatus dispatch(::ringrpc::Call& call, " + kX +
                   "XdrReader& args) override;");
    h_.line(0, "};");
    h_.line(0, "");
    client_class(v);
    dispatch_source(v, has_null);
  }

  std::string arg_codec(const Proc& p) const {
    if (p.args.empty()) return std::string(kX) + "VoidCodec";
    if (p.arg_struct != nullptr) return qcodec(p.arg_struct);
    const Decl& a = p.args[0];
    if (a.type.base == Base::kString) return std::string(kX) + "StringCodec<>";
    return proc_codec(a.type);
  }

  // The client side: one blocking method, one with a callback, one returning a future and one
  // to co_await per procedure, over a ::ringrpc::Channel.
  void client_class(const Version& v) {
    const std::string vn = name(v.name);
    h_.line(0,
            "// The client side of " + v.name + ": per procedure a blocking call, a call with a");
    h_.line(0,
            "// callback (run on the channel's loop thread), NAME_async returning a std::future");
    h_.line(0, "// and NAME_co to co_await. Thread-safe, like the Channel.");
    h_.line(0, "class " + vn + "_Client {");
    h_.line(0, " public:");
    h_.line(1, "using Proto = " + vn + "_Proto;");
    h_.line(1, "explicit " + vn +
                   "_Client(std::shared_ptr<::ringrpc::Channel> channel) : "
                   "channel_(std::move(channel)) {}");
    h_.line(1, "::ringrpc::Channel& channel() const noexcept { return *channel_; }");
    for (const auto& p : v.procs) {
      const std::string pt = "Proto::" + name(p.name) + "_t";
      const std::string rt = "::ringrpc::Result<typename " + pt + "::result::type>";
      const bool void_arg = p.args.empty();
      const std::string arg_param = void_arg ? "" : "const typename " + pt + "::arg::type& arg, ";
      const std::string arg_value = void_arg ? "kNoArgs" : "arg";
      const std::string opt = "const ::ringrpc::CallOptions& options = {}";
      h_.line(0, "");
      h_.line(1, rt + " " + name(p.name) + "(" + arg_param + opt + ") {");
      h_.line(2, "return channel_->call_sync<" + pt + ">(" + arg_value + ", options);");
      h_.line(1, "}");
      h_.line(1, "void " + name(p.name) + "(" + arg_param + "std::function<void(" + rt +
                     ")> done, " + opt + ") {");
      h_.line(2, "channel_->call<" + pt + ">(" + arg_value + ", std::move(done), options);");
      h_.line(1, "}");
      h_.line(1, "std::future<" + rt + "> " + name(p.name) + "_async(" + arg_param + opt + ") {");
      h_.line(2, "return channel_->call_future<" + pt + ">(" + arg_value + ", options);");
      h_.line(1, "}");
      h_.line(1, "auto " + name(p.name) + "_co(" + arg_param + opt + ") {");
      h_.line(2, "return channel_->call_co<" + pt + ">(" + arg_value + ", options);");
      h_.line(1, "}");
    }
    h_.line(0, "");
    h_.line(0, " private:");
    h_.line(1, "static constexpr std::monostate kNoArgs{};");
    h_.line(1, "std::shared_ptr<::ringrpc::Channel> channel_;");
    h_.line(0, "};");
    h_.line(0, "");
  }

 public:
  // rpcgen -Ss: a server that builds and runs as it is, one class per version whose methods
  // are left to fill in.
  std::string sample_server() const {
    Code c;
    c.line(0, "// Sample server for " + opt_.input_name +
                  ", generated by ringrpc-gen --sample-server.");
    c.line(0, "// Fill in the procedures, then build it with " + opt_.header_name + " and its .cc");
    c.line(0, "// (ringrpc_generate() in CMake) and link ringrpc::engine.");
    c.line(0, "//   usage: " + sample_base() + "_server [PORT]");
    c.line(0, "#include <cstdio>");
    c.line(0, "#include <cstdlib>");
    c.line(0, "#include <string>");
    c.line(0, "");
    c.line(0, "#include \"" + opt_.header_name + "\"");
    c.line(0, "#include \"engine/server.h\"");
    c.line(0, "");
    c.line(0, "namespace {");
    std::vector<std::string> impls;
    for (const auto& dp : spec_.defs) {
      if (dp->kind != DefKind::kProgram) continue;
      for (const auto& v : dp->versions) {
        const std::string impl = name(v.name) + "_Impl";
        impls.push_back(impl);
        c.line(0, "");
        c.line(0, "// Called from every shard thread at once: keep shared state thread-safe.");
        c.line(0, "class " + impl + " final : public " + q_ + name(v.name) + "_Service {");
        c.line(0, " public:");
        for (const auto& p : v.procs) {
          if (p.number.value == 0 && p.args.empty() && p.result.base == Base::kVoid) continue;
          c.line(1, "void " + method_signature(p) + " override {");
          c.line(2, "(void)call;");
          if (p.args.size() == 1) {
            c.line(2, "(void)" + name(p.args[0].name) + ";");
          } else {
            for (const auto& a : p.args) c.line(2, "(void)" + name(a.name) + ";");
          }
          if (p.result.base != Base::kVoid) c.line(2, "(void)result;");
          c.line(2, "// Insert server code here: fill in `result` (it starts value-initialised).");
          c.line(1, "}");
        }
        c.line(0, "};");
      }
    }
    c.line(0, "");
    c.line(0, "}  // namespace");
    c.line(0, "");
    c.line(0, "int main(int argc, char** argv) {");
    c.line(1, "const long port = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 0;");
    c.line(1, "if (port < 0 || port > 65535) {");
    c.line(2, "std::fprintf(stderr, \"usage: %s [PORT]\\n\", argv[0]);");
    c.line(2, "return 2;");
    c.line(1, "}");
    c.line(1, "::ringrpc::block_termination_signals();");
    c.line(1, "::ringrpc::Server server;");
    for (size_t i = 0; i < impls.size(); ++i) {
      c.line(1, impls[i] + " service" + std::to_string(i) + ";");
      c.line(1, "server.add_service(service" + std::to_string(i) + ");");
    }
    c.line(1,
           "server.listen_tcp(::ringrpc::transport::SockAddr::any4(static_cast<uint16_t>(port)));");
    c.line(1,
           "server.listen_udp(::ringrpc::transport::SockAddr::any4(static_cast<uint16_t>(port)));");
    c.line(1, "std::string error;");
    c.line(1, "if (!server.start(&error)) {");
    c.line(2, "std::fprintf(stderr, \"%s: %s\\n\", argv[0], error.c_str());");
    c.line(2, "return 1;");
    c.line(1, "}");
    c.line(1, "if (!server.register_with_rpcbind(&error)) {");
    c.line(2, "std::fprintf(stderr, \"%s: not registered: %s\\n\", argv[0], error.c_str());");
    c.line(1, "}");
    c.line(1, "std::printf(\"listening tcp=%u udp=%u\\n\", server.tcp_port(), server.udp_port());");
    c.line(1, "std::fflush(stdout);");
    c.line(1, "::ringrpc::wait_for_termination_signal();");
    c.line(1, "server.stop();");
    c.line(1, "server.wait();");
    c.line(1, "return 0;");
    c.line(0, "}");
    return c.str();
  }

  // rpcgen -Sc: a client that calls every procedure once with value-initialised arguments and
  // prints what comes back.
  std::string sample_client() const {
    Code c;
    c.line(0, "// Sample client for " + opt_.input_name +
                  ", generated by ringrpc-gen --sample-client.");
    c.line(
        0,
        "// Calls every procedure once with value-initialised arguments and prints the results.");
    c.line(0, "//   usage: " + sample_base() + "_client HOST [tcp|udp] [PORT]");
    c.line(0, "// Without PORT the host's registry (rpcbind) is asked, like clnt_create.");
    c.line(0, "#include <cstdio>");
    c.line(0, "#include <cstdlib>");
    c.line(0, "#include <string>");
    c.line(0, "");
    c.line(0, "#include \"" + opt_.header_name + "\"");
    c.line(0, "#include \"engine/client.h\"");
    c.line(0, "");
    c.line(0, "namespace {");
    c.line(0, "");
    c.line(0,
           "std::shared_ptr<::ringrpc::Channel> open(const std::string& host, const std::string& "
           "nettype,");
    c.line(
        0,
        "                                        long port, uint32_t program, uint32_t version) {");
    c.line(1, "if (port > 0) {");
    c.line(2, "::ringrpc::ChannelOptions o;");
    c.line(2, "o.program = program;");
    c.line(2, "o.version = version;");
    c.line(2,
           "o.transport = nettype == \"udp\" ? ::ringrpc::TransportKind::kUdp : "
           "::ringrpc::TransportKind::kTcp;");
    c.line(2, "std::string why;");
    c.line(2,
           "if (!::ringrpc::transport::SockAddr::resolve(host, static_cast<uint16_t>(port), false, "
           "o.address, &why)) {");
    c.line(3, "std::fprintf(stderr, \"%s\\n\", why.c_str());");
    c.line(3, "return nullptr;");
    c.line(2, "}");
    c.line(2, "return ::ringrpc::Channel::create(::ringrpc::ClientRuntime::shared().loop(), o);");
    c.line(1, "}");
    c.line(1, "auto ch = ::ringrpc::connect(host, program, version, nettype);");
    c.line(1, "if (!ch.ok()) {");
    c.line(2, "std::fprintf(stderr, \"%s: %s\\n\", host.c_str(), ch.error().to_string().c_str());");
    c.line(2, "return nullptr;");
    c.line(1, "}");
    c.line(1, "return ch.value();");
    c.line(0, "}");
    c.line(0, "");
    c.line(0, "}  // namespace");
    c.line(0, "");
    c.line(0, "int main(int argc, char** argv) {");
    c.line(1, "if (argc < 2) {");
    c.line(2, "std::fprintf(stderr, \"usage: %s HOST [tcp|udp] [PORT]\\n\", argv[0]);");
    c.line(2, "return 2;");
    c.line(1, "}");
    c.line(1, "const std::string host = argv[1];");
    c.line(1, "const std::string nettype = argc > 2 ? argv[2] : \"tcp\";");
    c.line(1, "const long port = argc > 3 ? std::strtol(argv[3], nullptr, 10) : 0;");
    c.line(1, "int failures = 0;");
    for (const auto& dp : spec_.defs) {
      if (dp->kind != DefKind::kProgram) continue;
      for (const auto& v : dp->versions) {
        const std::string cl = q_ + name(v.name) + "_Client";
        c.line(1, "{");
        c.line(2, "auto channel = open(host, nettype, port, " + cl + "::Proto::program, " + cl +
                      "::Proto::version);");
        c.line(2, "if (!channel) return 1;");
        c.line(2, cl + " client(channel);");
        for (const auto& p : v.procs) {
          const std::string pt = cl + "::Proto::" + name(p.name) + "_t";
          c.line(2, "{");
          std::string callexpr = "client." + name(p.name) + "(";
          if (!p.args.empty()) {
            c.line(3, "typename " + pt + "::arg::type arg{};");
            callexpr += "arg";
          }
          c.line(3, "auto r = " + callexpr + ");");
          c.line(3, "if (r.ok()) {");
          c.line(4, "std::printf(\"" + p.name +
                        ": %s\\n\", ::ringrpc::xdr::to_string_with<typename " + pt +
                        "::result>(r.value(), false).c_str());");
          c.line(3, "} else {");
          c.line(4, "std::printf(\"" + p.name + ": %s\\n\", r.error().to_string().c_str());");
          c.line(4, "++failures;");
          c.line(3, "}");
          c.line(2, "}");
        }
        c.line(1, "}");
      }
    }
    c.line(1, "return failures == 0 ? 0 : 1;");
    c.line(0, "}");
    return c.str();
  }

 private:
  std::string sample_base() const {
    std::string b = opt_.header_name;
    return b.size() > 2 ? b.substr(0, b.size() - 2) : b;
  }

  std::string method_signature(const Proc& p) const {
    std::string s = name(p.name) + "(::ringrpc::Call& call";
    if (p.args.size() == 1) {
      s += ", const " + arg_codec(p) + "::view_type& " + name(p.args[0].name);
    } else {
      for (const auto& a : p.args) s += ", const " + decl_type(a, true) + "& " + name(a.name);
    }
    if (p.result.base != Base::kVoid) s += ", " + proc_codec(p.result) + "::type& result";
    return s + ")";
  }

  // ------------------------------------------------------------------------------------------
  // Source: codec bodies

  void source() {
    Code out;
    out.line(0, "// Generated by ringrpc-gen from " + opt_.input_name + ". Do not edit.");
    out.line(0, "#include \"" + opt_.header_name + "\"");
    out.line(0, "");
    out.line(0, "#include <new>");
    out.line(0, "");
    out.line(0, "namespace " + opt_.ns + "::codec {");
    out.line(0, "");
    out.raw(c_.str());
    out.line(0, "}  // namespace " + opt_.ns + "::codec");
    if (!d_.str().empty()) {
      out.line(0, "");
      out.line(0, "namespace " + opt_.ns + " {");
      out.line(0, "");
      out.raw(d_.str());
      out.line(0, "}  // namespace " + opt_.ns);
    }
    c_ = std::move(out);
    // The codec bodies were collected into c_ as the types were emitted; see codec_bodies().
  }

 public:
  void codec_bodies() {
    for (const Def* d : spec_.order) {
      if (d->kind == DefKind::kEnum) continue;
      for (bool view : {false, true}) {
        if (view && d->flat) continue;
        encode_fn(*d, view);
        decode_fn(*d, view);
        print_fn(*d, view);
      }
    }
  }

 private:
  std::string enc_type(const TypeRef& t, const std::string& x, bool view) const {
    switch (t.base) {
      case Base::kInt:
        return "w.put_i32(" + x + ")";
      case Base::kUInt:
        return "w.put_u32(" + x + ")";
      case Base::kHyper:
        return "w.put_i64(" + x + ")";
      case Base::kUHyper:
        return "w.put_u64(" + x + ")";
      case Base::kFloat:
        return "w.put_f32(" + x + ")";
      case Base::kDouble:
        return "w.put_f64(" + x + ")";
      case Base::kQuadruple:
        return "w.put_quadruple(" + x + ")";
      case Base::kBool:
        return "w.put_bool(" + x + ")";
      case Base::kChar:
      case Base::kShort:
        return "w.put_i32(" + x + ")";
      case Base::kUChar:
      case Base::kUShort:
        return "w.put_u32(" + x + ")";
      case Base::kNamed:
        return qcodec(t.def) + (view ? "::encode_view(w, " : "::encode(w, ") + x + ")";
      default:
        return "true";
    }
  }

  void enc_decl(Code& c, int ind, const Decl& d, const std::string& x, bool view,
                const std::string& what) {
    const std::string w = cstr(what);
    switch (d.shape) {
      case Shape::kVoid:
        return;
      case Shape::kPlain:
        if (d.type.base == Base::kString) {
          c.line(ind, "if (!w.put_string(" + x + ", " + std::string(kX) + "kUnbounded, " + w +
                          ")) return false;");
          return;
        }
        c.line(ind, "if (!" + enc_type(d.type, x, view) + ") return false;");
        return;
      case Shape::kFixed:
        if (d.type.base == Base::kOpaque) {
          c.line(ind, "if (!w.put_fixed_opaque(std::span<const uint8_t>(" + x + ".data(), " + x +
                          ".size()))) return false;");
        } else {
          elements(c, ind, d, x, view);
        }
        return;
      case Shape::kVar:
        if (d.type.base == Base::kOpaque) {
          c.line(ind,
                 "if (!w.put_opaque(" + x + ", " + bound(d.bound) + ", " + w + ")) return false;");
        } else if (d.type.base == Base::kString) {
          c.line(ind,
                 "if (!w.put_string(" + x + ", " + bound(d.bound) + ", " + w + ")) return false;");
        } else {
          c.line(ind, "if (!w.put_count(" + x + ".size(), " + bound(d.bound) + ", " + w +
                          ")) return false;");
          elements(c, ind, d, x, view);
        }
        return;
      case Shape::kOptional: {
        const std::string present = view ? x + " != nullptr" : "static_cast<bool>(" + x + ")";
        c.line(ind, "if (!w.put_optional(" + present + ")) return false;");
        c.line(ind,
               "if (" + present + " && !" + enc_type(d.type, "*" + x, view) + ") return false;");
        return;
      }
    }
  }

  void elements(Code& c, int ind, const Decl& d, const std::string& x, bool view) {
    if (is_number(d.type)) {
      c.line(ind, "if (!w.put_array(" + x + ".data(), " + x + ".size())) return false;");
      return;
    }
    const std::string e = tmp("e");
    c.line(ind, "for (const auto& " + e + " : " + x + ") {");
    c.line(ind + 1, "if (!" + enc_type(d.type, e, view) + ") return false;");
    c.line(ind, "}");
  }

  std::string dec_type(const TypeRef& t, const std::string& x, bool view,
                       const std::string& what) const {
    const std::string w = cstr(what);
    switch (t.base) {
      case Base::kInt:
        return "r.get_i32(" + x + ", " + w + ")";
      case Base::kUInt:
        return "r.get_u32(" + x + ", " + w + ")";
      case Base::kHyper:
        return "r.get_i64(" + x + ", " + w + ")";
      case Base::kUHyper:
        return "r.get_u64(" + x + ", " + w + ")";
      case Base::kFloat:
        return "r.get_f32(" + x + ", " + w + ")";
      case Base::kDouble:
        return "r.get_f64(" + x + ", " + w + ")";
      case Base::kQuadruple:
        return "r.get_quadruple(" + x + ", " + w + ")";
      case Base::kBool:
        return "r.get_bool(" + x + ", " + w + ")";
      case Base::kChar:
      case Base::kShort:
      case Base::kUChar:
      case Base::kUShort:
        return std::string(kX) + "get_narrow(r, " + x + ", " + w + ")";
      case Base::kNamed:
        return qcodec(t.def) +
               (view ? "::decode_view(r, " + x + ", arena)" : "::decode(r, " + x + ")");
      default:
        return "true";
    }
  }

  void dec_decl(Code& c, int ind, const Decl& d, const std::string& x, bool view,
                const std::string& what) {
    const std::string w = cstr(what);
    switch (d.shape) {
      case Shape::kVoid:
        return;
      case Shape::kPlain:
        if (d.type.base == Base::kString) {
          c.line(ind, "if (!r.get_string(" +
                          std::string(view ? x : "static_cast<std::string&>(" + x + ")") + ", " +
                          kX + "kUnbounded, " + w + ")) return false;");
          return;
        }
        c.line(ind, "if (!" + dec_type(d.type, x, view, what) + ") return false;");
        return;
      case Shape::kFixed:
        if (d.type.base == Base::kOpaque) {
          c.line(ind, "if (!r.get_fixed_opaque(" + x + ".data(), " + x + ".size(), " + w +
                          ")) return false;");
        } else if (is_number(d.type)) {
          c.line(ind,
                 "if (!r.get_array(" + x + ".data(), " + x + ".size(), " + w + ")) return false;");
        } else {
          const std::string e = tmp("e");
          c.line(ind, "for (auto& " + e + " : " + x + ") {");
          c.line(ind + 1, "if (!" + dec_type(d.type, e, view, what) + ") return false;");
          c.line(ind, "}");
        }
        return;
      case Shape::kVar: {
        if (d.type.base == Base::kOpaque) {
          c.line(ind, "if (!r.get_opaque(" +
                          std::string(view ? x : "static_cast<std::vector<uint8_t>&>(" + x + ")") +
                          ", " + bound(d.bound) + ", " + w + ")) return false;");
          return;
        }
        if (d.type.base == Base::kString) {
          c.line(ind, "if (!r.get_string(" +
                          std::string(view ? x : "static_cast<std::string&>(" + x + ")") + ", " +
                          bound(d.bound) + ", " + w + ")) return false;");
          return;
        }
        const std::string n = tmp("n");
        const uint64_t min = std::max<uint64_t>(min_size(d.type), 1);
        c.line(ind, "uint32_t " + n + " = 0;");
        c.line(ind, "if (!r.get_count(" + n + ", " + bound(d.bound) + ", " + std::to_string(min) +
                        ", " + w + ")) return false;");
        const bool number = is_number(d.type);
        if (!view) {
          c.line(ind, x + ".resize(" + n + ");");
          if (number) {
            c.line(ind, "if (!r.get_array(" + x + ".data(), " + n + ", " + w + ")) return false;");
            return;
          }
          const std::string g = tmp("g");
          c.line(ind, std::string(kX) + "XdrReader::DepthGuard " + g + "(r, " + w + ");");
          c.line(ind, "if (!" + g + ") return false;");
          if (underlying(d.type).base == Base::kBool) {
            // vector<bool> hands out proxies, not bool&.
            const std::string i = tmp("i");
            c.line(ind, "for (uint32_t " + i + " = 0; " + i + " < " + n + "; ++" + i + ") {");
            c.line(ind + 1, "bool b = false;");
            c.line(ind + 1, "if (!r.get_bool(b, " + w + ")) return false;");
            c.line(ind + 1, x + "[" + i + "] = b;");
            c.line(ind, "}");
            return;
          }
          const std::string e = tmp("e");
          c.line(ind, "for (auto& " + e + " : " + x + ") {");
          c.line(ind + 1, "if (!" + dec_type(d.type, e, view, what) + ") return false;");
          c.line(ind, "}");
          return;
        }
        if (number) {
          c.line(ind, "if (!r.get_array(" + x + ", " + n + ", arena, " + w + ")) return false;");
          return;
        }
        const std::string et = type_name(d.type, true);
        const std::string p = tmp("p");
        const std::string g = tmp("g");
        c.line(ind, std::string(kX) + "XdrReader::DepthGuard " + g + "(r, " + w + ");");
        c.line(ind, "if (!" + g + ") return false;");
        c.line(ind, et + "* " + p + " = arena.allocate_array<" + et + ">(" + n + ");");
        c.line(ind, "if (" + n + " != 0 && " + p + " == nullptr) {");
        c.line(ind + 1,
               std::string("return r.fail(") + kX + "XdrErrc::kNoSpace, " + n + ", 0, " + w + ");");
        c.line(ind, "}");
        const std::string i = tmp("i");
        c.line(ind, "for (uint32_t " + i + " = 0; " + i + " < " + n + "; ++" + i + ") {");
        c.line(ind + 1, "new (&" + p + "[" + i + "]) " + et + "();");
        c.line(ind + 1,
               "if (!" + dec_type(d.type, p + "[" + i + "]", view, what) + ") return false;");
        c.line(ind, "}");
        c.line(ind, x + " = {" + p + ", " + n + "};");
        return;
      }
      case Shape::kOptional: {
        const std::string present = tmp("present");
        c.line(ind, "bool " + present + " = false;");
        c.line(ind, "if (!r.get_optional(" + present + ", " + w + ")) return false;");
        c.line(ind, "if (" + present + ") {");
        const std::string g = tmp("g");
        c.line(ind + 1, std::string(kX) + "XdrReader::DepthGuard " + g + "(r, " + w + ");");
        c.line(ind + 1, "if (!" + g + ") return false;");
        if (view) {
          const std::string et = type_name(d.type, true);
          const std::string o = tmp("o");
          c.line(ind + 1, et + "* " + o + " = arena.make<" + et + ">();");
          c.line(ind + 1, "if (" + o + " == nullptr) {");
          c.line(ind + 2, std::string("return r.fail(") + kX + "XdrErrc::kNoSpace, sizeof(" + et +
                              "), 0, " + w + ");");
          c.line(ind + 1, "}");
          c.line(ind + 1, "if (!" + dec_type(d.type, "*" + o, view, what) + ") return false;");
          c.line(ind + 1, x + " = " + o + ";");
          c.line(ind, "} else {");
          c.line(ind + 1, x + " = nullptr;");
        } else {
          const std::string o = tmp("o");
          c.line(ind + 1, "auto& " + o + " = " + x + ".emplace();");
          c.line(ind + 1, "if (!" + dec_type(d.type, o, view, what) + ") return false;");
          c.line(ind, "} else {");
          c.line(ind + 1, x + ".reset();");
        }
        c.line(ind, "}");
        return;
      }
    }
  }

  std::string pr_type(const TypeRef& t, const std::string& x, bool view) const {
    if (t.base == Base::kNamed) {
      return qcodec(t.def) + (view ? "::print_view(p, " : "::print(p, ") + x + ");";
    }
    return "p.value(" + x + ");";
  }

  void pr_decl(Code& c, int ind, const Decl& d, const std::string& x, bool view) {
    switch (d.shape) {
      case Shape::kVoid:
        return;
      case Shape::kPlain:
        if (d.type.base == Base::kString) {
          c.line(ind, "p.string(" + x + ");");
          return;
        }
        c.line(ind, pr_type(d.type, x, view));
        return;
      case Shape::kFixed:
      case Shape::kVar: {
        if (d.type.base == Base::kOpaque) {
          c.line(ind, "p.bytes(std::span<const uint8_t>(" + x + ".data(), " + x + ".size()));");
          return;
        }
        if (d.type.base == Base::kString) {
          c.line(ind, "p.string(" + x + ");");
          return;
        }
        const std::string e = tmp("e");
        c.line(ind, "p.begin_array();");
        c.line(ind, "for (const auto& " + e + " : " + x + ") {");
        c.line(ind + 1, pr_type(d.type, e, view));
        c.line(ind, "}");
        c.line(ind, "p.end_array();");
        return;
      }
      case Shape::kOptional: {
        const std::string present = view ? x + " != nullptr" : "static_cast<bool>(" + x + ")";
        c.line(ind, "if (" + present + ") {");
        c.line(ind + 1, pr_type(d.type, "*" + x, view));
        c.line(ind, "} else {");
        c.line(ind + 1, "p.null();");
        c.line(ind, "}");
        return;
      }
    }
  }

  std::string fn_head(const Def& d, bool view, const char* what) const {
    const std::string n = tname(d.name);
    const std::string vt = view ? "view_type" : "type";
    if (std::string(what) == "encode") {
      return "bool " + n + "::encode" + (view ? "_view" : "") +
             "(::ringrpc::xdr::XdrWriter& w, const " + vt + "& v) noexcept {";
    }
    if (std::string(what) == "decode") {
      return "bool " + n + "::decode" + (view ? "_view" : "") + "(::ringrpc::xdr::XdrReader& r, " +
             vt + "& v" + (view ? ", ::ringrpc::Arena& arena) noexcept {" : ") {");
    }
    return "void " + n + "::print" + (view ? "_view" : "") + "(::ringrpc::xdr::Printer& p, const " +
           vt + "& v) {";
  }

  void encode_fn(const Def& d, bool view) {
    c_.line(0, fn_head(d, view, "encode"));
    if (d.kind == DefKind::kTypedef) {
      enc_decl(c_, 1, d.decl, "v", view, d.name);
    } else if (d.kind == DefKind::kStruct) {
      const int lf = d.list_field;
      if (lf >= 0) {
        const std::string next = mname(d.fields[static_cast<size_t>(lf)].name, d);
        const std::string t = view ? "view_type" : "type";
        c_.line(1, "// A linked list: one node after another, not one call inside another.");
        c_.line(1, "for (const " + t + "* n = &v;;) {");
        for (size_t i = 0; i + 1 < d.fields.size(); ++i) {
          enc_decl(c_, 2, d.fields[i], "n->" + mname(d.fields[i].name, d), view,
                   d.name + "." + d.fields[i].name);
        }
        c_.line(2, "const " + t + "* next = n->" + next + (view ? "" : ".get()") + ";");
        c_.line(2, "if (!w.put_optional(next != nullptr)) return false;");
        c_.line(2, "if (next == nullptr) break;");
        c_.line(2, "n = next;");
        c_.line(1, "}");
      } else {
        for (const auto& f : d.fields) {
          enc_decl(c_, 1, f, "v." + mname(f.name, d), view, d.name + "." + f.name);
        }
      }
    } else if (d.kind == DefKind::kUnion) {
      const std::vector<int> idx = arm_indices(d);
      enc_decl(c_, 1, d.disc, "v.disc_", false, d.name + "." + d.disc.name);
      c_.line(1, "switch (v.arm_.index()) {");
      for (size_t i = 0; i < d.arms.size(); ++i) {
        if (idx[i] == 0) continue;
        const std::string k = std::to_string(idx[i]);
        c_.line(2, "case " + k + ": {");
        c_.line(3, "const auto& a = std::get<" + k + ">(v.arm_);");
        enc_decl(c_, 3, d.arms[i].decl, "a", view, d.name + "." + d.arms[i].decl.name);
        c_.line(3, "break;");
        c_.line(2, "}");
      }
      c_.line(2, "default: break;");
      c_.line(1, "}");
    }
    c_.line(1, "return true;");
    c_.line(0, "}");
    c_.line(0, "");
  }

  void decode_fn(const Def& d, bool view) {
    c_.line(0, fn_head(d, view, "decode"));
    if (view) c_.line(1, "(void)arena;");
    if (d.kind == DefKind::kTypedef) {
      dec_decl(c_, 1, d.decl, "v", view, d.name);
    } else if (d.kind == DefKind::kStruct) {
      const int lf = d.list_field;
      if (lf >= 0) {
        const std::string next = mname(d.fields[static_cast<size_t>(lf)].name, d);
        const std::string t = view ? "view_type" : "type";
        c_.line(1, "// A linked list: decoded in a loop, so its length is bounded by the input,");
        c_.line(1, "// not by the stack.");
        c_.line(1, t + "* n = &v;");
        c_.line(1, "for (;;) {");
        for (size_t i = 0; i + 1 < d.fields.size(); ++i) {
          dec_decl(c_, 2, d.fields[i], "n->" + mname(d.fields[i].name, d), view,
                   d.name + "." + d.fields[i].name);
        }
        c_.line(2, "bool more = false;");
        c_.line(2, "if (!r.get_optional(more, " + cstr(d.name + "." + d.fields.back().name) +
                       ")) return false;");
        if (view) {
          c_.line(2, "if (!more) {");
          c_.line(3, "n->" + next + " = nullptr;");
          c_.line(3, "break;");
          c_.line(2, "}");
          c_.line(2, t + "* m = arena.make<" + t + ">();");
          c_.line(2, std::string("if (m == nullptr) return r.fail(") + kX + "XdrErrc::kNoSpace, " +
                         "sizeof(" + t + "), 0, kName);");
          c_.line(2, "n->" + next + " = m;");
          c_.line(2, "n = m;");
        } else {
          c_.line(2, "if (!more) {");
          c_.line(3, "n->" + next + ".reset();");
          c_.line(3, "break;");
          c_.line(2, "}");
          c_.line(2, "n = &n->" + next + ".emplace();");
        }
        c_.line(1, "}");
      } else {
        for (const auto& f : d.fields) {
          dec_decl(c_, 1, f, "v." + mname(f.name, d), view, d.name + "." + f.name);
        }
      }
    } else if (d.kind == DefKind::kUnion) {
      const std::vector<int> idx = arm_indices(d);
      c_.line(1, "const size_t at = r.offset();");
      c_.line(1, "type::discriminant_type d{};");
      dec_decl(c_, 1, d.disc, "d", false, d.name + "." + d.disc.name);
      c_.line(1, "const int k = type::arm_of(d);");
      c_.line(1, "if (k < 0) {");
      c_.line(2, std::string("return r.fail_at(at, ") + kX +
                     "XdrErrc::kBadDiscriminant, static_cast<uint32_t>(d), 0, kName);");
      c_.line(1, "}");
      c_.line(1, "v.disc_ = d;");
      c_.line(1, "if (static_cast<int>(v.arm_.index()) != k) v.select(k);");
      c_.line(1, "switch (k) {");
      for (size_t i = 0; i < d.arms.size(); ++i) {
        if (idx[i] == 0) continue;
        const std::string k = std::to_string(idx[i]);
        c_.line(2, "case " + k + ": {");
        c_.line(3, "auto& a = std::get<" + k + ">(v.arm_);");
        dec_decl(c_, 3, d.arms[i].decl, "a", view, d.name + "." + d.arms[i].decl.name);
        c_.line(3, "break;");
        c_.line(2, "}");
      }
      c_.line(2, "default: break;");
      c_.line(1, "}");
    }
    c_.line(1, "return true;");
    c_.line(0, "}");
    c_.line(0, "");
  }

  void print_fn(const Def& d, bool view) {
    c_.line(0, fn_head(d, view, "print"));
    if (d.kind == DefKind::kTypedef) {
      pr_decl(c_, 1, d.decl, "v", view);
    } else if (d.kind == DefKind::kStruct) {
      const int lf = d.list_field;
      if (lf >= 0) {
        const std::string next = mname(d.fields[static_cast<size_t>(lf)].name, d);
        const std::string t = view ? "view_type" : "type";
        c_.line(1, "// A linked list prints as an array of its nodes.");
        c_.line(1, "p.begin_array();");
        c_.line(1, "for (const " + t + "* n = &v; n != nullptr; n = n->" + next +
                       (view ? "" : ".get()") + ") {");
        c_.line(2, "p.begin_object();");
        for (size_t i = 0; i + 1 < d.fields.size(); ++i) {
          c_.line(2, "p.key(" + cstr(d.fields[i].name) + ");");
          pr_decl(c_, 2, d.fields[i], "n->" + mname(d.fields[i].name, d), view);
        }
        c_.line(2, "p.end_object();");
        c_.line(1, "}");
        c_.line(1, "p.end_array();");
      } else {
        c_.line(1, "p.begin_object();");
        for (const auto& f : d.fields) {
          c_.line(1, "p.key(" + cstr(f.name) + ");");
          pr_decl(c_, 1, f, "v." + mname(f.name, d), view);
        }
        c_.line(1, "p.end_object();");
      }
    } else if (d.kind == DefKind::kUnion) {
      const std::vector<int> idx = arm_indices(d);
      c_.line(1, "p.begin_object();");
      c_.line(1, "p.key(" + cstr(d.disc.name) + ");");
      pr_decl(c_, 1, d.disc, "v.disc_", false);
      c_.line(1, "switch (v.arm_.index()) {");
      for (size_t i = 0; i < d.arms.size(); ++i) {
        if (idx[i] == 0) continue;
        const std::string k = std::to_string(idx[i]);
        c_.line(2, "case " + k + ": {");
        c_.line(3, "p.key(" + cstr(d.arms[i].decl.name) + ");");
        c_.line(3, "const auto& a = std::get<" + k + ">(v.arm_);");
        pr_decl(c_, 3, d.arms[i].decl, "a", view);
        c_.line(3, "break;");
        c_.line(2, "}");
      }
      c_.line(2, "default: break;");
      c_.line(1, "}");
      c_.line(1, "p.end_object();");
    }
    c_.line(0, "}");
    c_.line(0, "");
  }

  void dispatch_source(const Version& v, bool has_null) {
    const std::string vn = name(v.name);
    const std::string ds = std::string(kX) + "DispatchStatus";
    Code& c = d_;
    c.line(0, ds + " " + vn + "_Service::dispatch(::ringrpc::Call& call, " + kX +
                  "XdrReader& args) {");
    c.line(1, "switch (call.procedure()) {");
    if (!has_null) {
      c.line(2, "case 0:  // the NULL procedure every program answers: no arguments, no result");
      c.line(3, "if (!args.finish()) return " + ds + "::kGarbageArgs;");
      c.line(3, std::string("return call.reply<") + kX + "VoidCodec>({});");
    }
    for (const auto& p : v.procs) {
      const std::string pt = "Proto::" + name(p.name) + "_t";
      c.line(2, "case " + int_literal(p.number.value) + "u: {");
      std::string call = name(p.name) + "(call";
      if (!p.args.empty()) {
        c.line(3, "typename " + pt + "::arg::view_type a{};");
        c.line(3, "if (!" + pt + "::arg::decode_view(args, a, call.arena()) || !args.finish()) {");
        c.line(4, "return " + ds + "::kGarbageArgs;");
        c.line(3, "}");
        if (p.args.size() == 1) {
          call += ", a";
        } else {
          for (size_t i = 0; i < p.args.size(); ++i) {
            call += ", a." + mname(p.args[i].name, *p.arg_struct);
          }
        }
      } else {
        c.line(3, "if (!args.finish()) return " + ds + "::kGarbageArgs;");
      }
      c.line(3, "typename " + pt + "::result::type result{};");
      if (p.result.base != Base::kVoid) call += ", result";
      c.line(3, call + ");");
      c.line(3, "return call.reply<typename " + pt + "::result>(result);");
      c.line(2, "}");
    }
    c.line(2, "default:");
    c.line(3, "return " + ds + "::kProcUnavail;");
    c.line(1, "}");
    c.line(0, "}");
    c.line(0, "");
  }

  const Spec& spec_;
  const EmitOptions& opt_;
  std::string q_;
  Code h_;
  Code c_;
  Code d_;
  int tmp_ = 0;
};

}  // namespace

std::string cxx_name(const std::string& name) {
  return reserved().count(name) != 0 ? name + "_" : name;
}

std::string cxx_type_name(const std::string& n) {
  static const std::set<std::string> members = {
      "type",   "view_type", "kName",       "kMinSize",    "is_member",  "name_of",   "encode",
      "decode", "print",     "encode_view", "decode_view", "print_view", "to_string", "to_json"};
  return members.count(n) != 0 ? n + "_" : cxx_name(n);
}

std::string cxx_member_name(const std::string& n, const std::string& parent) {
  const std::string m = cxx_name(n);
  return m == cxx_type_name(parent) ? m + "_" : m;
}

std::string cxx_arm_name(const std::string& n, const std::string& parent) {
  std::string a = cxx_member_name(n, parent);
  if (union_members().count(a) != 0) a += "_";
  return a;
}

std::string emit_sample_server(const Spec& spec, const EmitOptions& options) {
  return Emitter(spec, options).sample_server();
}

std::string emit_sample_client(const Spec& spec, const EmitOptions& options) {
  return Emitter(spec, options).sample_client();
}

Output emit_cpp(const Spec& spec, const EmitOptions& options) {
  Emitter e(spec, options);
  e.codec_bodies();
  return e.run();
}

}  // namespace ringrpc::gen
