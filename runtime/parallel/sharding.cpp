#include "runtime/parallel/sharding.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "runtime/reference/manifest.h"

namespace moga::parallel {

// ---- shards -------------------------------------------------------------------------------------------

SeqShards SeqShards::make(long long N, int P) {
  if (P < 1) throw ShardingError(fmt::format("sequence parallelism over {} ranks: need at least 1", P));
  if (N < P)
    throw ShardingError(fmt::format("sequence parallelism: {} tokens over {} GPUs leaves a GPU without tokens; "
                                    "use at most {} GPUs or a larger latent",
                                    N, P, N));
  SeqShards s;
  s.N = N;
  s.P = P;
  return s;
}

long long SeqShards::start(int r) const {
  const long long base = N / P, rem = N % P;
  return r * base + std::min<long long>(r, rem);
}

long long SeqShards::count(int r) const { return N / P + (r < N % P ? 1 : 0); }

int SeqShards::owner(long long t) const {
  const long long base = N / P, rem = N % P, big = rem * (base + 1);
  if (t < big) return (int)(t / (base + 1));
  return (int)(rem + (t - big) / base);
}

void check_heads(int heads, int P) {
  if (P >= 1 && heads >= 1 && heads % P == 0) return;
  std::string ok;
  for (int g = 1; g <= heads; ++g)
    if (heads % g == 0) ok += (ok.empty() ? "" : ", ") + std::to_string(g);
  throw ShardingError(fmt::format("Ulysses sequence parallelism splits the {} attention heads over the GPUs: {} GPUs "
                                  "do not divide {} heads (use {} GPUs)",
                                  heads, P, heads, ok));
}

void check_pattern_head_free(const ref::PatternSpec& spec) {
  for (const auto& k : spec.kernels) {
    const std::pair<const char*, const std::optional<ref::Program>*> progs[] = {
        {"mask", &k.mask}, {"key", &k.key}, {"bias", &k.bias}, {"gate", &k.gate}};
    for (const auto& [slot, prog] : progs) {
      if (!prog->has_value()) continue;
      for (ref::Type t : (*prog)->arg_types)
        if (t == ref::Type::I64)
          throw ShardingError(fmt::format(
              "pattern '{}': kernel '{}' {} reads the head index; with the heads split over GPUs each rank sees "
              "local heads 0..H/P-1, so this pattern cannot run sequence-parallel yet (run it on one GPU)",
              spec.pattern, k.name, slot));
    }
  }
}

UlyssesShape UlyssesShape::make(long long N, int H, int D, int P) {
  if (D < 1) throw ShardingError(fmt::format("head dim {} must be >= 1", D));
  check_heads(H, P);
  UlyssesShape s;
  s.shards = SeqShards::make(N, P);
  s.N = N;
  s.H = H;
  s.D = D;
  s.P = P;
  return s;
}

const char* buf_name(Buf b) {
  switch (b) {
    case Buf::Src: return "src";
    case Buf::Send: return "send";
    case Buf::Recv: return "recv";
    case Buf::Dst: return "dst";
  }
  return "?";
}

size_t Exchange::bytes_sent() const {
  size_t b = 0;
  for (int p = 0; p < P; ++p)
    if (p != rank) b += send_bytes[p];
  return b;
}

namespace {

// The copies of `n` tokens x C components of `width` bytes. Component c of token t starts at
// off + t * tok + c * comp on each side. One 3-D copy (slices = tokens, rows = components) when both
// token strides are multiples of the component strides (cuMemcpy3D's slices are whole rows), else one
// 2-D copy per component.
void token_copies(std::vector<Copy3D>& out, Buf src, size_t src_off, size_t src_comp, size_t src_tok, Buf dst,
                  size_t dst_off, size_t dst_comp, size_t dst_tok, size_t width, int C, long long n) {
  Copy3D c;
  c.src = src;
  c.dst = dst;
  c.width = width;
  if (C > 1 && src_tok % src_comp == 0 && dst_tok % dst_comp == 0) {
    c.src_offset = src_off;
    c.dst_offset = dst_off;
    c.src_pitch = src_comp;
    c.dst_pitch = dst_comp;
    c.src_slice_rows = src_tok / src_comp;
    c.dst_slice_rows = dst_tok / dst_comp;
    c.height = (size_t)C;
    c.depth = (size_t)n;
    out.push_back(c);
    return;
  }
  for (int k = 0; k < C; ++k) {
    c.src_offset = src_off + k * src_comp;
    c.dst_offset = dst_off + k * dst_comp;
    c.src_pitch = src_tok;
    c.dst_pitch = dst_tok;
    c.height = (size_t)n;
    c.depth = 1;
    c.src_slice_rows = c.dst_slice_rows = std::max<size_t>(1, (size_t)n);  // one slice (cuMemcpy3D: >= Height)
    out.push_back(c);
  }
}

void check_ld(const UlyssesShape& s, int C, long long ld, const char* what) {
  if (C < 1) throw ShardingError(fmt::format("{}: {} components", what, C));
  if (ld < (long long)C * s.H * s.D)
    throw ShardingError(fmt::format("{}: row stride {} is smaller than {} components x {} heads x {}", what, ld, C, s.H, s.D));
}

}  // namespace

Exchange seq_to_heads(const UlyssesShape& s, int r, int C, long long src_ld, size_t elem) {
  check_ld(s, C, src_ld, "seq_to_heads");
  const int P = s.P;
  const size_t blk = (size_t)s.Hp() * s.D * elem;  // one component of one rank's heads, one token
  const size_t row = (size_t)C * blk;              // one token of the result
  const size_t comp = (size_t)s.H * s.D * elem;    // component stride in the source row
  const long long n = s.shards.count(r), st = s.shards.start(r);
  Exchange e;
  e.rank = r;
  e.P = P;
  e.src_bytes = (size_t)n * src_ld * elem;
  e.send_buffer_bytes = (size_t)P * n * row;
  e.recv_buffer_bytes = (size_t)s.N * row;
  e.send_from = Buf::Send;
  e.result = Buf::Recv;
  e.send_offset.assign(P, 0);
  e.send_bytes.assign(P, 0);
  e.recv_offset.assign(P, 0);
  e.recv_bytes.assign(P, 0);
  for (int j = 0; j < P; ++j) {
    // rank r's tokens, head block j -> the send block for rank j (or, for j == r, straight to the result)
    const bool own = j == r;
    token_copies(e.pre, Buf::Src, j * blk, comp, (size_t)src_ld * elem, own ? Buf::Recv : Buf::Send,
                 own ? (size_t)st * row : (size_t)j * n * row, blk, row, blk, C, n);
    e.send_offset[j] = (size_t)j * n * row;
    e.send_bytes[j] = own ? 0 : (size_t)n * row;
    e.recv_offset[j] = (size_t)s.shards.start(j) * row;
    e.recv_bytes[j] = own ? 0 : (size_t)s.shards.count(j) * row;
  }
  return e;
}

Exchange heads_to_seq(const UlyssesShape& s, int r, int C, long long dst_ld, size_t elem) {
  check_ld(s, C, dst_ld, "heads_to_seq");
  const int P = s.P;
  const size_t blk = (size_t)s.Hp() * s.D * elem;
  const size_t row = (size_t)C * blk;
  const size_t comp = (size_t)s.H * s.D * elem;
  const long long n = s.shards.count(r), st = s.shards.start(r);
  Exchange e;
  e.rank = r;
  e.P = P;
  e.src_bytes = (size_t)s.N * row;
  e.send_buffer_bytes = 0;
  e.recv_buffer_bytes = (size_t)P * n * row;
  e.dst_bytes = (size_t)n * dst_ld * elem;
  e.send_from = Buf::Src;
  e.result = Buf::Dst;
  e.send_offset.assign(P, 0);
  e.send_bytes.assign(P, 0);
  e.recv_offset.assign(P, 0);
  e.recv_bytes.assign(P, 0);
  for (int j = 0; j < P; ++j) {
    const bool own = j == r;
    // to rank j: its tokens of my heads, read straight from the source
    e.send_offset[j] = (size_t)s.shards.start(j) * row;
    e.send_bytes[j] = own ? 0 : (size_t)s.shards.count(j) * row;
    // from rank j: my tokens of its heads, into block j of the receive buffer
    e.recv_offset[j] = (size_t)j * n * row;
    e.recv_bytes[j] = own ? 0 : (size_t)n * row;
    token_copies(own ? e.pre : e.post, own ? Buf::Src : Buf::Recv, own ? (size_t)st * row : (size_t)j * n * row, blk,
                 row, Buf::Dst, j * blk, comp, (size_t)dst_ld * elem, blk, C, n);
  }
  return e;
}

Gather all_gather_rows(const SeqShards& s, int r, size_t row_bytes) {
  Gather g;
  g.rank = r;
  g.P = s.P;
  g.buffer_bytes = (size_t)s.N * row_bytes;
  g.send_offset = (size_t)s.start(r) * row_bytes;
  g.send_bytes = (size_t)s.count(r) * row_bytes;
  g.recv_offset.assign(s.P, 0);
  g.recv_bytes.assign(s.P, 0);
  for (int j = 0; j < s.P; ++j) {
    g.recv_offset[j] = (size_t)s.start(j) * row_bytes;
    g.recv_bytes[j] = j == r ? 0 : (size_t)s.count(j) * row_bytes;
  }
  return g;
}

// ---- CPU emulation ------------------------------------------------------------------------------------

namespace {

// One past the last byte a copy touches on one side.
size_t copy_end(size_t off, size_t pitch, size_t slice_rows, const Copy3D& c) {
  if (c.bytes() == 0) return off;
  return off + ((c.depth - 1) * slice_rows + (c.height - 1)) * pitch + c.width;
}

void check_copy(const Copy3D& c, size_t src_size, size_t dst_size, int rank) {
  const size_t se = copy_end(c.src_offset, c.src_pitch, c.src_slice_rows, c);
  const size_t de = copy_end(c.dst_offset, c.dst_pitch, c.dst_slice_rows, c);
  if (se > src_size || de > dst_size || (c.height > 1 && (c.src_pitch < c.width || c.dst_pitch < c.width)))
    throw std::logic_error(fmt::format("rank {}: copy {} -> {} reaches bytes {} / {} of buffers of {} / {}", rank,
                                       buf_name(c.src), buf_name(c.dst), se, de, src_size, dst_size));
}

}  // namespace

void copy3d_host(const Copy3D& c, const void* src, void* dst) {
  const auto* s = static_cast<const unsigned char*>(src);
  auto* d = static_cast<unsigned char*>(dst);
  for (size_t z = 0; z < c.depth; ++z)
    for (size_t y = 0; y < c.height; ++y)
      std::memcpy(d + c.dst_offset + (z * c.dst_slice_rows + y) * c.dst_pitch,
                  s + c.src_offset + (z * c.src_slice_rows + y) * c.src_pitch, c.width);
}

void emulate_exchange(const std::vector<Exchange>& plans, const std::vector<const void*>& src,
                      const std::vector<void*>& dst) {
  const int P = (int)plans.size();
  if ((int)src.size() != P || (int)dst.size() != P) throw std::logic_error("emulate_exchange: one src and dst per rank");
  std::vector<std::vector<unsigned char>> send(P), recv(P);
  struct View {
    unsigned char* p;
    size_t n;
  };
  auto buf = [&](int r, Buf b) -> View {
    const Exchange& e = plans[r];
    switch (b) {
      case Buf::Src: return {static_cast<unsigned char*>(const_cast<void*>(src[r])), e.src_bytes};
      case Buf::Send: return {send[r].data(), send[r].size()};
      case Buf::Recv:
        if (e.result == Buf::Recv) return {static_cast<unsigned char*>(dst[r]), e.recv_buffer_bytes};
        return {recv[r].data(), recv[r].size()};
      case Buf::Dst: return {static_cast<unsigned char*>(dst[r]), e.dst_bytes};
    }
    return {nullptr, 0};
  };
  for (int r = 0; r < P; ++r) {
    if (plans[r].rank != r || plans[r].P != P) throw std::logic_error("emulate_exchange: plans[r] must be rank r's");
    send[r].assign(plans[r].send_buffer_bytes, 0);
    if (plans[r].result != Buf::Recv) recv[r].assign(plans[r].recv_buffer_bytes, 0);
  }
  auto run = [&](int r, const Copy3D& c) {
    const View s = buf(r, c.src), d = buf(r, c.dst);
    check_copy(c, s.n, d.n, r);
    copy3d_host(c, s.p, d.p);
  };
  for (int r = 0; r < P; ++r)
    for (const Copy3D& c : plans[r].pre) run(r, c);
  // the network: rank i -> rank j
  for (int i = 0; i < P; ++i)
    for (int j = 0; j < P; ++j) {
      if (i == j) continue;
      const size_t nb = plans[i].send_bytes[j];
      if (nb != plans[j].recv_bytes[i])
        throw std::logic_error(fmt::format("emulate_exchange: rank {} sends {} bytes to rank {}, which expects {}", i, nb,
                                           j, plans[j].recv_bytes[i]));
      const View s = buf(i, plans[i].send_from), d = buf(j, Buf::Recv);
      if (plans[i].send_offset[j] + nb > s.n || plans[j].recv_offset[i] + nb > d.n)
        throw std::logic_error(fmt::format("emulate_exchange: transfer {} -> {} out of bounds", i, j));
      if (nb) std::memcpy(d.p + plans[j].recv_offset[i], s.p + plans[i].send_offset[j], nb);
    }
  for (int r = 0; r < P; ++r)
    for (const Copy3D& c : plans[r].post) run(r, c);
}

void emulate_all_gather(const std::vector<Gather>& plans, const std::vector<void*>& bufs) {
  const int P = (int)plans.size();
  if ((int)bufs.size() != P) throw std::logic_error("emulate_all_gather: one buffer per rank");
  // Sends read only the sender's own rows, which no receive overwrites: any order is the same.
  for (int i = 0; i < P; ++i)
    for (int j = 0; j < P; ++j) {
      if (i == j) continue;
      const size_t nb = plans[i].send_bytes;
      if (nb != plans[j].recv_bytes[i] || plans[j].recv_offset[i] != plans[i].send_offset ||
          plans[i].send_offset + nb > plans[i].buffer_bytes || plans[j].recv_offset[i] + nb > plans[j].buffer_bytes)
        throw std::logic_error(fmt::format("emulate_all_gather: rank {} -> {} inconsistent", i, j));
      if (nb)
        std::memcpy(static_cast<unsigned char*>(bufs[j]) + plans[j].recv_offset[i],
                    static_cast<const unsigned char*>(bufs[i]) + plans[i].send_offset, nb);
    }
}

// ---- traffic ------------------------------------------------------------------------------------------

Traffic traffic_per_rank(long long N, int d, int P, size_t elem, bool routed, int out_dim, int rank) {
  Traffic t;
  if (P <= 1) return t;
  // The volume depends on H only through d = H * D: any split with H % P == 0 gives the same bytes.
  const UlyssesShape s = UlyssesShape::make(N, P, d / P, P);
  t.a2a_per_layer = (double)seq_to_heads(s, rank, 3, 3LL * s.H * s.D, elem).bytes_sent() +
                    (double)heads_to_seq(s, rank, 1, (long long)s.H * s.D, elem).bytes_sent();
  if (routed) t.routing_per_layer = (double)all_gather_rows(s.shards, rank, 8).send_bytes * (P - 1);
  t.head = (double)all_gather_rows(s.shards, rank, (size_t)out_dim * elem).send_bytes * (P - 1);
  return t;
}

}  // namespace moga::parallel
