// moga::jit — CUDA C++ source -> cubin through NVRTC, with an on-disk cache.
//
//   CompileOptions opt;  opt.name = "saxpy";               // arch "" = the device's, else sm_90
//   CompiledKernel k = moga::jit::compile(source, opt);    // cache hit or NVRTC, never a corrupt entry
//   moga::jit::Module mod(k);  CUfunction f = mod.function("saxpy");   // module.h
//
// The options are one struct whose hash (with the source, the tool and NVRTC versions and the arch)
// keys the cache, as Triton does; a failure throws CompileError carrying the NVRTC log, the path of
// the saved source and a repro command. No MLIR here: this library travels to the GPU machine.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace moga::jit {

// A header handed to NVRTC by name, so `#include "name"` needs no include path (built-in kernels).
struct EmbeddedHeader {
  std::string name;
  std::string contents;
};

struct CompileOptions {
  std::string arch;                       // "sm_90", "sm_90a", ...; "" = current device, else sm_90
  std::string name = "kernel";            // readable cache/source names: <name>-<hash>.cubin
  std::vector<std::string> defines;       // "NAME" or "NAME=VALUE" -> -D...
  std::vector<std::string> include_dirs;  // -I... (files found there are NOT hashed: prefer headers)
  std::vector<EmbeddedHeader> headers;    // passed to nvrtcCreateProgram; hashed with their contents
  std::vector<std::string> flags;         // verbatim NVRTC options: --use_fast_math, -lineinfo,
                                          // --ptxas-options=-O3 (NVRTC itself rejects a bare -O3)
  // Template instantiations to compile and name, e.g. "moga::attention_fwd<V, 128, 128, 64, 8, 2>"
  // or "&moga::smem_bytes<...>" (a __device__ variable): NVRTC instantiates each and reports its
  // mangled name (CompiledKernel::lowered), so templated kernels need no extern "C" wrappers.
  std::vector<std::string> name_expressions;

  // The arch actually compiled for: `arch`, or the default described above.
  std::string resolved_arch() const;
  // Canonical JSON of every field (headers by name + content hash), the resolved arch, MOGA_VERSION
  // and the NVRTC version. Readable, and unambiguous where plain concatenation would not be.
  std::string key() const;
  // XXH3_64bits of key().
  uint64_t hash() const;
};

namespace detail {
// Options every compile adds after the arch; in key() too, so changing them invalidates the cache.
inline constexpr const char* kFixedNvrtcOptions[] = {"-std=c++17"};
}  // namespace detail

// XXH3_64bits over key() and the source: the cache entry's name.
uint64_t compile_hash(const std::string& source, const CompileOptions& options);

struct CompiledKernel {
  std::vector<char> cubin;  // an ELF cubin for `arch`
  std::string arch;         // resolved arch
  std::string cache_path;   // the .cubin entry on disk ("" when the cache could not be written)
  uint64_t hash = 0;        // compile_hash(source, options)
  bool cache_hit = false;
  double ms = 0;            // wall time of compile(): the cache read, or the lock wait and NVRTC
  double cpu_ms = 0;        // CPU time of the calling thread in compile() (NVRTC runs on it): the
                            // cost without the wait for a busy machine's cores
  std::string log;          // NVRTC's log (warnings); empty on a cache hit
  // name expression -> mangled symbol (kept in the cache record, so a cache hit has them too)
  std::map<std::string, std::string> lowered;
  // The symbol of a name expression, or `name` itself when it is not one (extern "C" names).
  const std::string& symbol(const std::string& name) const;
};

// An NVRTC compile failure. what() holds the log, the saved source path and a repro command.
class CompileError : public std::runtime_error {
 public:
  CompileError(const std::string& what, std::string log, std::string source_path, std::string repro)
      : std::runtime_error(what), log_(std::move(log)), source_path_(std::move(source_path)),
        repro_(std::move(repro)) {}
  const std::string& log() const { return log_; }
  const std::string& source_path() const { return source_path_; }
  const std::string& repro_command() const { return repro_; }

 private:
  std::string log_, source_path_, repro_;
};

// Returns the cached cubin when a valid entry exists, otherwise compiles under a per-entry file lock
// (checking the cache again inside it) and stores the result atomically. Throws CompileError.
CompiledKernel compile(const std::string& source, const CompileOptions& options);

// "13.0"
std::string nvrtc_version();
// $MOGA_CACHE_DIR, else $XDG_CACHE_HOME/moga, else ~/.cache/moga (created on first write).
std::string cache_root();
// cache_root()/moga-<MOGA_VERSION>/nvrtc-<ver>/<arch>
std::string cache_dir(const std::string& arch);
// The CUDA toolkit's include folder, for <cuda_bf16.h>, <cuda_fp16.h>, <cuda/std/...>, which NVRTC 13
// does not carry built in: $CUDA_HOME, $CUDA_PATH, then /usr/local/cuda; "" when none has
// cuda_bf16.h. Add it to include_dirs when a kernel needs those headers.
std::string cuda_include_dir();

}  // namespace moga::jit
