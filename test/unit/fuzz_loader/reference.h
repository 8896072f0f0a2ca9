// An independent, deliberately simple reading of the safetensors spec (and of moga's stricter policy:
// F32/F16/BF16 only, no unknown fields, finite values, index files confined to their folder), used
// by fuzz_loader as the oracle: for any bytes it says whether a correct loader must accept them and,
// if so, exactly which tensors and bytes they hold. It shares no code with runtime/model (its own
// JSON parser, its own checks), so a bug in the loader is not mirrored here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fuzzref {

struct Tensor {
  std::string name, dtype;  // "F32", "F16", "BF16"
  std::vector<long long> shape;
  uint64_t begin = 0, end = 0;
  std::string bytes;  // the data
};

struct Problem {
  std::string blame;  // the tensor (or key) at fault, "" for a file-level problem
  std::string what;
};

struct File {
  bool ok = false;
  std::vector<Problem> problems;  // !ok: at least one
  std::vector<Tensor> tensors;    // ok: sorted by name
  std::map<std::string, std::string> metadata;
};

// The verdict on a whole safetensors file (its bytes), including the finite-values policy.
File check_safetensors(const std::string& bytes);

struct Index {
  bool ok = false;
  std::vector<Problem> problems;
  std::map<std::string, std::string> weight_map;  // tensor -> file name as written
};

// The verdict on an index file's bytes alone (JSON, weight_map, names confined to the folder); the
// shards' agreement is checked by the caller with the shards' verdicts.
Index check_index(const std::string& bytes);

// A minimal JSON value, enough for the checks above (exposed for the fuzzer's own writer tests).
struct Json {
  enum Kind { Null, Bool, UInt, Int, Float, Str, Arr, Obj } kind = Null;
  uint64_t u = 0;
  std::string s;
  std::vector<Json> arr;
  std::vector<std::pair<std::string, Json>> obj;  // in file order, duplicates kept
};
// Parses exactly one JSON value spanning all of `text` (RFC 8259; containers nested at most
// max_depth + 1 levels, the root at depth 0). nullopt on any error, with *why.
// trailing_ws: JSON whitespace may follow the value (true for ordinary JSON files).
std::optional<Json> parse_json(const std::string& text, int max_depth, std::string* why, bool trailing_ws = true);

}  // namespace fuzzref
