// Error macros that name the failing call, its file:line and the library's error string
// (llm.c's cudaCheck style). They throw rather than exit: a caller such as the autotuner must be able
// to skip a config that fails for resources and go on.
//
//   NVRTC_CHECK(nvrtcCreateProgram(&prog, src, "k.cu", 0, nullptr, nullptr));
//   CU_CHECK(driver().cuModuleLoadData(&mod, image));
#pragma once

#include <cuda.h>
#include <nvrtc.h>

#include <stdexcept>
#include <string>

namespace moga::jit {

class NvrtcError : public std::runtime_error {
 public:
  NvrtcError(const std::string& what, nvrtcResult code) : std::runtime_error(what), code_(code) {}
  nvrtcResult code() const { return code_; }

 private:
  nvrtcResult code_;
};

class CudaError : public std::runtime_error {
 public:
  CudaError(const std::string& what, CUresult code) : std::runtime_error(what), code_(code) {}
  CUresult code() const { return code_; }

 private:
  CUresult code_;
};

namespace detail {
[[noreturn]] void throw_nvrtc_error(nvrtcResult r, const char* call, const char* file, int line);
[[noreturn]] void throw_cu_error(CUresult r, const char* call, const char* file, int line);
}  // namespace detail

}  // namespace moga::jit

#define NVRTC_CHECK(call)                                                          \
  do {                                                                             \
    const nvrtcResult moga_nvrtc_r_ = (call);                                      \
    if (moga_nvrtc_r_ != NVRTC_SUCCESS)                                            \
      ::moga::jit::detail::throw_nvrtc_error(moga_nvrtc_r_, #call, __FILE__, __LINE__); \
  } while (0)

#define CU_CHECK(call)                                                             \
  do {                                                                             \
    const CUresult moga_cu_r_ = (call);                                            \
    if (moga_cu_r_ != CUDA_SUCCESS)                                                \
      ::moga::jit::detail::throw_cu_error(moga_cu_r_, #call, __FILE__, __LINE__);  \
  } while (0)
