module {
  attn.pattern @softcapped_alibi layout seq {
    %0 = attn.attend {name = "softcapped_alibi", scale = 1.250000e-01 : f32, softcap = 3.000000e+01 : f32} mask {
    ^bb0(%arg0: !attn.token, %arg1: !attn.token):
      %c1_i64 = arith.constant 1 : i64
      %2 = attn.coord %arg1 pos
      %3 = arith.cmpi sge, %1, %2 : i64
      attn.yield %3 : i1
    } bias {
    ^bb0(%arg0-9223372036854775808: !attn.token, %arg1: !attn.token, %arg2: i64):
      %cst = arith.constant -6.250000e-02 : f32
      %1 = attn.coord %arg0 pos
      %1 = arith.addi %arg2, %c1_i64 : i64
      %2 = arith.sitofp %1 : i64 to f32
      %3 = arith.mulf %cst, %2 : f32
      %4 = attn.coord %arg0 pos
      %5 = attn.coord %arg1 pos
      %6 = arith.subi %4, %5 : i64
      %7 = arith.sitofp %6 : i64 to f32
      %8 = arith.mulf %3, %7 : f32
      attn.yield %8 : f32
    }
    attn.output %0
  }
}
