// Lowered attn IR (attn.kernel ops) -> CUDA C++ source and the JSON manifest.
#pragma once

#include <functional>
#include <string>

#include "attn/AttnOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "nlohmann/json.hpp"

namespace moga::codegen {

/// One region of an attn.kernel as C++ and as a serialized program.
enum class Domain {
  Generic,  // mask: `template <class T, class B>`, T = int | moga::Ivl, B = bool | moga::Tri
  Element,  // key, bias, gate: plain int / float / bool
};

/// The statements computing a region's value, one `const auto vN = ...;` per op, and the name of
/// the yielded value. Token block arguments are named by `tokenNames`; a head index argument `h`.
struct EmittedExpr {
  std::string body;
  std::string result;
};
EmittedExpr emitRegionCpp(mlir::Region& region, const std::vector<std::string>& tokenNames,
                          Domain domain, const std::string& indent);

/// One operation as a C++ expression over its operands' names `a(i)` (what emitRegionCpp writes per op),
/// and the float32 form of an integer op the attn-plan-score pass marked `attn.f32` (operands are
/// floats holding exact integers). Both throw std::runtime_error on an operation they cannot write.
std::string opExpr(mlir::Operation& op, const std::function<std::string(unsigned)>& a, Domain domain);
std::string opExprF32(mlir::Operation& op, const std::function<std::string(unsigned)>& a);
[[noreturn]] void unsupported(mlir::Operation* op);

/// The bias of kernel `k` split by attn-plan-score's placement: `struct BiasRow` + `bias_row(q, h, s)`
/// (once per query row), `struct BiasCol` + `bias_col(kv, h, s)` (once per key column; the kernel stages
/// its kBiasColWords 32-bit words per column), `bias_elem(r, c)` per element, `bias_fma(r, c, f, x)` =
/// x + f * bias with the bias's row-uniform factors folded into f (the wgmma kernel's element step), and
/// `bias(q, kv, h, s)` composing them (the mma.sync kernel's per-element form). Members of the variant
/// struct. A kernel with byte-packed sums (attn-plan-score's attn.u8) also gets the split that evaluates
/// them on packed coordinates: BiasRowU8 / BiasColU8 / kBiasColWordsU8 and bias_row_u8 / bias_col_u8 /
/// bias_elem_u8 / bias_fma_u8, which kernels_src/cuda/score_pass.cuh's moga::BiasBytes<V> puts in place of
/// the float one.
std::string emitBias(mlir::attn::KernelOp k);
/// The number of 32-bit column terms of that split (BiasCol's members; 0 without a bias), and of the
/// byte-packed split (0 without one).
int biasColWords(mlir::attn::KernelOp k);
int biasColWordsU8(mlir::attn::KernelOp k);

/// Whether the wgmma kernel stages the key columns the mask reads (Variant::kStageKeys; the manifest's
/// "stage_keys", which sizes the shared memory on the host).
bool stageKeys(mlir::attn::KernelOp k);

/// A float constant as a C++ literal that round-trips ("0.5f", "1.0f").
std::string floatLiteral(double v);

/// The region as a program: {"args": [...], "ops": [...], "result": i} (see runtime/reference).
nlohmann::json serializeRegion(mlir::Region& region, const std::vector<std::string>& argNames);

/// Variant structs (FlashInfer-style: a struct per kernel with mask/key/bias/gate hooks) and the
/// extern "C" entry points of every kernel of `pattern`, ready for NVRTC.
std::string emitCuda(mlir::attn::PatternOp pattern);

/// Names of the generated entry points of one kernel.
std::string attentionEntry(mlir::attn::PatternOp pattern, mlir::attn::KernelOp kernel);
std::string blockMapEntry(mlir::attn::PatternOp pattern, mlir::attn::KernelOp kernel);
std::string keyEntry(mlir::attn::PatternOp pattern, mlir::attn::KernelOp kernel);
std::string gateEntry(mlir::attn::PatternOp pattern, mlir::attn::KernelOp kernel);

/// The manifest: pattern, layout, params, and per kernel its epilogue, tiles, tunable space,
/// entry points and programs.
nlohmann::json emitManifest(mlir::attn::PatternOp pattern, const nlohmann::json& params);

}  // namespace moga::codegen
