// Driver-API loader: the device and its primary context, cubin modules, launches, device memory.
// Everything goes through the dlopen'ed driver (driver.h), so a machine without a GPU gets
// "no CUDA device: <reason>" from these calls instead of a binary that does not start.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace moga::jit {

struct CompiledKernel;

// False (never a crash or abort) when the driver is missing, cuInit fails or there is no device;
// the reason goes to *why.
bool device_available(std::string* why = nullptr);

// A device with its primary context retained (the context the CUDA runtime and PyTorch share, so
// moga's kernels and theirs see the same memory).
class Device {
 public:
  // Retains device `ordinal`'s primary context once per process and makes it current on the calling
  // thread. Throws "no CUDA device: <reason>". The context is released by process exit, not by a
  // static destructor, which would run while the driver may already be tearing down.
  static Device& get(int ordinal = 0);

  void make_current() const;  // on the calling thread (each thread needs it once)
  void synchronize() const;
  int attribute(CUdevice_attribute a) const;
  std::string name() const;
  std::string arch() const;  // "sm_90" for compute capability 9.0
  int ordinal() const { return ordinal_; }
  CUdevice handle() const { return dev_; }
  CUcontext context() const { return ctx_; }

 private:
  explicit Device(int ordinal);
  int ordinal_;
  CUdevice dev_ = 0;
  CUcontext ctx_ = nullptr;
};

// A loaded cubin (RAII over cuModuleLoadData / cuModuleUnload). Move-only.
class Module {
 public:
  Module(const void* image, std::string arch, Device& device = Device::get());
  explicit Module(const CompiledKernel& kernel, Device& device = Device::get());
  ~Module();
  Module(Module&& o) noexcept : mod_(o.mod_), arch_(std::move(o.arch_)) { o.mod_ = nullptr; }
  Module& operator=(Module&& o) noexcept;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Throws CudaError naming the function when it is not in the module.
  CUfunction function(const char* name) const;
  CUmodule handle() const { return mod_; }

 private:
  CUmodule mod_ = nullptr;
  std::string arch_;
};

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

// cuLaunchKernel. Above 48 KiB of dynamic shared memory the driver refuses the launch unless the
// function opted in, so this sets CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES first.
void launch(CUfunction f, Dim3 grid, Dim3 block, size_t shared_bytes, CUstream stream, void** args);

// Device memory (RAII over cuMemAlloc / cuMemFree). Move-only.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = 0; o.bytes_ = 0; }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  CUdeviceptr ptr() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  // upload and fill_bytes are complete on return (the legacy stream synchronized), so work on any stream,
  // non-blocking ones included, sees the new bytes.
  void upload(const void* src, size_t bytes);
  void download(void* dst, size_t bytes) const;
  void fill_bytes(unsigned char value);  // e.g. 0xFF poisons floats with NaN

  template <class T>
  void upload(const std::vector<T>& v) { upload(v.data(), v.size() * sizeof(T)); }
  template <class T>
  std::vector<T> download() const {
    std::vector<T> v(bytes_ / sizeof(T));
    download(v.data(), v.size() * sizeof(T));
    return v;
  }

 private:
  CUdeviceptr ptr_ = 0;
  size_t bytes_ = 0;
};

}  // namespace moga::jit
