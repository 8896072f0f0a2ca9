#include "test/unit/fuzz_loader/reference.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <set>

namespace fuzzref {
namespace {

// ---- JSON (RFC 8259), recursive descent with a depth limit ----

struct Parser {
  const std::string& t;
  size_t i = 0;
  int max_depth;
  std::string err;

  bool fail(const std::string& w) {
    if (err.empty()) err = w + " at byte " + std::to_string(i);
    return false;
  }
  void ws() {
    while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) ++i;
  }
  static bool cont(unsigned char c) { return (c & 0xc0) == 0x80; }
  // One UTF-8 sequence (RFC 3629) starting at i, appended to out.
  bool utf8(std::string& out) {
    const unsigned char c = (unsigned char)t[i];
    int n = 0;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c == 0xe0) n = 2, lo = 0xa0;
    else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) n = 2;
    else if (c == 0xed) n = 2, hi = 0x9f;
    else if (c == 0xf0) n = 3, lo = 0x90;
    else if (c >= 0xf1 && c <= 0xf3) n = 3;
    else if (c == 0xf4) n = 3, hi = 0x8f;
    else return fail("bad UTF-8 lead byte");
    if (i + n >= t.size()) return fail("truncated UTF-8");
    const unsigned char c1 = (unsigned char)t[i + 1];
    if (c1 < lo || c1 > hi) return fail("bad UTF-8 continuation");
    for (int k = 2; k <= n; ++k)
      if (!cont((unsigned char)t[i + k])) return fail("bad UTF-8 continuation");
    out.append(t, i, n + 1);
    i += n + 1;
    return true;
  }
  static void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) out += (char)cp;
    else if (cp < 0x800) out += (char)(0xc0 | (cp >> 6)), out += (char)(0x80 | (cp & 0x3f));
    else if (cp < 0x10000)
      out += (char)(0xe0 | (cp >> 12)), out += (char)(0x80 | ((cp >> 6) & 0x3f)), out += (char)(0x80 | (cp & 0x3f));
    else
      out += (char)(0xf0 | (cp >> 18)), out += (char)(0x80 | ((cp >> 12) & 0x3f)), out += (char)(0x80 | ((cp >> 6) & 0x3f)),
          out += (char)(0x80 | (cp & 0x3f));
  }
  bool hex4(uint32_t* v) {
    if (i + 4 > t.size()) return fail("truncated \\u escape");
    uint32_t r = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = t[i + k];
      r <<= 4;
      if (c >= '0' && c <= '9') r |= (uint32_t)(c - '0');
      else if (c >= 'a' && c <= 'f') r |= (uint32_t)(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') r |= (uint32_t)(c - 'A' + 10);
      else return fail("bad \\u escape");
    }
    i += 4;
    *v = r;
    return true;
  }
  bool str(std::string& out) {
    if (i >= t.size() || t[i] != '"') return fail("expected a string");
    ++i;
    while (true) {
      if (i >= t.size()) return fail("unterminated string");
      const unsigned char c = (unsigned char)t[i];
      if (c == '"') {
        ++i;
        return true;
      }
      if (c < 0x20) return fail("control character in a string");
      if (c == '\\') {
        if (++i >= t.size()) return fail("truncated escape");
        const char e = t[i++];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            uint32_t cp;
            if (!hex4(&cp)) return false;
            if (cp >= 0xdc00 && cp <= 0xdfff) return fail("lone low surrogate");
            if (cp >= 0xd800 && cp <= 0xdbff) {
              if (i + 2 > t.size() || t[i] != '\\' || t[i + 1] != 'u') return fail("lone high surrogate");
              i += 2;
              uint32_t lo;
              if (!hex4(&lo)) return false;
              if (lo < 0xdc00 || lo > 0xdfff) return fail("bad low surrogate");
              cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            put_utf8(out, cp);
            break;
          }
          default: return fail("bad escape");
        }
        continue;
      }
      if (c < 0x80) {
        out += (char)c;
        ++i;
        continue;
      }
      if (!utf8(out)) return false;
    }
  }
  bool number(Json& v) {
    const size_t start = i;
    bool neg = false, frac = false;
    if (t[i] == '-') neg = true, ++i;
    if (i >= t.size() || !isdigit((unsigned char)t[i])) return fail("bad number");
    if (t[i] == '0') ++i;
    else
      while (i < t.size() && isdigit((unsigned char)t[i])) ++i;
    const size_t int_end = i;
    if (i < t.size() && t[i] == '.') {
      frac = true;
      ++i;
      if (i >= t.size() || !isdigit((unsigned char)t[i])) return fail("bad fraction");
      while (i < t.size() && isdigit((unsigned char)t[i])) ++i;
    }
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
      frac = true;
      ++i;
      if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
      if (i >= t.size() || !isdigit((unsigned char)t[i])) return fail("bad exponent");
      while (i < t.size() && isdigit((unsigned char)t[i])) ++i;
    }
    if (frac) {
      v.kind = Json::Float;
      return true;
    }
    if (neg) {
      v.kind = Json::Int;  // negative (or -0): never a valid size or offset
      return true;
    }
    // Unsigned: digits up to 2^64 - 1; a larger integer is a float (as most parsers do).
    unsigned __int128 u = 0;
    for (size_t k = start; k < int_end; ++k) {
      u = u * 10 + (unsigned)(t[k] - '0');
      if (u > (unsigned __int128)UINT64_MAX) {
        v.kind = Json::Float;
        return true;
      }
    }
    v.kind = Json::UInt;
    v.u = (uint64_t)u;
    return true;
  }
  bool lit(const char* w) {
    const size_t n = std::strlen(w);
    if (t.compare(i, n, w) != 0) return fail("bad literal");
    i += n;
    return true;
  }
  bool value(Json& v, int depth) {
    ws();
    if (i >= t.size()) return fail("expected a value");
    const char c = t[i];
    if (c == '{' || c == '[') {
      if (depth > max_depth) return fail("nested too deep");
      ++i;
      const bool obj = c == '{';
      v.kind = obj ? Json::Obj : Json::Arr;
      ws();
      if (i < t.size() && t[i] == (obj ? '}' : ']')) {
        ++i;
        return true;
      }
      while (true) {
        if (obj) {
          ws();
          std::string k;
          if (!str(k)) return false;
          ws();
          if (i >= t.size() || t[i] != ':') return fail("expected ':'");
          ++i;
          Json m;
          if (!value(m, depth + 1)) return false;
          v.obj.emplace_back(std::move(k), std::move(m));
        } else {
          Json m;
          if (!value(m, depth + 1)) return false;
          v.arr.push_back(std::move(m));
        }
        ws();
        if (i >= t.size()) return fail("unterminated container");
        if (t[i] == ',') {
          ++i;
          continue;
        }
        if (t[i] == (obj ? '}' : ']')) {
          ++i;
          return true;
        }
        return fail("expected ',' or a closing bracket");
      }
    }
    if (c == '"') {
      v.kind = Json::Str;
      return str(v.s);
    }
    if (c == 't') return v.kind = Json::Bool, lit("true");
    if (c == 'f') return v.kind = Json::Bool, lit("false");
    if (c == 'n') return v.kind = Json::Null, lit("null");
    if (c == '-' || isdigit((unsigned char)c)) return number(v);
    return fail("unexpected character");
  }
};

// The first key that appears twice in any object of v (depth first), or "".
bool find_duplicate(const Json& v, std::string* key) {
  if (v.kind == Json::Obj) {
    std::set<std::string> seen;
    for (const auto& [k, m] : v.obj) {
      if (!seen.insert(k).second) {
        *key = k;
        return true;
      }
      if (find_duplicate(m, key)) return true;
    }
  } else if (v.kind == Json::Arr) {
    for (const auto& m : v.arr)
      if (find_duplicate(m, key)) return true;
  }
  return false;
}

const Json* field(const Json& o, const std::string& k) {
  for (const auto& [key, v] : o.obj)
    if (key == k) return &v;
  return nullptr;
}

size_t dtype_bytes(const std::string& d) { return d == "F32" ? 4 : (d == "F16" || d == "BF16") ? 2 : 0; }

bool finite_element(const std::string& dtype, const unsigned char* p) {
  if (dtype == "F32") {
    const uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return ((u >> 23) & 0xff) != 0xff;
  }
  const uint16_t h = (uint16_t)(p[0] | p[1] << 8);
  if (dtype == "F16") return ((h >> 10) & 0x1f) != 0x1f;
  return ((h >> 7) & 0xff) != 0xff;  // BF16
}

}  // namespace

std::optional<Json> parse_json(const std::string& text, int max_depth, std::string* why, bool trailing_ws) {
  Parser p{text, 0, max_depth, ""};
  Json v;
  if (!p.value(v, 0)) {
    *why = p.err;
    return std::nullopt;
  }
  if (trailing_ws) p.ws();
  if (p.i != text.size()) {
    *why = "trailing characters after the JSON value";
    return std::nullopt;
  }
  return v;
}

File check_safetensors(const std::string& b) {
  File f;
  auto problem = [&](const std::string& blame, const std::string& what) { f.problems.push_back({blame, what}); };
  auto done = [&]() -> File {
    f.ok = f.problems.empty();
    if (!f.ok) f.tensors.clear(), f.metadata.clear();
    return f;
  };
  if (b.size() < 8) return problem("", "shorter than 8 bytes"), done();
  uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = n << 8 | (unsigned char)b[k];
  if (n > (100ull << 20)) return problem("", "header over 100 MB"), done();
  if (n > b.size() - 8) return problem("", "header past the end"), done();
  const std::string h = b.substr(8, n);
  const uint64_t data_size = b.size() - 8 - n;
  // The spec: the header starts with '{'; it may be padded at the end with spaces (0x20) only.
  if (h.empty() || h[0] != '{') return problem("", "header does not start with '{'"), done();
  size_t e = h.size();
  while (e > 0 && h[e - 1] == ' ') --e;
  std::string why;
  // Only spaces may follow the JSON: the value must end where the spaces begin (no \n, \t, \r).
  const std::optional<Json> j = parse_json(h.substr(0, e), 3, &why, /*trailing_ws=*/false);
  if (!j) return problem("", "header JSON: " + why), done();
  if (j->kind != Json::Obj) return problem("", "header not an object"), done();
  std::string dup;
  if (find_duplicate(*j, &dup)) problem(dup, "duplicate key");
  for (const auto& [name, v] : j->obj) {
    if (name == "__metadata__") {
      if (v.kind != Json::Obj) {
        problem("", "metadata not an object");
        continue;
      }
      for (const auto& [k, m] : v.obj) {
        if (m.kind != Json::Str) problem("", "metadata value not a string");
        else f.metadata[k] = m.s;
      }
      continue;
    }
    auto bad = [&](const std::string& w) { problem(name, w); };
    if (name.empty()) {
      bad("empty name");
      continue;
    }
    if (v.kind != Json::Obj) {
      bad("entry not an object");
      continue;
    }
    bool entry_ok = true;
    for (const auto& [k, m] : v.obj)
      if (k != "dtype" && k != "shape" && k != "data_offsets") bad("unknown field " + k), entry_ok = false;
    const Json* dt = field(v, "dtype");
    const Json* sh = field(v, "shape");
    const Json* off = field(v, "data_offsets");
    Tensor t;
    t.name = name;
    if (!dt || dt->kind != Json::Str || !dtype_bytes(dt->s)) {
      bad("dtype");
      entry_ok = false;
    } else {
      t.dtype = dt->s;
    }
    if (!sh || sh->kind != Json::Arr) {
      bad("shape");
      entry_ok = false;
    } else {
      for (const Json& s : sh->arr) {
        if (s.kind != Json::UInt || s.u > (uint64_t)INT64_MAX) {
          bad("shape element");
          entry_ok = false;
          break;
        }
        t.shape.push_back((long long)s.u);
      }
    }
    if (!off || off->kind != Json::Arr || off->arr.size() != 2 || off->arr[0].kind != Json::UInt ||
        off->arr[1].kind != Json::UInt) {
      bad("data_offsets");
      entry_ok = false;
    } else {
      t.begin = off->arr[0].u, t.end = off->arr[1].u;
      if (t.begin > t.end) bad("begin after end"), entry_ok = false;
      else if (t.end > data_size) bad("past the data section"), entry_ok = false;
    }
    if (!entry_ok) continue;
    // Byte size with the same 2^62 cap the loader states (dims after a zero still count).
    unsigned __int128 sz = dtype_bytes(t.dtype);
    bool zero = false, too_big = false;
    for (long long s : t.shape) {
      if (s == 0) zero = true;
      else sz *= (unsigned __int128)s;
      if (sz > ((unsigned __int128)1 << 62)) {
        too_big = true;
        break;
      }
    }
    if (too_big) {
      bad("too large");
      continue;
    }
    if ((zero ? 0 : (uint64_t)sz) != t.end - t.begin) {
      bad("byte length");
      continue;
    }
    t.bytes = b.substr(8 + n + t.begin, t.end - t.begin);
    f.tensors.push_back(std::move(t));
  }
  if (!f.problems.empty()) return done();
  // The tensors tile the data section: no gap, no overlap, nothing after the last one.
  std::vector<const Tensor*> byoff;
  for (const Tensor& t : f.tensors) byoff.push_back(&t);
  std::sort(byoff.begin(), byoff.end(), [](const Tensor* a, const Tensor* c) {
    return a->begin != c->begin ? a->begin < c->begin : a->end < c->end;
  });
  uint64_t cursor = 0;
  for (const Tensor* t : byoff) {
    if (t->begin != cursor) return problem("", "gap or overlap"), done();
    cursor = t->end;
  }
  if (cursor != data_size) return problem("", "trailing bytes"), done();
  // Values last: a loader reads them only once the layout is sound.
  for (const Tensor& t : f.tensors) {
    const size_t es = dtype_bytes(t.dtype);
    for (size_t k = 0; k + es <= t.bytes.size(); k += es)
      if (!finite_element(t.dtype, reinterpret_cast<const unsigned char*>(t.bytes.data()) + k)) {
        problem(t.name, "non-finite");
        break;
      }
  }
  if (!f.problems.empty()) return done();
  std::sort(f.tensors.begin(), f.tensors.end(), [](const Tensor& a, const Tensor& c) { return a.name < c.name; });
  return done();
}

Index check_index(const std::string& text) {
  Index x;
  // nlohmann (like most JSON parsers) skips a UTF-8 byte order mark at the start; RFC 8259 allows it.
  const std::string bytes = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? text.substr(3) : text;
  auto problem = [&](const std::string& blame, const std::string& what) {
    x.problems.push_back({blame, what});
    x.ok = false;
    return x;
  };
  std::string why;
  const std::optional<Json> j = parse_json(bytes, 64, &why);
  if (!j) return problem("", "index JSON: " + why);
  std::string dup;
  if (find_duplicate(*j, &dup)) return problem(dup, "duplicate key");
  if (j->kind != Json::Obj) return problem("", "not an object");
  const Json* wm = field(*j, "weight_map");
  if (!wm || wm->kind != Json::Obj) return problem("", "no weight_map");
  if (wm->obj.empty()) return problem("", "empty weight_map");
  // Every entry is checked (a loader may meet them in another order, so all are blamed).
  for (const auto& [k, v] : wm->obj) {
    if (v.kind != Json::Str) {
      x.problems.push_back({k, "not a string"});
      continue;
    }
    const std::string& f = v.s;
    if (f.empty() || f.find('\0') != std::string::npos || f[0] == '/') {
      x.problems.push_back({k, "bad file name"});
      continue;
    }
    size_t s = 0;
    bool escapes = false;
    while (s <= f.size()) {
      const size_t e = std::min(f.find('/', s), f.size());
      const std::string part = f.substr(s, e - s);
      escapes |= part.empty() || part == "." || part == "..";
      s = e + 1;
    }
    if (escapes) x.problems.push_back({k, "escapes the folder"});
    else x.weight_map[k] = f;
  }
  x.ok = x.problems.empty();
  if (!x.ok) x.weight_map.clear();
  return x;
}

}  // namespace fuzzref
