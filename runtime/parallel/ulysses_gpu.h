// Ulysses exchanges on the GPU (docs/distributed.md): executes sharding.h's plans on one stream, the
// local copies with cuMemcpy3DAsync and the transfers as one NCCL group of send/recv pairs per
// exchange. With Ulysses x ring (usp_plan.h) the all-to-alls run inside the rank's Ulysses group of U
// ranks over the group's Ng tokens (pure Ulysses: U = P, Ng = N); the all-gathers over all P ranks.
// Owns the exchange buffers (bf16; Hl = H/U):
//   send    [U][n][3][Hl][D]   q|k|v packed per destination rank
//   heads   [Ng][3][Hl][D]     the group's tokens, this rank's heads: q, k, v are strided views of it
//   out     [Ng][Hl][D]        the attention output for this rank's heads
//   back    [U][n][Hl][D]      the other members' heads of this rank's tokens, before the unpack
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
#include "runtime/parallel/usp_plan.h"

namespace moga::parallel {

// Executes one strided copy on `stream` (cuMemcpy3DAsync, device to device).
void copy3d_device(const Copy3D& c, CUdeviceptr src, CUdeviceptr dst, CUstream stream);
// `b` when it holds at least `bytes` (at least 256), else a new buffer of that size (the exchanges'
// and the ring's buffers grow with the shape and are kept between forwards).
std::unique_ptr<jit::DeviceBuffer> fit(std::unique_ptr<jit::DeviceBuffer> b, size_t bytes);

class UlyssesGpu {
 public:
  explicit UlyssesGpu(std::shared_ptr<Communicator> comm);
  int rank() const { return comm_->rank(); }
  int world() const { return comm_->world(); }
  Communicator& comm() { return *comm_; }

  // Plans and buffers for the layout (its P must be the world's; bf16); q|k|v rows of qkv_ld elements
  // (q, k, v at columns 0, H*D, 2*H*D), attention-output rows of out_ld elements. Cheap when nothing
  // changed.
  void prepare(const UspLayout& l, long long qkv_ld, long long out_ld);
  const UspLayout& layout() const { return layout_; }
  const UlyssesShape& shape() const { return shape_; }  // the group's all-to-all
  long long start() const { return layout_.shards.start(rank()); }
  long long count() const { return layout_.shards.count(rank()); }
  long long group_start() const { return layout_.group_start(layout_.group_of(rank())); }
  long long group_count() const { return shape_.N; }
  int heads_local() const { return layout_.Hl(); }

  CUdeviceptr heads() const { return heads_->ptr(); }  // [Ng][3][Hl][D]
  CUdeviceptr out() const { return out_->ptr(); }      // [Ng][Hl][D]

  // qkv: this rank's rows [n][qkv_ld] -> heads().
  void qkv_to_heads(CUdeviceptr qkv, CUstream stream);
  // out() -> this rank's rows [n][out_ld] (every head).
  void out_to_seq(CUdeviceptr dst, CUstream stream);
  // In place, one NCCL group: each (buffer, row bytes) holds [N] rows; this rank's rows go to every peer.
  void all_gather(const std::vector<std::pair<CUdeviceptr, size_t>>& buffers, CUstream stream);

 private:
  void run(const Exchange& e, CUdeviceptr src, CUdeviceptr send, CUdeviceptr recv, CUdeviceptr dst, CUstream stream);
  std::shared_ptr<Communicator> comm_;
  UspLayout layout_;
  UlyssesShape shape_;
  long long key_[5] = {-1, -1, -1, -1, -1};
  Exchange to_heads_, to_seq_;
  std::unique_ptr<jit::DeviceBuffer> send_, heads_, out_, back_;
};

}  // namespace moga::parallel
