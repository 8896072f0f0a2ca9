#include "runtime/attention/driver_ext.h"

#include <dlfcn.h>

#include <stdexcept>
#include <string>

#include "runtime/jit/driver.h"

namespace moga::rt {
namespace {

#define MOGA_CU_EXT_SYMBOL_(name) #name
#define MOGA_CU_EXT_SYMBOL(fn) MOGA_CU_EXT_SYMBOL_(fn)

struct Loaded {
  DriverExt table;
  std::string why;
};

Loaded load() {
  Loaded l;
  std::string why;
  if (!jit::try_driver(&why)) {  // cuInit and a device first
    l.why = why;
    return l;
  }
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    l.why = "cannot load libcuda.so.1";
    return l;
  }
  std::string missing;
#define MOGA_CU_EXT_LOAD(fn)                                              \
  if (void* p = dlsym(lib, MOGA_CU_EXT_SYMBOL(fn)))                       \
    l.table.fn = reinterpret_cast<decltype(l.table.fn)>(p);               \
  else                                                                    \
    missing += std::string(missing.empty() ? "" : ", ") + MOGA_CU_EXT_SYMBOL(fn);
  MOGA_CU_EXT_FUNCS(MOGA_CU_EXT_LOAD)
#undef MOGA_CU_EXT_LOAD
  if (!missing.empty()) l.why = "the CUDA driver lacks " + missing + "; update the driver";
  return l;
}

}  // namespace

const DriverExt& ext() {
  static const Loaded l = load();
  if (!l.why.empty()) throw std::runtime_error("no CUDA device: " + l.why);
  return l.table;
}

}  // namespace moga::rt
