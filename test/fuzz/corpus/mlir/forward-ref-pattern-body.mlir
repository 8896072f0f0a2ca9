module {
  attn.pattern @stga layout video {
      %2 = arith.muli %1, %c2_i64 : i64
      %3 = attn.dim H
      %1 = attn.coord %arg0 row
      %c2_i64 = arith.constant 2 : i64
    %0 = attn.attend {name = "stga"} mask {
    ^bb0(%arg0: !attn.token, %arg1: !attn.token):
      %4 = arith.floordivsi %2, %3 : i64
      %c2_i64_0 = arith.constant 2 : i64
      %5 = arith.muli 