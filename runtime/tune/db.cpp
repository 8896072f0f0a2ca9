#include "runtime/tune/db.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "runtime/jit/cache.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/safe_file.h"
#include "runtime/jit/xxh3.h"
#include "runtime/tune/space.h"

namespace fs = std::filesystem;

namespace moga::tune {

using nlohmann::json;

const char* const kDbFormat = "moga-tune-1";

Result Result::failed(std::string note) {
  Result r;
  r.status = Status::Failed;
  r.note = std::move(note);
  return r;
}

json result_to_json(const Result& r) {
  json j = {{"status", r.ok() ? "ok" : "failed"}};
  if (r.ok()) {
    j["ms"] = r.ms;
    j["min_ms"] = r.min_ms;
    j["max_ms"] = r.max_ms;
    j["runs"] = r.runs;
    if (r.flops > 0) j["flops"] = r.flops;
  }
  if (r.regs) j["regs"] = r.regs;
  if (r.smem_bytes) j["smem_bytes"] = r.smem_bytes;
  if (!r.note.empty()) j["note"] = r.note;
  if (!r.shape.empty()) j["shape"] = r.shape;
  if (!r.device.empty()) j["device"] = r.device;
  if (!r.when.empty()) j["when"] = r.when;
  return j;
}

Result result_from_json(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("result is not an object");
  Result r;
  try {
    const std::string st = j.at("status").get<std::string>();
    if (st == "ok")
      r.status = Status::Ok;
    else if (st == "failed")
      r.status = Status::Failed;
    else
      throw std::invalid_argument(fmt::format("unknown status '{}'", st));
    if (r.ok()) {
      r.ms = j.at("ms").get<double>();
      r.min_ms = j.value("min_ms", r.ms);
      r.max_ms = j.value("max_ms", r.ms);
      r.runs = j.at("runs").get<int>();
      r.flops = j.value("flops", 0.0);
      if (!std::isfinite(r.ms) || r.ms <= 0 || r.runs < 1)
        throw std::invalid_argument(fmt::format("ok result with ms {} over {} runs", r.ms, r.runs));
    }
    r.regs = j.value("regs", 0);
    r.smem_bytes = j.value("smem_bytes", 0);
    r.note = j.value("note", "");
    r.shape = j.value("shape", "");
    r.device = j.value("device", "");
    r.when = j.value("when", "");
  } catch (const json::exception& e) {
    throw std::invalid_argument(e.what());
  }
  return r;
}

namespace {

json body(const DbKey& key, const Results& results) {
  json res = json::object();
  for (const auto& [id, r] : results) res[id] = result_to_json(r);
  return {{"format", kDbFormat}, {"key", key.to_json()}, {"results", res}};
}

// A database file holds one key's results (a few KB); the bound keeps a hostile or damaged one
// (a link to /dev/zero, a huge sparse file) from being read at all.
constexpr uint64_t kMaxDbFileBytes = 16ull << 20;

}  // namespace

std::string TuneDb::serialize(const DbKey& key, const Results& results) {
  json j = body(key, results);
  j["checksum"] = jit::hex64(jit::xxh3(j.dump()));
  return j.dump(2) + "\n";
}

TuneDb::TuneDb(std::string root) : root_(root.empty() ? default_root() : std::move(root)) {}

std::string TuneDb::default_root() { return jit::cache_root() + "/tune"; }

std::string TuneDb::path(const DbKey& key) const { return root_ + "/" + key.relative_path(); }

Loaded TuneDb::parse(const std::string& path, const std::string& text, const DbKey* expect) const {
  Loaded l;
  l.path = path;
  if (expect) l.key = *expect;
  auto corrupt = [&](std::string why) {
    l.state = Loaded::State::Corrupt;
    l.why = std::move(why);
    l.results.clear();
    return l;
  };
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return corrupt("not valid JSON (truncated?)");
  if (!j.is_object()) return corrupt("not a JSON object");
  if (!j.contains("format") || j["format"] != kDbFormat)
    return corrupt(fmt::format("format is {}, expected \"{}\"", j.value("format", json()).dump(), kDbFormat));
  if (!j.contains("checksum") || !j["checksum"].is_string()) return corrupt("no checksum");
  const std::string sum = j["checksum"].get<std::string>();
  j.erase("checksum");
  if (jit::hex64(jit::xxh3(j.dump())) != sum) return corrupt("checksum mismatch (edited or damaged)");
  if (!j.contains("key") || !j.contains("results") || !j["results"].is_object())
    return corrupt("no key or results");
  try {
    l.key = DbKey::from_json(j["key"]);
  } catch (const std::invalid_argument& e) {
    return corrupt(e.what());
  }
  if (expect && !l.key.same_identity(*expect)) return corrupt("holds another key (hash collision or moved file)");
  for (const auto& [id, rj] : j["results"].items()) {
    if (!Config::parse(id)) return corrupt(fmt::format("result '{}' is not a config id", id));
    try {
      l.results[id] = result_from_json(rj);
    } catch (const std::invalid_argument& e) {
      return corrupt(fmt::format("result '{}': {}", id, e.what()));
    }
  }
  l.state = Loaded::State::Valid;
  return l;
}

Loaded TuneDb::read(const std::string& path, const DbKey* expect) const {
  // stat first: a directory, FIFO or device in the file's place, or an oversized file, is corrupt
  // (warned about, moved aside on the next save), never read and never fatal.
  const jit::FileBytes f = jit::read_regular_file(path, kMaxDbFileBytes);
  Loaded l;
  l.path = path;
  if (expect) l.key = *expect;
  if (f.status == jit::RegularFile::Status::Missing) return l;  // Missing
  if (f.status != jit::RegularFile::Status::Ok) {
    l.state = Loaded::State::Corrupt;
    l.why = f.why;
    return l;
  }
  try {
    return parse(path, f.data, expect);
  } catch (const std::exception& e) {  // parse checks every type; this is the last line of defence
    l.state = Loaded::State::Corrupt;
    l.why = std::string("unreadable: ") + e.what();
    l.results.clear();
    return l;
  }
}

Loaded TuneDb::load(const DbKey& key) const {
  Loaded l = read(path(key), &key);
  if (l.state == Loaded::State::Corrupt && on_warning)
    on_warning(fmt::format("{}: {}; not used, rebuilt on the next save", l.path, l.why));
  return l;
}

Results TuneDb::save(const DbKey& key, const Results& results) {
  const std::string p = path(key);
  jit::cache::FileLock lock(p + ".lock");
  Loaded cur = read(p, &key);  // inside the lock: whatever another process saved meanwhile
  if (cur.state == Loaded::State::Corrupt) {
    if (on_warning) on_warning(fmt::format("{}: {}; rebuilding (old file kept as .corrupt)", p, cur.why));
    std::error_code ec;
    // Best effort: kept for a post-mortem, never read. An older .corrupt (even a directory) gives
    // way, and so does a directory in the file's place, so the rebuilt file can take its name.
    fs::remove_all(p + ".corrupt", ec);
    fs::rename(p, p + ".corrupt", ec);
    if (ec && fs::is_directory(fs::symlink_status(p, ec))) fs::remove_all(p, ec);
  }
  Results merged = std::move(cur.results);
  for (const auto& [id, r] : results) merged[id] = r;
  const std::string text = serialize(key, merged);
  jit::cache::write_atomic(p, text.data(), text.size());
  return merged;
}

std::vector<Loaded> TuneDb::list_kernel(const DbKey& like) const {
  std::vector<Loaded> out;
  const fs::path dir = fs::path(root_) / like.kernel_dir();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".json" && e.path().filename().string()[0] != '.') files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    Loaded l = read(f.string(), nullptr);
    if (l.state == Loaded::State::Valid && l.key.pattern_hash == like.pattern_hash && l.key.kernel == like.kernel &&
        l.key.arch == like.arch && fs::path(l.key.relative_path()).filename() == f.filename()) {
      out.push_back(std::move(l));
    } else if (l.state == Loaded::State::Corrupt && on_warning) {
      on_warning(fmt::format("{}: {}; skipped", l.path, l.why));
    }
  }
  return out;
}

}  // namespace moga::tune
