// compile(): the cache lookup, the locked NVRTC build, and the failure report.
#include <fmt/format.h>
#include <nvrtc.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <memory>

#include "runtime/jit/cache.h"
#include "runtime/jit/check.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/xxh3.h"

namespace moga::jit {
namespace {

struct NvrtcResult {
  nvrtcResult status = NVRTC_SUCCESS;
  std::string log;
  std::vector<char> cubin;
  std::map<std::string, std::string> lowered;
};

std::vector<std::string> nvrtc_args(const CompileOptions& o, const std::string& arch) {
  // --gpu-architecture=sm_XX(a) makes NVRTC emit SASS, which nvrtcGetCUBIN returns.
  std::vector<std::string> args = {"--gpu-architecture=" + arch};
  for (const char* f : detail::kFixedNvrtcOptions) args.emplace_back(f);
  for (const auto& d : o.defines) args.push_back("-D" + d);
  for (const auto& i : o.include_dirs) args.push_back("-I" + i);
  args.insert(args.end(), o.flags.begin(), o.flags.end());
  return args;
}

NvrtcResult run_nvrtc(const std::string& source, const CompileOptions& o, const std::string& arch) {
  std::vector<const char*> header_text, header_names;
  for (const auto& h : o.headers) {
    header_text.push_back(h.contents.c_str());
    header_names.push_back(h.name.c_str());
  }
  // The program name is what the log's "file(line): error" messages show.
  const std::string program_name = cache::sanitize(o.name) + ".cu";
  nvrtcProgram prog = nullptr;
  NVRTC_CHECK(nvrtcCreateProgram(&prog, source.c_str(), program_name.c_str(),
                                 static_cast<int>(o.headers.size()), header_text.data(),
                                 header_names.data()));
  std::unique_ptr<nvrtcProgram, void (*)(nvrtcProgram*)> guard(&prog, [](nvrtcProgram* p) {
    nvrtcDestroyProgram(p);
  });

  const std::vector<std::string> args = nvrtc_args(o, arch);
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());

  for (const auto& e : o.name_expressions) NVRTC_CHECK(nvrtcAddNameExpression(prog, e.c_str()));

  NvrtcResult r;
  r.status = nvrtcCompileProgram(prog, static_cast<int>(argv.size()), argv.data());
  size_t log_size = 0;
  NVRTC_CHECK(nvrtcGetProgramLogSize(prog, &log_size));
  r.log.resize(log_size);
  NVRTC_CHECK(nvrtcGetProgramLog(prog, r.log.data()));
  while (!r.log.empty() && (r.log.back() == '\0' || r.log.back() == '\n')) r.log.pop_back();
  if (r.status != NVRTC_SUCCESS) return r;

  size_t cubin_size = 0;
  NVRTC_CHECK(nvrtcGetCUBINSize(prog, &cubin_size));
  r.cubin.resize(cubin_size);
  NVRTC_CHECK(nvrtcGetCUBIN(prog, r.cubin.data()));
  for (const auto& e : o.name_expressions) {
    const char* mangled = nullptr;
    NVRTC_CHECK(nvrtcGetLoweredName(prog, e.c_str(), &mangled));
    r.lowered[e] = mangled;
  }
  return r;
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "0123456789_-+=./:,@%") == std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// A header name may hold folders ("moga/ivl.cuh") but must stay inside the repro folder.
std::string safe_relative(const std::string& name) {
  std::string out;
  for (const auto& part : std::filesystem::path(name).relative_path()) {
    const std::string p = part.string();
    if (p.empty() || p == "." ) continue;
    if (!out.empty()) out += '/';
    out += p == ".." ? "_" : p;
  }
  return out.empty() ? "_" : out;
}

// Saves the source and its embedded headers under <cache_dir>/failed/ and throws CompileError.
[[noreturn]] void report_failure(const std::string& source, const CompileOptions& o,
                                 const std::string& arch, uint64_t hash, const NvrtcResult& r) {
  const std::string base = fmt::format("{}/failed/{}-{}", cache_dir(arch), cache::sanitize(o.name),
                                       hex64(hash));
  const std::string source_path = base + ".cu";
  const std::string include_dir = base + ".include";
  std::string saved_note;
  try {
    cache::write_atomic(source_path, source.data(), source.size());
    for (const auto& h : o.headers)
      cache::write_atomic(include_dir + "/" + safe_relative(h.name), h.contents.data(),
                          h.contents.size());
    saved_note = "Source saved to: " + source_path;
  } catch (const std::exception& e) {
    saved_note = fmt::format("Source could not be saved ({})", e.what());
  }

  // nvcc takes the same spelling for -arch, -D, -I and the usual flags; -cubin stops at SASS.
  std::string repro = fmt::format("nvcc -cubin -arch={}", arch);
  for (const char* f : detail::kFixedNvrtcOptions) repro += fmt::format(" {}", f);
  if (!o.headers.empty()) repro += " -I" + shell_quote(include_dir);
  for (const auto& i : o.include_dirs) repro += " -I" + shell_quote(i);
  for (const auto& d : o.defines) repro += " -D" + shell_quote(d);
  for (const auto& f : o.flags) repro += " " + shell_quote(f);
  repro += fmt::format(" {} -o /tmp/{}-{}.cubin", shell_quote(source_path), cache::sanitize(o.name),
                       hex64(hash));

  throw CompileError(fmt::format("NVRTC failed to compile '{}' for {} ({}):\n{}\n{}\nRepro command: {}",
                                 o.name, arch, nvrtcGetErrorString(r.status),
                                 r.log.empty() ? "(empty log)" : r.log, saved_note, repro),
                     r.log, source_path, repro);
}

}  // namespace

const std::string& CompiledKernel::symbol(const std::string& name) const {
  auto it = lowered.find(name);
  return it == lowered.end() ? name : it->second;
}

namespace {

CompiledKernel compile_untimed(const std::string& source, const CompileOptions& options) {
  CompiledKernel k;
  k.arch = options.resolved_arch();
  if (k.arch.rfind("sm_", 0) != 0)
    throw std::invalid_argument(fmt::format(
        "moga::jit::compile: arch '{}' is not a real GPU arch (want sm_XX, e.g. sm_90 or sm_90a)",
        k.arch));
  const std::string key = options.key();
  k.hash = xxh3(key, source);
  const cache::Entry entry = cache::entry_for(cache_dir(k.arch), options.name, k.hash);

  // Fast path, no lock: an entry that verifies is complete (its record is written last).
  if (auto cubin = cache::load(entry, nullptr, &k.lowered)) {
    k.cubin = std::move(*cubin);
    k.cache_path = entry.cubin_path;
    k.cache_hit = true;
    return k;
  }

  // Slow path: one builder per entry across processes (FlashInfer does the same). Look again
  // inside the lock, since another process may have just finished building it.
  std::unique_ptr<cache::FileLock> lock;
  std::string cache_problem;
  try {
    lock = std::make_unique<cache::FileLock>(entry.lock_path);
  } catch (const std::exception& e) {
    cache_problem = e.what();  // e.g. read-only cache folder: compile anyway, uncached
  }
  if (lock) {
    std::string why;
    if (auto cubin = cache::load(entry, &why, &k.lowered)) {
      k.cubin = std::move(*cubin);
      k.cache_path = entry.cubin_path;
      k.cache_hit = true;
      return k;
    }
    if (why != "missing") {  // corrupt or truncated: rebuilt below, never loaded; say which file
      fmt::print(stderr, "moga: warning: cache entry {} is corrupt ({}); rebuilding it\n", entry.record_path, why);
      cache::remove(entry);
    }
  }

  NvrtcResult r = run_nvrtc(source, options, k.arch);
  if (r.status != NVRTC_SUCCESS) report_failure(source, options, k.arch, k.hash, r);
  k.cubin = std::move(r.cubin);
  k.log = std::move(r.log);
  k.lowered = std::move(r.lowered);

  if (lock) {
    try {
      cache::store(entry, k.cubin, key, k.lowered);
      k.cache_path = entry.cubin_path;
    } catch (const std::exception& e) {
      cache_problem = e.what();
    }
  }
  if (!cache_problem.empty())
    fmt::print(stderr, "moga: warning: kernel '{}' not cached: {}\n", options.name, cache_problem);
  return k;
}

}  // namespace

CompiledKernel compile(const std::string& source, const CompileOptions& options) {
  auto thread_cpu_ms = [] {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
  };
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = thread_cpu_ms();
  CompiledKernel k = compile_untimed(source, options);
  k.cpu_ms = thread_cpu_ms() - c0;
  k.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return k;
}

}  // namespace moga::jit
