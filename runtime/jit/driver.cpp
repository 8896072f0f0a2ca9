// Loads libcuda.so.1 at run time (driver.h says why) and implements the error macros' throw paths.
#include "runtime/jit/driver.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include "runtime/jit/check.h"

namespace moga::jit {
namespace {

// The exported name after cuda.h's renaming ("cuMemAlloc" -> "cuMemAlloc_v2"): the symbol a program
// linked against libcuda would bind, whose ABI is the prototype's.
#define MOGA_CU_SYMBOL_(name) #name
#define MOGA_CU_SYMBOL(fn) MOGA_CU_SYMBOL_(fn)

std::string cu_error_text(const Driver* d, CUresult r) {
  const char* name = nullptr;
  const char* text = nullptr;
  if (d && d->cuGetErrorName) d->cuGetErrorName(r, &name);
  if (d && d->cuGetErrorString) d->cuGetErrorString(r, &text);
  if (!name) return fmt::format("CUresult {}", static_cast<int>(r));
  return text ? fmt::format("{}: {}", name, text) : std::string(name);
}

struct Loaded {
  Driver table;      // filled as far as loading got
  bool ok = false;   // library, every entry point, cuInit and >= 1 device
  std::string why;   // the reason when !ok
};

Loaded load() {
  Loaded l;
  // The real driver's soname only: "libcuda.so" would also match the toolkit's stub.
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = dlerror();
    l.why = fmt::format("cannot load the CUDA driver (libcuda.so.1): {}", e ? e : "unknown error");
    return l;
  }
  // Kept loaded for the life of the process: handles from it outlive any owner we could name.
  std::string missing;
#define MOGA_CU_LOAD(fn)                                                             \
  if (void* p = dlsym(lib, MOGA_CU_SYMBOL(fn)))                                      \
    l.table.fn = reinterpret_cast<decltype(l.table.fn)>(p);                          \
  else                                                                               \
    missing += std::string(missing.empty() ? "" : ", ") + MOGA_CU_SYMBOL(fn);
  MOGA_CU_FUNCS(MOGA_CU_LOAD)
#undef MOGA_CU_LOAD
  if (!missing.empty()) {
    l.why = fmt::format("the CUDA driver lacks {} (built against CUDA {}.{}); update the driver",
                        missing, CUDA_VERSION / 1000, CUDA_VERSION % 1000 / 10);
    return l;
  }
  if (CUresult r = l.table.cuInit(0); r != CUDA_SUCCESS) {
    l.why = fmt::format("cuInit failed: {}{}", cu_error_text(&l.table, r),
                        r == CUDA_ERROR_STUB_LIBRARY ? " (the toolkit's stub libcuda was loaded, not a driver)" : "");
    return l;
  }
  int count = 0;
  if (CUresult r = l.table.cuDeviceGetCount(&count); r != CUDA_SUCCESS) {
    l.why = fmt::format("cuDeviceGetCount failed: {}", cu_error_text(&l.table, r));
    return l;
  }
  if (count == 0) {
    l.why = "the driver reports no devices";
    return l;
  }
  l.ok = true;
  return l;
}

const Loaded& loaded() {
  static const Loaded l = load();  // thread-safe, once per process
  return l;
}

}  // namespace

const Driver* try_driver(std::string* why) {
  const Loaded& l = loaded();
  if (!l.ok && why) *why = l.why;
  return l.ok ? &l.table : nullptr;
}

const Driver& driver() {
  std::string why;
  const Driver* d = try_driver(&why);
  if (!d) throw std::runtime_error("no CUDA device: " + why);
  return *d;
}

namespace detail {

void throw_nvrtc_error(nvrtcResult r, const char* call, const char* file, int line) {
  throw NvrtcError(fmt::format("{} failed at {}:{}: {}", call, file, line, nvrtcGetErrorString(r)), r);
}

void throw_cu_error(CUresult r, const char* call, const char* file, int line) {
  // Error names come from the driver even when it has no device; without it, the number.
  throw CudaError(fmt::format("{} failed at {}:{}: {}", call, file, line,
                              cu_error_text(&loaded().table, r)),
                  r);
}

}  // namespace detail
}  // namespace moga::jit
