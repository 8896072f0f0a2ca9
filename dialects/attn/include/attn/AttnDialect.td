//===- AttnDialect.td - the attn dialect -------------------*- tablegen -*-===//
#ifndef ATTN_DIALECT
#define ATTN_DIALECT

include "mlir/IR/OpBase.td"

def Attn_Dialect : Dialect {
  let name = "attn";
  let summary = "Sparse attention patterns: routing, grouping, masks, gates and mixtures.";
  let description = [{
    The `attn` dialect describes an attention pattern over one token sequence: which keys each
    query sees (a mask over token coordinates and/or a grouping by a routed or computed key), how
    scores are modified, how each branch's output is gated, and how branches are mixed. Masks and
    keys are regions of ordinary `arith` integer arithmetic over `attn.coord` values, so upstream
    folding and canonicalization apply to them. Passes lower a pattern to `attn.kernel` ops, one
    per fused GPU kernel, which the codegen turns into CUDA C++.
  }];
  let cppNamespace = "::mlir::attn";
  let useDefaultTypePrinterParser = 1;
  let hasConstantMaterializer = 1;
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
}

class Attn_Op<string mnemonic, list<Trait> traits = []> : Op<Attn_Dialect, mnemonic, traits>;

#endif // ATTN_DIALECT
