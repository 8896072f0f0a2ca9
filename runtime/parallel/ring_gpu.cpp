#include "runtime/parallel/ring_gpu.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "runtime/kernels/embedded.h"
#include "runtime/parallel/ulysses_gpu.h"
#include "runtime/reference/manifest.h"

namespace moga::parallel {

bool ring_supported(const ref::PatternSpec& spec, std::string* why) {
  auto no = [&](const std::string& w) {
    if (why) *why = w;
    return false;
  };
  if (spec.kernels.size() != 1)
    return no(fmt::format("pattern '{}' has {} branches (the merge needs each branch's output apart)", spec.pattern,
                          spec.kernels.size()));
  // Masks and biases see the global positions through the token offsets (RunOptions::q_offset); a group key
  // or a router sorts queries and keys in one token order, which a step's slices do not share.
  const ref::KernelSpec& k = spec.kernels[0];
  const char* what = k.route ? "a router" : k.key ? "a group key" : k.gate ? "a gate program" : nullptr;
  if (what)
    return no(fmt::format("kernel '{}' of pattern '{}' has {} (one token order for queries and keys; the ring's "
                          "steps hold slices of the sequence)",
                          k.name, spec.pattern, what));
  return true;
}

void check_usp(int heads, int P, const ref::PatternSpec& spec) {
  check_pattern_head_free(spec);
  const int U = ulysses_size(heads, P);
  if (U == P) return;
  std::string why;
  if (ring_supported(spec, &why)) return;
  std::string ok;
  for (int g = 1; g <= heads; ++g)
    if (heads % g == 0) ok += (ok.empty() ? "" : ", ") + std::to_string(g);
  throw ShardingError(fmt::format("{} attention heads over {} GPUs need Ulysses groups of {} and a ring of {}; the GPU "
                                  "ring attention runs dense and masked single-kernel patterns only and {} (use {} GPUs "
                                  "for '{}', or a dense pattern such as --attention full)",
                                  heads, P, U, P / U, why, ok, spec.pattern));
}

jit::CompiledKernel compile_lse_merge(const std::string& arch) {
  jit::CompileOptions o;
  o.name = "lse-merge";
  o.arch = arch;
  for (const auto& h : kernels::embedded_headers())
    if (std::strcmp(h.name, "lse_merge.cuh") == 0) o.headers.push_back({h.name, h.text});
  if (o.headers.empty()) throw std::runtime_error("ring attention: lse_merge.cuh is not embedded in this binary");
  return jit::compile("#include \"lse_merge.cuh\"\n", o);
}

RingGpu::RingGpu(std::unique_ptr<Communicator> ring) : comm_(std::move(ring)) {
  if (!comm_) throw std::invalid_argument("RingGpu: no communicator");
  const jit::Driver& d = jit::driver();
  CU_CHECK(d.cuStreamCreate(&ring_, CU_STREAM_NON_BLOCKING));
  for (CUevent* e : {&packed_, &recv_[0], &recv_[1], &used_[0], &used_[1]}) CU_CHECK(d.cuEventCreate(e, CU_EVENT_DISABLE_TIMING));
}

RingGpu::~RingGpu() {
  const jit::Driver& d = jit::driver();
  if (ring_) d.cuStreamSynchronize(ring_);
  for (CUevent e : {packed_, recv_[0], recv_[1], used_[0], used_[1]})
    if (e) d.cuEventDestroy(e);
  if (ring_) d.cuStreamDestroy(ring_);
}

void RingGpu::prepare(const UspLayout& l) {
  if (l.P != comm_->world())
    throw std::logic_error(fmt::format("RingGpu: a layout of {} ranks for a communicator of {}", l.P, comm_->world()));
  if (prepared_ && l.N == l_.N && l.H == l_.H && l.D == l_.D) return;
  l_ = l;
  long long ng = 0;
  for (int g = 0; g < l.R; ++g) ng = std::max(ng, l.group_count(g));
  const size_t row = (size_t)l.Hl() * l.D;  // elements of one token's heads, one component
  own_kv_ = fit(std::move(own_kv_), (size_t)ng * 2 * row * 2);
  for (auto& b : kv_) b = fit(std::move(b), (size_t)ng * 2 * row * 2);
  part_ = fit(std::move(part_), (size_t)ng * row * 2);
  acc_ = fit(std::move(acc_), (size_t)ng * row * 4);
  part_lse_ = fit(std::move(part_lse_), (size_t)ng * l.Hl() * 4);
  acc_lse_ = fit(std::move(acc_lse_), (size_t)ng * l.Hl() * 4);
  if (!mod_) {
    mod_ = std::make_unique<jit::Module>(compile_lse_merge());
    merge_ = mod_->function("lse_merge_bf16");
  }
  prepared_ = true;
}

// Step s's transfer on the ring stream: the own K/V to send_to(s), the source group's into kv_[s % 2].
void RingGpu::post_recv(int s, CUdeviceptr own_kv, size_t own_bytes) {
  const jit::Driver& d = jit::driver();
  const int r = comm_->rank();
  const size_t kv_row = (size_t)2 * l_.Hl() * l_.D * 2;
  // kv_[s % 2] was read by the attention of step s - 2 (steps 1 and 2 find it unused).
  if (s >= 3) CU_CHECK(d.cuStreamWaitEvent(ring_, used_[s % 2], 0));
  comm_->group_start();
  comm_->send(own_kv, own_bytes, l_.send_to(r, s), ring_);
  comm_->recv(kv_[s % 2]->ptr(), (size_t)l_.group_count(l_.source_group(r, s)) * kv_row, l_.recv_from(r, s), ring_);
  comm_->group_end();
  CU_CHECK(d.cuEventRecord(recv_[s % 2], ring_));
}

void RingGpu::attend(CUdeviceptr heads, CUdeviceptr out, const Attend& attn, CUstream stream) {
  if (!prepared_) throw std::logic_error("RingGpu::attend before prepare()");
  const jit::Driver& d = jit::driver();
  const int r = comm_->rank(), R = l_.R, Hl = l_.Hl(), D = l_.D;
  const long long ng = l_.group_count(l_.group_of(r));
  const size_t row = (size_t)Hl * D * 2;  // bytes of one token's heads, one component
  // The own K|V packed [ng][2][Hl][D] (what every step sends), after the all-to-all that produced them.
  Copy3D pack;
  pack.src_offset = row;
  pack.src_pitch = 3 * row;
  pack.dst_pitch = pack.width = 2 * row;
  pack.height = (size_t)ng;
  pack.src_slice_rows = pack.dst_slice_rows = (size_t)std::max<long long>(1, ng);
  copy3d_device(pack, heads, own_kv_->ptr(), stream);
  CU_CHECK(d.cuEventRecord(packed_, stream));
  CU_CHECK(d.cuStreamWaitEvent(ring_, packed_, 0));
  CU_CHECK(d.cuMemsetD32Async(acc_lse_->ptr(), 0xff800000u, (size_t)Hl * ng, stream));  // -inf: nothing merged yet
  const size_t own_bytes = (size_t)ng * 2 * row;
  if (R > 1) post_recv(1, own_kv_->ptr(), own_bytes);
  for (int s = 0; s < R; ++s) {
    // Post the next step's transfer now, so it runs under this step's attention.
    if (s + 1 < R && s >= 1) post_recv(s + 1, own_kv_->ptr(), own_bytes);
    CUdeviceptr k = heads + row, v = heads + 2 * row;
    long long kv_ld = 3LL * Hl * D, nk = ng;
    if (s > 0) {
      CU_CHECK(d.cuStreamWaitEvent(stream, recv_[s % 2], 0));
      k = kv_[s % 2]->ptr();
      v = k + row;
      kv_ld = 2LL * Hl * D;
      nk = l_.group_count(l_.source_group(r, s));
    }
    // the tokens' global positions: the own group's first query, the source group's first key
    const long long q_pos0 = l_.group_start(l_.group_of(r)), kv_pos0 = l_.group_start(l_.source_group(r, s));
    attn(heads, 3LL * Hl * D, k, v, kv_ld, nk, q_pos0, kv_pos0, part_->ptr(), part_lse_->ptr(), stream);
    if (s > 0) CU_CHECK(d.cuEventRecord(used_[s % 2], stream));
    CUdeviceptr acc = acc_->ptr(), acc_lse = acc_lse_->ptr(), part = part_->ptr(), part_lse = part_lse_->ptr();
    CUdeviceptr dst = s + 1 == R ? out : 0;
    long long part_ld = (long long)Hl * D, out_ld = part_ld;
    int rows = (int)ng, H = Hl, Dd = D;
    void* args[] = {&acc, &acc_lse, &part, &part_ld, &part_lse, &rows, &H, &Dd, &dst, &out_ld};
    const unsigned warps = 8;
    jit::launch(merge_, {(unsigned)((ng * Hl + warps - 1) / warps), 1, 1}, {32 * warps, 1, 1}, 0, stream, args);
  }
}

}  // namespace moga::parallel
