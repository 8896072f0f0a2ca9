// Ulysses exchanges on the GPU (docs/distributed.md): executes sharding.h's plans on one stream, the
// local copies with cuMemcpy3DAsync and the transfers as one NCCL group of send/recv pairs per
// exchange. Owns the exchange buffers (bf16):
//   send    [P][n][3][H/P][D]  q|k|v packed per destination rank
//   heads   [N][3][H/P][D]     all tokens, this rank's heads: q, k, v are strided views of it
//   out     [N][H/P][D]        the attention output for this rank's heads
//   back    [P][n][H/P][D]     the other ranks' heads of this rank's tokens, before the unpack
// The caller (GpuDiT::forward) computes q|k|v for its shard, calls qkv_to_heads, runs the attention
// into out(), calls out_to_seq, and goes on with its shard.
#pragma once

#include <cuda.h>

#include <memory>
#include <utility>
#include <vector>

#include "runtime/jit/module.h"
#include "runtime/parallel/nccl_comm.h"
#include "runtime/parallel/sharding.h"

namespace moga::parallel {

// Executes one strided copy on `stream` (cuMemcpy3DAsync, device to device).
void copy3d_device(const Copy3D& c, CUdeviceptr src, CUdeviceptr dst, CUstream stream);

class UlyssesGpu {
 public:
  explicit UlyssesGpu(std::shared_ptr<Communicator> comm);
  int rank() const { return comm_->rank(); }
  int world() const { return comm_->world(); }
  Communicator& comm() { return *comm_; }

  // Plans and buffers for N tokens, H heads of D (bf16); q|k|v rows of qkv_ld elements (q, k, v at
  // columns 0, H*D, 2*H*D), attention-output rows of out_ld elements. Cheap when nothing changed.
  void prepare(long long N, int H, int D, long long qkv_ld, long long out_ld);
  const UlyssesShape& shape() const { return shape_; }
  long long start() const { return shape_.shards.start(rank()); }
  long long count() const { return shape_.shards.count(rank()); }
  int heads_local() const { return shape_.Hp(); }

  CUdeviceptr heads() const { return heads_->ptr(); }  // [N][3][H/P][D]
  CUdeviceptr out() const { return out_->ptr(); }      // [N][H/P][D]

  // qkv: this rank's rows [n][qkv_ld] -> heads().
  void qkv_to_heads(CUdeviceptr qkv, CUstream stream);
  // out() -> this rank's rows [n][out_ld] (every head).
  void out_to_seq(CUdeviceptr dst, CUstream stream);
  // In place, one NCCL group: each (buffer, row bytes) holds [N] rows; this rank's rows go to every peer.
  void all_gather(const std::vector<std::pair<CUdeviceptr, size_t>>& buffers, CUstream stream);

 private:
  void run(const Exchange& e, CUdeviceptr src, CUdeviceptr send, CUdeviceptr recv, CUdeviceptr dst, CUstream stream);
  std::shared_ptr<Communicator> comm_;
  UlyssesShape shape_;
  long long key_[5] = {-1, -1, -1, -1, -1};
  Exchange to_heads_, to_seq_;
  std::unique_ptr<jit::DeviceBuffer> send_, heads_, out_, back_;
};

}  // namespace moga::parallel
