// The autotuner: measures the configs of one kernel that the database does not have yet, saving each
// result the moment it exists, and picks the best one for the runtime.
//
//   GpuRunner runner(pattern, "stga", shape);                  // gpu_runner.h; tests use a fake
//   TuneDb db;                                                  // <cache_root>/tune
//   Progress progress(stderr);                                  // a bar on a TTY, a few lines otherwise
//   TuneReport r = tune(kernel_info(manifest, "stga"), shape, runner, db, progress, options);
//   Choice c = best_config(kernel_info(...), shape, db, ctx);   // tuned best, else the heuristic default
//
// tune(), in order:
//  1. the space (space.h): full product of the "tunable" lists, statically pruned;
//  2. the database file of (pattern hash, kernel, shape bucket, arch, versions); configs it already
//     holds (ok or failed) are skipped, so adding one config to the space measures only that config,
//     and an interrupted run resumes where it stopped;
//  3. compile every remaining config in parallel (a std::thread pool, options.jobs threads, default
//     std::thread::hardware_concurrency()); a compile error, or registers/shared memory over the
//     device's limits (resource_check), is saved as a failed result with its note;
//  4. time each compiled config one after the other (the runner's contract below), each under the
//     runner's device lock (exclusive_resource()) and after re-reading the database inside it, so
//     two processes tuning at once on one GPU neither overlap their timings nor measure a config
//     twice; each result is saved at once (atomic file replace), TrialError is saved as failed;
//  5. return every result of the space and the best (lowest median ms among ok results).
// Any exception other than TrialError from the runner (device lost, Ctrl-C turned into an exception,
// a bug) propagates: what was saved stays saved, and the next tune() continues from there.
#pragma once

#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/tune/db.h"
#include "runtime/tune/key.h"
#include "runtime/tune/space.h"

namespace moga::tune {

// A config failed in a way that says nothing about the others (a launch resource error, a wrong
// result, an NVRTC error): tune() records it as failed with what() as the note and goes on.
// fatal: the failure also broke the runner (a CUDA error that poisons the context): tune() records
// the config as failed, then stops by rethrowing; the next run skips it and goes on with the rest.
class TrialError : public std::runtime_error {
 public:
  explicit TrialError(const std::string& what, bool fatal = false) : std::runtime_error(what), fatal_(fatal) {}
  bool fatal() const { return fatal_; }

 private:
  bool fatal_;
};

struct CompileResult {
  bool ok = false;
  std::string note;    // the error (first lines of the NVRTC log) when !ok; remarks otherwise
  int regs = 0;        // registers per thread of the attention kernel (cuFuncGetAttribute), 0: unknown
  int smem_bytes = 0;  // its dynamic shared memory as the module reports it, 0: unknown
};

struct Timing {
  double median_ms = 0, min_ms = 0, max_ms = 0;
  int runs = 0;
  double flops = 0;    // work of one call (same number for every config of a shape), 0: unknown
  int regs = 0;        // what the loaded module says, when the runner only knows it now (0: unknown)
  int smem_bytes = 0;
};

// What tune() needs from a backend. The contract (the GPU runner keeps it; docs/autotune.md):
//  * compile(c) may be called from several threads at once, for different configs, before any
//    time(); it must not need the device to be idle (NVRTC + the disk cache only). Returns
//    {ok=false, note} for a config that does not compile; throws only for fatal problems.
//  * time(c) is called from one thread, one config at a time, only after compile(c) succeeded. It
//    must: give the trial its own freshly poisoned or zeroed outputs (never the previous config's
//    results, so a config that writes nothing cannot pass for a correct one), check the outputs
//    (against a reference or at least for NaN), run warm-up launches, then at least 10 timed runs
//    rotating through several input sets (no unrealistically hot L2), and return the median.
//    A failure of this config alone throws TrialError; anything else is fatal.
//  * device()/limits(): what the results are recorded for.
class TrialRunner {
 public:
  virtual ~TrialRunner() = default;
  virtual CompileResult compile(const Config& c) = 0;
  virtual Timing time(const Config& c) = 0;
  virtual std::string device() const { return ""; }
  // A name for the hardware time() measures on ("gpu-0000-1b-00", from the PCI address): tune()
  // holds the file lock <db root>/locks/<name>.lock around each trial, so processes tuning at once
  // on one GPU never time at the same moment (no disturbed timings), and re-reads the database
  // inside the lock, so none measures a config another has just measured. "" = no lock.
  virtual std::string exclusive_resource() { return ""; }
};

// Progress on a stream: on a TTY one line redrawn in place (at most every 100 ms) with a bar, the
// count and the ETA; otherwise (a log file, CI) a line per phase start, one per 10% done and a final
// one: a few dozen lines, not one per config. `clock` is injectable for tests.
class Progress {
 public:
  using Clock = std::function<double()>;  // seconds, monotonic
  explicit Progress(std::FILE* out = stderr);
  Progress(std::FILE* out, bool tty, Clock clock = {});  // out == nullptr: silent
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void begin(const std::string& phase, size_t total);  // "compile stga" 12
  void step(const std::string& item);                  // one item done (thread-safe)
  void end();                                          // the phase's summary line
  void note(const std::string& line);                  // a message that must not garble the bar

 private:
  void draw(bool force);
  void clear_line();
  std::mutex mu_;
  std::FILE* out_;
  bool tty_;
  Clock clock_;
  std::string phase_, last_item_;
  size_t total_ = 0, done_ = 0;
  int last_decile_ = -1;
  double t0_ = 0, last_draw_ = -1;
  bool open_line_ = false;
};

struct TuneOptions {
  DeviceLimits limits;                 // from the device when there is one
  Versions versions;                   // Versions::current(templates_hash(...))
  std::vector<std::string> only;       // restrict to these config ids (must be in the space)
  bool retry_failed = false;           // measure configs recorded as failed again
  bool force = false;                  // measure everything again (results replaced)
  unsigned jobs = 0;                   // compile threads; 0 = std::thread::hardware_concurrency()
  std::string device;                  // recorded with each result (default: runner.device())
  std::function<void(const std::string&)> on_warning;  // corrupt files etc. (default: progress.note)
};

struct Trial {
  Config config;
  Result result;
  bool measured_now = false;  // false: it came from the database
};

struct TuneReport {
  DbKey key;
  std::string db_path;
  Space space;
  std::vector<Trial> trials;    // every kept config that has a result, in space order
  size_t measured = 0, compiled = 0, skipped_known = 0, failed_now = 0;
  std::optional<Trial> best;    // lowest median among ok results
};

// The key of (kernel, shape) under these limits and versions.
DbKey make_key(const KernelInfo& k, const Shape& s, const DeviceLimits& lim, const Versions& v);

TuneReport tune(const KernelInfo& kernel, const Shape& shape, TrialRunner& runner, TuneDb& db, Progress& progress,
                const TuneOptions& options);

// Where the runtime's config came from.
enum class Source { Tuned, TunedNearby, Default };
const char* source_name(Source s);  // "tuned", "tuned (nearby bucket)", "default"

struct Choice {
  Config config;
  Source source = Source::Default;
  std::string note;  // e.g. "from bucket N4096-B1-H16-D128: 0.412 ms"
};

// The config the runtime should use for (kernel, shape):
//  1. the best ok result of the exact key, among configs the current space keeps;
//  2. else the best of the nearest tuned bucket of the same kernel, arch, versions and head dim
//     (nearest N in log2, then nearest B and H in log2), among configs the space keeps;
//  3. else heuristic_default() (space.h). Throws std::runtime_error only when the space keeps
//     nothing at this head dim.
Choice best_config(const KernelInfo& kernel, const Shape& shape, const TuneDb& db, const DeviceLimits& lim,
                   const Versions& versions);

}  // namespace moga::tune
