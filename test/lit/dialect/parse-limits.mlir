// Input that would crash MLIR's parser is refused before parsing, with a located error
// (dialects/attn/lib/AttnParseLimits.cpp).
// RUN: not moga-opt %S/Inputs/nested-300.mlir 2>&1 | FileCheck %s --check-prefix=NEST
// RUN: not moga-opt %s 2>&1 | FileCheck %s --check-prefix=FWD
// RUN: not moga-opt %s --split-input-file 2>&1 | FileCheck %s --check-prefix=FWD

// 5,000 nested regions overflowed the stack in PatternOp::parse; past 256 levels they are refused.
// NEST: nested-300.mlir:258:28: error: nesting deeper than 256 levels of regions, attributes or types
// NEST-NEXT: attn.pattern @p layout seq {
// NEST-NEXT: {{^                           \^$}}

// A forward reference followed by another error in the same op made MLIR 19's parser use a
// freed block; forward references are never valid here, so they are refused first.
// FWD: parse-limits.mlir:[[@LINE+5]]:26: error: use of value '%1' before its definition in this region
attn.pattern @p layout seq {
  %0 = attn.attend {name = "a"} mask {
  ^bb0(%q: !attn.token, %kv: !attn.token):
    %2 = attn.coord %kv pos
    %3 = arith.cmpi sge, %1, %2 : i64
    attn.yield %3 : i1
  } bias {
  ^bb0(%q: !attn.token, %kv: !attn.token, %h: i64):
    %1 = attn.coord %q pos
    %1 = arith.sitofp %h : i64 to f32
    attn.yield %1 : f32
  }
  attn.output %0
}
