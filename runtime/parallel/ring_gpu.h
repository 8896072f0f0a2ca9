// Ring attention on the GPU: the ring steps of usp_plan.h (docs/distributed.md). After the all-to-all
// inside its Ulysses group, rank (g, u) holds q, k, v of its group's Ng tokens for its Hl heads
// (UlyssesGpu::heads(), [Ng][3][Hl][D]). attend() runs the R steps: step 0 attends the queries to the
// own keys; step s > 0 to the keys of group (g - s) mod R, which arrive over NCCL on the ring's own
// stream and communicator (a split of the world's: its transfers never queue behind the compute
// stream's exchanges) into one of two buffers while the previous step's attention runs. Events order
// receive -> attention (the compute stream waits) and attention -> the next receive into the same
// buffer (the ring stream waits). Each step's attention writes its output (bf16) and log-sum-exp (f32,
// RunOptions::lse); lse_merge_bf16 (kernels_src/cuda/lse_merge.cuh) folds it into the running f32
// output, and the last fold writes the bf16 result for the all-to-all back.
//
// Dense and masked single-kernel patterns (ring_supported): each step passes the global positions of
// the group's first query and the block's first key (RunOptions::q_offset / kv_offset / seq_tokens), so a
// mask or bias sees the coordinates of the whole sequence; a masked step visits every key tile (no block
// map at the global positions yet), and every block still travels (usp_plan.h kv_needs says which keys
// a group needs; sending only those is not built).
//
// Group keys, routers and mixtures (CrossGroup::Gather, usp_plan.h gather_supported): gather() puts the
// group's q and k|v at their token rows of [N]-row buffers and receives the other groups' k|v from the
// same member of each (one NCCL group on the ring's stream: the dense ring's bytes, not overlapped with
// this layer's attention); the caller then runs the whole pattern over all N keys with the group's tokens
// as the query range (RunOptions::query_begin / query_end) into out_all() and takes the group's rows.
#pragma once

#include <cuda.h>

#include <functional>
#include <memory>
#include <string>

#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"
#include "runtime/parallel/nccl_comm.h"
#include "runtime/parallel/usp_plan.h"

namespace moga::ref {
struct PatternSpec;
}

namespace moga::parallel {

// `moga run --gpus P` for H heads and this pattern (usp_plan.h's rule): ShardingError when the pattern reads
// the head index (check_pattern_head_free), or when P needs a ring (H % P != 0) and neither the ring steps nor
// the gather runs the pattern; the message gives both reasons and the GPU counts that need neither (the
// divisors of H).
void check_usp(int heads, int P, const ref::PatternSpec& spec);

// The merge kernel (lse_merge_bf16), through NVRTC and the cache; arch "" = the device's.
jit::CompiledKernel compile_lse_merge(const std::string& arch = "");

class RingGpu {
 public:
  // One step's attention, enqueued on `stream`: the group's Ng queries (bf16 rows of q_ld elements, Hl
  // heads of D at column h*D) against nk keys (k, v rows of kv_ld elements), output bf16 [Ng][Hl][D]
  // into `out` and the log-sum-exp f32 [Hl][Ng] into `lse`. q_pos0 / kv_pos0: the sequence positions
  // of the first query and the first key (RunOptions::q_offset / kv_offset).
  using Attend = std::function<void(CUdeviceptr q, long long q_ld, CUdeviceptr k, CUdeviceptr v, long long kv_ld,
                                    long long nk, long long q_pos0, long long kv_pos0, CUdeviceptr out,
                                    CUdeviceptr lse, CUstream stream)>;

  // ring: a communicator over the same ranks as the world's (Communicator::split), used only here.
  RingGpu(std::unique_ptr<Communicator> ring, CrossGroup mode);
  ~RingGpu();
  RingGpu(const RingGpu&) = delete;
  RingGpu& operator=(const RingGpu&) = delete;

  // Buffers and the merge kernel for this layout (cheap when it did not change).
  void prepare(const UspLayout& l);
  // heads: [Ng][3][Hl][D] bf16; out: [Ng][Hl][D] bf16, the merged attention of the group's queries
  // over all N keys. Everything on `stream` (and the ring's stream, joined through events).
  void attend(CUdeviceptr heads, CUdeviceptr out, const Attend& attn, CUstream stream);
  // Gather mode: heads [Ng][3][Hl][D] -> q_all() [N][Hl][D] (the group's rows; the others stay zero) and
  // kv_all() [N][2][Hl][D] (every group's), on `stream` (the ring's stream joined through events).
  void gather(CUdeviceptr heads, CUstream stream);
  CUdeviceptr q_all() const { return q_all_->ptr(); }
  CUdeviceptr kv_all() const { return kv_all_->ptr(); }
  CUdeviceptr out_all() const { return out_all_->ptr(); }  // [N][Hl][D], for the whole-sequence call
  CrossGroup mode() const { return mode_; }
  Communicator& comm() { return *comm_; }
  const UspLayout& layout() const { return l_; }

 private:
  void post_recv(int step, CUdeviceptr own_kv, size_t own_bytes);
  std::unique_ptr<Communicator> comm_;
  CrossGroup mode_;
  UspLayout l_;
  bool prepared_ = false;
  CUstream ring_ = nullptr;
  CUevent packed_ = nullptr, recv_[2] = {nullptr, nullptr}, used_[2] = {nullptr, nullptr};
  std::unique_ptr<jit::Module> mod_;
  CUfunction merge_ = nullptr;
  std::unique_ptr<jit::DeviceBuffer> own_kv_, kv_[2], part_, part_lse_, acc_, acc_lse_;  // Ring
  std::unique_ptr<jit::DeviceBuffer> q_all_, kv_all_, out_all_;                          // Gather
};

}  // namespace moga::parallel
