// RUN: moga-opt %s -attn-plan-score -split-input-file | FileCheck %s

// A coordinate-distance bias scaled by the head: h's term and the query's coordinates once per row, the
// key's once per column, the distance per element in float32 (exact up to 2^21 tokens: the bound of
// |dframe| + |drow| is 4 N < 2^24, the coordinates converted at the boundary below 2^22). The sum of the two
// distances is also marked for packed bytes (attn.u8 on the sum, attn.u8_part under it; bias_u8 names the
// coordinates that must then be below 256).
// CHECK-LABEL: attn.pattern @distance
// CHECK: attn.kernel "k" weight {{.*}} {accumulate = false, bias_f32_max_n = 2097152 : i64, bias_u8 = ["frame", "row"]} bias {
// CHECK: arith.addi %arg2, %{{.*}} {attn.at = "row"} : i64
// CHECK: arith.sitofp %{{.*}} {attn.at = "row"} : i64 to f32
// CHECK: attn.coord %arg0 frame {attn.at = "row"}
// CHECK: attn.coord %arg1 frame {attn.at = "col"}
// CHECK: arith.subi %{{.*}}, %{{.*}} {attn.at = "elem", attn.f32, attn.u8_part} : i64
// CHECK: math.absi %{{.*}} {attn.at = "elem", attn.f32, attn.u8_part} : i64
// CHECK: arith.addi %{{.*}}, %{{.*}} {attn.at = "elem", attn.f32, attn.u8 = 0 : i64} : i64
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

// -----

// Byte-packed sums: at most four distances a word (five make a word of the inner four and leave the outer
// sum in float32), only distances of two tokens' plain coordinates (|q.frame / 2 - kv.frame| is not one:
// that sum stays unmarked), and a distance another op also reads stays out of a word.
// CHECK-LABEL: attn.pattern @bytes
// CHECK: attn.kernel "five" weight {{.*}} bias_u8 = ["pos", "frame", "row", "col"]
// CHECK: arith.addi %{{.*}}, %{{.*}} {attn.at = "elem", attn.f32, attn.u8_part} : i64
// CHECK: arith.addi %{{.*}}, %{{.*}} {attn.at = "elem", attn.f32, attn.u8_part} : i64
// CHECK: arith.addi %{{.*}}, %{{.*}} {attn.at = "elem", attn.f32, attn.u8 = 0 : i64} : i64
// CHECK: arith.addi %{{.*}}, %{{.*}} {attn.at = "elem", attn.f32} : i64
// CHECK: attn.kernel "halved"
// CHECK-NOT: attn.u8
// CHECK: attn.kernel "shared"
// CHECK-NOT: attn.u8
// CHECK: attn.yield
attn.pattern @bytes layout video {
  attn.kernel "five" weight 0.5 {accumulate = false} bias {
  ^bb0(%q: !attn.token, %kv: !attn.token, %h: i64):
    %qp = attn.coord %q pos
    %kp = attn.coord %kv pos
    %qf = attn.coord %q frame
    %kf = attn.coord %kv frame
    %qr = attn.coord %q row
    %kr = attn.coord %kv row
    %qc = attn.coord %q col
    %kc = attn.coord %kv col
    %d0 = arith.subi %qp, %kp : i64
    %a0 = math.absi %d0 : i64
    %d1 = arith.subi %kf, %qf : i64
    %a1 = math.absi %d1 : i64
    %d2 = arith.subi %qr, %kr : i64
    %a2 = math.absi %d2 : i64
    %d3 = arith.subi %qc, %kc : i64
    %a3 = math.absi %d3 : i64
    %d4 = arith.subi %qf, %kc : i64
    %a4 = math.absi %d4 : i64
    %s0 = arith.addi %a0, %a1 : i64
    %s1 = arith.addi %a2, %a3 : i64
    %s2 = arith.addi %s0, %s1 : i64
    %s3 = arith.addi %s2, %a4 : i64
    %f = arith.sitofp %s3 : i64 to f32
    attn.yield %f : f32
  }
  attn.kernel "halved" weight 0.25 {accumulate = true} bias {
  ^bb0(%q: !attn.token, %kv: !attn.token, %h: i64):
    %two = arith.constant 2 : i64
    %qf = attn.coord %q frame
    %kf = attn.coord %kv frame
    %qr = attn.coord %q row
    %kr = attn.coord %kv row
    %qh = arith.floordivsi %qf, %two : i64
    %d1 = arith.subi %qh, %kf : i64
    %a1 = math.absi %d1 : i64
    %d2 = arith.subi %qr, %kr : i64
    %a2 = math.absi %d2 : i64
    %s = arith.addi %a1, %a2 : i64
    %f = arith.sitofp %s : i64 to f32
    attn.yield %f : f32
  }
  attn.kernel "shared" weight 0.25 {accumulate = true} bias {
  ^bb0(%q: !attn.token, %kv: !attn.token, %h: i64):
    %qf = attn.coord %q frame
    %kf = attn.coord %kv frame
    %qr = attn.coord %q row
    %kr = attn.coord %kv row
    %d1 = arith.subi %qf, %kf : i64
    %a1 = math.absi %d1 : i64
    %d2 = arith.subi %qr, %kr : i64
    %a2 = math.absi %d2 : i64
    %s = arith.addi %a1, %a2 : i64
    %m = arith.muli %s, %a1 : i64
    %f = arith.sitofp %m : i64 to f32
    attn.yield %f : f32
  }
}
