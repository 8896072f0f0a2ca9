// fuzz_loader: a fixed-seed fuzzer for the checkpoint loader (runtime/model: SafetensorsFile and
// Checkpoint with sharded index files).
//
// Each input starts as a valid small checkpoint written by the fuzzer's own safetensors writer (1-5
// tensors, F32/F16/BF16, shapes of rank 0-3, random key and field order, random padding), then gets
// 0-3 mutations: structural ones (duplicate keys, dtypes, shapes, offsets, unknown fields, NaN / inf
// payloads, empty names, bad metadata) and byte-level ones (header length +-k or random, flipped,
// inserted or deleted header bytes, NUL / newline padding, trailing bytes, truncation). A third of
// the inputs are sharded checkpoints (two or three shards and a *.safetensors.index.json) whose index
// is mutated too (../ and absolute paths, wrong or missing entries, duplicate keys, byte flips).
//
// The oracle is reference.h, an independent reading of the spec and of moga's policy. For every input:
//   - no crash, no hang (an alarm ends the process after --hang-seconds; the input is on disk);
//   - the reference rejects -> the loader rejects, naming the file (and the tensor or key, when every
//     problem the reference found is in one tensor);
//   - the reference accepts -> the loader accepts and returns exactly the reference's tensors (names,
//     dtypes, shapes, offsets, bytes, metadata). An unmutated input must be accepted with exactly the
//     meaning it was written with.
// Failing inputs are saved under --save DIR (one folder each) for the regression corpus.
//
//   fuzz_loader [--seed S] [--iterations N] [--work DIR] [--save DIR] [--hang-seconds T] [--quiet]
//   fuzz_loader --replay PATH...   (files: single-file inputs; folders: sharded inputs; a folder of
//                                   such entries is walked)
// Exit status 0 when every input passed, 1 otherwise.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "runtime/model/safetensors.h"
#include "runtime/model/weights.h"
#include "test/unit/fuzz_loader/reference.h"

namespace fs = std::filesystem;
using moga::model::Checkpoint;
using moga::model::SafetensorsFile;

namespace {

// ---- a small deterministic RNG (splitmix64: the same stream everywhere) ----
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }
  bool chance(int percent) { return (int)below(100) < percent; }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }
};

std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}
void write_file(const std::string& p, const std::string& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(b.data(), (std::streamsize)b.size());
}

// ---- the writer: a checkpoint as entries, serialized with its exact bytes ----
struct Entry {
  std::string name, dtype;
  std::vector<long long> shape;
  uint64_t begin = 0, end = 0;
  std::string data;
  std::string extra_field;  // raw `,"k":v` appended to the entry (a mutation)
};

struct Spec {
  std::vector<Entry> entries;  // header order (may hold duplicates after mutation)
  std::map<std::string, std::string> metadata;
  std::string raw_metadata;    // overrides metadata when set (a mutation)
  std::string data;            // the data section
  bool spaced = false;         // JSON with spaces after ':' and ','
  int pad = -1;                // spaces after the JSON; -1: to an 8-byte boundary
};

std::string json_str(const std::string& s) {
  std::string r = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') r += '\\', r += (char)c;
    else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      r += b;
    } else r += (char)c;
  }
  return r + "\"";
}

std::string serialize_header(const Spec& s, Rng& rng) {
  const std::string colon = s.spaced ? ": " : ":", comma = s.spaced ? ", " : ",";
  std::vector<std::string> parts;
  if (!s.raw_metadata.empty()) parts.push_back(json_str("__metadata__") + colon + s.raw_metadata);
  else if (!s.metadata.empty()) {
    std::string m = "{";
    bool first = true;
    for (const auto& [k, v] : s.metadata) m += (first ? "" : comma) + json_str(k) + colon + json_str(v), first = false;
    parts.push_back(json_str("__metadata__") + colon + m + "}");
  }
  for (const Entry& e : s.entries) {
    std::string shape = "[";
    for (size_t i = 0; i < e.shape.size(); ++i) shape += (i ? comma : "") + std::to_string(e.shape[i]);
    shape += "]";
    std::vector<std::string> f = {json_str("dtype") + colon + json_str(e.dtype), json_str("shape") + colon + shape,
                                  json_str("data_offsets") + colon + "[" + std::to_string(e.begin) + comma +
                                      std::to_string(e.end) + "]"};
    std::shuffle(f.begin(), f.end(), std::mt19937_64(rng.next()));
    std::string body = "{" + f[0] + comma + f[1] + comma + f[2] + e.extra_field + "}";
    parts.push_back(json_str(e.name) + colon + body);
  }
  std::shuffle(parts.begin(), parts.end(), std::mt19937_64(rng.next()));
  std::string h = "{";
  for (size_t i = 0; i < parts.size(); ++i) h += (i ? comma : "") + parts[i];
  h += "}";
  if (s.pad < 0) while ((8 + h.size()) % 8) h += ' ';
  else h += std::string((size_t)s.pad, ' ');
  return h;
}

std::string with_length(const std::string& header, uint64_t n) {
  std::string b(8, '\0');
  for (int i = 0; i < 8; ++i) b[i] = (char)(n >> (8 * i));
  return b + header;
}

std::string random_name(Rng& r, bool wan_only) {
  static const std::vector<std::string> wan = {
      "patch_embedding.weight", "head.head.bias", "head.modulation", "text_embedding.0.weight", "time_projection.1.bias"};
  static const std::vector<std::string> mods = {"self_attn.q.weight", "self_attn.k.bias", "cross_attn.o.weight",
                                                "ffn.0.weight", "norm3.bias", "modulation", "self_attn.router.weight"};
  if (wan_only || r.chance(60)) {
    if (r.chance(30)) return r.pick(wan);
    return "blocks." + std::to_string(r.below(40)) + "." + r.pick(mods);
  }
  static const std::vector<std::string> odd = {"w", "a.b", "\xc3\xa9t\xc3\xa9", "tab\there", "quote\"d", "back\\slash",
                                               "x", "__meta__", "0", "blocks.0.attn1.to_q.weight"};
  return r.pick(odd) + (r.chance(50) ? std::to_string(r.below(100)) : "");
}

std::string random_finite_data(Rng& r, const std::string& dtype, uint64_t numel) {
  std::string d;
  for (uint64_t i = 0; i < numel; ++i) {
    if (dtype == "F32") {
      float f = (float)((double)(r.next() >> 11) / 9007199254740992.0 * 8.0 - 4.0);
      char b[4];
      std::memcpy(b, &f, 4);
      d.append(b, 4);
    } else {
      uint16_t h = (uint16_t)r.next();
      if (dtype == "F16" && ((h >> 10) & 0x1f) == 0x1f) h &= 0xbfff;   // finite: clear an exponent bit
      if (dtype == "BF16" && ((h >> 7) & 0xff) == 0xff) h &= 0xbfff;
      d += (char)(h & 0xff), d += (char)(h >> 8);
    }
  }
  return d;
}

size_t elem_size(const std::string& d) { return d == "F32" ? 4 : 2; }

Spec random_spec(Rng& r, bool wan_only, std::set<std::string>* used) {
  Spec s;
  s.spaced = r.chance(30);
  const int n = 1 + (int)r.below(5);
  std::vector<Entry> es;
  for (int i = 0; i < n; ++i) {
    Entry e;
    do e.name = random_name(r, wan_only);
    while (used->count(e.name));
    used->insert(e.name);
    e.dtype = r.pick(std::vector<std::string>{"F32", "F16", "BF16"});
    const int rank = (int)r.below(4);
    uint64_t numel = 1;
    for (int k = 0; k < rank; ++k) {
      e.shape.push_back((long long)(r.chance(8) ? 0 : 1 + r.below(5)));
      numel *= (uint64_t)e.shape.back();
    }
    e.data = random_finite_data(r, e.dtype, numel);
    es.push_back(std::move(e));
  }
  // Data in a random order of tensors, contiguous.
  std::vector<size_t> order(es.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(r.next()));
  for (size_t i : order) {
    es[i].begin = s.data.size();
    s.data += es[i].data;
    es[i].end = s.data.size();
  }
  s.entries = std::move(es);
  if (r.chance(30)) s.metadata = {{"format", "pt"}, {"moga.seed", std::to_string(r.below(1000))}};
  return s;
}

// ---- mutations ----
// Structural ones edit the Spec before it is written; byte ones edit the written file.
const std::vector<std::string> kStructural = {"dup_key", "dtype", "shape", "offset", "nan_payload", "unknown_field",
                                              "empty_name", "metadata", "swap_offsets"};
const std::vector<std::string> kBytes = {"len_delta", "len_random", "flip_header", "flip_any", "set_special",
                                         "insert_header", "delete_header", "nul_pad", "newline_pad", "trailing",
                                         "truncate", "pad_more"};

void mutate_spec(Spec& s, const std::string& m, Rng& r) {
  if (s.entries.empty()) return;
  Entry& e = s.entries[r.below(s.entries.size())];
  if (m == "dup_key") {
    Entry d = e;
    if (r.chance(50) && s.entries.size() > 1) d = s.entries[r.below(s.entries.size())], d.name = e.name;
    s.entries.push_back(d);
  } else if (m == "dtype") {
    e.dtype = r.pick(std::vector<std::string>{"F64", "I8", "float32", "", "f32", "F16", "BF16", "F32", "U8", "BOOL"});
  } else if (m == "shape") {
    if (e.shape.empty() || r.chance(30)) e.shape.push_back((long long)r.below(3));
    else if (r.chance(20)) e.shape[r.below(e.shape.size())] = (long long)(r.next() >> (r.below(64)));
    else e.shape[r.below(e.shape.size())] += r.chance(50) ? 1 : -1;
  } else if (m == "offset") {
    uint64_t& o = r.chance(50) ? e.begin : e.end;
    const int k = 1 + (int)r.below(8);
    o = r.chance(50) ? o + k : (o >= (uint64_t)k ? o - k : o + k);
  } else if (m == "swap_offsets") {
    Entry& f = s.entries[r.below(s.entries.size())];
    std::swap(e.begin, f.begin), std::swap(e.end, f.end);
  } else if (m == "nan_payload") {
    const size_t es = elem_size(e.dtype);
    // An earlier mutation may have moved the offsets: poison only bytes that exist.
    if (e.end < e.begin || e.end - e.begin < es || e.end > s.data.size()) return;
    const size_t at = e.begin + es * r.below((e.end - e.begin) / es);
    if (e.dtype == "F32") {
      const uint32_t bits = r.chance(50) ? 0x7fc00000u : (r.chance(50) ? 0x7f800000u : 0xff800000u);
      std::memcpy(&s.data[at], &bits, 4);
    } else if (e.dtype == "F16") {
      const uint16_t bits = r.chance(50) ? 0x7e00 : 0xfc00;
      std::memcpy(&s.data[at], &bits, 2);
    } else {
      const uint16_t bits = r.chance(50) ? 0x7fc0 : 0x7f80;
      std::memcpy(&s.data[at], &bits, 2);
    }
  } else if (m == "unknown_field") {
    e.extra_field = r.pick(std::vector<std::string>{",\"offset\":7", ",\"dtype\":\"F32\"", ",\"shape\":[1]", ",\"x\":{}"});
  } else if (m == "empty_name") {
    e.name = "";
  } else if (m == "metadata") {
    s.raw_metadata = r.pick(std::vector<std::string>{"{\"a\":1}", "[]", "\"x\"", "{\"a\":\"b\",\"a\":\"c\"}", "{\"k\":\"v\"}",
                                                     "{\"deep\":{\"x\":[1]}}", "null"});
  }
}

void mutate_bytes(std::string& b, const std::string& m, Rng& r) {
  if (b.size() < 8) return;
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | (unsigned char)b[i];
  const size_t hlen = (size_t)std::min<uint64_t>(n, b.size() - 8);
  auto set_len = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) b[i] = (char)(v >> (8 * i));
  };
  static const std::string special = "{}[]\":, \n\t\\0123456789-.eE\x00\x7f\xff";
  if (m == "len_delta") {
    const int k = 1 + (int)r.below(8);
    set_len(r.chance(50) ? n + k : (n >= (uint64_t)k ? n - k : 0));
  } else if (m == "len_random") {
    set_len(r.chance(50) ? r.next() : r.below(b.size() + 16));
  } else if (m == "flip_header" && hlen) {
    b[8 + r.below(hlen)] ^= (char)(1u << r.below(8));
  } else if (m == "flip_any") {
    b[r.below(b.size())] ^= (char)(1u << r.below(8));
  } else if (m == "set_special" && hlen) {
    b[8 + r.below(hlen)] = special[r.below(special.size())];
  } else if (m == "insert_header") {
    const size_t at = 8 + r.below(hlen + 1);
    b.insert(at, 1, special[r.below(special.size())]);
    if (r.chance(70)) set_len(n + 1);  // keep the length consistent most of the time
  } else if (m == "delete_header" && hlen) {
    b.erase(8 + r.below(hlen), 1);
    if (r.chance(70)) set_len(n - 1);
  } else if (m == "nul_pad" || m == "newline_pad") {
    const char c = m == "nul_pad" ? '\0' : '\n';
    size_t i = 8 + hlen;
    bool any = false;
    while (i > 8 && b[i - 1] == ' ') b[--i] = c, any = true;
    if (!any) {
      const size_t k = 1 + r.below(4);
      b.insert(8 + hlen, k, c);
      set_len(n + k);
    }
  } else if (m == "trailing") {
    b.append(1 + r.below(16), (char)r.below(256));
  } else if (m == "truncate") {
    b.resize(r.below(b.size()));
  } else if (m == "pad_more") {
    const size_t k = 1 + r.below(9);
    b.insert(8 + hlen, k, ' ');
    set_len(n + k);  // valid: more space padding
  }
}

// ---- the checks ----
struct Stats {
  long inputs = 0, accepted = 0, rejected = 0, failures = 0, sharded = 0;
  long malformed_accepted = 0, wrong_content = 0, false_rejections = 0, unnamed = 0;
  std::map<std::string, long> mutations;
  double max_ms = 0;
};

bool has(const std::string& s, const std::string& t) { return s.find(t) != std::string::npos; }

// The tensor or key to name, when every problem the reference found is in the same one.
std::string single_blame(const std::vector<fuzzref::Problem>& ps) {
  std::string b;
  for (const auto& p : ps) {
    if (p.blame.empty()) return "";
    if (!b.empty() && p.blame != b) return "";
    b = p.blame;
  }
  return b;
}

std::string describe(const std::vector<fuzzref::Problem>& ps) {
  std::string r;
  for (const auto& p : ps) r += (r.empty() ? "" : "; ") + (p.blame.empty() ? "" : "'" + p.blame + "': ") + p.what;
  return r;
}

// Loads a single file as the runtime does (SafetensorsFile, every tensor as finite float32); returns
// "" when accepted, else the error message.
std::string load_single(const std::string& path, const fuzzref::File& ref, std::string* mismatch) {
  try {
    SafetensorsFile f(path);
    for (const auto& t : f.tensors()) (void)f.to_f32_finite(t.name);
    if (!ref.ok) return "";
    // Accepted: the same tensors, byte for byte, as the reference reads.
    std::vector<const moga::model::TensorInfo*> ts;
    for (const auto& t : f.tensors()) ts.push_back(&t);
    std::sort(ts.begin(), ts.end(), [](auto* a, auto* b) { return a->name < b->name; });
    if (ts.size() != ref.tensors.size()) *mismatch = "tensor count differs";
    for (size_t i = 0; mismatch->empty() && i < ts.size(); ++i) {
      const auto& a = *ts[i];
      const auto& b = ref.tensors[i];
      const std::string bytes(reinterpret_cast<const char*>(f.data(a)), a.end - a.begin);
      if (a.name != b.name || moga::model::dtype_name(a.dtype) != b.dtype || a.shape != b.shape || a.begin != b.begin ||
          a.end != b.end || bytes != b.bytes)
        *mismatch = "tensor '" + b.name + "' differs";
    }
    if (mismatch->empty() && f.metadata() != ref.metadata) *mismatch = "metadata differs";
    return "";
  } catch (const std::exception& e) {
    return e.what()[0] ? e.what() : "(empty message)";
  }
}

struct Checker {
  Stats st;
  std::string save_dir;
  bool quiet = false;

  void failure(const std::string& kind, const std::string& detail, const std::vector<std::string>& files, long id) {
    ++st.failures;
    std::fprintf(stderr, "fuzz_loader: FAIL input %ld: %s: %s\n", id, kind.c_str(), detail.c_str());
    if (save_dir.empty()) return;
    const fs::path d = fs::path(save_dir) / ("fail-" + std::to_string(id) + "-" + kind);
    fs::create_directories(d);
    for (const std::string& f : files) fs::copy_file(f, d / fs::path(f).filename(), fs::copy_options::overwrite_existing);
  }

  // One single-file input at `path`. `meaning`: for an unmutated input, the tensors it was written
  // with (the reference must agree, and so must the loader).
  void single(const std::string& path, long id, const std::vector<fuzzref::Tensor>* meaning) {
    const std::string bytes = read_file(path);
    const fuzzref::File ref = fuzzref::check_safetensors(bytes);
    if (meaning) {
      std::vector<fuzzref::Tensor> m = *meaning;
      std::sort(m.begin(), m.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
      bool same = ref.ok && m.size() == ref.tensors.size();
      for (size_t i = 0; same && i < m.size(); ++i)
        same = m[i].name == ref.tensors[i].name && m[i].bytes == ref.tensors[i].bytes && m[i].shape == ref.tensors[i].shape;
      if (!same) failure("oracle", "the reference does not read an unmutated file as written: " + describe(ref.problems), {path}, id);
    }
    std::string mismatch;
    const auto t0 = std::chrono::steady_clock::now();
    const std::string err = load_single(path, ref, &mismatch);
    st.max_ms = std::max(st.max_ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    judge(ref.ok, ref.problems, err, mismatch, {path}, id);
  }

  void judge(bool ref_ok, const std::vector<fuzzref::Problem>& problems, const std::string& err, const std::string& mismatch,
             const std::vector<std::string>& files, long id, const std::vector<std::string>& may_name = {}) {
    ++st.inputs;
    const bool accepted = err.empty();
    accepted ? ++st.accepted : ++st.rejected;
    if (!ref_ok && accepted) {
      ++st.malformed_accepted;
      failure("malformed_accepted", describe(problems), files, id);
    } else if (ref_ok && !accepted) {
      ++st.false_rejections;
      failure("false_rejection", err, files, id);
    } else if (ref_ok && !mismatch.empty()) {
      ++st.wrong_content;
      failure("wrong_content", mismatch, files, id);
    } else if (!accepted) {
      // Named: the file (any of the files at fault), and the tensor when it is the only one at fault.
      bool file_named = false;
      for (const std::string& f : may_name.empty() ? files : may_name) file_named |= has(err, f);
      const std::string blame = single_blame(problems);
      if (!file_named || (!blame.empty() && !has(err, "'" + blame + "'"))) {
        ++st.unnamed;
        failure("unnamed", err + " [reference: " + describe(problems) + "]", files, id);
      }
    }
  }
};

// ---- sharded inputs ----
// Mirrors Checkpoint's name rules on top of the reference verdicts (layout by name, ComfyUI prefix).
enum class Kind { Both, Wan, Diff, Neither };
Kind kind_of(const std::string& k) {
  const bool w = moga::model::wan_to_diffusers(k).has_value(), d = moga::model::diffusers_to_wan(k).has_value();
  if (w && d) return Kind::Both;
  if (w) return Kind::Wan;
  if (d) return Kind::Diff;
  for (const char* p : {"condition_embedder.", "proj_out.", "scale_shift_table"})
    if (k.rfind(p, 0) == 0) return Kind::Diff;
  for (const char* p : {".attn1.", ".attn2.", ".ffn.net.", ".scale_shift_table"})
    if (k.find(p) != std::string::npos) return Kind::Diff;
  return Kind::Neither;
}
std::string strip_prefix(const std::string& k) {
  const std::string p = "model.diffusion_model.";
  return k.rfind(p, 0) == 0 ? k.substr(p.size()) : k;
}

void sharded(Checker& c, const std::string& dir, long id) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  std::string index;
  for (const auto& f : files)
    if (f.size() > 23 && f.compare(f.size() - 23, 23, ".safetensors.index.json") == 0) index = f;
  if (index.empty()) return;
  // The reference verdict.
  bool ok = true;
  std::vector<fuzzref::Problem> problems;
  std::vector<std::string> may_name = {index};
  const fuzzref::Index ix = fuzzref::check_index(read_file(index));
  std::map<std::string, fuzzref::File> shards;  // path -> verdict
  if (!ix.ok) {
    ok = false, problems = ix.problems;
  } else {
    std::set<std::string> names;
    for (const auto& [t, f] : ix.weight_map) names.insert(f);
    for (const std::string& n : names) {
      const std::string p = (fs::path(index).parent_path() / n).string();
      may_name.push_back(p);
      struct stat sb;
      if (::stat(p.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        ok = false, problems.push_back({"", "shard " + n + " missing or not regular"});
        continue;
      }
      shards[p] = fuzzref::check_safetensors(read_file(p));
      if (!shards[p].ok) ok = false, problems.insert(problems.end(), shards[p].problems.begin(), shards[p].problems.end());
    }
    if (ok) {  // the index and the shards agree
      for (const auto& [t, n] : ix.weight_map) {
        const auto& ts = shards[(fs::path(index).parent_path() / n).string()].tensors;
        if (!std::any_of(ts.begin(), ts.end(), [&](const auto& x) { return x.name == t; }))
          ok = false, problems.push_back({"", "index lists " + t + " in a file without it"});
      }
      for (const auto& [p, f] : shards)
        for (const auto& t : f.tensors) {
          auto it = ix.weight_map.find(t.name);
          if (it == ix.weight_map.end() || (fs::path(index).parent_path() / it->second).string() != p)
            ok = false, problems.push_back({"", "shard tensor " + t.name + " not indexed there"});
        }
    }
    if (ok) {  // names: one layout, no Wan name twice
      bool wan = false, diff = false;
      for (const auto& [p, f] : shards)
        for (const auto& t : f.tensors) {
          const Kind k = kind_of(strip_prefix(t.name));
          wan |= k == Kind::Wan, diff |= k == Kind::Diff;
        }
      if (wan && diff) ok = false, problems.push_back({"", "mixed layouts"});
      std::set<std::string> seen;
      for (const auto& [p, f] : shards)
        for (const auto& t : f.tensors) {
          std::string w = strip_prefix(t.name);
          if (diff) {
            auto m = moga::model::diffusers_to_wan(w);
            if (!m) continue;
            w = *m;
          }
          if (ok && !seen.insert(w).second) ok = false, problems.push_back({"", "a Wan name twice"});
        }
    }
  }
  // The loader.
  std::string err, mismatch;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    Checkpoint ck(index);
    std::vector<float> buf;
    for (const auto& [wan, e] : ck.entries()) {
      const auto& info = ck.info(wan);
      buf.assign((size_t)info.numel(), 0.f);
      ck.read_f32(wan, buf.data());
      if (!ok) continue;
      // The same values as the reference's bytes, bit for bit.
      const fuzzref::Tensor* rt = nullptr;
      for (const auto& [p, f] : shards)
        for (const auto& t : f.tensors)
          if (t.name == e.original) rt = &t;
      if (!rt) {
        mismatch = "tensor '" + e.original + "' is not in the reference";
        continue;
      }
      std::vector<float> want(buf.size());
      moga::model::DType dt;
      moga::model::parse_dtype(rt->dtype, &dt);
      if (rt->bytes.size() != want.size() * moga::model::dtype_size(dt)) {
        mismatch = "tensor '" + e.original + "' size differs";
        continue;
      }
      moga::model::convert_to_f32(dt, rt->bytes.data(), want.data(), want.size());
      // (an empty tensor's vectors have no data pointer: memcmp must not see them)
      if ((!want.empty() && std::memcmp(want.data(), buf.data(), want.size() * 4) != 0) || info.shape != rt->shape)
        mismatch = "tensor '" + e.original + "' differs";
    }
  } catch (const std::exception& e) {
    err = e.what()[0] ? e.what() : "(empty message)";
  }
  c.st.max_ms = std::max(c.st.max_ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  ++c.st.sharded;
  c.judge(ok, problems, err, mismatch, files, id, may_name);
}

void write_sharded(const std::string& dir, Rng& r, std::vector<std::string>* applied) {
  fs::create_directories(dir);
  std::set<std::string> used;
  const int nshards = 2 + (int)r.below(2);
  std::map<std::string, std::string> wm;
  std::vector<std::string> shard_names;
  for (int s = 0; s < nshards; ++s) {
    const std::string name = "m-0000" + std::to_string(s + 1) + "-of-0000" + std::to_string(nshards) + ".safetensors";
    shard_names.push_back(name);
    Spec sp = random_spec(r, true, &used);
    for (const auto& e : sp.entries) wm[e.name] = name;
    const std::string h = serialize_header(sp, r);
    std::string bytes = with_length(h, h.size()) + sp.data;
    if (r.chance(15)) {  // a damaged shard
      const std::string m = r.pick(kBytes);
      applied->push_back("shard:" + m);
      mutate_bytes(bytes, m, r);
    }
    write_file(dir + "/" + name, bytes);
  }
  // The index and its mutations.
  std::vector<std::pair<std::string, std::string>> entries(wm.begin(), wm.end());
  const int nm = (int)r.below(3);
  for (int k = 0; k < nm; ++k) {
    const std::string m = r.pick(std::vector<std::string>{"dotdot", "absolute", "dot", "double_slash", "missing_entry",
                                                         "extra_entry", "wrong_file", "dup_key", "no_such_file", "subdir"});
    applied->push_back("index:" + m);
    auto& e = entries[r.below(entries.size())];
    if (m == "dotdot") e.second = "../" + e.second;
    else if (m == "absolute") e.second = "/etc/passwd";
    else if (m == "dot") e.second = "./" + e.second;
    else if (m == "double_slash") e.second = "a//" + e.second;
    else if (m == "missing_entry") entries.erase(entries.begin() + (long)r.below(entries.size()));
    else if (m == "extra_entry") entries.push_back({"blocks.99.ffn.0.weight", r.pick(shard_names)});
    else if (m == "wrong_file") e.second = r.pick(shard_names);
    else if (m == "dup_key") entries.push_back(e);
    else if (m == "no_such_file") e.second = "nope.safetensors";
    else if (m == "subdir") e.second = "sub/" + e.second;
    if (entries.empty()) break;
  }
  std::string idx = "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {";
  for (size_t i = 0; i < entries.size(); ++i) idx += (i ? ", " : "") + json_str(entries[i].first) + ": " + json_str(entries[i].second);
  idx += "}}";
  if (r.chance(10)) {
    applied->push_back("index:flip");
    idx[r.below(idx.size())] ^= (char)(1u << r.below(8));
  }
  write_file(dir + "/m.safetensors.index.json", idx);
}

// ---- hang guard ----
volatile sig_atomic_t g_input = -1;
extern "C" void on_alarm(int) {
  const char msg[] = "fuzz_loader: HANG: an input ran past the time limit (see the work folder's current input)\n";
  (void)!::write(2, msg, sizeof msg - 1);
  ::_exit(3);
}

int usage() {
  std::fprintf(stderr,
               "usage: fuzz_loader [--seed S] [--iterations N] [--work DIR] [--save DIR] [--hang-seconds T] [--quiet]\n"
               "       fuzz_loader --replay PATH...\n");
  return 2;
}

void replay_path(Checker& c, const fs::path& p, long& id) {
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    bool has_index = false;
    for (const auto& e : fs::directory_iterator(p))
      has_index |= e.path().filename().string().find(".safetensors.index.json") != std::string::npos;
    if (has_index) {
      ::alarm(10);
      sharded(c, p.string(), id++);
      ::alarm(0);
      return;
    }
    std::vector<fs::path> entries;
    for (const auto& e : fs::directory_iterator(p)) entries.push_back(e.path());
    std::sort(entries.begin(), entries.end());
    for (const auto& e : entries) replay_path(c, e, id);
    return;
  }
  if (p.extension() != ".safetensors") return;  // README.md and the like
  ::alarm(10);
  c.single(p.string(), id++, nullptr);
  ::alarm(0);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = 1;
  long iterations = 1000;
  int hang_seconds = 10;
  std::string work = (fs::temp_directory_path() / ("fuzz_loader." + std::to_string(::getpid()))).string(), save;
  std::vector<std::string> replay;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--seed") seed = std::stoull(next());
    else if (a == "--iterations") iterations = std::stol(next());
    else if (a == "--work") work = next();
    else if (a == "--save") save = next();
    else if (a == "--hang-seconds") hang_seconds = std::stoi(next());
    else if (a == "--quiet") quiet = true;
    else if (a == "--replay") {
      while (i + 1 < argc) replay.push_back(argv[++i]);
    } else return usage();
  }
  ::signal(SIGALRM, on_alarm);
  Checker c;
  c.save_dir = save;
  c.quiet = quiet;
  const auto t0 = std::chrono::steady_clock::now();
  if (!replay.empty()) {
    long id = 0;
    for (const auto& p : replay) replay_path(c, p, id);
  } else {
    fs::create_directories(work);
    Rng rng{seed};
    for (long it = 0; it < iterations; ++it) {
      Rng r{rng.next()};
      ::alarm((unsigned)hang_seconds);
      if (r.chance(30)) {
        const std::string dir = work + "/sharded";
        fs::remove_all(dir);
        std::vector<std::string> applied;
        write_sharded(dir, r, &applied);
        for (const auto& m : applied) ++c.st.mutations[m];
        sharded(c, dir, it);
      } else {
        std::set<std::string> used;
        Spec sp = random_spec(r, false, &used);
        std::vector<fuzzref::Tensor> meaning;
        for (const auto& e : sp.entries) {
          fuzzref::Tensor t;
          t.name = e.name, t.dtype = e.dtype, t.shape = e.shape, t.bytes = e.data;
          meaning.push_back(t);
        }
        const int nm = r.chance(15) ? 0 : 1 + (int)r.below(3);
        std::vector<std::string> byte_muts;
        for (int k = 0; k < nm; ++k) {
          if (r.chance(45)) {
            const std::string m = r.pick(kStructural);
            ++c.st.mutations[m];
            mutate_spec(sp, m, r);
          } else {
            byte_muts.push_back(r.pick(kBytes));
          }
        }
        const std::string h = serialize_header(sp, r);
        std::string bytes = with_length(h, h.size()) + sp.data;
        for (const auto& m : byte_muts) ++c.st.mutations[m], mutate_bytes(bytes, m, r);
        const std::string path = work + "/input.safetensors";
        write_file(path, bytes);
        c.single(path, it, nm == 0 ? &meaning : nullptr);
      }
      ::alarm(0);
      if (!quiet && (it + 1) % 10000 == 0)
        std::fprintf(stderr, "fuzz_loader: %ld inputs, %ld failures\n", it + 1, c.st.failures);
    }
    fs::remove_all(work);
  }
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "fuzz_loader: %ld inputs (%ld sharded) in %.1f s, slowest %.1f ms: %ld accepted, %ld rejected; "
      "failures %ld (malformed accepted %ld, wrong content %ld, false rejections %ld, rejections not naming the "
      "file/tensor %ld); 0 crashes, 0 hangs (the process would not have got here)\n",
      c.st.inputs, c.st.sharded, sec, c.st.max_ms, c.st.accepted, c.st.rejected, c.st.failures, c.st.malformed_accepted,
      c.st.wrong_content, c.st.false_rejections, c.st.unnamed);
  if (!quiet && replay.empty()) {
    std::printf("mutations applied:");
    for (const auto& [m, n] : c.st.mutations) std::printf(" %s=%ld", m.c_str(), n);
    std::printf("\n");
  }
  return c.st.failures ? 1 : 0;
}
