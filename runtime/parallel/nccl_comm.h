// NCCL for sequence parallelism (docs/distributed.md), loaded at run time with dlopen like the CUDA
// driver (runtime/jit/driver.h says why): binaries still start, and run everything single-GPU, where
// NCCL or a GPU is missing; only `moga run --gpus N` (N > 1) needs it, and then a missing library or
// device is the error "NCCL not available: <reason>".
//
// Library search: $MOGA_NCCL_LIBRARY (a path) when set, else "libnccl.so.2" through the loader's path
// (LD_LIBRARY_PATH, ldconfig), else the CUDA toolkit's lib folders. The pip wheel (nvidia-nccl-cu13)
// installs it under site-packages/nvidia/nccl/lib: point MOGA_NCCL_LIBRARY or LD_LIBRARY_PATH there.
//
// NVLink multicast (NVLS) stays off: every process that loads NCCL through here gets
// NCCL_NVLS_ENABLE=0 (overwriting any value) before the first NCCL call, and so do the children that
// `moga run --gpus N` starts (launch.h). On the shared GPU machines a program that uses multicast can
// put the host's GPUs out of service.
//
// Every failing call throws NcclError naming the call, its arguments and NCCL's message
// ("ncclSend(peer 1, 1572864 bytes): unhandled cuda error: <ncclGetLastError>").
#pragma once

#include <cuda.h>

#include <array>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>

namespace moga::parallel {

class NcclError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NcclApi;  // the dlopen'ed entry points (nccl_comm.cpp)

// The loaded library with a CUDA device present; nullptr with *why = "NCCL not available: <reason>"
// (library missing, an entry point missing, or no CUDA device). Loaded once per process; never aborts.
const NcclApi* try_nccl(std::string* why = nullptr);
// As try_nccl, but throws NcclError("NCCL not available: <reason>").
const NcclApi& nccl();
// "2.28.3" (needs the library, not a device); throws NcclError when the library cannot be loaded.
std::string nccl_version();

// ncclUniqueId as text for the environment (MOGA_NCCL_ID): 256 lowercase hex digits.
constexpr size_t kUniqueIdBytes = 128;
using UniqueId = std::array<unsigned char, kUniqueIdBytes>;
std::string unique_id_to_hex(const UniqueId& id);
UniqueId unique_id_from_hex(const std::string& hex);  // std::invalid_argument on a bad length or digit
// ncclGetUniqueId (rank 0, before starting the other ranks). Needs nccl().
UniqueId new_unique_id();

// One rank's communicator on the device of the calling thread's current CUDA context (make the
// device's primary context current first: jit::Device::get().make_current()).
class Communicator {
 public:
  // ncclCommInitRank: blocks until all `world` ranks have joined with the same id.
  Communicator(int rank, int world, const UniqueId& id);
  ~Communicator();  // ncclCommDestroy
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int world() const { return world_; }
  // A second communicator over the same ranks (ncclCommSplit, collective: every rank calls it), for
  // transfers on another stream (ring attention, ring_gpu.h) that must not queue behind this one's.
  std::unique_ptr<Communicator> split();

  // Point-to-point in groups (an all-to-all is one group of sends and receives to every peer): between
  // group_start() and group_end() the calls are only queued; group_end() enqueues them all on `stream`.
  // Sizes in bytes (transferred as ncclUint8). A 0-byte send or receive is skipped.
  void group_start();
  void group_end();
  void send(CUdeviceptr buf, size_t bytes, int peer, CUstream stream);
  void recv(CUdeviceptr buf, size_t bytes, int peer, CUstream stream);

  // Throws NcclError when NCCL reported an asynchronous error (a peer failed, a network error).
  void check_async();
  // ncclCommAbort instead of the destructor's ncclCommDestroy (after an error, with peers gone).
  void abort();

 private:
  Communicator(const NcclApi* api, void* comm, int rank, int world);  // split()
  [[noreturn]] void fail(const std::string& call, int result) const;
  const NcclApi* api_ = nullptr;
  void* comm_ = nullptr;  // ncclComm_t
  int rank_ = 0, world_ = 1;
};

}  // namespace moga::parallel
