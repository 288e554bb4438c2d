// Writes the two halves of one .x file's wire-compatibility test: a C table of the
// rpcgen-generated xdr_* routine of every type, and a C++ test that fills random values of the
// ringrpc-gen types and checks each against its routine (tests/gen/wire_check.h).
//
// usage: wire_harness_gen [--import FILE.x=NS]... --ns NS FILE.x OUT.cc OUT.c C_HEADER
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tools/gen/ast.h"
#include "tools/gen/emit.h"

namespace {

using ringrpc::gen::Base;
using ringrpc::gen::Decl;
using ringrpc::gen::Def;
using ringrpc::gen::DefKind;
using ringrpc::gen::Import;
using ringrpc::gen::Int;
using ringrpc::gen::Shape;

std::string ns_q;  // "::ns::"

std::string q(const Def* d) {
  return (d->import_ns.empty() ? ns_q : "::" + d->import_ns + "::") +
         ringrpc::gen::cxx_type_name(d->name);
}

std::string lit(Int v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lldLL", static_cast<long long>(v));
  return buf;
}

bool tested(const Def& d) {
  return (d.kind == DefKind::kTypedef || d.kind == DefKind::kStruct || d.kind == DefKind::kUnion ||
          d.kind == DefKind::kEnum) &&
         !d.synthesized && d.import_ns.empty() && d.loc.file != "<libtirpc>";
}

class Filler {
 public:
  explicit Filler(std::string& out) : o_(out) {}

  void scalar(Base b, const std::string& x, int ind) {
    std::string v;
    switch (b) {
      case Base::kInt:
        v = "static_cast<int32_t>(g.u32())";
        break;
      case Base::kUInt:
        v = "g.u32()";
        break;
      case Base::kHyper:
        v = "static_cast<int64_t>(g.u64())";
        break;
      case Base::kUHyper:
        v = "g.u64()";
        break;
      case Base::kFloat:
        v = "g.f32()";
        break;
      case Base::kDouble:
        v = "g.f64()";
        break;
      case Base::kQuadruple:
        v = "::ringrpc::xdr::Quadruple{g.u64(), g.u64()}";
        break;
      case Base::kBool:
        v = "g.below(2) == 1";
        break;
      case Base::kChar:
        v = "static_cast<int8_t>(g.u32())";
        break;
      case Base::kUChar:
        v = "static_cast<uint8_t>(g.u32())";
        break;
      case Base::kShort:
        v = "static_cast<int16_t>(g.u32())";
        break;
      case Base::kUShort:
        v = "static_cast<uint16_t>(g.u32())";
        break;
      default:
        v = "{}";
    }
    line(ind, x + " = " + v + ";");
  }

  void element(const Decl& d, const std::string& x, int ind) {
    if (d.type.base == Base::kNamed) {
      line(ind, "fill_" + d.type.def->name + "(" + x + ", g, depth + 1);");
    } else {
      scalar(d.type.base, x, ind);
    }
  }

  void decl(const Decl& d, const std::string& x, int ind) {
    const std::string cap = std::to_string(std::min<uint64_t>(d.bound, 12));
    switch (d.shape) {
      case Shape::kVoid:
        return;
      case Shape::kPlain:
        element(d, x, ind);
        return;
      case Shape::kFixed:
        if (d.type.base == Base::kOpaque) {
          line(ind, "for (auto& b : " + x + ") b = static_cast<uint8_t>(g.u32());");
          return;
        }
        line(ind, "for (auto& e" + std::to_string(ind) + " : " + x + ") {");
        element(d, "e" + std::to_string(ind), ind + 1);
        line(ind, "}");
        return;
      case Shape::kVar:
        if (d.type.base == Base::kString) {
          line(ind, x + " = g.str(" + cap + ");");
          return;
        }
        if (d.type.base == Base::kOpaque) {
          line(ind, x + ".resize(g.below(" + cap + " + 1));");
          line(ind, "for (auto& b : " + x + ") b = static_cast<uint8_t>(g.u32());");
          return;
        }
        line(ind, x + ".resize(depth > 3 ? 0 : g.below(" +
                      std::to_string(std::min<uint64_t>(d.bound, 3)) + " + 1));");
        line(ind, "for (size_t i" + std::to_string(ind) + " = 0; i" + std::to_string(ind) + " < " +
                      x + ".size(); ++i" + std::to_string(ind) + ") {");
        element(d, x + "[i" + std::to_string(ind) + "]", ind + 1);
        line(ind, "}");
        return;
      case Shape::kOptional:
        line(ind, "if (depth < 4 && g.below(2) == 1) {");
        line(ind + 1, "auto& o" + std::to_string(ind) + " = " + x + ".emplace();");
        element(d, "o" + std::to_string(ind), ind + 1);
        line(ind, "} else {");
        line(ind + 1, x + ".reset();");
        line(ind, "}");
        return;
    }
  }

  void def(const Def& d) {
    line(0, "[[maybe_unused]] void fill_" + d.name + "(" + q(&d) +
                "& v, ringrpc::testing::WireRng& g, int depth) {");
    line(1, "(void)g;");
    line(1, "(void)depth;");
    switch (d.kind) {
      case DefKind::kEnum: {
        line(1, "switch (g.below(" + std::to_string(d.members.size()) + ")) {");
        for (size_t i = 0; i < d.members.size(); ++i) {
          line(2, "case " + std::to_string(i) + ": v = static_cast<" + q(&d) + ">(" +
                      lit(d.members[i].value) + "); break;");
        }
        line(2, "default: break;");
        line(1, "}");
        break;
      }
      case DefKind::kTypedef:
        decl(d.decl, "v", 1);
        break;
      case DefKind::kStruct:
        for (const auto& f : d.fields) {
          decl(f, "v." + ringrpc::gen::cxx_member_name(f.name, d.name), 1);
        }
        if (d.name == "netbuf") {
          // libtirpc's xdr_netbuf refuses len > maxlen and maxlen > RPC_MAXDATASIZE.
          line(1, "v.maxlen = static_cast<uint32_t>(v.buf.size() + g.below(64));");
        }
        break;
      case DefKind::kUnion:
        union_fill(d);
        break;
      default:
        break;
    }
    line(0, "}");
    line(0, "");
  }

  void union_fill(const Def& d) {
    // The discriminant's type, through typedefs.
    const ringrpc::gen::TypeRef* t = &d.disc.type;
    while (t->base == Base::kNamed && t->def->kind == DefKind::kTypedef) t = &t->def->decl.type;
    std::vector<Int> all_labels;
    for (const auto& a : d.arms) {
      for (const auto& l : a.labels) all_labels.push_back(l.value);
    }
    // Values a default arm can take: the other members of an enum or of bool; for integers,
    // random values other than the labels.
    std::vector<Int> others;
    bool open_range = false;
    if (t->base == Base::kNamed) {
      for (const auto& m : t->def->members) {
        if (std::find(all_labels.begin(), all_labels.end(), m.value) == all_labels.end()) {
          others.push_back(m.value);
        }
      }
    } else if (t->base == Base::kBool) {
      for (Int b : {0, 1}) {
        if (std::find(all_labels.begin(), all_labels.end(), b) == all_labels.end()) {
          others.push_back(b);
        }
      }
    } else {
      open_range = true;
    }
    std::vector<size_t> arms;
    for (size_t i = 0; i < d.arms.size(); ++i) {
      if (!d.arms[i].is_default || open_range || !others.empty()) arms.push_back(i);
    }
    line(1, "using D = " + q(&d) + "::discriminant_type;");
    line(1, "switch (g.below(" + std::to_string(arms.size()) + ")) {");
    for (size_t k = 0; k < arms.size(); ++k) {
      const auto& a = d.arms[arms[k]];
      line(2, "case " + std::to_string(k) + ": {");
      if (!a.is_default) {
        line(3, "static constexpr int64_t kLabels[] = {" + join(labels(a)) + "};");
        line(3, "v.set_discriminant(static_cast<D>(kLabels[g.below(" +
                    std::to_string(a.labels.size()) + ")]));");
      } else if (!open_range) {
        line(3, "static constexpr int64_t kOthers[] = {" + join(others) + "};");
        line(3, "v.set_discriminant(static_cast<D>(kOthers[g.below(" +
                    std::to_string(others.size()) + ")]));");
      } else {
        line(3, "int64_t x = 0;");
        line(3, "do {");
        line(4, "x = static_cast<int64_t>(static_cast<D>(g.u32()));");
        line(3, "} while (" + not_label(all_labels) + ");");
        line(3, "v.set_discriminant(static_cast<D>(x));");
      }
      if (a.decl.shape != Shape::kVoid) {
        decl(a.decl, "v." + ringrpc::gen::cxx_arm_name(a.decl.name, d.name) + "()", 3);
      }
      line(3, "break;");
      line(2, "}");
    }
    line(2, "default: break;");
    line(1, "}");
  }

 private:
  static std::vector<Int> labels(const ringrpc::gen::Arm& a) {
    std::vector<Int> v;
    for (const auto& l : a.labels) v.push_back(l.value);
    return v;
  }
  static std::string join(const std::vector<Int>& v) {
    std::string s;
    for (Int x : v) s += (s.empty() ? "" : ", ") + lit(x);
    return s;
  }
  static std::string not_label(const std::vector<Int>& v) {
    std::string s = "false";
    for (Int x : v) s += " || x == " + lit(x);
    return s;
  }
  void line(int ind, const std::string& s) {
    o_.append(static_cast<size_t>(ind) * 2, ' ');
    o_ += s;
    o_ += '\n';
  }
  std::string& o_;
};

}  // namespace

int main(int argc, char** argv) {
  ringrpc::gen::Options options;
  std::string ns;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--ns" && i + 1 < argc) {
      ns = argv[++i];
    } else if (a == "--import" && i + 1 < argc) {
      const std::string spec = argv[++i];
      const size_t eq = spec.find('=');
      std::vector<std::string> errors;
      auto is = ringrpc::gen::parse_file(spec.substr(0, eq), options, errors);
      if (!is) {
        for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
        return 1;
      }
      auto shared = std::make_shared<ringrpc::gen::Spec>(std::move(*is));
      for (auto& d : shared->defs) d->import_ns = spec.substr(eq + 1);
      options.imports.push_back({shared, spec.substr(eq + 1), ""});
    } else {
      pos.push_back(a);
    }
  }
  if (pos.size() != 4 || ns.empty()) {
    std::fprintf(stderr,
                 "usage: wire_harness_gen [--import FILE.x=NS]... --ns NS FILE.x OUT.cc OUT.c "
                 "C_HEADER\n");
    return 2;
  }
  ns_q = "::" + ns + "::";
  std::vector<std::string> errors;
  auto spec = ringrpc::gen::parse_file(pos[0], options, errors);
  for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
  if (!spec) return 1;

  std::string base = pos[0].substr(pos[0].rfind('/') + 1);
  base.resize(base.size() - 2);

  std::string cc;
  cc += "// Generated by wire_harness_gen from " + base + ".x.\n";
  cc += "#include <gtest/gtest.h>\n\n#include \"" + base + ".h\"\n";
  cc += "#include \"tests/gen/wire_check.h\"\n\n";
  cc += "extern \"C\" const struct ringrpc_ctype ringrpc_ctable_" + base + "[];\n\n";
  cc += "namespace {\n\n";
  // Every fill function is declared first: types refer to each other in any order.
  for (const auto& d : spec->defs) {
    if (d->kind == DefKind::kTypedef || d->kind == DefKind::kStruct || d->kind == DefKind::kUnion ||
        d->kind == DefKind::kEnum) {
      cc += "void fill_" + d->name + "(" + q(d.get()) +
            "& v, ringrpc::testing::WireRng& g, int depth);\n";
    }
  }
  cc += "\n";
  Filler f(cc);
  for (const auto& d : spec->defs) {
    if (d->kind == DefKind::kTypedef || d->kind == DefKind::kStruct || d->kind == DefKind::kUnion ||
        d->kind == DefKind::kEnum) {
      f.def(*d);
    }
  }
  for (const Import& im : options.imports) {
    for (const auto& d : im.spec->defs) {
      if (d->kind == DefKind::kTypedef || d->kind == DefKind::kStruct ||
          d->kind == DefKind::kUnion || d->kind == DefKind::kEnum) {
        std::string decl = "void fill_" + d->name + "(";
        cc.insert(cc.find("namespace {\n\n") + 13,
                  decl + q(d.get()) + "& v, ringrpc::testing::WireRng& g, int depth);\n");
        f.def(*d);
      }
    }
  }
  cc += "const ringrpc_ctype* find_c(const char* name) {\n";
  cc += "  for (const ringrpc_ctype* c = ringrpc_ctable_" + base + "; c->name != nullptr; ++c) {\n";
  cc += "    if (std::string(c->name) == name) return c;\n  }\n  return nullptr;\n}\n\n";
  cc += "}  // namespace\n\n";
  cc += "// Every type of " + base + ".x: random values (fixed seeds) encoded by ringrpc-gen's\n";
  cc += "// code decode with rpcgen's xdr_* routine, which encodes them to the same bytes; those\n";
  cc += "// decode back to the same value, through both of our decoders.\n";
  cc += "TEST(WireCompat_" + base + ", EveryTypeAgainstRpcgen) {\n";
  cc += "  int types = 0;\n";
  uint64_t seed = 1;
  for (const auto& d : spec->defs) {
    if (!tested(*d)) continue;
    const std::string n = d->name;
    cc += "  {\n";
    cc += "    const ringrpc_ctype* c = find_c(\"" + n + "\");\n";
    cc += "    ASSERT_NE(c, nullptr) << \"no C routine for " + n + "\";\n";
    cc += "    auto r = ringrpc::testing::wire_check<" + ns_q +
          "codec::" + ringrpc::gen::cxx_type_name(n) + ">(&fill_" + n + ", *c, " +
          std::to_string(seed++) + ", 300);\n";
    cc += "    EXPECT_TRUE(r.failure.empty()) << r.failure;\n";
    cc += "    ++types;\n  }\n";
  }
  cc += "  RecordProperty(\"types\", types);\n";
  cc += "  std::printf(\"%d types of " + base +
        ".x checked against rpcgen, 300 values each\\n\", types);\n";
  cc += "}\n";

  std::string c;
  c += "/* Generated by wire_harness_gen from " + base + ".x. */\n";
  c += "#include <rpc/rpc.h>\n#include \"" + pos[3] + "\"\n#include \"tests/gen/wire_c.h\"\n\n";
  c += "const struct ringrpc_ctype ringrpc_ctable_" + base + "[] = {\n";
  for (const auto& d : spec->defs) {
    if (!tested(*d)) continue;
    c += "    {\"" + d->name + "\", (void*)xdr_" + d->name + ", sizeof(" + d->name + ")},\n";
  }
  c += "    {0, 0, 0},\n};\n";

  std::ofstream(pos[1]) << cc;
  std::ofstream(pos[2]) << c;
  return 0;
}
