// What `moga check` and `moga bench` share: compiling a .moga file in-process into a pattern the
// runtime loads, the shape a command line describes, random bf16 inputs on the device (router inputs
// too), and the counts both report (visible pairs, sparsity). Uses only the public headers of
// runtime/attention and runtime/reference.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "runtime/attention/attention.h"
#include "runtime/attention/bf16.h"
#include "runtime/jit/module.h"
#include "runtime/reference/attention.h"
#include "runtime/reference/block_map.h"

namespace moga::cli {

// Exit codes of `moga check` and `moga bench` (documented in their --help and in bench/patterns/README.md).
enum ExitCode : int {
  kExitPass = 0,
  kExitFail = 1,        // check: a wrong or non-finite output; bench: a run failed
  kExitBadInput = 2,    // the pattern does not compile, or an argument is wrong
  kExitNoDevice = 3,    // no CUDA device: nothing ran on the GPU
  kExitRefused = 4,     // the GPU runtime refuses the pattern (NotSupportedError), e.g. more than 64 router groups
};

// A user error (bad argument, pattern that does not compile): reported and mapped to kExitBadInput.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "k=v" strings of --param into a map; throws UsageError naming the bad one.
std::map<std::string, std::string> parse_param_list(const std::vector<std::string>& kv);

struct CompiledFile {
  rt::LoadedPattern pattern;  // origin "file:<path>"
  nlohmann::json manifest;
};
// Compiles `file` with the compiler linked into the binary (as `moga compile`); prints the compiler's
// diagnostics to stderr and throws UsageError when it does not compile.
CompiledFile compile_file(const std::string& file, const std::vector<std::string>& params, int head_dim);

// The problem a command runs: the runtime's shape and the reference's.
struct Problem {
  rt::AttentionShape attn;
  ref::Shape ref;
  std::string text;  // as given (or the default), for the report
};
// `shape_text` "" picks `default_seq` / `default_video` by the pattern's layout. A seq pattern takes N,
// a video pattern FxHxW (UsageError otherwise, naming both).
Problem make_problem(const ref::PatternSpec& spec, const std::string& shape_text, const std::vector<int>& shots,
                     int heads, int head_dim, const std::string& default_seq, const std::string& default_video);

// bf16 conversions (round to nearest even), as the GPU sees the inputs.
using rt::bf2f;
using rt::f2bf;

// A bf16 device tensor and its exact host values (as floats).
struct DeviceTensor {
  std::unique_ptr<jit::DeviceBuffer> buf;
  std::vector<float> host;
  void upload(const std::vector<float>& values);
  std::vector<float> download(size_t n) const;
};

// Random inputs for a pattern: q, k, v uniform in [-1, 1], and for routed kernels x [B, N, d_model] in
// [-1, 1] and W_r [d_model, M] in [-3/sqrt(d), 3/sqrt(d)] (logits of order 1: real routing, not ties).
// out: allocated, not filled.
struct Inputs {
  DeviceTensor q, k, v, out, x;
  std::vector<DeviceTensor> w;  // per kernel index; empty where not routed
  int d_model = 0;
  rt::TensorView tq, tk, tv, tout;
  rt::RouterInputs router;
  bool routed = false;
  size_t numel = 0;
};
Inputs make_inputs(const rt::PatternAttention& attn, const rt::AttentionShape& s, int d_model, uint64_t seed);

// The GPU's routing of each routed kernel as the reference's Grouping (per kernel index; empty entries
// elsewhere), so the reference groups exactly as the GPU did.
std::vector<ref::Grouping> gpu_groupings(const rt::PatternAttention& attn, const rt::AttentionShape& s);

// Visible (query, key) entry pairs of one kernel for a grouping: the useful work (FLOPs = 4 D H pairs).
struct VisiblePairs {
  double pairs = 0;
  bool exact = true;       // false: estimated by sampling (sampled_rel_err is its 1-sigma relative error)
  double sampled_rel_err = 0;
  double density = 0;      // pairs / (N k)^2
};
// Ungrouped or grouped without a mask: exact from the group sizes. With a mask: exact when at most
// `exact_budget` element pairs need evaluating (the block map's partial tiles), else sampled.
VisiblePairs count_visible(const ref::KernelSpec& k, const ref::Shape& shape, const ref::Grouping& g,
                           long long exact_budget, uint64_t seed);

// The grouping the reference would use for kernel ki with no router inputs (key programs evaluated,
// routed kernels balanced: `moga compile --shape`'s stand-in).
ref::Grouping static_grouping(const ref::PatternSpec& spec, int ki, const ref::Shape& shape);

// Relative L2 of a against b (b's norm 0: the absolute norm of a), and the counts of NaN and Inf in a.
struct Compare {
  double rel_l2 = 0;
  double ref_norm = 0;
  long long nan = 0, inf = 0;
};
Compare compare(const std::vector<float>& got, const std::vector<double>& want);

// "wgmma sm90.tma 128x176" (engine, registry row, tiles) for kernel ki at head dim D, or the reason it is
// unknown.
std::string engine_note(const rt::PatternAttention& attn, int ki, int head_dim);

// The runtime options of --variant ROW (every kernel on that registry row; "" = the runtime's own choice);
// throws UsageError naming the rows when ROW is none of them.
rt::AttentionOptions variant_options(const std::string& variant);

// A copy of the pattern with only kernel ki, written as the first (non-accumulating) kernel: runs one
// branch alone through the same generated source (the runtime names kernels by their manifest name).
rt::LoadedPattern single_kernel(const CompiledFile& f, int ki);

// UTC "2026-12-01T22:30:00Z".
std::string utc_now();
// $MOGA_COMMIT, else the short commit of the tree holding `path` (`git describe --always --dirty`: "-dirty" when
// tracked files differ from it), else "unknown".
std::string git_commit_of(const std::string& path);

}  // namespace moga::cli
