//===- AttnOps.td - attn dialect operations ----------------*- tablegen -*-===//
#ifndef ATTN_OPS
#define ATTN_OPS

include "attn/AttnDialect.td"
include "attn/AttnTypes.td"
include "attn/AttnEnums.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

//===----------------------------------------------------------------------===//
// Structure
//===----------------------------------------------------------------------===//

def Attn_PatternOp : Attn_Op<"pattern", [Symbol, IsolatedFromAbove, NoRegionArguments,
                                          SingleBlockImplicitTerminator<"OutputOp">]> {
  let summary = "an attention pattern: routers, branches and their mixture";
  let description = [{
    The body computes the pattern's output stream from branches that all share q, k and v.
    The layout fixes which token coordinates exist (`seq`: `pos`; `video`: also `frame`, `row`,
    `col`, `shot`, `shot_start`, `shot_end`).

    ```mlir
    attn.pattern @causal layout seq {
      %0 = attn.attend {name = "causal"} mask {
      ^bb0(%q: !attn.token, %kv: !attn.token):
        %a = attn.coord %q pos
        %b = attn.coord %kv pos
        %c = arith.cmpi sge, %a, %b : i64
        attn.yield %c : i1
      }
      attn.output %0
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, Attn_Layout:$layout);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name `layout` $layout attr-dict-with-keyword $body";
  let hasVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [OpBuilder<(ins "::llvm::StringRef":$name, "::mlir::attn::Layout":$layout)>];
}

def Attn_OutputOp : Attn_Op<"output", [Terminator, HasParent<"PatternOp">, Pure]> {
  let summary = "the pattern's result";
  let description = [{
    Terminates a pattern. Before lowering it names the output stream; after `attn-fuse-mixture`
    the `attn.kernel` ops write the output themselves and `attn.output` has no operand.

    ```mlir
    attn.output %mix
    ```
  }];
  let arguments = (ins Optional<Attn_StreamType>:$result);
  let assemblyFormat = "($result^)? attr-dict";
  let builders = [OpBuilder<(ins), [{ build($_builder, $_state, ::mlir::Value()); }]>];
}

def Attn_YieldOp : Attn_Op<"yield", [Terminator, Pure, ReturnLike,
    ParentOneOf<["AttendOp", "GateOp", "KernelOp"]>]> {
  let summary = "the value of a mask, key, bias or gate region";
  let description = [{
    ```mlir
    attn.yield %visible : i1
    ```
  }];
  let arguments = (ins AnyType:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

//===----------------------------------------------------------------------===//
// Token coordinates and runtime shape
//===----------------------------------------------------------------------===//

def Attn_CoordOp : Attn_Op<"coord", [Pure]> {
  let summary = "a coordinate of a token";
  let description = [{
    Reads one coordinate of a token; the coordinate must exist in the pattern's layout.

    ```mlir
    %f = attn.coord %q frame
    ```
  }];
  let arguments = (ins Attn_TokenType:$token, Attn_Coord:$coord);
  let results = (outs I64:$result);
  let assemblyFormat = "$token $coord attr-dict";
  let hasVerifier = 1;
}

def Attn_DimOp : Attn_Op<"dim", [Pure]> {
  let summary = "a runtime shape constant (N, F, H or W)";
  let description = [{
    Shape constants are runtime values: a kernel never recompiles when only the shape changes.
    `F`, `H` and `W` exist only in the `video` layout.

    ```mlir
    %w = attn.dim W
    ```
  }];
  let arguments = (ins Attn_Dim:$dim);
  let results = (outs I64:$result);
  let assemblyFormat = "$dim attr-dict";
  let hasVerifier = 1;
}

def Attn_FloorModOp : Attn_Op<"floormod", [Pure]> {
  let summary = "integer modulo with floor semantics (the result has the divisor's sign)";
  let description = [{
    The DSL's `%` (Python semantics). `arith.remsi` truncates; `arith.floordivsi` is the matching
    division. A constant divisor must not be zero.

    ```mlir
    %r = attn.floormod %a, %b
    ```
  }];
  let arguments = (ins I64:$lhs, I64:$rhs);
  let results = (outs I64:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict";
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Routing, attention branches, gates, mixtures
//===----------------------------------------------------------------------===//

def Attn_RouteOp : Attn_Op<"route", [Pure]> {
  let summary = "a per-layer linear router: logits = x W, p = softmax, top-k groups";
  let description = [{
    One routing per token, shared by all heads (computed before any sequence-parallel exchange).
    The router's weight has shape [d_model, groups].

    ```mlir
    %r = attn.route groups 5 top 1
    ```
  }];
  let arguments = (ins ConfinedAttr<I64Attr, [IntPositive]>:$groups, I64Attr:$topk);
  let results = (outs Attn_RoutingType:$result);
  let assemblyFormat = "`groups` $groups `top` $topk attr-dict";
  let hasVerifier = 1;
}

def Attn_AttendOp : Attn_Op<"attend", [RecursiveMemoryEffects, IsolatedFromAbove]> {
  let summary = "one attention branch: grouping, mask and score modification";
  let description = [{
    A query sees a key if both are in the same group (routed through `group(%r)`, or equal values
    of the `key` region) and the `mask` region yields true. Regions:
    - `mask (%q, %kv: !attn.token) -> i1`
    - `key (%t: !attn.token) -> i64`
    - `bias (%q, %kv: !attn.token, %head: i64) -> f32`, added to the scaled (and soft-capped) score.
    `scale` defaults to 1/sqrt(head_dim). A query that sees no key yields 0.

    ```mlir
    %s = attn.attend group(%r) {name = "dynamic"}
    %t = attn.attend {name = "frame"} key {
    ^bb0(%t: !attn.token):
      %f = attn.coord %t frame
      attn.yield %f : i64
    }
    ```
  }];
  let arguments = (ins Optional<Attn_RoutingType>:$routing,
                       OptionalAttr<StrAttr>:$name,
                       OptionalAttr<F32Attr>:$scale,
                       OptionalAttr<F32Attr>:$softcap);
  let results = (outs Attn_StreamType:$result);
  let regions = (region AnyRegion:$mask, AnyRegion:$key, AnyRegion:$bias);
  let assemblyFormat = [{
    (`group` `(` $routing^ `)`)? attr-dict (`mask` $mask^)? (`key` $key^)? (`bias` $bias^)?
  }];
  let hasVerifier = 1;
}

def Attn_GateOp : Attn_Op<"gate", [RecursiveMemoryEffects, IsolatedFromAbove]> {
  let summary = "scales a stream per query token: by the router probability or an expression";
  let description = [{
    `by %r`: each token's output is scaled by the probability of the group it attended in
    (MoGA's gate, which carries the router's gradient in training); the stream must come from an
    `attn.attend` grouped by the same routing. Otherwise the `expr` region `(%q) -> f32` gives the
    factor.

    ```mlir
    %g = attn.gate %s by %r
    ```
  }];
  let arguments = (ins Attn_StreamType:$input, Optional<Attn_RoutingType>:$routing);
  let results = (outs Attn_StreamType:$result);
  let regions = (region AnyRegion:$expr);
  let assemblyFormat = "$input (`by` $routing^)? attr-dict (`expr` $expr^)?";
  let hasVerifier = 1;
}

def Attn_MixOp : Attn_Op<"mix", [Pure]> {
  let summary = "a weighted sum of branch outputs that share q, k and v";
  let description = [{
    The paper's layer is the mean of three branches.

    ```mlir
    %m = attn.mix %a, %b, %c weights [0.25, 0.25, 0.5]
    ```
  }];
  let arguments = (ins Variadic<Attn_StreamType>:$inputs, DenseF64ArrayAttr:$weights);
  let results = (outs Attn_StreamType:$result);
  // custom<Weights>: each weight printed with the fewest digits that read back to the same
  // double (the array attribute's own printer rounds, e.g. 1.0e308 to INF, 1e-320 to 0.0).
  let assemblyFormat = "$inputs `weights` custom<Weights>($weights) attr-dict";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Lowered form
//===----------------------------------------------------------------------===//

def Attn_KernelOp : Attn_Op<"kernel", [MemoryEffects<[MemWrite]>, IsolatedFromAbove, HasParent<"PatternOp">]> {
  let summary = "one fused GPU kernel: a branch with its gate and mixture weight folded in";
  let description = [{
    Produced by `attn-fuse-mixture`. Kernels run in order on one stream; each adds
    `weight * gate * attention` to the output (`accumulate`) or overwrites it (the first).
    `attn-classify-blocks` records the coordinates the mask and the key read (`uses`: the tile
    summaries the block classifier needs), the coordinates of the key token that the mask reads
    (`key_uses`: what the kernel's producer stages per key column, so the per-element pass computes
    no coordinates) and the structure the classifier found; `attn-plan-score` places each
    term of the bias (row / column / element, `attn.at`), marks the integer element terms evaluated in
    float32 (`attn.f32`) and the longest sequence for which that is exact (`bias_f32_max_n`), and the
    sums of coordinate distances it evaluates on packed bytes when the shape allows (`attn.u8`, and
    `bias_u8`: the coordinates that must then be below 256);
    `attn-assign-tiles` adds the mma.sync tile sizes and their tunable space (`tiles`, `tunable`) and
    the plan the runtime launches on Hopper (`plan`: `sm_90` = the kernel registry's row, its tiles and
    the head dims it runs at; runtime/attention/registry.h default_hopper_plan).

    ```mlir
    attn.kernel "frame" weight 0.5 {accumulate = false} key {
    ^bb0(%t: !attn.token):
      %f = attn.coord %t frame
      attn.yield %f : i64
    }
    ```
  }];
  let arguments = (ins Optional<Attn_RoutingType>:$routing,
                       StrAttr:$name,
                       F64Attr:$weight,
                       BoolAttr:$accumulate,
                       UnitAttr:$route_gate,
                       OptionalAttr<F32Attr>:$scale,
                       OptionalAttr<F32Attr>:$softcap,
                       OptionalAttr<StrArrayAttr>:$uses,
                       OptionalAttr<StrArrayAttr>:$key_uses,
                       OptionalAttr<StrAttr>:$structure,
                       OptionalAttr<I64Attr>:$bias_f32_max_n,
                       OptionalAttr<StrArrayAttr>:$bias_u8,
                       OptionalAttr<DictionaryAttr>:$tiles,
                       OptionalAttr<DictionaryAttr>:$tunable,
                       OptionalAttr<DictionaryAttr>:$plan);
  let regions = (region AnyRegion:$mask, AnyRegion:$key, AnyRegion:$bias, AnyRegion:$gate);
  let assemblyFormat = [{
    $name (`group` `(` $routing^ `)`)? `weight` $weight attr-dict
    (`mask` $mask^)? (`key` $key^)? (`bias` $bias^)? (`gate` $gate^)?
  }];
  let hasVerifier = 1;
}

#endif // ATTN_OPS
