// RUN: moga-opt %s -attn-fuse-mixture | FileCheck %s

// The paper's layer: one kernel per branch; the first overwrites, the rest accumulate; the
// router gate and the mixture weights fold into the kernels.
// CHECK-LABEL: attn.pattern @moga
// CHECK: %[[R:.+]] = attn.route groups 5 top 1
// CHECK-NEXT: attn.kernel "dynamic" group(%[[R]]) weight 3.3{{[0-9]+}}e-01 {accumulate = false, route_gate}
// CHECK-NEXT: attn.kernel "stga" weight 3.3{{[0-9]+}}e-01 {accumulate = true} mask {
// CHECK: attn.kernel "frame" weight 3.3{{[0-9]+}}e-01 {accumulate = true} key {
// CHECK-NOT: attn.attend
// CHECK-NOT: attn.mix
// CHECK-NOT: attn.gate
attn.pattern @moga layout video {
  %r = attn.route groups 5 top 1
  %d = attn.attend group(%r) {name = "dynamic"}
  %g = attn.gate %d by %r
  %s = attn.attend {name = "stga"} mask {
  ^bb0(%q: !attn.token, %kv: !attn.token):
    %qf = attn.coord %q frame
    %kf = attn.coord %kv frame
    %c = arith.cmpi sge, %qf, %kf : i64
    attn.yield %c : i1
  }
  %f = attn.attend {name = "frame"} key {
  ^bb0(%t: !attn.token):
    %tf = attn.coord %t frame
    attn.yield %tf : i64
  }
  %m = attn.mix %g, %s, %f weights [0.333333, 0.333333, 0.333333]
  attn.output %m
}

// Nested mixture weights multiply; an expression gate moves into the kernel's gate region.
// CHECK-LABEL: attn.pattern @weights
// CHECK: attn.kernel "a" weight 5.000000e-01 {accumulate = false} gate {
// CHECK: arith.constant 2.500000e-01 : f32
// CHECK: attn.kernel "b" weight 1.250000e-01 {accumulate = true}
// CHECK: attn.kernel "branch2" weight 3.750000e-01 {accumulate = true}
attn.pattern @weights layout seq {
  %a = attn.attend {name = "a"}
  %ga = attn.gate %a expr {
  ^bb0(%q: !attn.token):
    %c = arith.constant 0.25 : f32
    attn.yield %c : f32
  }
  %b = attn.attend {name = "b"}
  %c = attn.attend
  %inner = attn.mix %b, %c weights [0.25, 0.75]
  %m = attn.mix %ga, %inner weights [0.5, 0.5]
  attn.output %m
}
