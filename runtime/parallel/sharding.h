// The index logic of Ulysses sequence parallelism (docs/distributed.md), pure C++ (no CUDA): what
// each of P ranks owns, and the exact copies and peer-to-peer transfers of the two all-to-alls
// around self-attention. The GPU path (ulysses_gpu.h) executes these plans with cuMemcpy3DAsync and
// NCCL send/recv; the CPU emulation below executes the same plans with memcpy over P simulated ranks,
// which is what the tests check.
//
//   * Sequence shards: contiguous token ranges whose sizes differ by at most one (N % P ranks hold
//     N / P + 1 tokens, the others N / P; the larger shards come first). No padding: N need not be a
//     multiple of P, nothing is computed on padding tokens, and the attention sees exactly N tokens.
//     Every exchange is a set of send/recv pairs with per-peer sizes (an all-to-all-v), so uneven
//     shards cost nothing extra. Requires N >= P (every rank owns a token).
//   * Heads: H must be divisible by P; rank r takes heads [r H/P, (r+1) H/P) in the attention.
//   * seq -> heads (before attention): rank r holds rows [n_r][ld] whose columns c*H*D .. hold C
//     components (q, k, v: C = 3) of all H heads; afterwards it holds [N][C][H/P][D] (all N tokens,
//     its heads), contiguous: the blocks from each source rank land at their shard's token offset, so
//     q, k and v are strided views of that one buffer (token stride C*(H/P)*D) and no unpack is needed.
//   * heads -> seq (after attention): rank r holds [N][C][H/P][D] (the attention output, C = 1) and
//     gets back rows [n_r][ld] with every head; the send side reads the source directly (each
//     destination's token range is contiguous), the receive side scatters each peer's head block into
//     its columns.
//   * Routing (MoGA): computed per token on the rank that owns the token, with all heads (the router
//     input is the LN-modulated hidden state of the shard, [n_r][d_model]); gid/prob (4 bytes each per
//     token) are then all-gathered so the attention over the full sequence for the local heads groups
//     by the same routing on every rank (PatternAttention takes it through RouterInputs::routing).
//     all_gather_rows() is that all-gather-v (also used for the head output).
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace moga::ref {
struct PatternSpec;
}

namespace moga::parallel {

// A configuration Ulysses cannot run (heads not divisible, fewer tokens than ranks, a head-dependent
// pattern). The message says what to change.
class ShardingError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Contiguous token shards of N tokens over P ranks.
struct SeqShards {
  long long N = 0;
  int P = 1;
  static SeqShards make(long long N, int P);  // throws ShardingError unless P >= 1 and N >= P
  long long start(int r) const;
  long long count(int r) const;
  int owner(long long token) const;  // the rank whose shard holds the token
};

// H % P == 0, or ShardingError naming the head count and the GPU counts that divide it.
void check_heads(int heads, int P);
// Head sharding gives each rank local head indices 0 .. H/P - 1: a pattern whose programs read the head
// index (a bias or gate of h) would see the wrong head. ShardingError naming the kernel and program.
void check_pattern_head_free(const ref::PatternSpec& spec);

struct UlyssesShape {
  long long N = 0;
  int H = 0, D = 0, P = 1;
  SeqShards shards;
  int Hp() const { return H / P; }
  static UlyssesShape make(long long N, int H, int D, int P);  // checks N >= P, H % P, D >= 1
};

// The buffers one rank's exchange touches.
enum class Buf { Src, Send, Recv, Dst };
const char* buf_name(Buf b);

// A strided copy in cuMemcpy3D's model (all sizes and offsets in bytes): `depth` slices of `height`
// rows of `width` bytes; row y of slice z starts at offset + (z * slice_rows + y) * pitch.
struct Copy3D {
  Buf src = Buf::Src, dst = Buf::Dst;
  size_t src_offset = 0, src_pitch = 0, src_slice_rows = 1;
  size_t dst_offset = 0, dst_pitch = 0, dst_slice_rows = 1;
  size_t width = 0, height = 1, depth = 1;
  size_t bytes() const { return width * height * depth; }
};

// One rank's part of one all-to-all: local copies before the network (`pre`: packing the blocks to
// send, and the rank's own block straight to where it belongs), then one group of send/recv pairs
// (per peer: offset and size in the send-from and receive buffers; the rank's own entry is 0 bytes),
// then local copies (`post`: unpacking what arrived). The result lies in `result` (Recv or Dst).
struct Exchange {
  int rank = 0, P = 1;
  std::vector<Copy3D> pre, post;
  Buf send_from = Buf::Send;
  std::vector<size_t> send_offset, send_bytes, recv_offset, recv_bytes;  // [P]
  size_t src_bytes = 0, send_buffer_bytes = 0, recv_buffer_bytes = 0, dst_bytes = 0;
  Buf result = Buf::Recv;
  size_t bytes_sent() const;  // over the network (own block excluded)
};

// seq -> heads. Source: rank r's rows [n_r][src_ld] (elements of `elem` bytes), component c of head h at
// column c*H*D + h*D. Result (Recv): [N][C][H/P][D]. One 3-D copy per destination when src_ld is a
// multiple of H*D (q|k|v rows: 3 H D), else one 2-D copy per destination and component.
Exchange seq_to_heads(const UlyssesShape& s, int rank, int C, long long src_ld, size_t elem);
// heads -> seq. Source: [N][C][H/P][D]. Result (Dst): rows [n_r][dst_ld], component c of head h at
// column c*H*D + h*D (other columns untouched).
Exchange heads_to_seq(const UlyssesShape& s, int rank, int C, long long dst_ld, size_t elem);

// In-place all-gather-v of a [N][row_bytes] buffer: rank r contributes rows [start_r, start_r + n_r).
struct Gather {
  int rank = 0, P = 1;
  size_t send_offset = 0, send_bytes = 0;        // the rank's own rows, sent to every peer
  std::vector<size_t> recv_offset, recv_bytes;  // [P], own entry 0
  size_t buffer_bytes = 0;
};
Gather all_gather_rows(const SeqShards& s, int rank, size_t row_bytes);

// ---- CPU emulation (P simulated ranks, memcpy) ----------------------------------------------------------

// Executes one copy between host buffers.
void copy3d_host(const Copy3D& c, const void* src, void* dst);

// Runs the all-to-all described by plans[0..P-1] (one per rank, all from the same builder): src[r] is
// rank r's source (plans[r].src_bytes), dst[r] its destination (plans[r].dst_bytes, for heads_to_seq)
// or the receive buffer itself (plans[r].recv_buffer_bytes, for seq_to_heads). Every send is checked
// against the matching receive (same size). Throws std::logic_error on an inconsistent plan.
void emulate_exchange(const std::vector<Exchange>& plans, const std::vector<const void*>& src,
                      const std::vector<void*>& dst);
// In place, every rank's buffer plans[r].buffer_bytes.
void emulate_all_gather(const std::vector<Gather>& plans, const std::vector<void*>& bufs);

// ---- communication volume (docs/distributed.md) ---------------------------------------------------------

// Bytes one rank sends per forward of a DiT with `layers` self-attention layers of model dim d (= H*D),
// N tokens, P ranks, activations of `elem` bytes: q,k,v in and o out per layer (all-to-alls), the
// routing (gid + prob, 8 bytes a token) per layer when routed, the head output (out_dim values of
// elem bytes a token) once.
// ring_per_layer: the K/V of ring attention (usp_plan.h; 0 for pure Ulysses).
struct Traffic {
  double a2a_per_layer = 0, ring_per_layer = 0, routing_per_layer = 0, head = 0;
  double per_forward(int layers) const { return layers * (a2a_per_layer + ring_per_layer + routing_per_layer) + head; }
};
Traffic traffic_per_rank(long long N, int d, int P, size_t elem, bool routed, int out_dim, int rank = 0);

}  // namespace moga::parallel
