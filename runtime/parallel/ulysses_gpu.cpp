#include "runtime/parallel/ulysses_gpu.h"

#include <fmt/format.h>

#include <algorithm>

#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"

namespace moga::parallel {

void copy3d_device(const Copy3D& c, CUdeviceptr src, CUdeviceptr dst, CUstream stream) {
  if (c.bytes() == 0) return;
  CUDA_MEMCPY3D m{};
  m.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  m.srcDevice = src + c.src_offset;
  m.srcPitch = c.src_pitch;
  m.srcHeight = c.src_slice_rows;
  m.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  m.dstDevice = dst + c.dst_offset;
  m.dstPitch = c.dst_pitch;
  m.dstHeight = c.dst_slice_rows;
  m.WidthInBytes = c.width;
  m.Height = c.height;
  m.Depth = c.depth;
  CU_CHECK(jit::driver().cuMemcpy3DAsync(&m, stream));
}

UlyssesGpu::UlyssesGpu(std::shared_ptr<Communicator> comm) : comm_(std::move(comm)) {
  if (!comm_) throw std::invalid_argument("UlyssesGpu: no communicator");
}

std::unique_ptr<jit::DeviceBuffer> fit(std::unique_ptr<jit::DeviceBuffer> b, size_t bytes) {
  bytes = std::max<size_t>(bytes, 256);
  if (!b || b->bytes() < bytes) {
    b.reset();  // free first: the old and the new buffer need not fit together
    b = std::make_unique<jit::DeviceBuffer>(bytes);
  }
  return b;
}

void UlyssesGpu::prepare(const UspLayout& l, long long qkv_ld, long long out_ld) {
  if (l.P != world()) throw std::logic_error(fmt::format("UlyssesGpu: a layout of {} ranks, {} in the world", l.P, world()));
  const long long key[5] = {l.N, l.H, l.D, qkv_ld, out_ld};
  if (std::equal(key, key + 5, key_) && l.U == layout_.U) return;
  layout_ = l;
  shape_ = l.group_shape(l.group_of(rank()));
  const int u = l.member_of(rank());
  to_heads_ = seq_to_heads(shape_, u, 3, qkv_ld, 2);
  to_seq_ = heads_to_seq(shape_, u, 1, out_ld, 2);
  send_ = fit(std::move(send_), to_heads_.send_buffer_bytes);
  heads_ = fit(std::move(heads_), to_heads_.recv_buffer_bytes);
  out_ = fit(std::move(out_), to_seq_.src_bytes);
  back_ = fit(std::move(back_), to_seq_.recv_buffer_bytes);
  std::copy(key, key + 5, key_);
}

void UlyssesGpu::run(const Exchange& e, CUdeviceptr src, CUdeviceptr send, CUdeviceptr recv, CUdeviceptr dst,
                     CUstream stream) {
  auto base = [&](Buf b) {
    switch (b) {
      case Buf::Src: return src;
      case Buf::Send: return send;
      case Buf::Recv: return recv;
      case Buf::Dst: return dst;
    }
    return CUdeviceptr(0);
  };
  for (const Copy3D& c : e.pre) copy3d_device(c, base(c.src), base(c.dst), stream);
  // The plan's ranks are the members of this rank's Ulysses group: member p is world rank (g, p).
  const int g = layout_.group_of(rank());
  comm_->group_start();
  for (int p = 0; p < e.P; ++p) {
    if (p == e.rank) continue;
    comm_->send(base(e.send_from) + e.send_offset[p], e.send_bytes[p], layout_.rank_of(g, p), stream);
    comm_->recv(recv + e.recv_offset[p], e.recv_bytes[p], layout_.rank_of(g, p), stream);
  }
  comm_->group_end();
  for (const Copy3D& c : e.post) copy3d_device(c, base(c.src), base(c.dst), stream);
}

void UlyssesGpu::qkv_to_heads(CUdeviceptr qkv, CUstream stream) {
  run(to_heads_, qkv, send_->ptr(), heads_->ptr(), 0, stream);
}

void UlyssesGpu::out_to_seq(CUdeviceptr dst, CUstream stream) { run(to_seq_, out_->ptr(), 0, back_->ptr(), dst, stream); }

void UlyssesGpu::all_gather(const std::vector<std::pair<CUdeviceptr, size_t>>& buffers, CUstream stream) {
  if (key_[0] < 0) throw std::logic_error("UlyssesGpu::all_gather before prepare()");
  comm_->group_start();
  for (const auto& [buf, row] : buffers) {
    const Gather g = all_gather_rows(layout_.shards, rank(), row);
    for (int p = 0; p < g.P; ++p) {
      if (p == g.rank) continue;
      comm_->send(buf + g.send_offset, g.send_bytes, p, stream);
      comm_->recv(buf + g.recv_offset[p], g.recv_bytes[p], p, stream);
    }
  }
  comm_->group_end();
}

}  // namespace moga::parallel
