// RUN: moga-opt %s -split-input-file -verify-diagnostics
// Values whose printed form would not read back (subnormals): refused by the verifier.

attn.pattern @p layout seq {
  %a = attn.attend {name = "a"}
  %b = attn.attend {name = "b"}
  // expected-error @+1 {{weights must be normal doubles}}
  %m = attn.mix %a, %b weights [0.5, 1.0e-320]
  attn.output %m
}

// -----

attn.pattern @p layout seq {
  // expected-error @+1 {{weight must be a normal double}}
  attn.kernel "a" weight 1.0e-320 {accumulate = false}
  attn.output
}

// -----

attn.pattern @p layout seq {
  // expected-error @+1 {{scale must be a normal f32}}
  %a = attn.attend {name = "a", scale = 1.0e-40 : f32}
  attn.output %a
}

// -----

attn.pattern @p layout seq {
  // expected-error @+1 {{softcap must be a normal f32}}
  %a = attn.attend {name = "a", softcap = 1.0e-41 : f32}
  attn.output %a
}
