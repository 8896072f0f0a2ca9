#include "runtime/jit/module.h"

#include <fmt/format.h>

#include <map>
#include <memory>
#include <mutex>

#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/jit.h"

namespace moga::jit {

bool device_available(std::string* why) { return try_driver(why) != nullptr; }

Device::Device(int ordinal) : ordinal_(ordinal) {
  const Driver& d = driver();
  int count = 0;
  CU_CHECK(d.cuDeviceGetCount(&count));
  if (ordinal < 0 || ordinal >= count)
    throw std::runtime_error(
        fmt::format("no CUDA device: ordinal {} requested, {} device(s) present", ordinal, count));
  CU_CHECK(d.cuDeviceGet(&dev_, ordinal));
  CU_CHECK(d.cuDevicePrimaryCtxRetain(&ctx_, dev_));
}

Device& Device::get(int ordinal) {
  static std::mutex mu;
  static auto* devices = new std::map<int, std::unique_ptr<Device>>;  // leaked on purpose (module.h)
  Device* dev;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto& slot = (*devices)[ordinal];
    if (!slot) slot.reset(new Device(ordinal));
    dev = slot.get();
  }
  dev->make_current();
  return *dev;
}

void Device::make_current() const { CU_CHECK(driver().cuCtxSetCurrent(ctx_)); }

void Device::synchronize() const {
  make_current();
  CU_CHECK(driver().cuCtxSynchronize());
}

int Device::attribute(CUdevice_attribute a) const {
  int v = 0;
  CU_CHECK(driver().cuDeviceGetAttribute(&v, a, dev_));
  return v;
}

std::string Device::name() const {
  char buf[256] = {};
  CU_CHECK(driver().cuDeviceGetName(buf, sizeof buf, dev_));
  return buf;
}

std::string Device::arch() const {
  return fmt::format("sm_{}{}", attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                     attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR));
}

Module::Module(const void* image, std::string arch, Device& device) : arch_(std::move(arch)) {
  device.make_current();
  const CUresult r = driver().cuModuleLoadData(&mod_, image);
  if (r == CUDA_SUCCESS) return;
  // The usual cause is a cubin for another arch: say which two did not match.
  const char* name = "?";
  driver().cuGetErrorName(r, &name);
  throw CudaError(fmt::format("cuModuleLoadData failed: {} (cubin for {}, device {} is {})", name,
                              arch_.empty() ? "unknown arch" : arch_, device.name(), device.arch()),
                  r);
}

Module::Module(const CompiledKernel& kernel, Device& device)
    : Module(kernel.cubin.data(), kernel.arch, device) {}

Module::~Module() {
  if (mod_) driver().cuModuleUnload(mod_);  // no throw from a destructor; nothing to do on failure
}

Module& Module::operator=(Module&& o) noexcept {
  if (this != &o) {
    if (mod_) driver().cuModuleUnload(mod_);
    mod_ = o.mod_;
    arch_ = std::move(o.arch_);
    o.mod_ = nullptr;
  }
  return *this;
}

CUfunction Module::function(const char* name) const {
  CUfunction f = nullptr;
  const CUresult r = driver().cuModuleGetFunction(&f, mod_, name);
  if (r != CUDA_SUCCESS)
    detail::throw_cu_error(r, fmt::format("cuModuleGetFunction(\"{}\")", name).c_str(), __FILE__,
                           __LINE__);
  return f;
}

void launch(CUfunction f, Dim3 grid, Dim3 block, size_t shared_bytes, CUstream stream, void** args) {
  const Driver& d = driver();
  if (shared_bytes > 48 * 1024)
    CU_CHECK(d.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                  static_cast<int>(shared_bytes)));
  CU_CHECK(d.cuLaunchKernel(f, grid.x, grid.y, grid.z, block.x, block.y, block.z,
                            static_cast<unsigned>(shared_bytes), stream, args, nullptr));
}

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  Device::get();  // a current context
  CU_CHECK(driver().cuMemAlloc(&ptr_, bytes));
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) driver().cuMemFree(ptr_);
}

void DeviceBuffer::upload(const void* src, size_t bytes) {
  if (bytes > bytes_) throw std::out_of_range(fmt::format("upload of {} B into {} B", bytes, bytes_));
  CU_CHECK(driver().cuMemcpyHtoD(ptr_, src, bytes));
  // From pageable memory cuMemcpyHtoD may return once the bytes are staged, before the DMA lands: work on a
  // non-blocking stream (a caller's, or a graph's) would not wait for it. Done on return, on every stream.
  CU_CHECK(driver().cuStreamSynchronize(CU_STREAM_LEGACY));
}

void DeviceBuffer::download(void* dst, size_t bytes) const {
  if (bytes > bytes_) throw std::out_of_range(fmt::format("download of {} B from {} B", bytes, bytes_));
  CU_CHECK(driver().cuMemcpyDtoH(dst, ptr_, bytes));
}

void DeviceBuffer::fill_bytes(unsigned char value) {
  CU_CHECK(driver().cuMemsetD8(ptr_, value, bytes_));
  CU_CHECK(driver().cuStreamSynchronize(CU_STREAM_LEGACY));  // asynchronous on device memory: as upload
}

}  // namespace moga::jit
