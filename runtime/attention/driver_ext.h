// Driver entry points the attention runtime needs beyond runtime/jit's table (driver.h): async
// memsets and copies, module globals, cuLaunchKernelEx (programmatic dependent launch) and occupancy.
// Loaded the same way (dlopen("libcuda.so.1"), the symbol cuda.h's macros name), so a machine
// without a driver still starts the binary; ext() throws "no CUDA device: ..." there.
// (Suggested upstream: add these to MOGA_CU_FUNCS in runtime/jit/driver.h and drop this file.)
#pragma once

#include <cuda.h>

namespace moga::rt {

#define MOGA_CU_EXT_FUNCS(X)                                                                  \
  X(cuModuleGetGlobal) X(cuMemsetD32Async) X(cuMemsetD8Async) X(cuMemcpyHtoDAsync)            \
  X(cuMemcpyDtoHAsync) X(cuLaunchKernelEx) X(cuOccupancyMaxActiveBlocksPerMultiprocessor)     \
  X(cuStreamQuery)

struct DriverExt {
#define MOGA_CU_EXT_MEMBER(fn) decltype(&::fn) fn = nullptr;
  MOGA_CU_EXT_FUNCS(MOGA_CU_EXT_MEMBER)
#undef MOGA_CU_EXT_MEMBER
};

// Throws std::runtime_error("no CUDA device: ...") when the driver or an entry point is missing.
const DriverExt& ext();

}  // namespace moga::rt
