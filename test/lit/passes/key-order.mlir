// RUN: moga-opt %s -attn-assign-tiles | FileCheck %s

// A computed key non-decreasing in the token index (dialects/attn/lib/Transforms/KeyOrder.h) groups runs of
// consecutive tokens at every shape: the plan is sm90.tma.sorted (tiles from q, k, v, no copy). Any key it
// cannot prove in order stays on sm90.ws.
// CHECK: attn.kernel "by_frame" {{.*}}variant = "sm90.tma.sorted"
// CHECK: attn.kernel "documents" {{.*}}variant = "sm90.tma.sorted"
// CHECK: attn.kernel "chunks_by_dim" {{.*}}variant = "sm90.tma.sorted"
// The periodic form fails when the step (1 per period) is smaller than g's range (0..1 within, 2 here).
// CHECK: attn.kernel "documents_overlap" {{.*}}variant = "sm90.ws"
// CHECK: attn.kernel "by_cell" {{.*}}variant = "sm90.ws"
// CHECK: attn.kernel "reversed" {{.*}}variant = "sm90.ws"
// CHECK: attn.kernel "residue" {{.*}}variant = "sm90.ws"
attn.pattern @p layout video {
  attn.kernel "by_frame" weight 1.0 {accumulate = false} key {
  ^bb0(%t: !attn.token):
    %f = attn.coord %t frame
    attn.yield %f : i64
  }
  attn.kernel "documents" weight 1.0 {accumulate = true} key {
  ^bb0(%t: !attn.token):
    %c3000 = arith.constant 3000 : i64
    %c4000 = arith.constant 4000 : i64
    %c2 = arith.constant 2 : i64
    %p = attn.coord %t pos
    %0 = arith.floordivsi %p, %c4000 : i64
    %1 = arith.muli %0, %c2 : i64
    %2 = attn.floormod %p, %c4000
    %3 = arith.floordivsi %2, %c3000 : i64
    %4 = arith.addi %1, %3 : i64
    attn.yield %4 : i64
  }
  attn.kernel "chunks_by_dim" weight 1.0 {accumulate = true} key {
  ^bb0(%t: !attn.token):
    %c1 = arith.constant 1 : i64
    %p = attn.coord %t pos
    %w = attn.dim W
    %0 = arith.subi %p, %c1 : i64
    %1 = arith.floordivsi %0, %w : i64
    attn.yield %1 : i64
  }
  attn.kernel "documents_overlap" weight 1.0 {accumulate = true} key {
  ^bb0(%t: !attn.token):
    %c1500 = arith.constant 1500 : i64
    %c4000 = arith.constant 4000 : i64
    %p = attn.coord %t pos
    %0 = arith.floordivsi %p, %c4000 : i64
    %2 = attn.floormod %p, %c4000
    %3 = arith.floordivsi %2, %c1500 : i64
    %4 = arith.addi %0, %3 : i64
    attn.yield %4 : i64
  }
  attn.kernel "by_cell" weight 1.0 {accumulate = true} key {
  ^bb0(%t: !attn.token):
    %r = attn.coord %t row
    attn.yield %r : i64
  }
  attn.kernel "reversed" weight 1.0 {accumulate = true} key {
  ^bb0(%t: !attn.token):
    %cm1 = arith.constant -1 : i64
    %p = attn.coord %t pos
    %0 = arith.muli %p, %cm1 : i64
    attn.yield %0 : i64
  }
  attn.kernel "residue" weight 1.0 {accumulate = true} key {
  ^bb0(%t: !attn.token):
    %c7 = arith.constant 7 : i64
    %p = attn.coord %t pos
    %0 = attn.floormod %p, %c7
    attn.yield %0 : i64
  }
}
