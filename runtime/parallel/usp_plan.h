// The plan of unified sequence parallelism (USP: Ulysses x ring, docs/distributed.md), pure C++: which
// rank runs which tokens and heads, the all-to-all inside each Ulysses group (sharding.h's plans on the
// group's tokens), and the ring steps that carry K/V blocks between the groups, with the keys each
// step must carry (the routing and masks decide: a group's keys go only to the groups whose queries can
// see them).
//
//   * Sizes. P ranks and H heads: U = gcd(H, P) (the largest divisor of H that also divides P, so each
//     Ulysses group splits the heads evenly and the groups tile the ranks), R = P / U ring groups.
//     12 heads: P = 8 -> U = 4, R = 2; P = 6 -> 6 x 1 (pure Ulysses); P = 5 or 7 -> 1 x P (pure ring).
//     H % P == 0 gives R = 1: exactly today's Ulysses.
//   * Tokens. The P sequence shards of sharding.h (contiguous, sizes within one). Rank r is member
//     u = r % U of ring group g = r / U; group g holds the union of its U shards, a contiguous token
//     range [group_start(g), + group_count(g)) -- the same split SeqShards::make(group_count, U)
//     gives, so seq_to_heads / heads_to_seq on group_shape(g) are the group's all-to-alls.
//   * Heads. After its group's all-to-all, rank (g, u) holds q, k, v of all the group's tokens for
//     heads [u H/U, (u+1) H/U).
//   * Ring steps s = 0 .. R-1. Rank (g, u) attends its group's queries to the keys of group
//     src(g, s) = (g - s) mod R and, for s > 0, sends its own K/V (the keys needs(g + s, g) lists) to
//     rank ((g + s) mod R, u) while receiving from ((g - s) mod R, u). Every block goes straight from
//     its owner to each group once (a shift schedule, not a relay), so a block carries exactly the keys
//     its destination needs; in a relay ring a block would have to carry every later destination's
//     keys too. Inside one NVSwitch host every pair is one hop, so the shift costs the ring nothing.
//   * Routing first. Routed kernels route on the shard before any exchange (as Ulysses does); the
//     gathered routing of all N tokens decides needs(): per kernel, a key travels when its group
//     (router id, or key-program id) is the group of some query of the destination, and its mask tile
//     (tiles of `tile` tokens, the block map's interval test) is not empty for the destination's query
//     tiles; the union over kernels. An ungrouped kernel without a mask needs every key.
//   * Across the groups (CrossGroup). Ring: the steps above, the group's queries against one group's keys each,
//     merged by their log-sum-exp (one kernel, dense or masked: ring_supported). Gather: every rank receives
//     the k, v of all the other groups for its heads (the dense ring's bytes, in one exchange) and runs the
//     whole pattern once over all N keys with its group's tokens as the query range (RunOptions::query_begin /
//     query_end): group keys, routers and mixtures, nothing to merge (gather_supported).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "runtime/parallel/sharding.h"

namespace moga::ref {
struct PatternSpec;
struct Grouping;
class Shape;
}  // namespace moga::ref

namespace moga::parallel {

// U = gcd(heads, P): the Ulysses group size (the rule above).
int ulysses_size(int heads, int P);

enum class CrossGroup { Ring, Gather };
// Ring: one kernel without a group key, router or gate program (dense, masked or biased); else false with the
// reason ("kernel 'stga' of pattern 'stga' has a group key ...").
bool ring_supported(const ref::PatternSpec& spec, std::string* why = nullptr);
// Gather: every kernel has a block map to restrict to the query range (masked, keyed or routed) and routes
// top 1 (the gathered routing holds one group a token); else false with the reason.
bool gather_supported(const ref::PatternSpec& spec, std::string* why = nullptr);
// Ring when ring_supported, else Gather when gather_supported, else ShardingError naming both reasons.
CrossGroup cross_group(const ref::PatternSpec& spec);
const char* cross_group_name(CrossGroup c);  // "ring", "gather"

struct UspLayout {
  long long N = 0;
  int H = 0, D = 0, P = 1, U = 1, R = 1;
  SeqShards shards;  // the P rank shards
  // Throws ShardingError: P < 1, N < P ("leaves a GPU without tokens"), D < 1.
  static UspLayout make(long long N, int H, int D, int P);
  int Hl() const { return H / U; }  // heads a rank attends
  int group_of(int rank) const { return rank / U; }
  int member_of(int rank) const { return rank % U; }
  int rank_of(int group, int member) const { return group * U + member; }
  long long group_start(int g) const { return shards.start(g * U); }
  long long group_count(int g) const;
  UlyssesShape group_shape(int g) const;  // the all-to-all inside group g (N = its tokens, P = U)
  int send_to(int rank, int step) const { return rank_of((group_of(rank) + step) % R, member_of(rank)); }
  int recv_from(int rank, int step) const { return rank_of((group_of(rank) - step % R + R) % R, member_of(rank)); }
  int source_group(int rank, int step) const { return group_of(recv_from(rank, step)); }
};

// Runs of global token indices [first, second), ascending and disjoint.
struct TokenRuns {
  std::vector<std::pair<long long, long long>> runs;
  long long tokens() const;
  bool contains(long long t) const;
  void add(long long begin, long long end);  // appends, merging with the last run when adjacent
};

// needs(dst, src): the tokens of group src whose keys some query of group dst may see.
struct KvNeeds {
  int R = 1;
  std::vector<TokenRuns> runs;  // [dst * R + src]
  const TokenRuns& at(int dst, int src) const { return runs[(size_t)dst * R + src]; }
  TokenRuns& at(int dst, int src) { return runs[(size_t)dst * R + src]; }
  // Keys sent over the network per Ulysses member (dst != src), and the same for "every key everywhere".
  long long sent_tokens() const;
  long long all_tokens(const UspLayout& l) const;
};

// groupings[ki]: the gathered routing of each routed kernel (B = 1); other entries ignored (key programs
// are evaluated here). Conservative: never drops a key some query sees (the CPU emulation checks it by
// poisoning every key it does not send).
KvNeeds kv_needs(const UspLayout& l, const ref::PatternSpec& spec, const ref::Shape& shape,
                 const std::vector<const ref::Grouping*>& groupings, int tile = 64);
// Every key to every group (dense patterns; also the bound kv_needs never exceeds).
KvNeeds kv_needs_all(const UspLayout& l);

// One rank's ring step: what it sends (keys of its own group) and receives (keys of the source group).
struct RingStep {
  int step = 0, send_to = 0, recv_from = 0, source_group = 0;
  TokenRuns send, recv;  // step 0: both empty (the own block stays in place)
};
std::vector<RingStep> ring_schedule(const UspLayout& l, const KvNeeds& needs, int rank);

// Bytes one rank sends per forward (the traffic model of docs/distributed.md): the all-to-alls inside its
// Ulysses group (q, k, v in, o out), the ring's K/V (2 * Hl * D * elem bytes a key, over `needs`, or
// every key when null), the routing all-gather over all P ranks when routed, the head output once.
Traffic usp_traffic_per_rank(const UspLayout& l, size_t elem, bool routed, int out_dim, int rank = 0,
                             const KvNeeds* needs = nullptr);

}  // namespace moga::parallel
