// RUN: moga-opt %s | moga-opt | FileCheck %s
// Every op prints in a form that parses back to the same IR.

// CHECK-LABEL: attn.pattern @moga layout video
attn.pattern @moga layout video {
  // CHECK: %[[R:.+]] = attn.route groups 5 top 1
  %r = attn.route groups 5 top 1
  // CHECK: %[[D:.+]] = attn.attend group(%[[R]]) {name = "dynamic"}
  %d = attn.attend group(%r) {name = "dynamic"}
  // CHECK: %[[G:.+]] = attn.gate %[[D]] by %[[R]]
  %g = attn.gate %d by %r
  // CHECK: attn.attend {name = "stga", scale = 5.000000e-01 : f32, softcap = 3.000000e+01 : f32} mask {
  // CHECK: attn.coord %{{.*}} frame
  // CHECK: attn.dim W
  // CHECK: attn.floormod
  // CHECK: } bias {
  %s = attn.attend {name = "stga", scale = 0.5 : f32, softcap = 30.0 : f32} mask {
  ^bb0(%q: !attn.token, %kv: !attn.token):
    %qf = attn.coord %q frame
    %kf = attn.coord %kv frame
    %w = attn.dim W
    %m = attn.floormod %qf, %w
    %c = arith.cmpi sge, %m, %kf : i64
    attn.yield %c : i1
  } bias {
  ^bb0(%q: !attn.token, %kv: !attn.token, %h: i64):
    %b = arith.constant -1.0 : f32
    attn.yield %b : f32
  }
  // CHECK: attn.attend {name = "frame"} key {
  %f = attn.attend {name = "frame"} key {
  ^bb0(%t: !attn.token):
    %tf = attn.coord %t frame
    attn.yield %tf : i64
  }
  // CHECK: attn.gate %{{.*}} expr {
  %fg = attn.gate %f expr {
  ^bb0(%q: !attn.token):
    %half = arith.constant 0.5 : f32
    attn.yield %half : f32
  }
  // CHECK: attn.mix %[[G]], %{{.*}}, %{{.*}} weights [0.33, 0.33, 0.34]
  %m = attn.mix %g, %s, %fg weights [0.33, 0.33, 0.34]
  // CHECK: attn.output %{{.*}}
  attn.output %m
}

// CHECK-LABEL: attn.pattern @lowered layout seq
attn.pattern @lowered layout seq {
  %r = attn.route groups 4 top 2
  // CHECK: attn.kernel "dyn" group(%{{.*}}) weight 1.000000e+00 {accumulate = false, route_gate}
  attn.kernel "dyn" group(%r) weight 1.0 {accumulate = false, route_gate}
  // CHECK: attn.kernel "win" weight 5.000000e-01 {accumulate = true, structure = "masked", uses = ["pos"]} mask {
  attn.kernel "win" weight 0.5 {accumulate = true, uses = ["pos"], structure = "masked"} mask {
  ^bb0(%q: !attn.token, %kv: !attn.token):
    %a = attn.coord %q pos
    %b = attn.coord %kv pos
    %c = arith.cmpi sge, %a, %b : i64
    attn.yield %c : i1
  }
  // A lowered pattern's attn.output has no operand and is implicit: it is not printed.
  // CHECK-NOT: attn.output
  attn.output
}
