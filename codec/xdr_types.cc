#include "codec/xdr_types.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>

namespace ringrpc::xdr {

namespace {
constexpr char kHex[] = "0123456789abcdef";
}  // namespace

void Printer::key(std::string_view name) {
  item();
  if (json_) {
    out_ += '"';
    out_ += name;
    out_ += "\":";
  } else {
    out_ += name;
    out_ += " = ";
  }
  after_key_ = true;
}

void Printer::value(bool v) {
  item();
  out_ += v ? "true" : "false";
}

void Printer::value(int64_t v) {
  item();
  out_ += std::to_string(v);
}

void Printer::value(uint64_t v) {
  item();
  out_ += std::to_string(v);
}

void Printer::value(double v) {
  item();
  if (!std::isfinite(v)) {
    // JSON has no NaN or infinity; a string keeps the information.
    const char* s = std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
    if (json_) {
      out_ += '"';
      out_ += s;
      out_ += '"';
    } else {
      out_ += s;
    }
    return;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  out_ += buf;
}

void Printer::value(const Quadruple& v) {
  // The exact bit pattern: printing a binary128 in decimal needs libquadmath.
  item();
  char buf[48];
  std::snprintf(buf, sizeof buf,
                json_ ? "\"0x%016" PRIx64 "%016" PRIx64 "\"" : "0x%016" PRIx64 "%016" PRIx64, v.hi,
                v.lo);
  out_ += buf;
}

void Printer::string(std::string_view s) {
  item();
  out_ += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out_ += '\\';
      out_ += c;
    } else if (u < 0x20 || u == 0x7f) {
      out_ += json_ ? "\\u00" : "\\x";
      out_ += kHex[u >> 4];
      out_ += kHex[u & 15];
    } else {
      out_ += c;  // bytes >= 0x80 pass through: UTF-8 stays readable
    }
  }
  out_ += '"';
}

void Printer::bytes(std::span<const uint8_t> b) {
  item();
  out_ += json_ ? "\"" : "0x";
  for (uint8_t x : b) {
    out_ += kHex[x >> 4];
    out_ += kHex[x & 15];
  }
  if (json_) out_ += '"';
}

void Printer::enumerator(const char* name, int64_t v) {
  if (name == nullptr) {
    value(v);
    return;
  }
  item();
  if (json_) out_ += '"';
  out_ += name;
  if (json_) out_ += '"';
}

void Printer::null() {
  item();
  out_ += json_ ? "null" : "NULL";
}

}  // namespace ringrpc::xdr
