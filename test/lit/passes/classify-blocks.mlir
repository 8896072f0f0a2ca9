// RUN: moga-opt %s -attn-classify-blocks | FileCheck %s

// uses: the coordinates the tile summaries need (mask and key); key_uses: the key token's coordinates
// the mask reads on partial tiles, which the kernel stages per key column (the bias stages its own
// column terms: attn-plan-score), so alibi's bias adds no `row`.
// CHECK-LABEL: attn.pattern @structures
// CHECK: attn.kernel "dense" weight {{.*}} {accumulate = false, key_uses = [], structure = "dense", uses = []}
// CHECK: attn.kernel "routed" group(%{{.*}}) weight {{.*}} key_uses = [], {{.*}}structure = "grouped", uses = []
// CHECK: attn.kernel "causal" weight {{.*}} key_uses = ["pos"], structure = "masked", uses = ["pos"]
// CHECK: attn.kernel "stga" weight {{.*}} key_uses = ["frame", "shot"], structure = "grouped_masked", uses = ["frame", "row", "col", "shot"]
// CHECK: attn.kernel "alibi" weight {{.*}} key_uses = ["pos"], structure = "masked", uses = ["pos"]
attn.pattern @structures layout video {
  %r = attn.route groups 4 top 1
  attn.kernel "dense" weight 1.0 {accumulate = false}
  attn.kernel "routed" group(%r) weight 1.0 {accumulate = true, route_gate}
  attn.kernel "causal" weight 1.0 {accumulate = true} mask {
  ^bb0(%q: !attn.token, %kv: !attn.token):
    %a = attn.coord %q pos
    %b = attn.coord %kv pos
    %c = arith.cmpi sge, %a, %b : i64
    attn.yield %c : i1
  }
  attn.kernel "stga" weight 1.0 {accumulate = true} mask {
  ^bb0(%q: !attn.token, %kv: !attn.token):
    %a = attn.coord %q shot
    %b = attn.coord %kv shot
    %fa = attn.coord %q frame
    %fb = attn.coord %kv frame
    %c = arith.cmpi eq, %a, %b : i64
    %d = arith.cmpi sge, %fa, %fb : i64
    %e = arith.andi %c, %d : i1
    attn.yield %e : i1
  } key {
  ^bb0(%t: !attn.token):
    %r0 = attn.coord %t row
    %c0 = attn.coord %t col
    %s = arith.addi %r0, %c0 : i64
    attn.yield %s : i64
  }
  attn.kernel "alibi" weight 1.0 {accumulate = true} mask {
  ^bb0(%q: !attn.token, %kv: !attn.token):
    %a = attn.coord %q pos
    %b = attn.coord %kv pos
    %c = arith.cmpi sge, %a, %b : i64
    attn.yield %c : i1
  } bias {
  ^bb0(%q: !attn.token, %kv: !attn.token, %h: i64):
    %a = attn.coord %q col
    %b = attn.coord %kv row
    %d = arith.subi %a, %b : i64
    %f = arith.sitofp %d : i64 to f32
    attn.yield %f : f32
  }
}
