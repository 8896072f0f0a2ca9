#include "runtime/tune/tuner.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <ctime>
#include <exception>
#include <set>
#include <thread>

#include "runtime/jit/cache.h"

namespace moga::tune {

namespace {

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Restores db.on_warning when tune() leaves, normally or not.
struct WarningScope {
  TuneDb& db;
  std::function<void(const std::string&)> saved;
  WarningScope(TuneDb& d, std::function<void(const std::string&)> w) : db(d), saved(d.on_warning) {
    db.on_warning = std::move(w);
  }
  ~WarningScope() { db.on_warning = saved; }
};

bool needs_trial(const Results& have, const Config& c, const TuneOptions& o) {
  if (o.force) return true;
  auto it = have.find(c.id());
  if (it == have.end()) return true;
  return !it->second.ok() && o.retry_failed;
}

// The best ok result among `configs` (lowest median; ties: the smaller id).
std::optional<std::pair<Config, Result>> best_of(const std::vector<Config>& configs, const Results& res) {
  std::optional<std::pair<Config, Result>> best;
  for (const Config& c : configs) {
    auto it = res.find(c.id());
    if (it == res.end() || !it->second.ok()) continue;
    if (!best || it->second.ms < best->second.ms) best = std::make_pair(c, it->second);
  }
  return best;
}

}  // namespace

DbKey make_key(const KernelInfo& k, const Shape& s, const DeviceLimits& lim, const Versions& v) {
  DbKey key;
  key.pattern = k.pattern;
  key.kernel = k.kernel;
  key.pattern_hash = k.pattern_hash_hex();
  key.bucket = ShapeBucket::of(s);
  key.arch = lim.arch;
  key.versions = v;
  return key;
}

TuneReport tune(const KernelInfo& kernel, const Shape& shape, TrialRunner& runner, TuneDb& db, Progress& progress,
                const TuneOptions& opt) {
  TuneReport rep;
  rep.space = build_space(kernel, shape.D, opt.limits);
  rep.key = make_key(kernel, shape, opt.limits, opt.versions);
  rep.db_path = db.path(rep.key);
  WarningScope warn(db, opt.on_warning ? opt.on_warning
                                       : [&progress](const std::string& w) { progress.note("warning: " + w); });
  const std::string device = opt.device.empty() ? runner.device() : opt.device;

  // Which configs: the kept space, or the requested subset of it.
  std::vector<Config> wanted = rep.space.kept;
  if (!opt.only.empty()) {
    wanted.clear();
    for (const std::string& id : opt.only) {
      std::optional<Config> c = Config::parse(id);
      if (!c) throw std::invalid_argument(fmt::format("'{}' is not a config id (expected e.g. bm128_bn64_w4_s2)", id));
      auto pr = std::find_if(rep.space.pruned.begin(), rep.space.pruned.end(),
                             [&](const Pruned& p) { return p.config == *c; });
      if (pr != rep.space.pruned.end())
        throw std::invalid_argument(fmt::format("config {} cannot run: {}", id, pr->reason));
      if (std::find(rep.space.kept.begin(), rep.space.kept.end(), *c) == rep.space.kept.end())
        throw std::invalid_argument(fmt::format("config {} is not in kernel '{}''s tunable space", id, kernel.kernel));
      if (std::find(wanted.begin(), wanted.end(), *c) == wanted.end()) wanted.push_back(*c);
    }
  }

  const Loaded have = db.load(rep.key);
  std::vector<Config> todo;
  for (const Config& c : wanted)
    if (needs_trial(have.results, c, opt)) todo.push_back(c);
  rep.skipped_known = wanted.size() - todo.size();

  auto stamp = [&](Result& r, const CompileResult* cr) {
    if (cr) {
      if (!r.regs) r.regs = cr->regs;
      if (!r.smem_bytes) r.smem_bytes = cr->smem_bytes;
    }
    r.shape = shape.describe();
    r.device = device;
    r.when = utc_now();
  };

  // ---- 1. compile everything in parallel ------------------------------------------------------------
  std::vector<CompileResult> compiled(todo.size());
  if (!todo.empty()) {
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    const unsigned jobs = std::min<unsigned>(opt.jobs ? opt.jobs : hw, static_cast<unsigned>(todo.size()));
    std::atomic<size_t> next{0};
    std::atomic<bool> stop{false};
    std::exception_ptr fatal;
    std::mutex fatal_mu;
    auto worker = [&] {
      for (size_t i; !stop && (i = next++) < todo.size();) {
        const Config& c = todo[i];
        try {
          CompileResult cr;
          std::exception_ptr stop_after;
          try {
            cr = runner.compile(c);
          } catch (const TrialError& e) {
            cr = CompileResult{false, e.what()};
            if (e.fatal()) stop_after = std::current_exception();
          }
          if (cr.ok) {
            const std::string why = resource_check(c, cr.regs, cr.smem_bytes, opt.limits);
            if (!why.empty()) cr = CompileResult{false, "resources: " + why, cr.regs, cr.smem_bytes};
          } else if (cr.note.empty()) {
            cr.note = "compile failed";
          }
          if (!cr.ok) {
            Result r = Result::failed(cr.note);
            stamp(r, &cr);
            db.save(rep.key, c.id(), r);
          }
          compiled[i] = std::move(cr);
          progress.step(c.id());
          if (stop_after) std::rethrow_exception(stop_after);
        } catch (...) {
          std::lock_guard<std::mutex> g(fatal_mu);
          if (!fatal) fatal = std::current_exception();
          stop = true;
        }
      }
    };
    progress.begin(fmt::format("compile {}.{}", kernel.pattern, kernel.kernel), todo.size());
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < jobs; ++t) pool.emplace_back(worker);
    for (std::thread& t : pool) t.join();
    progress.end();
    if (fatal) std::rethrow_exception(fatal);
    for (size_t i = 0; i < todo.size(); ++i) {
      ++rep.compiled;
      if (!compiled[i].ok) ++rep.failed_now;
    }
  }

  // ---- 2. time the compiled configs one by one, saving each result at once ---------------------------
  std::vector<size_t> to_time;
  for (size_t i = 0; i < todo.size(); ++i)
    if (compiled[i].ok) to_time.push_back(i);
  std::set<std::string> measured_now;
  for (size_t i = 0; i < todo.size(); ++i)
    if (!compiled[i].ok) measured_now.insert(todo[i].id());
  if (!to_time.empty()) {
    progress.begin(fmt::format("time {}.{} at {}", kernel.pattern, kernel.kernel, shape.describe()), to_time.size());
    try {
      const std::string resource = runner.exclusive_resource();
      const std::string lock_path =
          resource.empty() ? "" : fmt::format("{}/locks/{}.lock", db.root(), jit::cache::sanitize(resource));
      for (size_t i : to_time) {
        const Config& c = todo[i];
        std::optional<jit::cache::FileLock> device_lock;
        if (!lock_path.empty()) device_lock.emplace(lock_path);
        if (!opt.force && !needs_trial(db.load(rep.key).results, c, opt)) {
          progress.step(c.id() + " (measured by another process)");
          continue;
        }
        Result r;
        std::exception_ptr stop_after;
        try {
          const Timing t = runner.time(c);
          if (!std::isfinite(t.median_ms) || t.median_ms <= 0 || t.runs < 1)
            throw TrialError(fmt::format("the runner returned no valid timing (median {} ms over {} runs)",
                                         t.median_ms, t.runs));
          r.status = Status::Ok;
          r.ms = t.median_ms;
          r.min_ms = t.min_ms > 0 ? t.min_ms : t.median_ms;
          r.max_ms = t.max_ms > 0 ? t.max_ms : t.median_ms;
          r.runs = t.runs;
          r.flops = t.flops;
          r.regs = t.regs;
          r.smem_bytes = t.smem_bytes;
        } catch (const TrialError& e) {
          r = Result::failed(e.what());
          ++rep.failed_now;
          if (e.fatal()) stop_after = std::current_exception();
        }
        stamp(r, &compiled[i]);
        db.save(rep.key, c.id(), r);
        ++rep.measured;
        measured_now.insert(c.id());
        if (stop_after) std::rethrow_exception(stop_after);
        progress.step(r.ok() ? fmt::format("{} {:.4f} ms", c.id(), r.ms) : c.id() + " failed");
      }
    } catch (...) {
      progress.end();  // leave the terminal tidy; what was saved stays saved
      throw;
    }
    progress.end();
  }

  // ---- 3. the report: the database as it is now, over the whole kept space -----------------------------
  const Loaded now = db.load(rep.key);
  for (const Config& c : rep.space.kept) {
    auto it = now.results.find(c.id());
    if (it != now.results.end()) rep.trials.push_back({c, it->second, measured_now.count(c.id()) > 0});
  }
  if (auto b = best_of(rep.space.kept, now.results))
    rep.best = Trial{b->first, b->second, measured_now.count(b->first.id()) > 0};
  return rep;
}

const char* source_name(Source s) {
  switch (s) {
    case Source::Tuned: return "tuned";
    case Source::TunedNearby: return "tuned (nearby bucket)";
    case Source::Default: return "default";
  }
  return "?";
}

Choice best_config(const KernelInfo& k, const Shape& shape, const TuneDb& db, const DeviceLimits& lim,
                   const Versions& versions) {
  const Space space = build_space(k, shape.D, lim);
  if (space.kept.empty())
    throw std::runtime_error(fmt::format("kernel '{}': no tile config can run at head dim {} on {}", k.kernel,
                                         shape.D, lim.name));
  const DbKey key = make_key(k, shape, lim, versions);
  const Loaded exact = db.load(key);
  if (auto b = best_of(space.kept, exact.results))
    return {b->first, Source::Tuned, fmt::format("{:.4f} ms at {}", b->second.ms, b->second.shape)};

  // Nearest tuned bucket of the same kernel, arch, versions and head dim.
  std::vector<Loaded> others = db.list_kernel(key);
  auto dist = [&](const ShapeBucket& b) {
    auto l = [](int a, int c) { return std::fabs(std::log2(static_cast<double>(std::max(a, 1)) / std::max(c, 1))); };
    return std::make_pair(l(b.N, key.bucket.N), l(b.B, key.bucket.B) + l(b.H, key.bucket.H));
  };
  std::stable_sort(others.begin(), others.end(),
                   [&](const Loaded& a, const Loaded& b) { return dist(a.key.bucket) < dist(b.key.bucket); });
  for (const Loaded& o : others) {
    if (!(o.key.versions == versions) || o.key.bucket.D != shape.D || o.key.bucket == key.bucket) continue;
    if (auto b = best_of(space.kept, o.results))
      return {b->first, Source::TunedNearby,
              fmt::format("from bucket {}: {:.4f} ms at {}", o.key.bucket.slug(), b->second.ms, b->second.shape)};
  }

  const std::optional<Config> d = heuristic_default(k, space, lim);
  if (d == k.tiles) return {*d, Source::Default, "the manifest's tiles; nothing tuned for this kernel and toolchain"};
  if (d == Config::wgmma_kernel())
    return {*d, Source::Default, "the runtime's own choice here (Engine::Auto: sm90.ws 128/128/3); nothing tuned"};
  if (d == Config::tma_kernel())
    return {*d, Source::Default, "the runtime's own choice here (Engine::Auto, no gather: sm90.tma 128/176/2); nothing tuned"};
  return {*d, Source::Default,
          fmt::format("the valid config closest to the manifest's tiles {}, which cannot run: {}; nothing tuned",
                      k.tiles.id(), static_check(k.tiles, shape.D, lim))};
}

}  // namespace moga::tune
