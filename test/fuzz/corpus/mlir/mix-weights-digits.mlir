attn.pattern @p layout seq {
  %a = attn.attend {name = "a"}
  %b = attn.attend {name = "b"}
  %m = attn.mix %a, %b weights [0.1, 0.33333333333333331]
  attn.output %m
}
