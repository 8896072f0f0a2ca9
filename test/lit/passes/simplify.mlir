// RUN: moga-opt %s -attn-simplify | FileCheck %s

// A mask that folds to true disappears, so the kernel runs dense.
// CHECK-LABEL: attn.pattern @true_mask
// CHECK: attn.attend {name = "a"}
// CHECK-NOT: mask
attn.pattern @true_mask layout seq {
  %a = attn.attend {name = "a"} mask {
  ^bb0(%q: !attn.token, %kv: !attn.token):
    %p = attn.coord %q pos
    %c = arith.cmpi eq, %p, %p : i64
    %t = arith.constant true
    %r = arith.andi %c, %t : i1
    attn.yield %r : i1
  }
  attn.output %a
}

// Constants fold inside masks: (2 * 3) - 6 == 0 is dropped from the conjunction.
// CHECK-LABEL: attn.pattern @fold
// CHECK: mask {
// CHECK-NEXT: ^bb0(%[[Q:.+]]: !attn.token, %[[KV:.+]]: !attn.token):
// CHECK-NEXT: %[[A:.+]] = attn.coord %[[Q]] pos
// CHECK-NEXT: %[[B:.+]] = attn.coord %[[KV]] pos
// CHECK-NEXT: %[[C:.+]] = arith.cmpi sge, %[[A]], %[[B]] : i64
// CHECK-NEXT: attn.yield %[[C]] : i1
attn.pattern @fold layout seq {
  %a = attn.attend {name = "a"} mask {
  ^bb0(%q: !attn.token, %kv: !attn.token):
    %two = arith.constant 2 : i64
    %three = arith.constant 3 : i64
    %six = arith.constant 6 : i64
    %zero = arith.constant 0 : i64
    %p = arith.muli %two, %three : i64
    %d = arith.subi %p, %six : i64
    %z = arith.cmpi eq, %d, %zero : i64
    %qp = attn.coord %q pos
    %kp = attn.coord %kv pos
    %c = arith.cmpi sge, %qp, %kp : i64
    %r = arith.andi %z, %c : i1
    attn.yield %r : i1
  }
  attn.output %a
}

// Nested mixtures flatten (weights multiply) and a one-input mixture with weight 1 disappears.
// CHECK-LABEL: attn.pattern @mixes
// CHECK: %[[A:.+]] = attn.attend {name = "a"}
// CHECK: %[[B:.+]] = attn.attend {name = "b"}
// CHECK: %[[C:.+]] = attn.attend {name = "c"}
// CHECK: %[[M:.+]] = attn.mix %[[A]], %[[B]], %[[C]] weights [0.5, 0.25, 0.25]
// CHECK: attn.output %[[M]]
attn.pattern @mixes layout seq {
  %a = attn.attend {name = "a"}
  %b = attn.attend {name = "b"}
  %c = attn.attend {name = "c"}
  %inner = attn.mix %b, %c weights [0.5, 0.5]
  %outer = attn.mix %a, %inner weights [0.5, 0.5]
  %one = attn.mix %outer weights [1.0]
  attn.output %one
}

// A gate of constant 1 disappears; floormod folds constants.
// CHECK-LABEL: attn.pattern @unit_gate
// CHECK-NOT: attn.gate
// CHECK: %[[K:.+]] = arith.constant 2 : i64
// CHECK: attn.yield %[[K]] : i64
attn.pattern @unit_gate layout seq {
  %a = attn.attend {name = "a"} key {
  ^bb0(%t: !attn.token):
    %x = arith.constant -7 : i64
    %y = arith.constant 3 : i64
    %m = attn.floormod %x, %y
    attn.yield %m : i64
  }
  %g = attn.gate %a expr {
  ^bb0(%q: !attn.token):
    %one = arith.constant 1.0 : f32
    attn.yield %one : f32
  }
  attn.output %g
}
