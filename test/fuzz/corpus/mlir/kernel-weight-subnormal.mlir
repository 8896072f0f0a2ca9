attn.pattern @p layout seq {
  attn.kernel "a" weight 1.0e-320 {accumulate = false}
  attn.output
}
