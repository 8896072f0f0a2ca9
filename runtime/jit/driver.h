// The CUDA driver API, loaded at run time with dlopen("libcuda.so.1") instead of linked.
//
// Why dlopen: the driver is part of the machine, not of the toolkit. A binary linked against it
// records libcuda.so.1 as a needed library, and where no driver is installed (the build machine, CI)
// the loader refuses to start it at all: no `moga --version`, no CPU tests, no loud GPU-test skip.
// Linking the toolkit's stub does not help (the stub is only found if its folder is on the library
// path, and then it could shadow a real driver). With dlopen one binary runs everywhere and a missing
// driver becomes the error "no CUDA device: <dlerror>" at the first driver call.
//
// Each entry point is looked up by the exported name that cuda.h's macros give it (cuMemAlloc is
// cuMemAlloc_v2), i.e. the symbol a linked program would bind, so its ABI is exactly the prototype we
// compile against; cuda.h renames the members below the same way, so `driver().cuMemAlloc(...)` just
// works. Not cuGetProcAddress(name, CUDA_VERSION): it returns the newest ABI of that version, which
// can differ from cuda.h's prototype (CUDA 13's cuCtxSynchronize takes a context; the prototype
// takes none, and the mismatch showed up on the H100 as CUDA_ERROR_CONTEXT_IS_DESTROYED).
#pragma once

#include <cuda.h>

#include <string>

namespace moga::jit {

// Every driver function moga calls. Add one here when a new call is needed.
#define MOGA_CU_FUNCS(X)                                                                      \
  X(cuInit) X(cuDriverGetVersion) X(cuGetErrorName) X(cuGetErrorString)                       \
  X(cuDeviceGetCount) X(cuDeviceGet) X(cuDeviceGetName) X(cuDeviceGetAttribute)               \
  X(cuDeviceTotalMem) X(cuDevicePrimaryCtxRetain) X(cuDevicePrimaryCtxRelease)                \
  X(cuCtxSetCurrent) X(cuCtxSynchronize)                                                      \
  X(cuModuleLoadData) X(cuModuleUnload) X(cuModuleGetFunction)                                \
  X(cuFuncSetAttribute) X(cuFuncGetAttribute) X(cuLaunchKernel)                               \
  X(cuMemAlloc) X(cuMemFree) X(cuMemcpyHtoD) X(cuMemcpyDtoH) X(cuMemsetD8)                    \
  X(cuMemsetD8Async) X(cuMemsetD32Async) X(cuMemcpyHtoDAsync) X(cuMemcpyDtoHAsync) X(cuMemcpy3DAsync) \
  X(cuMemcpyDtoDAsync)                                                                        \
  X(cuModuleGetGlobal) X(cuLaunchKernelEx) X(cuOccupancyMaxActiveBlocksPerMultiprocessor)     \
  X(cuStreamCreate) X(cuStreamDestroy) X(cuStreamSynchronize) X(cuStreamQuery) X(cuStreamWaitEvent) \
  X(cuEventCreate) X(cuEventDestroy) X(cuEventRecord) X(cuEventSynchronize) X(cuEventElapsedTime)  \
  X(cuTensorMapEncodeTiled)                                                                    \
  X(cuStreamBeginCapture) X(cuStreamEndCapture) X(cuGraphInstantiate) X(cuGraphLaunch)       \
  X(cuGraphExecDestroy) X(cuGraphDestroy)

struct Driver {
#define MOGA_CU_MEMBER(fn) decltype(&::fn) fn = nullptr;
  MOGA_CU_FUNCS(MOGA_CU_MEMBER)
#undef MOGA_CU_MEMBER
};

// The loaded driver with cuInit done and at least one device; nullptr (with the reason in *why) when
// the library is missing, an entry point is missing, cuInit fails or there is no device. Loaded once;
// never aborts.
const Driver* try_driver(std::string* why = nullptr);

// As try_driver, but throws std::runtime_error("no CUDA device: <reason>").
const Driver& driver();

}  // namespace moga::jit
