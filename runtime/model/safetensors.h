// safetensors (https://github.com/huggingface/safetensors, format: 8-byte little-endian header length
// N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {}},
// then the data) — a reader over mmap and an atomic writer. The CPU backend converts BF16 / F16 / F32
// to float32. Every error is a SafetensorsError whose message names the file and, where there is one,
// the tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace moga::model {

class SafetensorsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class DType { F32, F16, BF16 };
const char* dtype_name(DType t);         // "F32", "F16", "BF16" (the format's spelling)
size_t dtype_size(DType t);
bool parse_dtype(const std::string& s, DType* out);  // false for anything else (also "F64", "I8", ...)

// Scalar conversions (round to nearest even; NaN stays NaN, overflow to F16 gives inf).
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
// n elements of `t` at src -> float32, and back.
void convert_to_f32(DType t, const void* src, float* dst, size_t n);
void convert_from_f32(DType t, const float* src, void* dst, size_t n);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<long long> shape;
  size_t begin = 0, end = 0;  // byte offsets into the data section
  long long numel() const {
    long long n = 1;
    for (long long s : shape) n *= s;
    return n;
  }
};
std::string shape_str(const std::vector<long long>& s);  // "[1536, 16, 1, 2, 2]"

class SafetensorsFile {
 public:
  // Opens only a regular file (stat first: a FIFO or a device is refused, never blocked on), maps it
  // and validates the header completely, as the format's spec says: header length within the file,
  // the header a JSON object starting with '{' and padded with spaces only (no NUL), no key twice,
  // known dtype strings, shapes of non-negative integers (byte size below 2^62), offsets inside the
  // data section, a byte length equal to numel x dtype size, and the tensors tiling the data
  // section exactly (no gap, no overlap, no trailing byte).
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in file order
  bool has(const std::string& name) const { return index_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;  // throws naming file and tensor
  const uint8_t* data(const TensorInfo& t) const { return data_ + t.begin; }
  // The tensor as float32 (numel values, row-major).
  std::vector<float> to_f32(const std::string& name) const;
  void read_f32(const std::string& name, float* dst) const;
  // As to_f32, but refuses NaN / inf (check_finite), naming the file and the tensor.
  std::vector<float> to_f32_finite(const std::string& name) const;

 private:
  TensorInfo parse_tensor(const std::string& name, const nlohmann::json& entry) const;
  void check_coverage() const;
  std::string path_;
  void* map_ = nullptr;
  size_t size_ = 0;
  const uint8_t* data_ = nullptr;
  size_t data_size_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Throws SafetensorsError "<where>: element i of n is NaN ..." at the first non-finite value.
// Weights and contexts are checked at load: a NaN found after sampling names no tensor.
void check_finite(const float* v, size_t n, const std::string& where);

// JSON whose objects have no key twice (nlohmann would keep the last one silently); `what` names the
// file in the SafetensorsError. For the headers and the sharded checkpoints' index files.
nlohmann::json parse_json_unique_keys(const std::string& text, const std::string& what);

// Writer: tensors are produced one at a time (fill writes numel float32 values and is converted to
// `dtype`), so a multi-GB checkpoint needs memory for one tensor only. Written to a temp name in the
// destination folder and renamed at the end: nothing half-written is ever visible under `path`.
struct TensorWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<long long> shape;
  std::function<void(float* dst)> fill;  // or
  const float* data = nullptr;           // numel values
  long long numel() const {
    long long n = 1;
    for (long long s : shape) n *= s;
    return n;
  }
};
void write_safetensors(const std::string& path, const std::vector<TensorWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace moga::model
