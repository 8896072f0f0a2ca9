// RUN: moga-opt %s -attn-extract-groups -attn-simplify | FileCheck %s

// window(q) == window(kv) && rest  ->  key = window, mask = rest
// CHECK-LABEL: attn.pattern @stga_like
// CHECK: attn.attend {name = "s"} mask {
// CHECK: arith.cmpi sge
// CHECK-NOT: arith.andi
// CHECK: } key {
// CHECK-NEXT: ^bb0(%[[T:.+]]: !attn.token):
// CHECK-DAG: attn.coord %[[T]] col
// CHECK-DAG: attn.dim W
// CHECK: arith.floordivsi
// CHECK: attn.yield %{{.+}} : i64
attn.pattern @stga_like layout video {
  %a = attn.attend {name = "s"} mask {
  ^bb0(%q: !attn.token, %kv: !attn.token):
    %two = arith.constant 2 : i64
    %w = attn.dim W
    %qc = attn.coord %q col
    %q2 = arith.muli %qc, %two : i64
    %qw = arith.floordivsi %q2, %w : i64
    %kc = attn.coord %kv col
    %k2 = arith.muli %kc, %two : i64
    %kw = arith.floordivsi %k2, %w : i64
    %same = arith.cmpi eq, %qw, %kw : i64
    %qf = attn.coord %q frame
    %kf = attn.coord %kv frame
    %causal = arith.cmpi sge, %qf, %kf : i64
    %r = arith.andi %same, %causal : i1
    attn.yield %r : i1
  }
  attn.output %a
}

// q.frame == kv.frame alone becomes a pure grouping: no mask is left.
// CHECK-LABEL: attn.pattern @frame
// CHECK: attn.attend {name = "f"} key {
// CHECK-NOT: mask
attn.pattern @frame layout video {
  %a = attn.attend {name = "f"} mask {
  ^bb0(%q: !attn.token, %kv: !attn.token):
    %qf = attn.coord %q frame
    %kf = attn.coord %kv frame
    %same = arith.cmpi eq, %kf, %qf : i64
    attn.yield %same : i1
  }
  attn.output %a
}

// Different functions of q and kv are not a grouping: the mask stays.
// CHECK-LABEL: attn.pattern @not_a_group
// CHECK: mask {
// CHECK: arith.cmpi eq
// CHECK-NOT: key {
attn.pattern @not_a_group layout video {
  %a = attn.attend {name = "n"} mask {
  ^bb0(%q: !attn.token, %kv: !attn.token):
    %qf = attn.coord %q frame
    %kr = attn.coord %kv row
    %same = arith.cmpi eq, %qf, %kr : i64
    attn.yield %same : i1
  }
  attn.output %a
}

// An equality under an `or` is not a top-level conjunct: the mask stays.
// CHECK-LABEL: attn.pattern @under_or
// CHECK: mask {
// CHECK: arith.ori
// CHECK-NOT: key {
attn.pattern @under_or layout video {
  %a = attn.attend {name = "o"} mask {
  ^bb0(%q: !attn.token, %kv: !attn.token):
    %qf = attn.coord %q frame
    %kf = attn.coord %kv frame
    %same = arith.cmpi eq, %qf, %kf : i64
    %qp = attn.coord %q pos
    %kp = attn.coord %kv pos
    %lt = arith.cmpi slt, %kp, %qp : i64
    %r = arith.ori %same, %lt : i1
    attn.yield %r : i1
  }
  attn.output %a
}
