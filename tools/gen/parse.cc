// The .x front end: runs the C preprocessor, scans its output (line markers, `%` lines, comments),
// parses the RPC language of RFC 4506 section 6 and RFC 5531 section 12 with rpcgen's additions,
// and checks and resolves names, bounds and case labels. See tools/gen/DESIGN.md.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "tools/gen/ast.h"

extern char** environ;

namespace ringrpc::gen {

namespace {

// Thrown by the parser for a syntax error; the checker collects its errors instead.
struct SyntaxError {
  Loc loc;
  std::string message;
};

std::string format_error(const Loc& loc, const std::string& message) {
  return loc.file + ":" + std::to_string(loc.line) + ":" + std::to_string(loc.col) +
         ": error: " + message;
}

// ---------------------------------------------------------------------------------------------
// Scanning

enum class Tok : uint8_t { kEnd, kIdent, kNumber, kString, kChar, kPunct, kPassthrough };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;
  Loc loc;
};

bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Original source lines, for `%` lines continued with a backslash: cpp splices those before we see
// them, dropping the backslashes and the `%` that should have started each continuation line
// (rpcgen fails on nis.x for exactly this reason), so they are read back from the file itself.
class SourceCache {
 public:
  const std::vector<std::string>* lines(const std::string& path) {
    auto it = files_.find(path);
    if (it != files_.end()) return it->second.get();
    std::ifstream in(path);
    if (!in) {
      files_.emplace(path, nullptr);
      return nullptr;
    }
    auto v = std::make_unique<std::vector<std::string>>();
    std::string line;
    while (std::getline(in, line)) v->push_back(line);
    return files_.emplace(path, std::move(v)).first->second.get();
  }

 private:
  std::unordered_map<std::string, std::unique_ptr<std::vector<std::string>>> files_;
};

class Lexer {
 public:
  Lexer(const std::string& text, const std::string& file, SourceCache* sources)
      : s_(text), sources_(sources) {
    loc_.file = file;
    loc_.line = 1;
    loc_.col = 1;
  }

  Token next() {
    for (;;) {
      if (at_line_start_) {
        at_line_start_ = false;
        if (skip_continuation()) continue;
        if (peek() == '#') {
          directive();
          continue;
        }
        if (peek() == '%') return passthrough();
      }
      if (pos_ >= s_.size()) {
        Token t;
        t.kind = Tok::kEnd;
        t.loc = loc_;
        return t;
      }
      const char c = s_[pos_];
      if (c == '\n') {
        advance();
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
        advance();
        continue;
      }
      if (c == '/' && peek(1) == '*') {
        const Loc start = loc_;
        advance();
        advance();
        while (pos_ < s_.size() && !(s_[pos_] == '*' && peek(1) == '/')) advance();
        if (pos_ >= s_.size()) throw SyntaxError{start, "unterminated comment"};
        advance();
        advance();
        continue;
      }
      if (c == '/' && peek(1) == '/') {
        while (pos_ < s_.size() && s_[pos_] != '\n') advance();
        continue;
      }
      Token t;
      t.loc = loc_;
      if (is_ident_start(c)) {
        t.kind = Tok::kIdent;
        while (pos_ < s_.size() && is_ident_char(s_[pos_])) t.text += advance();
        return t;
      }
      if (is_digit(c) || (c == '-' && is_digit(peek(1)))) {
        t.kind = Tok::kNumber;
        t.text += advance();
        while (pos_ < s_.size() && (is_ident_char(s_[pos_]))) t.text += advance();
        return t;
      }
      if (c == '"') {
        t.kind = Tok::kString;
        advance();
        while (pos_ < s_.size() && s_[pos_] != '"' && s_[pos_] != '\n') {
          if (s_[pos_] == '\\' && peek(1) != '\n') t.text += advance();
          t.text += advance();
        }
        if (pos_ >= s_.size() || s_[pos_] != '"') throw SyntaxError{t.loc, "unterminated string"};
        advance();
        return t;
      }
      if (c == '\'') {
        t.kind = Tok::kChar;
        advance();
        while (pos_ < s_.size() && s_[pos_] != '\'' && s_[pos_] != '\n') {
          if (s_[pos_] == '\\') t.text += advance();
          t.text += advance();
        }
        if (pos_ >= s_.size() || s_[pos_] != '\'') {
          throw SyntaxError{t.loc, "unterminated character constant"};
        }
        advance();
        return t;
      }
      if (std::strchr("{}()[]<>,;:=*", c) != nullptr) {
        t.kind = Tok::kPunct;
        t.text = advance();
        return t;
      }
      std::string shown(1, c);
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
        shown = buf;
      }
      throw SyntaxError{loc_, "unexpected character '" + shown + "'" +
                                  (c == '+' || c == '-' || c == '|' || c == '<'
                                       ? " (the RPC language has no constant expressions)"
                                       : "")};
    }
  }

 private:
  char peek(size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }
  char advance() {
    const char c = s_[pos_++];
    if (c == '\n') {
      ++loc_.line;
      loc_.col = 1;
      at_line_start_ = true;
    } else {
      ++loc_.col;
    }
    return c;
  }
  std::string rest_of_line() {
    std::string line;
    while (pos_ < s_.size() && s_[pos_] != '\n') line += advance();
    return line;
  }

  // A line marker `# 12 "file.x" 1` sets where the following lines come from; other directives
  // that survive cpp (#pragma, #ident) are ignored, as rpcgen ignores them.
  void directive() {
    const std::string line = rest_of_line();
    size_t i = 1;
    while (i < line.size() && line[i] == ' ') ++i;
    if (line.compare(i, 4, "line") == 0) i += 4;
    while (i < line.size() && line[i] == ' ') ++i;
    if (i >= line.size() || !is_digit(line[i])) return;
    int n = 0;
    while (i < line.size() && is_digit(line[i])) n = n * 10 + (line[i++] - '0');
    while (i < line.size() && line[i] == ' ') ++i;
    if (i < line.size() && line[i] == '"') {
      const size_t end = line.find('"', i + 1);
      if (end != std::string::npos) loc_.file = line.substr(i + 1, end - i - 1);
    }
    // The newline that ends the marker is consumed next and counts a line: start one lower.
    loc_.line = n - 1;
  }

  Token passthrough() {
    Token t;
    t.kind = Tok::kPassthrough;
    t.loc = loc_;
    advance();  // '%'
    t.text = rest_of_line();
    if (sources_ != nullptr) {
      const std::vector<std::string>* src = sources_->lines(loc_.file);
      const size_t idx = static_cast<size_t>(loc_.line) - 1;
      if (src != nullptr && idx < src->size() && !(*src)[idx].empty() && (*src)[idx][0] == '%' &&
          (*src)[idx].back() == '\\') {
        // A backslash-continued `%` line: keep it as it was written, continuation included.
        t.text = (*src)[idx].substr(1);
        size_t j = idx;
        while (j + 1 < src->size() && (*src)[j].back() == '\\') {
          ++j;
          t.text += '\n';
          // A continuation line may repeat the `%` or not (nis.x does not); it is not C text.
          t.text += (*src)[j].empty() || (*src)[j][0] != '%' ? (*src)[j] : (*src)[j].substr(1);
          if ((*src)[j].empty()) break;
        }
        skip_file_ = loc_.file;
        skip_until_ = static_cast<int>(j) + 1;
      }
    }
    return t;
  }

  // Skips the rest of a line that continued a `%` line (see passthrough()).
  bool skip_continuation() {
    if (skip_until_ == 0) return false;
    if (loc_.file != skip_file_ || loc_.line > skip_until_) {
      skip_until_ = 0;
      return false;
    }
    while (pos_ < s_.size() && s_[pos_] != '\n') advance();
    if (pos_ < s_.size())
      advance();
    else
      at_line_start_ = false;
    return true;
  }

  const std::string& s_;
  size_t pos_ = 0;
  Loc loc_;
  bool at_line_start_ = true;
  SourceCache* sources_;
  std::string skip_file_;
  int skip_until_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Parsing

struct Builtin {
  const char* name;
  Base base;
};

// rpcgen passes unknown type names through to C, where these resolve to libtirpc's own xdr_*
// routines; ringrpc knows them directly.
constexpr Builtin kPredefined[] = {
    {"u_int", Base::kUInt},       {"u_long", Base::kUInt},      {"u_short", Base::kUShort},
    {"u_char", Base::kUChar},     {"bool_t", Base::kBool},      {"int32_t", Base::kInt},
    {"uint32_t", Base::kUInt},    {"u_int32_t", Base::kUInt},   {"int64_t", Base::kHyper},
    {"uint64_t", Base::kUHyper},  {"u_int64_t", Base::kUHyper}, {"quad_t", Base::kHyper},
    {"u_quad_t", Base::kUHyper},  {"int16_t", Base::kShort},    {"uint16_t", Base::kUShort},
    {"u_int16_t", Base::kUShort}, {"int8_t", Base::kChar},      {"uint8_t", Base::kUChar},
    {"u_int8_t", Base::kUChar},   {"u_hyper", Base::kUHyper},   {"quadruple", Base::kQuadruple},
};

const std::set<std::string>& keywords() {
  static const std::set<std::string> k = {
      "bool",   "case",    "char",  "const",    "default", "double", "enum",   "float",
      "hyper",  "int",     "long",  "opaque",   "program", "short",  "string", "struct",
      "switch", "typedef", "union", "unsigned", "version", "void"};
  return k;
}

class Parser {
 public:
  Parser(Lexer& lex, Spec& spec) : lex_(lex), spec_(spec) { tok_ = lex_.next(); }

  void parse() {
    while (tok_.kind != Tok::kEnd) definition();
  }

 private:
  // --- tokens
  void next() { tok_ = lex_.next(); }
  bool is(const char* text) const {
    return (tok_.kind == Tok::kPunct || tok_.kind == Tok::kIdent) && tok_.text == text;
  }
  bool accept(const char* text) {
    if (!is(text)) return false;
    next();
    return true;
  }
  [[noreturn]] void fail(const std::string& what) const {
    std::string got;
    switch (tok_.kind) {
      case Tok::kEnd:
        got = "end of file";
        break;
      case Tok::kPassthrough:
        got = "a '%' line";
        break;
      case Tok::kString:
        got = "\"" + tok_.text + "\"";
        break;
      default:
        got = "'" + tok_.text + "'";
    }
    throw SyntaxError{tok_.loc, "expected " + what + ", found " + got};
  }
  void expect(const char* text) {
    if (!accept(text)) fail(std::string("'") + text + "'");
  }
  std::string ident(const char* what = "an identifier") {
    if (tok_.kind != Tok::kIdent || keywords().count(tok_.text) != 0) fail(what);
    std::string s = tok_.text;
    next();
    return s;
  }
  ValueRef value(const char* what = "a constant or a constant's name") {
    ValueRef v;
    v.loc = tok_.loc;
    if (tok_.kind == Tok::kNumber) {
      v.text = tok_.text;
    } else if (tok_.kind == Tok::kIdent && keywords().count(tok_.text) == 0) {
      v.text = tok_.text;
      v.is_name = true;
    } else if (tok_.kind == Tok::kChar) {
      // rpcgen allows character constants as case labels.
      v.text = "'" + tok_.text + "'";
    } else {
      fail(what);
    }
    next();
    return v;
  }

  Def* add(std::unique_ptr<Def> d) {
    spec_.defs.push_back(std::move(d));
    return spec_.defs.back().get();
  }

  // --- definitions
  void definition() {
    if (tok_.kind == Tok::kPassthrough) {
      auto d = std::make_unique<Def>();
      d->kind = DefKind::kPassthrough;
      d->loc = tok_.loc;
      d->text = tok_.text;
      add(std::move(d));
      next();
      return;
    }
    const Loc loc = tok_.loc;
    if (accept("const")) {
      auto d = std::make_unique<Def>();
      d->kind = DefKind::kConst;
      d->loc = loc;
      d->name = ident("the constant's name");
      expect("=");
      if (tok_.kind == Tok::kString) {
        d->is_string = true;
        d->value.text = tok_.text;
        d->value.loc = tok_.loc;
        next();
      } else {
        d->value = value("a number or a constant's name (the RPC language has no expressions)");
      }
      expect(";");
      add(std::move(d));
    } else if (accept("typedef")) {
      const Loc tloc = tok_.loc;
      Decl decl = declaration("", /*typedef_ctx=*/true);
      if (decl.shape == Shape::kVoid) throw SyntaxError{tloc, "typedef of void"};
      expect(";");
      if (pending_inline_ != nullptr) {
        // `typedef struct { ... } name;`: the anonymous type takes the typedef's name.
        Def* d = pending_inline_;
        pending_inline_ = nullptr;
        if (decl.shape == Shape::kPlain && d->synthesized) {
          d->name = decl.name;
          d->synthesized = false;
          d->loc = decl.loc;
          return;
        }
      }
      if (pending_inline_ != nullptr) {
        // `typedef struct { ... } name[2];`: the element type is named after the typedef.
        pending_inline_->name = decl.name + "_element";
        pending_inline_ = nullptr;
      }
      if (decl.shape == Shape::kPlain && decl.type.base == Base::kNamed &&
          decl.type.def == nullptr && decl.type.name == decl.name) {
        return;  // `typedef struct X X;`: the C idiom, a no-op in the RPC language
      }
      auto d = std::make_unique<Def>();
      d->kind = DefKind::kTypedef;
      d->loc = decl.loc;
      d->name = decl.name;
      d->decl = std::move(decl);
      add(std::move(d));
    } else if (is("enum") || is("struct") || is("union")) {
      const std::string kw = tok_.text;
      next();
      const Loc nloc = tok_.loc;
      const std::string name = ident("the type's name");
      Def* d = body(kw, name, nloc);
      (void)d;
      expect(";");
    } else if (accept("program")) {
      program(loc);
    } else {
      fail("a definition (const, typedef, enum, struct, union or program)");
    }
  }

  // The body of an enum, struct or union named `name`; added to the spec before any anonymous
  // types it contains are, so those come first in spec.defs (they must be declared first).
  Def* body(const std::string& kw, const std::string& name, const Loc& loc) {
    auto d = std::make_unique<Def>();
    d->name = name;
    d->loc = loc;
    if (kw == "enum") {
      d->kind = DefKind::kEnum;
      expect("{");
      do {
        EnumMember m;
        m.loc = tok_.loc;
        m.name = ident("an enum member's name");
        if (accept("=")) m.value_ref = value();
        d->members.push_back(std::move(m));
      } while (accept(","));
      expect("}");
    } else if (kw == "struct") {
      d->kind = DefKind::kStruct;
      expect("{");
      do {
        const Loc floc = tok_.loc;
        Decl f = declaration(name, false);
        if (f.shape == Shape::kVoid) throw SyntaxError{floc, "void is allowed only in unions"};
        d->fields.push_back(std::move(f));
        expect(";");
      } while (!is("}"));
      expect("}");
    } else {
      d->kind = DefKind::kUnion;
      expect("switch");
      expect("(");
      const Loc dloc = tok_.loc;
      d->disc = declaration(name, false);
      if (d->disc.shape != Shape::kPlain) {
        throw SyntaxError{dloc,
                          "a union's discriminant must be a single int, unsigned int, "
                          "enum or bool"};
      }
      expect(")");
      expect("{");
      if (!is("case")) fail("'case' (a union needs at least one case)");
      while (is("case") || is("default")) {
        Arm arm;
        arm.loc = tok_.loc;
        if (accept("default")) {
          arm.is_default = true;
          expect(":");
        } else {
          while (accept("case")) {
            arm.labels.push_back(value("a case label"));
            expect(":");
          }
        }
        if (is("default")) fail("a declaration (give the default its own arm)");
        arm.decl = declaration(name, false);
        expect(";");
        const bool was_default = arm.is_default;
        d->arms.push_back(std::move(arm));
        if (was_default && !is("}")) fail("'}' (the default arm comes last)");
      }
      expect("}");
    }
    // Anonymous types inside this body were added while parsing it; this one goes after them.
    return add(std::move(d));
  }

  // A declaration; `parent` names the enclosing type, for naming anonymous nested types.
  Decl declaration(const std::string& parent, bool typedef_ctx) {
    Decl d;
    d.loc = tok_.loc;
    if (accept("void")) {
      d.shape = Shape::kVoid;
      d.type.base = Base::kVoid;
      return d;
    }
    if (is("opaque") || is("string")) {
      const bool is_string = tok_.text == "string";
      d.type.base = is_string ? Base::kString : Base::kOpaque;
      d.type.loc = tok_.loc;
      next();
      d.loc = tok_.loc;
      d.name = ident("a name");
      if (accept("[")) {
        if (is_string) throw SyntaxError{d.loc, "string must be variable-length: use <>"};
        d.shape = Shape::kFixed;
        d.size = value("the array size");
        expect("]");
      } else if (accept("<")) {
        d.shape = Shape::kVar;
        if (!is(">")) d.size = value("the maximum length");
        expect(">");
      } else {
        throw SyntaxError{d.loc, std::string(is_string ? "string" : "opaque") +
                                     " must be an array: add <> or [n]"};
      }
      return d;
    }
    d.type = type_spec(parent, typedef_ctx);
    const bool optional = accept("*");
    d.loc = tok_.loc;
    d.name = ident("a name");
    // The anonymous type of `struct { ... } name` is named after its parent and field.
    if (pending_inline_ != nullptr && pending_inline_->synthesized && !typedef_ctx) {
      pending_inline_->name = parent.empty() ? d.name : parent + "_" + d.name;
      pending_inline_ = nullptr;
    }
    if (optional) {
      d.shape = Shape::kOptional;
      if (is("[") || is("<")) {
        throw SyntaxError{tok_.loc, "no arrays of optional data: use a typedef"};
      }
      return d;
    }
    if (accept("[")) {
      d.shape = Shape::kFixed;
      d.size = value("the array size");
      expect("]");
    } else if (accept("<")) {
      d.shape = Shape::kVar;
      if (!is(">")) d.size = value("the maximum count");
      expect(">");
    }
    return d;
  }

  TypeRef type_spec(const std::string& parent, bool typedef_ctx) {
    TypeRef t;
    t.loc = tok_.loc;
    if (accept("unsigned")) {
      if (accept("int")) {
        t.base = Base::kUInt;
      } else if (accept("char")) {
        t.base = Base::kUChar;
      } else if (accept("short")) {
        t.base = Base::kUShort;
      } else if (accept("long")) {
        t.base = Base::kUInt;
      } else if (accept("hyper")) {
        t.base = Base::kUHyper;
      } else {
        t.base = Base::kUInt;  // `unsigned` alone, as in C
      }
      return t;
    }
    static const std::pair<const char*, Base> simple[] = {
        {"int", Base::kInt},       {"hyper", Base::kHyper}, {"float", Base::kFloat},
        {"double", Base::kDouble}, {"bool", Base::kBool},   {"char", Base::kChar},
        {"short", Base::kShort},   {"long", Base::kInt},
    };
    for (const auto& [kw, base] : simple) {
      if (accept(kw)) {
        t.base = base;
        if (base == Base::kShort || base == Base::kInt) accept("int");  // `long int`, `short int`
        return t;
      }
    }
    if (is("enum") || is("struct") || is("union")) {
      const std::string kw = tok_.text;
      next();
      if (tok_.kind == Tok::kIdent && keywords().count(tok_.text) == 0) {
        t.base = Base::kNamed;
        t.name = tok_.text;
        next();
        return t;
      }
      // An anonymous nested type (RFC 4506 allows them; rpcgen does not). It is named when the
      // declaration's name is known: parent_field, or the typedef's name.
      Def* d = body(kw, "", t.loc);
      d->synthesized = true;
      pending_inline_ = d;
      (void)typedef_ctx;
      (void)parent;
      t.base = Base::kNamed;
      t.def = d;
      return t;
    }
    if (tok_.kind == Tok::kIdent && keywords().count(tok_.text) == 0) {
      t.base = Base::kNamed;
      t.name = tok_.text;
      next();
      return t;
    }
    fail("a type");
  }

  void program(const Loc& loc) {
    auto p = std::make_unique<Def>();
    p->kind = DefKind::kProgram;
    p->loc = tok_.loc;
    p->name = ident("the program's name");
    (void)loc;
    expect("{");
    do {
      Version v;
      v.loc = tok_.loc;
      expect("version");
      v.loc = tok_.loc;
      v.name = ident("the version's name");
      expect("{");
      do {
        v.procs.push_back(procedure(v));
      } while (!is("}"));
      expect("}");
      expect("=");
      v.number = value("the version number");
      expect(";");
      p->versions.push_back(std::move(v));
    } while (is("version"));
    expect("}");
    expect("=");
    p->number = value("the program number");
    expect(";");
    add(std::move(p));
  }

  TypeRef proc_type(const char* what) {
    if (is("opaque"))
      throw SyntaxError{tok_.loc,
                        std::string("opaque is not allowed as ") + what + ": use a typedef"};
    if (is("string")) {
      TypeRef t;
      t.loc = tok_.loc;
      t.base = Base::kString;  // string<> (rpcgen allows a bare string here)
      next();
      return t;
    }
    if (is("void")) {
      TypeRef t;
      t.loc = tok_.loc;
      t.base = Base::kVoid;
      next();
      return t;
    }
    if (is("struct") || is("union") || is("enum")) {
      const Loc l = tok_.loc;
      next();
      if (is("{")) throw SyntaxError{l, std::string("declare the type of ") + what + " by name"};
      TypeRef t;
      t.loc = l;
      t.base = Base::kNamed;
      t.name = ident("a type name");
      return t;
    }
    return type_spec("", false);
  }

  Proc procedure(const Version&) {
    Proc p;
    p.loc = tok_.loc;
    p.result = proc_type("a result");
    if (is("*")) throw SyntaxError{tok_.loc, "a result cannot be a pointer: use a typedef"};
    p.loc = tok_.loc;
    p.name = ident("the procedure's name");
    expect("(");
    int n = 0;
    do {
      Decl a;
      a.loc = tok_.loc;
      a.type = proc_type("an argument");
      if (a.type.base == Base::kVoid) {
        if (n > 0 || is(",")) throw SyntaxError{a.loc, "void must be the only argument"};
        ++n;
        continue;
      }
      a.shape = a.type.base == Base::kString ? Shape::kVar : Shape::kPlain;
      if (is("*") || is("[") || is("<")) {
        throw SyntaxError{tok_.loc,
                          "arrays and pointers are not allowed as arguments: use a "
                          "typedef"};
      }
      ++n;
      if (tok_.kind == Tok::kIdent && keywords().count(tok_.text) == 0) {
        a.name = tok_.text;
        next();
      } else {
        a.name = "arg" + std::to_string(n);  // rpcgen -N names them so too
      }
      if (is("[") || is("<")) {
        throw SyntaxError{tok_.loc, "arrays are not allowed as arguments: use a typedef"};
      }
      p.args.push_back(std::move(a));
    } while (accept(","));
    expect(")");
    expect("=");
    p.number = value("the procedure number");
    expect(";");
    return p;
  }

  Lexer& lex_;
  Spec& spec_;
  Token tok_;
  Def* pending_inline_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Checking and resolving

bool parse_int(const std::string& text, Int& out) {
  size_t i = 0;
  bool neg = false;
  if (i < text.size() && text[i] == '-') {
    neg = true;
    ++i;
  }
  if (i >= text.size()) return false;
  unsigned base = 10;
  if (text.size() - i > 2 && text[i] == '0' && (text[i + 1] == 'x' || text[i + 1] == 'X')) {
    base = 16;
    i += 2;
  } else if (text.size() - i > 1 && text[i] == '0') {
    base = 8;
    ++i;
  }
  Int v = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    unsigned d;
    if (c >= '0' && c <= '9') {
      d = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<unsigned>(c - 'A' + 10);
    } else {
      return false;
    }
    if (d >= base) return false;
    v = v * base + d;
    if (v > (Int{1} << 64)) return false;
  }
  out = neg ? -v : v;
  if (out < -(Int{1} << 63) || out > (Int{1} << 64) - 1) return false;
  return true;
}

// Where names that a file uses without declaring them may come from: the types and constants
// libtirpc provides (rpcgen passes unknown names through to C, where these resolve), and
// `%#define NAME VALUE` lines the file writes for rpcgen's C header only (nlm_prot.x declares
// `string caller_name<LM_MAXSTRLEN>` with LM_MAXSTRLEN defined so).
struct Fallbacks {
  std::vector<Import> imports;
  const Spec* prelude = nullptr;
  std::function<const std::map<std::string, std::string>*()> macros;  // loaded on first use
};

class Checker {
 public:
  Checker(Spec& spec, std::vector<std::string>& errors, Fallbacks fallbacks)
      : spec_(spec), errors_(errors), fallbacks_(std::move(fallbacks)) {}

  void run() {
    declare_names();
    for (size_t i = 0; i < spec_.defs.size(); ++i) resolve_def(*spec_.defs[i]);
    // Types and constants taken from the fallbacks go first: everything else may use them.
    if (!pulled_.empty()) {
      for (auto& d : spec_.defs) pulled_.push_back(std::move(d));
      spec_.defs = std::move(pulled_);
    }
    if (!errors_.empty()) return;
    check_programs();
    check_cycles();
    if (!errors_.empty()) return;
    for (auto& d : spec_.defs) compute(*d);
    order_types();
  }

 private:
  void error(const Loc& loc, const std::string& msg) { errors_.push_back(format_error(loc, msg)); }

  void declare(const std::string& name, const Loc& loc) {
    auto [it, fresh] = names_.emplace(name, loc);
    if (!fresh) {
      error(loc, "redefinition of '" + name + "' (first defined at " + it->second.file + ":" +
                     std::to_string(it->second.line) + ")");
    }
  }

  void declare_names() {
    for (auto& dp : spec_.defs) {
      Def& d = *dp;
      switch (d.kind) {
        case DefKind::kConst:
          declare(d.name, d.loc);
          const_defs_[d.name] = &d;
          break;
        case DefKind::kTypedef:
        case DefKind::kStruct:
        case DefKind::kUnion:
          declare(d.name, d.loc);
          spec_.types[d.name] = &d;
          break;
        case DefKind::kEnum:
          declare(d.name, d.loc);
          spec_.types[d.name] = &d;
          for (auto& m : d.members) {
            declare(m.name, m.loc);
            spec_.enum_of[m.name] = &d;
          }
          break;
        case DefKind::kProgram:
          declare(d.name, d.loc);
          numbers_[d.name] = &d.number;
          for (auto& v : d.versions) {
            declare(v.name, v.loc);
            numbers_[v.name] = &v.number;
            for (auto& p : v.procs) numbers_.emplace(p.name, &p.number);
          }
          break;
        case DefKind::kPassthrough:
          break;
      }
    }
    // Procedure names become constants too; a name may repeat across versions with one number.
    std::map<std::string, std::pair<std::string, Loc>> procs;
    for (auto& dp : spec_.defs) {
      if (dp->kind != DefKind::kProgram) continue;
      for (auto& v : dp->versions) {
        for (auto& p : v.procs) {
          auto it = procs.find(p.name);
          if (it == procs.end()) {
            procs.emplace(p.name, std::make_pair(p.number.text, p.loc));
            if (names_.count(p.name) != 0)
              declare(p.name, p.loc);
            else
              names_.emplace(p.name, p.loc);
          } else if (it->second.first != p.number.text) {
            error(p.loc, "procedure '" + p.name +
                             "' is declared again with another number (first "
                             "at " +
                             it->second.second.file + ":" + std::to_string(it->second.second.line) +
                             ")");
          }
        }
      }
    }
  }

  // The value of a number, character constant, or name of a constant, enum member, program,
  // version or procedure. Names resolve on demand, so a constant may name one defined later
  // (rpcb_prot.x: `const rpcb_highproc_2 = RPCBPROC_CALLIT;` before the program).
  bool resolve_value(ValueRef& v, const char* what) {
    if (!v.is_name) {
      if (!v.text.empty() && v.text[0] == '\'') {
        const std::string body = v.text.substr(1, v.text.size() - 2);
        if (body.size() == 1) {
          v.value = static_cast<unsigned char>(body[0]);
          return true;
        }
        if (body.size() == 2 && body[0] == '\\') {
          static const std::string from = "ntr0\\'\"", to = "\n\t\r\0\\'\"";
          const size_t k = from.find(body[1]);
          if (k != std::string::npos) {
            v.value = static_cast<unsigned char>(to[k]);
            return true;
          }
        }
        error(v.loc, "unsupported character constant " + v.text);
        return false;
      }
      if (!parse_int(v.text, v.value)) {
        error(v.loc, "'" + v.text + "' is not a valid number for " + what);
        return false;
      }
      return true;
    }
    if (value_of(v.text, v.value)) return true;
    if (failed_.count(v.text) != 0 && !cycle_) return false;
    if (cycle_) {
      error(v.loc, "'" + v.text + "' is defined in terms of itself");
      cycle_ = false;
      return false;
    }
    if (spec_.types.count(v.text) != 0) {
      error(v.loc, std::string(what) + " must be a constant, but '" + v.text + "' is a type");
    } else if (names_.count(v.text) != 0) {
      error(v.loc, std::string(what) + " must be a constant, but '" + v.text +
                       "' is not (or is defined later)");
    } else {
      error(v.loc, std::string(what) + " must be a constant, but '" + v.text + "' is undefined");
    }
    return false;
  }

  bool value_of(const std::string& name, Int& out) {
    if (auto it = spec_.constants.find(name); it != spec_.constants.end()) {
      out = it->second;
      return true;
    }
    if (failed_.count(name) != 0) return false;  // already reported
    if (!resolving_.insert(name).second) {
      cycle_ = true;
      return false;
    }
    bool ok = false;
    if (auto c = const_defs_.find(name); c != const_defs_.end()) {
      if (!c->second->is_string && resolve_value(c->second->value, "a const's value")) {
        spec_.constants[name] = c->second->value.value;
        ok = true;
      }
    } else if (auto e = spec_.enum_of.find(name); e != spec_.enum_of.end()) {
      resolve_enum(*e->second);
      ok = spec_.constants.count(name) != 0;
    } else if (auto n = numbers_.find(name); n != numbers_.end()) {
      if (resolve_value(*n->second, "a number")) {
        spec_.constants[name] = n->second->value;
        ok = true;
      }
    } else if (names_.count(name) == 0) {
      for (const Import& im : fallbacks_.imports) {
        if (auto ic = im.spec->constants.find(name); ic != im.spec->constants.end()) {
          spec_.constants[name] = ic->second;
          imported_constants_.insert(name);
          ok = true;
          break;
        }
      }
      if (!ok) ok = fallback_constant(name);
    }
    resolving_.erase(name);
    if (ok) {
      out = spec_.constants[name];
    } else if (const_defs_.count(name) || spec_.enum_of.count(name) || numbers_.count(name)) {
      failed_.insert(name);  // its own definition carries the error
    }
    return ok;
  }

  // A constant from libtirpc (the prelude) or from a `%#define` line.
  bool fallback_constant(const std::string& name) {
    if (fallbacks_.prelude != nullptr) {
      for (const auto& d : fallbacks_.prelude->defs) {
        if (d->kind == DefKind::kConst && d->name == name) {
          spec_.constants[name] = d->value.value;
          pull(*d);
          return true;
        }
      }
    }
    if (!fallbacks_.macros) return false;
    const std::map<std::string, std::string>* macros = fallbacks_.macros();
    if (macros == nullptr) return false;
    auto m = macros->find(name);
    if (m == macros->end()) return false;
    Int v = 0;
    if (!eval_macro(m->second, v)) return false;
    spec_.constants[name] = v;
    auto d = std::make_unique<Def>();
    d->kind = DefKind::kConst;
    d->name = name;
    d->value.text = m->second;
    d->value.value = v;
    pulled_.push_back(std::move(d));
    return true;
  }

  void pull(const Def& d) {
    auto copy = std::make_unique<Def>(d);
    copy->loc.file = "<libtirpc>";
    if (copy->kind != DefKind::kConst) spec_.types[copy->name] = copy.get();
    Def* raw = copy.get();
    pulled_.push_back(std::move(copy));
    names_.emplace(raw->name, raw->loc);
    resolve_def(*raw);
  }

  // The value of a C constant expression from a `%#define`: numbers, names of constants, and
  // C's integer operators. Anything else means the macro is not a constant (a statement, a
  // string, a type): it is then not used.
  bool eval_macro(const std::string& text, Int& out) {
    size_t i = 0;
    bool ok = true;
    std::function<Int(int)> expr;
    auto skip = [&] {
      while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    };
    std::function<Int()> primary = [&]() -> Int {
      skip();
      if (i >= text.size()) {
        ok = false;
        return 0;
      }
      const char c = text[i];
      if (c == '(') {
        ++i;
        const Int v = expr(0);
        skip();
        if (i < text.size() && text[i] == ')')
          ++i;
        else
          ok = false;
        return v;
      }
      if (c == '-' || c == '~' || c == '+') {
        ++i;
        const Int v = primary();
        return c == '-' ? -v : c == '~' ? ~v : v;
      }
      size_t j = i;
      while (j < text.size() && is_ident_char(text[j])) ++j;
      if (j == i) {
        ok = false;
        return 0;
      }
      std::string tok = text.substr(i, j - i);
      i = j;
      if (is_digit(tok[0])) {
        while (!tok.empty() &&
               (tok.back() == 'u' || tok.back() == 'U' || tok.back() == 'l' || tok.back() == 'L')) {
          tok.pop_back();
        }
        Int v = 0;
        if (!parse_int(tok, v)) ok = false;
        return v;
      }
      Int v = 0;
      if (!value_of(tok, v)) ok = false;
      return v;
    };
    auto prec = [](const std::string& op) {
      if (op == "|") return 1;
      if (op == "^") return 2;
      if (op == "&") return 3;
      if (op == "<<" || op == ">>") return 4;
      if (op == "+" || op == "-") return 5;
      if (op == "*" || op == "/" || op == "%") return 6;
      return 0;
    };
    expr = [&](int min) -> Int {
      Int lhs = primary();
      for (;;) {
        skip();
        if (i >= text.size()) break;
        std::string op(1, text[i]);
        if ((op == "<" || op == ">") && i + 1 < text.size() && text[i + 1] == text[i]) op += op;
        const int p = prec(op);
        if (p == 0 || p <= min) break;
        i += op.size();
        const Int rhs = expr(p);
        if (op == "|")
          lhs |= rhs;
        else if (op == "^")
          lhs ^= rhs;
        else if (op == "&")
          lhs &= rhs;
        else if (op == "<<")
          lhs = rhs >= 0 && rhs < 64 ? lhs << static_cast<int>(rhs) : (ok = false, 0);
        else if (op == ">>")
          lhs = rhs >= 0 && rhs < 64 ? lhs >> static_cast<int>(rhs) : (ok = false, 0);
        else if (op == "+")
          lhs += rhs;
        else if (op == "-")
          lhs -= rhs;
        else if (op == "*")
          lhs *= rhs;
        else if (rhs == 0)
          ok = false;
        else if (op == "/")
          lhs /= rhs;
        else
          lhs %= rhs;
      }
      return lhs;
    };
    out = expr(0);
    skip();
    return ok && i == text.size() && out >= -(Int{1} << 63) && out < (Int{1} << 64);
  }

  void resolve_type(TypeRef& t) {
    if (t.base != Base::kNamed || t.def != nullptr) return;
    auto it = spec_.types.find(t.name);
    if (it != spec_.types.end()) {
      t.def = it->second;
      return;
    }
    for (const Import& im : fallbacks_.imports) {
      if (auto d = im.spec->types.find(t.name); d != im.spec->types.end()) {
        t.def = d->second;
        return;
      }
    }
    if (fallbacks_.prelude != nullptr && names_.count(t.name) == 0) {
      for (const auto& d : fallbacks_.prelude->defs) {
        if (d->kind != DefKind::kConst && d->name == t.name) {
          pull(*d);
          t.def = spec_.types[t.name];
          return;
        }
      }
    }
    for (const Builtin& b : kPredefined) {
      if (t.name == b.name) {
        t.base = b.base;
        return;
      }
    }
    if (spec_.constants.count(t.name) != 0 || names_.count(t.name) != 0) {
      error(t.loc, "'" + t.name + "' is not a type");
    } else {
      error(t.loc, "unknown type '" + t.name + "'");
    }
  }

  void resolve_decl(Decl& d, const char* ctx) {
    resolve_type(d.type);
    if (d.shape == Shape::kFixed || (d.shape == Shape::kVar && d.size)) {
      const char* what = d.shape == Shape::kFixed ? "an array size" : "a maximum length";
      if (resolve_value(*d.size, what)) {
        if (d.size->value < 0 || d.size->value > 0xffffffff) {
          error(d.size->loc, std::string(what) + " must be between 0 and 4294967295, not " +
                                 to_decimal(d.size->value));
        } else {
          d.bound = static_cast<uint32_t>(d.size->value);
        }
      }
    }
    if (d.shape == Shape::kPlain && d.type.base == Base::kNamed && d.type.def == nullptr) return;
    (void)ctx;
  }

  void resolve_def(Def& d) {
    switch (d.kind) {
      case DefKind::kConst:
        if (d.is_string || spec_.constants.count(d.name) != 0) return;
        {
          Int v = 0;
          if (!resolving_.count(d.name) && value_of(d.name, v)) return;
          if (cycle_) {
            error(d.value.loc, "'" + d.name + "' is defined in terms of itself");
            cycle_ = false;
          }
        }
        return;
      case DefKind::kTypedef:
        resolve_decl(d.decl, "typedef");
        return;
      case DefKind::kEnum:
        resolve_enum(d);
        return;
      case DefKind::kStruct: {
        std::set<std::string> fields;
        for (auto& f : d.fields) {
          resolve_decl(f, "struct");
          if (!fields.insert(f.name).second) error(f.loc, "duplicate member '" + f.name + "'");
        }
        return;
      }
      case DefKind::kUnion:
        resolve_union(d);
        return;
      case DefKind::kProgram:
        if (resolve_value(d.number, "a program number")) check_u32(d.number, "a program number");
        for (auto& v : d.versions) {
          if (resolve_value(v.number, "a version number")) check_u32(v.number, "a version number");
          for (auto& p : v.procs) {
            if (resolve_value(p.number, "a procedure number")) {
              check_u32(p.number, "a procedure number");
            }
            resolve_type(p.result);
            for (auto& a : p.args) resolve_decl(a, "argument");
          }
        }
        return;
      case DefKind::kPassthrough:
        return;
    }
  }

  void resolve_enum(Def& d) {
    if (!enums_done_.insert(&d).second) return;
    {
      {
        Int next = 0;
        std::map<Int, std::string> seen;
        for (auto& m : d.members) {
          Int v = next;
          if (m.value_ref) {
            if (!resolve_value(*m.value_ref, "an enum value")) continue;
            v = m.value_ref->value;
          }
          if (v < INT32_MIN || v > INT32_MAX) {
            error(m.loc,
                  "enum value " + to_decimal(v) + " of '" + m.name + "' does not fit in an int");
            continue;
          }
          m.value = static_cast<int32_t>(v);
          spec_.constants[m.name] = v;
          next = v + 1;
        }
      }
    }
  }

  void check_u32(const ValueRef& v, const char* what) {
    if (v.value < 0 || v.value > 0xffffffff) {
      error(v.loc, std::string(what) + " must be an unsigned int, not " + to_decimal(v.value));
    }
  }

  // The type a declaration resolves to through typedefs (plain shapes only).
  static const TypeRef& underlying(const TypeRef& t) {
    const TypeRef* r = &t;
    while (r->base == Base::kNamed && r->def != nullptr && r->def->kind == DefKind::kTypedef &&
           r->def->decl.shape == Shape::kPlain) {
      r = &r->def->decl.type;
    }
    return *r;
  }

  void resolve_union(Def& d) {
    resolve_decl(d.disc, "discriminant");
    const TypeRef& t = underlying(d.disc.type);
    const Def* en = nullptr;
    Int lo = 0, hi = 0;
    const char* tname = "";
    switch (t.base) {
      case Base::kInt:
        lo = INT32_MIN;
        hi = INT32_MAX;
        tname = "int";
        break;
      case Base::kUInt:
        lo = 0;
        hi = 0xffffffff;
        tname = "unsigned int";
        break;
      case Base::kBool:
        lo = 0;
        hi = 1;
        tname = "bool";
        break;
      case Base::kChar:
        lo = -128;
        hi = 127;
        tname = "char";
        break;
      case Base::kUChar:
        lo = 0;
        hi = 255;
        tname = "unsigned char";
        break;
      case Base::kShort:
        lo = -32768;
        hi = 32767;
        tname = "short";
        break;
      case Base::kUShort:
        lo = 0;
        hi = 65535;
        tname = "unsigned short";
        break;
      case Base::kNamed:
        if (t.def != nullptr && t.def->kind == DefKind::kEnum) {
          en = t.def;
          break;
        }
        [[fallthrough]];
      default:
        if (t.base != Base::kNamed || t.def != nullptr) {
          error(d.disc.loc, "a union's discriminant must be int, unsigned int, an enum or bool");
        }
        return;
    }
    std::map<Int, Loc> seen;
    std::set<std::string> arm_names;
    int defaults = 0;
    for (auto& arm : d.arms) {
      resolve_decl(arm.decl, "arm");
      if (arm.decl.shape != Shape::kVoid && !arm_names.insert(arm.decl.name).second) {
        error(arm.decl.loc, "duplicate arm name '" + arm.decl.name + "'");
      }
      if (arm.is_default) ++defaults;
      for (auto& label : arm.labels) {
        if (!resolve_value(label, "a case label")) continue;
        if (en != nullptr) {
          bool member = false;
          for (const auto& m : en->members) member |= m.value == label.value;
          const auto eo = spec_.enum_of.find(label.text);
          if (!member || (label.is_name && eo != spec_.enum_of.end() && eo->second != en)) {
            error(label.loc,
                  "case label '" + label.text + "' is not a member of enum '" + en->name + "'");
            continue;
          }
        } else if (label.value < lo || label.value > hi) {
          error(label.loc,
                "case label " + label.text + " is outside the discriminant's type (" + tname + ")");
          continue;
        }
        auto [it, fresh] = seen.emplace(label.value, label.loc);
        if (!fresh) {
          error(label.loc, "duplicate case label " + label.text + " (first at line " +
                               std::to_string(it->second.line) + ")");
        }
      }
    }
  }

  void check_programs() {
    std::map<Int, Loc> progs;
    for (auto& dp : spec_.defs) {
      if (dp->kind != DefKind::kProgram) continue;
      std::set<Int> vers;
      for (auto& v : dp->versions) {
        if (!vers.insert(v.number.value).second) {
          error(v.number.loc,
                "version number " + v.number.text + " is used twice in program '" + dp->name + "'");
        }
        std::set<Int> nums;
        for (auto& p : v.procs) {
          if (!nums.insert(p.number.value).second) {
            error(p.number.loc,
                  "procedure number " + p.number.text + " is used twice in '" + v.name + "'");
          }
        }
      }
    }
  }

  // By-value containment: a struct or union that contains itself (not through optional data or
  // a variable-length array) would have infinite size.
  void by_value_deps(const Decl& d, std::vector<Def*>& out) {
    if (d.shape != Shape::kPlain && d.shape != Shape::kFixed) return;
    if (d.type.base != Base::kNamed || d.type.def == nullptr) return;
    Def* t = d.type.def;
    if (t->kind == DefKind::kTypedef) {
      by_value_deps(t->decl, out);
    } else if (t->kind == DefKind::kStruct || t->kind == DefKind::kUnion) {
      out.push_back(t);
    }
  }
  std::vector<Def*> contained(Def& d) {
    std::vector<Def*> out;
    if (d.kind == DefKind::kStruct) {
      for (auto& f : d.fields) by_value_deps(f, out);
    } else if (d.kind == DefKind::kUnion) {
      for (auto& a : d.arms) by_value_deps(a.decl, out);
    } else if (d.kind == DefKind::kTypedef) {
      by_value_deps(d.decl, out);
    }
    return out;
  }
  void check_cycles() {
    std::map<Def*, int> state;  // 1 visiting, 2 done
    std::function<bool(Def*)> visit = [&](Def* d) -> bool {
      int& s = state[d];
      if (s == 2) return true;
      if (s == 1) return false;
      s = 1;
      for (Def* c : contained(*d)) {
        if (!visit(c)) {
          if (state[d] == 1 && !reported_) {
            error(d->loc, "'" + d->name +
                              "' contains itself; use optional data (*) or a "
                              "variable-length array to refer to it");
            reported_ = true;
          }
          return false;
        }
      }
      state[d] = 2;
      return true;
    };
    for (auto& d : spec_.defs) {
      if (d->kind == DefKind::kStruct || d->kind == DefKind::kUnion) visit(d.get());
    }
  }

  static uint64_t base_size(Base b) {
    switch (b) {
      case Base::kVoid:
        return 0;
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
  uint64_t decl_min(const Decl& d) {
    switch (d.shape) {
      case Shape::kVoid:
        return 0;
      case Shape::kVar:
      case Shape::kOptional:
        return 4;
      case Shape::kFixed:
        if (d.type.base == Base::kOpaque) return (uint64_t{d.bound} + 3) & ~uint64_t{3};
        return uint64_t{d.bound} * type_min(d.type);
      case Shape::kPlain:
        return type_min(d.type);
    }
    return 0;
  }
  uint64_t type_min(const TypeRef& t) {
    if (t.base != Base::kNamed) return base_size(t.base);
    compute(*t.def);
    return t.def->min_size;
  }
  bool decl_flat(const Decl& d) {
    if (d.shape == Shape::kVar || d.shape == Shape::kOptional) return false;
    if (d.type.base == Base::kString) return false;
    if (d.type.base != Base::kNamed) return true;
    compute(*d.type.def);
    return d.type.def->flat;
  }

  void compute(Def& d) {
    if (computed_.count(&d) != 0 || !d.import_ns.empty()) return;
    computed_.insert(&d);
    switch (d.kind) {
      case DefKind::kEnum:
        d.flat = true;
        d.min_size = 4;
        break;
      case DefKind::kTypedef:
        d.flat = decl_flat(d.decl);
        d.min_size = decl_min(d.decl);
        break;
      case DefKind::kStruct: {
        d.flat = true;
        d.min_size = 0;
        for (auto& f : d.fields) {
          d.flat = d.flat && decl_flat(f);
          d.min_size += decl_min(f);
        }
        const Decl& last = d.fields.back();
        const Decl* l = &last;
        while (l->shape == Shape::kPlain && l->type.base == Base::kNamed &&
               l->type.def->kind == DefKind::kTypedef) {
          l = &l->type.def->decl;
        }
        if (l->shape == Shape::kOptional && l->type.def == &d) {
          d.list_field = static_cast<int>(d.fields.size()) - 1;
        }
        break;
      }
      case DefKind::kUnion: {
        d.flat = true;
        uint64_t m = UINT64_MAX;
        for (auto& a : d.arms) {
          d.flat = d.flat && decl_flat(a.decl);
          m = std::min(m, decl_min(a.decl));
        }
        d.min_size = 4 + (m == UINT64_MAX ? 0 : m);
        break;
      }
      default:
        break;
    }
  }

  // Orders type definitions so that C++ sees each one before it is needed: typedef aliases
  // before their users, and structs and unions before the types that contain them by value.
  // Everything else is forward-declared.
  void order_types() {
    std::map<Def*, int> state;
    std::function<void(Def*)> visit = [&](Def* d) {
      if (state[d] != 0 || !d->import_ns.empty()) return;
      state[d] = 1;
      std::vector<Def*> deps;
      auto named = [&](const Decl& x) {
        if (x.type.base != Base::kNamed || x.type.def == nullptr) return;
        Def* t = x.type.def;
        if (t->kind == DefKind::kTypedef || t->kind == DefKind::kEnum) deps.push_back(t);
      };
      if (d->kind == DefKind::kStruct) {
        for (auto& f : d->fields) named(f);
      } else if (d->kind == DefKind::kUnion) {
        named(d->disc);
        for (auto& a : d->arms) named(a.decl);
      } else if (d->kind == DefKind::kTypedef) {
        named(d->decl);
      }
      for (Def* c : contained(*d)) deps.push_back(c);
      for (Def* c : deps) visit(c);
      state[d] = 2;
      spec_.order.push_back(d);
    };
    for (auto& d : spec_.defs) {
      if (d->kind == DefKind::kTypedef || d->kind == DefKind::kStruct ||
          d->kind == DefKind::kUnion || d->kind == DefKind::kEnum) {
        visit(d.get());
      }
    }
  }

  Spec& spec_;
  std::vector<std::string>& errors_;
  Fallbacks fallbacks_;
  std::vector<std::unique_ptr<Def>> pulled_;
  std::map<std::string, Def*> const_defs_;
  std::map<std::string, ValueRef*> numbers_;
  std::set<std::string> resolving_;
  std::set<Def*> enums_done_;
  std::set<std::string> failed_;
  std::set<std::string> imported_constants_;
  bool cycle_ = false;
  std::map<std::string, Loc> names_;
  std::set<Def*> computed_;
  bool reported_ = false;
};

// Multi-argument procedures carry their arguments in a struct, as rpcgen -N does, named as rpcgen
// names it: <proc>_<version>_argument, lower case.
void synthesize_arg_structs(Spec& spec) {
  std::vector<std::unique_ptr<Def>> added;
  for (auto& dp : spec.defs) {
    if (dp->kind != DefKind::kProgram) continue;
    for (auto& v : dp->versions) {
      for (auto& p : v.procs) {
        if (p.args.size() < 2) continue;
        auto s = std::make_unique<Def>();
        s->kind = DefKind::kStruct;
        s->synthesized = true;
        s->loc = p.loc;
        std::string lower = p.name;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        s->name = lower + "_" + v.number.text + "_argument";
        s->fields = p.args;
        p.arg_struct = s.get();
        added.push_back(std::move(s));
      }
    }
  }
  for (auto& a : added) spec.defs.push_back(std::move(a));
}

// What libtirpc declares for .x files to use (rpc/types.h, rpc/xdr.h, rpc/auth.h,
// rpc/rpcb_prot.h), with the encodings of libtirpc's own xdr_* routines for them. Only what a
// file uses is generated.
constexpr const char kPrelude[] = R"(
typedef opaque des_block[8];
typedef opaque netobj<1024>;
typedef unsigned int rpcprog_t;
typedef unsigned int rpcvers_t;
typedef unsigned int rpcproc_t;
typedef unsigned int rpcprot_t;
typedef unsigned int rpcport_t;
struct netbuf { unsigned int maxlen; opaque buf<>; };
const MAXNETNAMELEN = 255;
const MAX_NETOBJ_SZ = 1024;
const RPC_MAXDATASIZE = 9000;
const RPC_MAXADDRSIZE = 1024;
)";

std::optional<Spec> parse_impl(const std::string& text, const std::string& path,
                               std::vector<std::string>& errors, SourceCache* sources,
                               Fallbacks fallbacks);

const Spec* prelude() {
  static const Spec* p = [] {
    std::vector<std::string> errors;
    std::optional<Spec> s = parse_impl(kPrelude, "<libtirpc>", errors, nullptr, Fallbacks{});
    return s ? new Spec(std::move(*s)) : nullptr;
  }();
  return p;
}

// `%#define NAME VALUE` lines of preprocessed text: object-like macros only.
std::map<std::string, std::string> harvest_macros(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t i = 0;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size() || line[i] != '%') continue;
    ++i;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size() || line[i] != '#') continue;
    ++i;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (line.compare(i, 6, "define") != 0) continue;
    i += 6;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && is_ident_char(line[j])) ++j;
    if (j == i || (j < line.size() && line[j] == '(')) continue;
    const std::string name = line.substr(i, j - i);
    std::string value = line.substr(j);
    if (const size_t c = value.find("/*"); c != std::string::npos) value.resize(c);
    if (const size_t c = value.find("//"); c != std::string::npos) value.resize(c);
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back())))
      value.pop_back();
    size_t k = 0;
    while (k < value.size() && std::isspace(static_cast<unsigned char>(value[k]))) ++k;
    out.emplace(name, value.substr(k));
  }
  return out;
}

std::optional<Spec> parse_impl(const std::string& text, const std::string& path,
                               std::vector<std::string>& errors, SourceCache* sources,
                               Fallbacks fallbacks) {
  Spec spec;
  spec.source = path;
  // TRUE and FALSE are bool's members (RFC 4506 4.4); they are constants unless the file says
  // otherwise.
  Lexer lex(text, path, sources);
  try {
    Parser parser(lex, spec);
    parser.parse();
  } catch (const SyntaxError& e) {
    errors.push_back(format_error(e.loc, e.message));
    return std::nullopt;
  }
  synthesize_arg_structs(spec);
  bool has_true = false, has_false = false;
  for (auto& d : spec.defs) {
    if (d->kind == DefKind::kConst) {
      has_true |= d->name == "TRUE";
      has_false |= d->name == "FALSE";
    }
    if (d->kind == DefKind::kEnum) {
      for (auto& m : d->members) {
        has_true |= m.name == "TRUE";
        has_false |= m.name == "FALSE";
      }
    }
  }
  if (!has_true) spec.constants["TRUE"] = 1;
  if (!has_false) spec.constants["FALSE"] = 0;
  Checker checker(spec, errors, std::move(fallbacks));
  checker.run();
  if (!errors.empty()) return std::nullopt;
  return spec;
}

// Runs argv, returns its standard output; its standard error goes to ours (cpp's own diagnostics
// are already in the right form).
bool run_capture(const std::vector<std::string>& argv, std::string& out, std::string& err) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    err = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(pipefd[1]);
  if (rc != 0) {
    close(pipefd[0]);
    err = "cannot run the C preprocessor '" + argv[0] + "': " + std::strerror(rc);
    return false;
  }
  char buf[65536];
  for (;;) {
    const ssize_t n = read(pipefd[0], buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(pipefd[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    err = "the C preprocessor failed on the input";
    return false;
  }
  return true;
}

}  // namespace

std::string to_decimal(Int v) {
  if (v == 0) return "0";
  const bool neg = v < 0;
  unsigned __int128 u =
      neg ? static_cast<unsigned __int128>(-v) : static_cast<unsigned __int128>(v);
  std::string s;
  while (u != 0) {
    s += static_cast<char>('0' + static_cast<int>(u % 10));
    u /= 10;
  }
  if (neg) s += '-';
  std::reverse(s.begin(), s.end());
  return s;
}

std::optional<Spec> parse_text(const std::string& text, const std::string& path,
                               std::vector<std::string>& errors,
                               const std::vector<Import>& imports) {
  Fallbacks f;
  f.imports = imports;
  f.prelude = prelude();
  auto macros = std::make_shared<std::map<std::string, std::string>>(harvest_macros(text));
  f.macros = [macros] { return macros.get(); };
  return parse_impl(text, path, errors, nullptr, std::move(f));
}

std::optional<Spec> parse_file(const std::string& path, const Options& options,
                               std::vector<std::string>& errors) {
  if (access(path.c_str(), R_OK) != 0) {
    errors.push_back(path + ": error: cannot read: " + std::strerror(errno));
    return std::nullopt;
  }
  // -C keeps comments, so that `%` lines carry theirs; C11 mode leaves `linux` and `unix` alone,
  // which GNU mode would define to 1 (an identifier of that name would turn into a number).
  std::vector<std::string> argv = {options.cpp, "-C", "-std=c11", "-DRINGRPC=1"};
  for (const auto& d : options.defines) argv.push_back("-D" + d);
  for (const auto& i : options.includes) argv.push_back("-I" + i);
  argv.push_back(path);
  std::string out, err;
  if (!run_capture(argv, out, err)) {
    errors.push_back(path + ": error: " + err);
    return std::nullopt;
  }
  SourceCache sources;
  Fallbacks f;
  f.imports = options.imports;
  f.prelude = prelude();
  // The file's `%#define`s meant for rpcgen's header are read from a second preprocessor run
  // with RPC_HDR defined, and only when a name is not found otherwise.
  auto cache = std::make_shared<std::optional<std::map<std::string, std::string>>>();
  f.macros = [cache, argv]() mutable -> const std::map<std::string, std::string>* {
    if (!cache->has_value()) {
      argv.insert(argv.begin() + 1, "-DRPC_HDR=1");
      std::string hdr, cpp_err;
      *cache = run_capture(argv, hdr, cpp_err) ? harvest_macros(hdr)
                                               : std::map<std::string, std::string>{};
    }
    return &**cache;
  };
  return parse_impl(out, path, errors, &sources, std::move(f));
}

}  // namespace ringrpc::gen
