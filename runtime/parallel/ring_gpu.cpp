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

void check_usp(int heads, int P, const ref::PatternSpec& spec) {
  check_pattern_head_free(spec);
  const int U = ulysses_size(heads, P);
  if (U == P) return;
  std::string ring, gather;
  if (ring_supported(spec, &ring) || gather_supported(spec, &gather)) return;
  std::string ok;
  for (int g = 1; g <= heads; ++g)
    if (heads % g == 0) ok += (ok.empty() ? "" : ", ") + std::to_string(g);
  throw ShardingError(fmt::format("{} attention heads over {} GPUs need Ulysses groups of {} and a ring of {}; the ring "
                                  "steps run one dense or masked kernel, and {}; the gather runs kernels with a block "
                                  "map, and {} (use {} GPUs for '{}')",
                                  heads, P, U, P / U, ring, gather, ok, spec.pattern));
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

RingGpu::RingGpu(std::unique_ptr<Communicator> ring, CrossGroup mode) : comm_(std::move(ring)), mode_(mode) {
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
  if (mode_ == CrossGroup::Gather) {
    q_all_ = fit(std::move(q_all_), (size_t)l.N * row * 2);
    // the other groups' query rows are never written: zero, so the tiles the range keeps partly hold finite rows
    CU_CHECK(jit::driver().cuMemsetD8(q_all_->ptr(), 0, q_all_->bytes()));
    kv_all_ = fit(std::move(kv_all_), (size_t)l.N * 2 * row * 2);
    out_all_ = fit(std::move(out_all_), (size_t)l.N * row * 2);
    prepared_ = true;
    return;
  }
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

void RingGpu::gather(CUdeviceptr heads, CUstream stream) {
  if (!prepared_ || mode_ != CrossGroup::Gather) throw std::logic_error("RingGpu::gather before prepare() or in ring mode");
  const jit::Driver& d = jit::driver();
  const int r = comm_->rank(), g = l_.group_of(r);
  const long long ng = l_.group_count(g), t0 = l_.group_start(g);
  const size_t row = (size_t)l_.Hl() * l_.D * 2;  // bytes of one token's heads, one component
  Copy3D c;  // the group's rows of [Ng][3][Hl][D]: q into q_all, k|v into kv_all, at token t0
  c.src_pitch = 3 * row;
  c.height = (size_t)ng;
  c.src_slice_rows = c.dst_slice_rows = (size_t)std::max<long long>(1, ng);
  c.dst_offset = (size_t)t0 * row;
  c.dst_pitch = c.width = row;
  copy3d_device(c, heads, q_all_->ptr(), stream);
  c.src_offset = row;
  c.dst_offset = (size_t)t0 * 2 * row;
  c.dst_pitch = c.width = 2 * row;
  copy3d_device(c, heads, kv_all_->ptr(), stream);
  // The ring's stream waits for the packs, which follow the previous layer's attention (the last reader of
  // kv_all) on `stream`; then every other group's k|v from its member u, the own block to each.
  CU_CHECK(d.cuEventRecord(packed_, stream));
  CU_CHECK(d.cuStreamWaitEvent(ring_, packed_, 0));
  comm_->group_start();
  for (int s = 1; s < l_.R; ++s) {
    comm_->send(kv_all_->ptr() + (size_t)t0 * 2 * row, (size_t)ng * 2 * row, l_.send_to(r, s), ring_);
    const int src = l_.source_group(r, s);
    comm_->recv(kv_all_->ptr() + (size_t)l_.group_start(src) * 2 * row, (size_t)l_.group_count(src) * 2 * row,
                l_.recv_from(r, s), ring_);
  }
  comm_->group_end();
  CU_CHECK(d.cuEventRecord(recv_[0], ring_));
  CU_CHECK(d.cuStreamWaitEvent(stream, recv_[0], 0));
}

void RingGpu::attend(CUdeviceptr heads, CUdeviceptr out, const Attend& attn, CUstream stream) {
  if (!prepared_ || mode_ != CrossGroup::Ring) throw std::logic_error("RingGpu::attend before prepare() or in gather mode");
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
