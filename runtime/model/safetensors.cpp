#include "runtime/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "runtime/jit/atomic_file.h"
#include "runtime/jit/safe_file.h"

namespace moga::model {

// ---- dtypes -----------------------------------------------------------------------------------------

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
  }
  return "?";
}

size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 2; }

bool parse_dtype(const std::string& s, DType* out) {
  if (s == "F32") *out = DType::F32;
  else if (s == "F16") *out = DType::F16;
  else if (s == "BF16") *out = DType::BF16;
  else return false;
  return true;
}

float bf16_to_f32(uint16_t h) {
  const uint32_t u = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // NaN stays a (quiet) NaN
  u += 0x7fffu + ((u >> 16) & 1u);                                          // round to nearest even
  return (uint16_t)(u >> 16);
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  uint32_t u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else {  // subnormal: normalise
      int e = -1;
      uint32_t m = man;
      do {
        ++e;
        m <<= 1;
      } while (!(m & 0x400u));
      u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((m & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | (man << 13);
  } else {
    u = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00u;            // NaN
  if (a >= 0x477ff000u) return sign | 0x7c00u;           // >= 65520 rounds to inf (and inf)
  if (a < 0x38800000u) {                                 // below the smallest normal (2^-14)
    if (a < 0x33000000u) return sign;                    // < 2^-25: rounds to 0
    const uint32_t e = a >> 23;
    const uint32_t m = (a & 0x7fffffu) | 0x800000u;
    const int shift = 126 - (int)e;                      // 14 + (127 - e) - 1 + 10 ... -> subnormal
    const uint32_t v = m >> (shift - 0);
    // m * 2^(e-127-23) / 2^-24 = m >> (126 - e): keep round-to-nearest-even on the dropped bits
    const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    uint32_t r = v;
    if (rem > half || (rem == half && (v & 1u))) ++r;
    return sign | (uint16_t)r;
  }
  uint32_t r = a - 0x38000000u;  // rebias exponent 127 -> 15
  r += 0xfffu + ((r >> 13) & 1u);
  return sign | (uint16_t)(r >> 13);
}

void convert_to_f32(DType t, const void* src, float* dst, size_t n) {
  if (n == 0) return;  // an empty tensor: dst may be a null data() (memcpy must not see it, UBSan)
  switch (t) {
    case DType::F32: std::memcpy(dst, src, n * 4); break;
    case DType::BF16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, s + i, 2);
        dst[i] = bf16_to_f32(h);
      }
      break;
    }
    case DType::F16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, s + i, 2);
        dst[i] = f16_to_f32(h);
      }
      break;
    }
  }
}

void convert_from_f32(DType t, const float* src, void* dst, size_t n) {
  if (n == 0) return;
  switch (t) {
    case DType::F32: std::memcpy(dst, src, n * 4); break;
    case DType::BF16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
      break;
    }
    case DType::F16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = f32_to_f16(src[i]);
      break;
    }
  }
}

std::string shape_str(const std::vector<long long>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// ---- reader -----------------------------------------------------------------------------------------

namespace {
// Headers larger than this are rejected (the format's own limit is 100 MB).
constexpr uint64_t kMaxHeader = 100ull << 20;
// A checkpoint's file may be large (wan-14b in f32 is 57 GB) but not absurd: 1 TiB.
constexpr uint64_t kMaxFile = 1ull << 40;
// Valid headers nest three deep: {tensor: {"shape": [..]}}.
constexpr int kMaxDepth = 3;

[[noreturn]] void fail_at(const std::string& path, const std::string& what) { throw SafetensorsError(path + ": " + what); }

// The header's bytes [0, n): the spec says it starts with '{' and may be padded at the end with
// spaces (0x20) only, so the data section stays aligned. Returns the length of the JSON text
// without the padding. Anything else (NUL padding, a newline, a length that cuts into the JSON) is
// an error: a length field a few bytes short would otherwise still parse and shift every tensor.
size_t header_json_length(const std::string& path, const uint8_t* h, size_t n) {
  if (n == 0) fail_at(path, "empty header (header length 0)");
  for (size_t i = 0; i < n; ++i)
    if (h[i] == 0)
      fail_at(path, fmt::format("header byte {} of {} is NUL (only spaces may pad the header; wrong header length?)", i, n));
  if (h[0] != '{')
    fail_at(path, fmt::format("header does not start with '{{' (byte 0x{:02x}): not a safetensors file?", h[0]));
  size_t end = n;
  while (end > 0 && h[end - 1] == ' ') --end;
  if (h[end - 1] != '}')
    fail_at(path, fmt::format("header of {} bytes does not end with '}}' followed only by spaces (last byte 0x{:02x} at "
                              "offset {}): wrong header length, or padding other than spaces",
                              n, h[end - 1], end - 1));
  return end;
}

// JSON with every object's keys unique (the spec disallows duplicate keys; nlohmann would keep the
// last one silently, so two 'blocks.0.ffn.0.weight' entries would load whichever comes last) and no
// nesting deeper than max_depth. `what` names the file in errors.
nlohmann::json parse_unique_keys(const char* begin, const char* end, const std::string& what, int max_depth) {
  std::vector<std::set<std::string>> seen;  // the keys of each open object
  std::vector<std::string> names;           // the key each open object sits under ("" for the root)
  std::string last_key, problem;
  auto cb = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) -> bool {
    using E = nlohmann::json::parse_event_t;
    if (problem.empty() && depth > max_depth && (ev == E::object_start || ev == E::array_start))
      problem = fmt::format("header nests deeper than {} levels (under '{}')", max_depth, last_key);
    if (ev == E::object_start) {
      seen.emplace_back();
      names.push_back(seen.size() == 1 ? "" : last_key);
    } else if (ev == E::object_end) {
      if (!seen.empty()) seen.pop_back(), names.pop_back();
    } else if (ev == E::key) {
      last_key = parsed.is_string() ? parsed.get<std::string>() : "";
      if (!seen.empty() && !seen.back().insert(last_key).second && problem.empty())
        problem = names.back().empty() ? fmt::format("key '{}' appears twice", last_key)
                                       : fmt::format("key '{}' appears twice in '{}'", last_key, names.back());
    }
    return true;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(begin, end, cb);
  } catch (const nlohmann::json::exception& e) {
    throw SafetensorsError(what + ": not valid JSON: " + e.what());
  }
  if (!problem.empty()) throw SafetensorsError(what + ": " + problem);
  return j;
}

// numel x dtype size, or false when the product does not fit in 62 bits (no real tensor is that big;
// checking here keeps numel() and every later size computation free of overflow).
bool byte_size(const std::vector<long long>& shape, size_t elem, uint64_t* bytes) {
  unsigned __int128 n = elem;
  bool zero = false;
  for (long long s : shape) {
    if (s == 0) zero = true;
    else n *= (unsigned __int128)s;
    if (n > ((unsigned __int128)1 << 62)) return false;
  }
  *bytes = zero ? 0 : (uint64_t)n;
  return true;
}

}  // namespace

nlohmann::json parse_json_unique_keys(const std::string& text, const std::string& what) {
  return parse_unique_keys(text.data(), text.data() + text.size(), what, 64);
}

TensorInfo SafetensorsFile::parse_tensor(const std::string& name, const nlohmann::json& e) const {
  auto tfail = [&](const std::string& what) { fail_at(path_, "tensor '" + name + "': " + what); };
  if (name.empty()) tfail("empty tensor name");
  if (!e.is_object()) tfail("entry is not an object");
  for (auto f = e.begin(); f != e.end(); ++f)
    if (f.key() != "dtype" && f.key() != "shape" && f.key() != "data_offsets") tfail("unknown field '" + f.key() + "'");
  TensorInfo t;
  t.name = name;
  if (!e.contains("dtype") || !e["dtype"].is_string()) tfail("missing or non-string 'dtype'");
  const std::string ds = e["dtype"].get<std::string>();
  if (!parse_dtype(ds, &t.dtype)) tfail("unsupported dtype '" + ds + "' (supported: F32, F16, BF16)");
  if (!e.contains("shape") || !e["shape"].is_array()) tfail("missing or non-array 'shape'");
  for (const auto& s : e["shape"]) {
    if (!s.is_number_unsigned() || s.get<uint64_t>() > (uint64_t)std::numeric_limits<long long>::max())
      tfail("shape " + e["shape"].dump() + " is not a list of non-negative integers");
    t.shape.push_back(s.get<long long>());
  }
  if (!e.contains("data_offsets") || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2)
    tfail("missing 'data_offsets' [begin, end]");
  const auto& off = e["data_offsets"];
  if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    tfail("data_offsets " + off.dump() + " are not non-negative integers");
  const uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
  if (b > en) tfail("data_offsets " + off.dump() + ": begin after end");
  if (en > data_size_)
    tfail("data_offsets " + off.dump() + " out of range: the data section has " + std::to_string(data_size_) +
          " bytes (truncated file?)");
  uint64_t want = 0;
  if (!byte_size(t.shape, dtype_size(t.dtype), &want)) tfail("shape " + shape_str(t.shape) + " is too large");
  if (want != en - b)
    tfail("data_offsets " + off.dump() + " span " + std::to_string(en - b) + " bytes, but " + ds + " " +
          shape_str(t.shape) + " needs " + std::to_string(want));
  t.begin = (size_t)b, t.end = (size_t)en;
  return t;
}

// The tensors, sorted by offset, must tile the data section exactly: no gap, no overlap, nothing
// after the last one (the spec: "the byte buffer needs to be entirely indexed, and cannot contain
// holes"). A gap or trailing bytes mean the header and the data disagree (a wrong header length
// shifts every tensor by the difference), so the file is refused rather than read at an offset.
void SafetensorsFile::check_coverage() const {
  size_t cursor = 0;
  const TensorInfo* prev = nullptr;
  for (const TensorInfo& t : tensors_) {
    if (t.begin < cursor)
      fail_at(path_, fmt::format("tensors '{}' and '{}' overlap in the data section (bytes {}-{} and {}-{})", prev->name,
                                 t.name, prev->begin, prev->end, t.begin, t.end));
    if (t.begin > cursor)
      fail_at(path_, fmt::format("bytes {}-{} of the data section belong to no tensor (a gap {}tensor '{}')", cursor,
                                 t.begin, prev ? "after tensor '" + prev->name + "', before " : "before ", t.name));
    cursor = t.end;
    prev = &t;
  }
  if (cursor != data_size_)
    fail_at(path_, fmt::format("{} byte(s) after the end of the last tensor{} (the data section has {} bytes, the tensors "
                               "cover {}): trailing bytes, or a header length that is too short",
                               data_size_ - cursor, prev ? " ('" + prev->name + "')" : "", data_size_, cursor));
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  auto fail = [&](const std::string& what) -> void { fail_at(path, what); };
  // stat before open: a FIFO or a device given as a checkpoint is refused instead of blocking or
  // reading forever.
  jit::RegularFile rf = jit::open_regular_file(path, kMaxFile);
  if (rf.status == jit::RegularFile::Status::Missing) fail("cannot open: no such file or directory");
  if (rf.status != jit::RegularFile::Status::Ok) fail(rf.why + (rf.status == jit::RegularFile::Status::NotRegular ? " (a .safetensors file is expected)" : ""));
  const int fd = rf.fd;
  size_ = (size_t)rf.size;
  if (size_ < 8) {
    ::close(fd);
    fail("truncated: " + std::to_string(size_) + " bytes, shorter than the 8-byte header length");
  }
  map_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    fail(std::string("mmap failed: ") + std::strerror(errno));
  }
  try {
    const uint8_t* base = static_cast<const uint8_t*>(map_);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | base[i];  // little-endian
    if (n > kMaxHeader) fail("bad header length " + std::to_string(n) + " (more than 100 MB: not a safetensors file?)");
    if (8 + n > size_)
      fail("bad header length " + std::to_string(n) + ": the file has only " + std::to_string(size_ - 8) +
           " bytes after the length (truncated?)");
    data_ = base + 8 + n;
    data_size_ = size_ - 8 - n;
    const size_t json_len = header_json_length(path, base + 8, (size_t)n);
    const char* hb = reinterpret_cast<const char*>(base + 8);
    const nlohmann::json h = parse_unique_keys(hb, hb + json_len, path + ": header", kMaxDepth);
    if (!h.is_object()) fail("header is not a JSON object");
    for (auto it = h.begin(); it != h.end(); ++it) {
      const std::string& name = it.key();
      if (name == "__metadata__") {
        if (!it->is_object()) fail("__metadata__ is not an object");
        for (auto m = it->begin(); m != it->end(); ++m) {
          if (!m->is_string()) fail("__metadata__['" + m.key() + "'] is not a string");
          metadata_[m.key()] = m->get<std::string>();
        }
        continue;
      }
      tensors_.push_back(parse_tensor(name, *it));
    }
    std::sort(tensors_.begin(), tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    check_coverage();
    for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
  } catch (...) {
    ::munmap(map_, size_);
    map_ = nullptr;
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, size_);
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) throw SafetensorsError(path_ + ": no tensor '" + name + "'");
  return tensors_[it->second];
}

void SafetensorsFile::read_f32(const std::string& name, float* dst) const {
  const TensorInfo& t = info(name);
  convert_to_f32(t.dtype, data_ + t.begin, dst, (size_t)t.numel());
}

std::vector<float> SafetensorsFile::to_f32(const std::string& name) const {
  const TensorInfo& t = info(name);
  std::vector<float> v((size_t)t.numel());
  convert_to_f32(t.dtype, data_ + t.begin, v.data(), v.size());
  return v;
}

std::vector<float> SafetensorsFile::to_f32_finite(const std::string& name) const {
  std::vector<float> v = to_f32(name);
  check_finite(v.data(), v.size(), path_ + ": tensor '" + name + "'");
  return v;
}

void check_finite(const float* v, size_t n, const std::string& where) {
  for (size_t i = 0; i < n; ++i) {
    if (std::isfinite(v[i])) continue;
    size_t bad = 0;
    for (size_t j = i; j < n; ++j) bad += !std::isfinite(v[j]);
    throw SafetensorsError(fmt::format("{}: element {} of {} is {} ({} non-finite value(s)); NaN and inf are refused at load",
                                       where, i, n, std::isnan(v[i]) ? "NaN" : (v[i] > 0 ? "inf" : "-inf"), bad));
  }
}

// ---- writer -----------------------------------------------------------------------------------------

void write_safetensors(const std::string& path, const std::vector<TensorWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json h = nlohmann::json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  size_t off = 0;
  for (const TensorWrite& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__") throw SafetensorsError(path + ": bad tensor name '" + t.name + "'");
    if (h.contains(t.name)) throw SafetensorsError(path + ": tensor '" + t.name + "' written twice");
    if (!t.fill && !t.data && t.numel() > 0) throw SafetensorsError(path + ": tensor '" + t.name + "' has no data");
    const size_t bytes = (size_t)t.numel() * dtype_size(t.dtype);
    h[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {off, off + bytes}}};
    off += bytes;
  }
  std::string header = h.dump();
  while ((8 + header.size()) % 8) header.push_back(' ');  // align the data section (as safetensors does)
  jit::AtomicFile f(path);
  uint8_t len[8];
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) len[i] = (uint8_t)(n >> (8 * i));
  f.write(len, 8);
  f.write(header.data(), header.size());
  std::vector<float> buf;
  std::vector<uint8_t> out;
  for (const TensorWrite& t : tensors) {
    const size_t n_el = (size_t)t.numel();
    const float* src = t.data;
    if (t.fill) {
      buf.assign(n_el, 0.f);
      t.fill(buf.data());
      src = buf.data();
    }
    if (t.dtype == DType::F32) {
      f.write(src, n_el * 4);
    } else {
      out.resize(n_el * 2);
      convert_from_f32(t.dtype, src, out.data(), n_el);
      f.write(out.data(), out.size());
    }
  }
  f.commit();
}

}  // namespace moga::model
