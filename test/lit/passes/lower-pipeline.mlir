// RUN: moga-opt %s -attn-lower | FileCheck %s
// The whole pipeline on the paper's layer: the frame branch's `q.frame == kv.frame` mask turns into
// a grouping key, the gate and mean fold into three kernels with tiles and the Hopper plan (routed with 5
// groups: sm90.tma.sorted; the frame key in token order: sm90.tma.sorted).

// CHECK-LABEL: attn.pattern @moga layout video
// CHECK: attn.kernel "dynamic" group(%{{.+}}) weight {{.*}} {accumulate = false, key_uses = [], plan = {sm_90 = {{{.*}}variant = "sm90.tma.sorted"{{.*}}}}, route_gate, structure = "grouped"
// CHECK: attn.kernel "frame" weight {{.*}} {accumulate = true, key_uses = [], plan = {{.*}}, structure = "grouped", tiles = {{.*}}, uses = ["frame"]} key {
// CHECK-NOT: mask
attn.pattern @moga layout video {
  %r = attn.route groups 5 top 1
  %d = attn.attend group(%r) {name = "dynamic"}
  %g = attn.gate %d by %r
  %f = attn.attend {name = "frame"} mask {
  ^bb0(%q: !attn.token, %kv: !attn.token):
    %qf = attn.coord %q frame
    %kf = attn.coord %kv frame
    %c = arith.cmpi eq, %qf, %kf : i64
    attn.yield %c : i1
  }
  %m = attn.mix %g, %f weights [0.5, 0.5]
  attn.output %m
}
