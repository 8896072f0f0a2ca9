// The resolved AST of a pattern -> the `attn` dialect (one attn.pattern in a module).
//
// Expressions become `arith`/`math` ops over `attn.coord` and `attn.dim` values inside the mask,
// key, bias and gate regions; branches become attn.attend (plus attn.route and attn.gate), and the
// output an attn.mix. Source locations survive as FileLineColLoc, so verifier errors point at the
// .moga file.
#pragma once

#include "compiler/frontend/resolve.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

namespace moga {

/// Registers the dialects the generated IR uses (attn, arith, math) in `ctx`.
void loadAttnDialects(mlir::MLIRContext& ctx);

/// Builds the module; the result verifies (a failure is a compiler bug and is reported as one).
mlir::OwningOpRef<mlir::ModuleOp> mlirGen(mlir::MLIRContext& ctx,
                                          const frontend::ResolvedPattern& pattern);

}  // namespace moga
