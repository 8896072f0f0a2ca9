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

#include <nlohmann/json.hpp>

#include "runtime/jit/atomic_file.h"

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
}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  auto fail = [&](const std::string& what) -> void { throw SafetensorsError(path + ": " + what); };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    fail(std::string("cannot stat: ") + std::strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    fail("is a directory, not a .safetensors file");
  }
  size_ = (size_t)st.st_size;
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
    nlohmann::json h;
    try {
      h = nlohmann::json::parse(reinterpret_cast<const char*>(base + 8), reinterpret_cast<const char*>(base + 8 + n));
    } catch (const nlohmann::json::parse_error& e) {
      fail(std::string("header is not valid JSON: ") + e.what());
    }
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
      auto tfail = [&](const std::string& what) { fail("tensor '" + name + "': " + what); };
      const nlohmann::json& e = *it;
      if (!e.is_object()) tfail("entry is not an object");
      TensorInfo t;
      t.name = name;
      if (!e.contains("dtype") || !e["dtype"].is_string()) tfail("missing or non-string 'dtype'");
      const std::string ds = e["dtype"].get<std::string>();
      if (!parse_dtype(ds, &t.dtype)) tfail("unsupported dtype '" + ds + "' (supported: F32, F16, BF16)");
      if (!e.contains("shape") || !e["shape"].is_array()) tfail("missing or non-array 'shape'");
      for (const auto& s : e["shape"]) {
        if (!s.is_number_integer() || s.get<long long>() < 0) tfail("shape " + e["shape"].dump() + " is not a list of non-negative integers");
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
      t.begin = (size_t)b, t.end = (size_t)en;
      // numel x size without overflow
      long double want = dtype_size(t.dtype);
      for (long long s : t.shape) want *= (long double)s;
      if (want != (long double)(en - b))
        tfail("data_offsets " + off.dump() + " span " + std::to_string(en - b) + " bytes, but " + ds + " " +
              shape_str(t.shape) + " needs " + std::to_string((unsigned long long)want));
      tensors_.push_back(std::move(t));
    }
    std::sort(tensors_.begin(), tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    for (size_t i = 1; i < tensors_.size(); ++i)
      if (tensors_[i].begin < tensors_[i - 1].end && tensors_[i].end > tensors_[i].begin)
        fail("tensors '" + tensors_[i - 1].name + "' and '" + tensors_[i].name + "' overlap in the data section");
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
