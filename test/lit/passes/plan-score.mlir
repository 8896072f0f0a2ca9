// RUN: moga-opt %s -attn-plan-score -split-input-file | FileCheck %s

// A coordinate-distance bias scaled by the head: h's term and the query's coordinates once per row, the
// key's once per column, the distance per element in float32 (exact up to 2^21 tokens: the bound of
// |dframe| + |drow| is 4 N < 2^24, the coordinates converted at the boundary below 2^22).
// CHECK-LABEL: attn.pattern @distance
// CHECK: attn.kernel "k" weight {{.*}} {accumulate = false, bias_f32_max_n = 2097152 : i64} bias {
// CHECK: arith.addi %arg2, %{{.*}} {attn.at = "row"} : i64
// CHECK: arith.sitofp %{{.*}} {attn.at = "row"} : i64 to f32
// CHECK: attn.coord %arg0 frame {attn.at = "row"}
// CHECK: attn.coord %arg1 frame {attn.at = "col"}
// CHECK: arith.subi %{{.*}}, %{{.*}} {attn.at = "elem", attn.f32} : i64
// CHECK: math.absi %{{.*}} {attn.at = "elem", attn.f32} : i64
// CHECK: arith.addi %{{.*}}, %{{.*}} {attn.at = "elem", attn.f32} : i64
// CHECK: arith.sitofp %{{.*}} {attn.at = "elem"} : i64 to f32
// CHECK: arith.mulf %{{.*}}, %{{.*}} {attn.at = "elem"} : f32
attn.pattern @distance layout video {
  attn.kernel "k" weight 1.0 {accumulate = false} bias {
  ^bb0(%q: !attn.token, %kv: !attn.token, %h: i64):
    %c = arith.constant -0.01 : f32
    %one = arith.constant 1 : i64
    %h1 = arith.addi %h, %one : i64
    %hf = arith.sitofp %h1 : i64 to f32
    %hs = arith.mulf %hf, %c : f32
    %qf = attn.coord %q frame
    %kf = attn.coord %kv frame
    %df = arith.subi %qf, %kf : i64
    %af = math.absi %df : i64
    %qr = attn.coord %q row
    %kr = attn.coord %kv row
    %dr = arith.subi %qr, %kr : i64
    %ar = math.absi %dr : i64
    %s = arith.addi %af, %ar : i64
    %sf = arith.sitofp %s : i64 to f32
    %b = arith.mulf %hs, %sf : f32
    attn.yield %b : f32
  }
}

// -----

// A floor division of an element term keeps that term (and what feeds it) in integers; a product of two
// element terms grows as N^2, so no float32 plan at all when it would cap N below 65,536.
// CHECK-LABEL: attn.pattern @integer
// CHECK: attn.kernel "div" weight {{.*}} {accumulate = false} bias {
// CHECK: arith.subi %{{.*}}, %{{.*}} {attn.at = "elem"} : i64
// CHECK-NOT: attn.f32
// CHECK: arith.floordivsi %{{.*}}, %{{.*}} {attn.at = "elem"} : i64
// CHECK: attn.kernel "square" weight {{.*}} {accumulate = true} bias {
// CHECK-NOT: attn.f32
// CHECK: attn.yield
attn.pattern @integer layout seq {
  attn.kernel "div" weight 0.5 {accumulate = false} bias {
  ^bb0(%q: !attn.token, %kv: !attn.token, %h: i64):
    %c = arith.constant 64 : i64
    %a = attn.coord %q pos
    %b = attn.coord %kv pos
    %d = arith.subi %a, %b : i64
    %e = arith.floordivsi %d, %c : i64
    %f = arith.sitofp %e : i64 to f32
    attn.yield %f : f32
  }
  attn.kernel "square" weight 0.5 {accumulate = true} bias {
  ^bb0(%q: !attn.token, %kv: !attn.token, %h: i64):
    %a = attn.coord %q pos
    %b = attn.coord %kv pos
    %d = arith.subi %a, %b : i64
    %e = arith.muli %d, %d : i64
    %f = arith.sitofp %e : i64 to f32
    attn.yield %f : f32
  }
}

// -----

// A bias of the key alone: every term is a column term (staged per key column), nothing per element
// but the read.
// CHECK-LABEL: attn.pattern @key_only
// CHECK: attn.coord %arg1 pos {attn.at = "col"}
// CHECK: arith.sitofp %{{.*}} {attn.at = "col"} : i64 to f32
attn.pattern @key_only layout seq {
  attn.kernel "k" weight 1.0 {accumulate = false} bias {
  ^bb0(%q: !attn.token, %kv: !attn.token, %h: i64):
    %b = attn.coord %kv pos
    %f = arith.sitofp %b : i64 to f32
    attn.yield %f : f32
  }
}
