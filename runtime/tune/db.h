// The tuning database: one JSON file per DbKey (key.h) holding a map config id -> result.
//
//   <cache_root>/tune/sm_90/moga.stga-<pattern hash>/N4096-B1-H16-D128.<versions tag>.json
//   {"format": "moga-tune-1",
//    "key": {"pattern": .., "kernel": .., "pattern_hash": .., "bucket": {..}, "arch": .., "versions": {..}},
//    "results": {"bm128_bn64_w4_s2": {"status": "ok", "ms": 0.412, "runs": 20, ...},
//                "bm64_bn128_w4_s4": {"status": "failed", "note": "launch: CUDA_ERROR_OUT_OF_RESOURCES"}},
//    "checksum": "<XXH3 of the compact JSON of format + key + results>"}
//
// Guarantees (test/unit/tune_db_test.cpp):
//  * a file is only ever replaced whole (jit::cache::write_atomic: temp file + rename);
//  * load() never trusts a file that fails to parse, has another format, a wrong checksum, another
//    key or a malformed result: it reports Corrupt with the reason and the results are empty; the
//    next save() moves it aside (<file>.corrupt) and rebuilds it;
//  * save() takes <file>.lock (flock), re-reads the file inside the lock and merges: results of other
//    configs (written meanwhile by another thread or process) are kept; same id: the new one wins.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "runtime/tune/key.h"

namespace moga::tune {

enum class Status { Ok, Failed };

struct Result {
  Status status = Status::Ok;
  double ms = 0;                 // median over `runs` timed runs (Ok)
  double min_ms = 0, max_ms = 0;
  int runs = 0;
  double flops = 0;              // work of one call as the runner counts it (0: unknown)
  int regs = 0, smem_bytes = 0;  // from the compiled module when known (0: unknown)
  std::string note;              // why it failed, or a remark
  std::string shape;             // Shape::describe() of the measurement (the bucket's representative)
  std::string device;            // device name
  std::string when;              // UTC, ISO 8601

  bool ok() const { return status == Status::Ok; }
  double tflops() const { return ok() && flops > 0 && ms > 0 ? flops / (ms * 1e9) : 0; }
  static Result failed(std::string note);
};

using Results = std::map<std::string, Result>;  // Config::id() -> result

struct Loaded {
  enum class State { Missing, Valid, Corrupt };
  State state = State::Missing;
  std::string path;
  std::string why;  // Corrupt: what was wrong
  DbKey key;        // the key stored in the file (Valid), else the one asked for
  Results results;  // empty unless Valid
};

// "moga-tune-1"
extern const char* const kDbFormat;

class TuneDb {
 public:
  // `root`: the database folder; "" = default_root().
  explicit TuneDb(std::string root = "");
  // jit::cache_root() + "/tune" ($MOGA_CACHE_DIR/tune, ...).
  static std::string default_root();
  const std::string& root() const { return root_; }

  std::string path(const DbKey& key) const;

  // Reads and verifies the file of `key`. Never throws for bad contents (see the guarantees above).
  Loaded load(const DbKey& key) const;

  // Under the file's lock: re-read, merge `results` in, write atomically. Returns the merged map.
  // Throws std::runtime_error on I/O failure (a full disk is not silently ignored).
  Results save(const DbKey& key, const Results& results);
  Results save(const DbKey& key, const std::string& config_id, const Result& r) {
    return save(key, Results{{config_id, r}});
  }

  // Every valid file of the kernel of `like` (same arch, pattern hash, kernel; any bucket, any
  // versions): for --show and the nearest-bucket lookup. Corrupt files are skipped (and warned about).
  std::vector<Loaded> list_kernel(const DbKey& like) const;

  // Receives "<path>: <reason>; rebuilding" for corrupt files. Default: nothing.
  std::function<void(const std::string&)> on_warning;

  // The bytes save() writes for (key, results); the tests corrupt them on purpose.
  static std::string serialize(const DbKey& key, const Results& results);

 private:
  Loaded parse(const std::string& path, const std::string& text, const DbKey* expect) const;
  Loaded read(const std::string& path, const DbKey* expect) const;
  std::string root_;
};

nlohmann::json result_to_json(const Result& r);
Result result_from_json(const nlohmann::json& j);  // throws std::invalid_argument when malformed

}  // namespace moga::tune
