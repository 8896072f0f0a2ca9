// RUN: moga-opt %s -split-input-file -verify-diagnostics
// One case per verifier rule (dialects/attn/lib/AttnVerify.cpp).

// expected-error @+1 {{must produce an output stream}}
attn.pattern @no_output layout seq {
  attn.output
}

// -----

// expected-error @+1 {{mixes lowered attn.kernel ops with attn.attend ops}}
attn.pattern @mixed layout seq {
  attn.kernel "k" weight 1.0 {accumulate = false}
  %a = attn.attend {name = "a"}
  attn.output
}

// -----

// expected-error @+1 {{a lowered pattern's attn.output takes no operand}}
attn.pattern @lowered_output layout seq {
  attn.kernel "k" weight 1.0 {accumulate = false}
  %a = attn.attend {name = "a"}
  attn.output %a
}

// -----

attn.pattern @seq_frame layout seq {
  %a = attn.attend mask {
  ^bb0(%q: !attn.token, %kv: !attn.token):
    // expected-error @+1 {{coordinate 'frame' does not exist in layout 'seq' (only 'pos')}}
    %f = attn.coord %q frame
    %c = arith.cmpi eq, %f, %f : i64
    attn.yield %c : i1
  }
  attn.output %a
}

// -----

attn.pattern @seq_dim layout seq {
  %a = attn.attend mask {
  ^bb0(%q: !attn.token, %kv: !attn.token):
    // expected-error @+1 {{shape constant 'W' does not exist in layout 'seq' (only 'N')}}
    %w = attn.dim W
    %c = arith.cmpi eq, %w, %w : i64
    attn.yield %c : i1
  }
  attn.output %a
}

// -----

attn.pattern @mod_zero layout seq {
  %a = attn.attend key {
  ^bb0(%t: !attn.token):
    %p = attn.coord %t pos
    %z = arith.constant 0 : i64
    // expected-error @+1 {{modulo by zero}}
    %m = attn.floormod %p, %z
    attn.yield %m : i64
  }
  attn.output %a
}

// -----

attn.pattern @topk layout seq {
  // expected-error @+1 {{top-k must be in [1, groups = 4], got 5}}
  %r = attn.route groups 4 top 5
  %a = attn.attend group(%r)
  attn.output %a
}

// -----

attn.pattern @groups_positive layout seq {
  // expected-error @+1 {{attribute 'groups' failed to satisfy constraint}}
  %r = attn.route groups 0 top 1
  %a = attn.attend group(%r)
  attn.output %a
}

// -----

attn.pattern @route_and_key layout seq {
  %r = attn.route groups 4 top 1
  // expected-error @+1 {{cannot group by both a routing and a key}}
  %a = attn.attend group(%r) key {
  ^bb0(%t: !attn.token):
    %p = attn.coord %t pos
    attn.yield %p : i64
  }
  attn.output %a
}

// -----

attn.pattern @mask_args layout seq {
  // expected-error @+1 {{'mask' region must take (!attn.token, !attn.token), got (!attn.token)}}
  %a = attn.attend mask {
  ^bb0(%q: !attn.token):
    %c = arith.constant true
    attn.yield %c : i1
  }
  attn.output %a
}

// -----

attn.pattern @mask_type layout seq {
  // expected-error @+1 {{'mask' region must yield 'i1', got 'i64'}}
  %a = attn.attend mask {
  ^bb0(%q: !attn.token, %kv: !attn.token):
    %p = attn.coord %q pos
    attn.yield %p : i64
  }
  attn.output %a
}

// -----

attn.pattern @key_type layout seq {
  // expected-error @+1 {{'key' region must yield 'i64', got 'i1'}}
  %a = attn.attend key {
  ^bb0(%t: !attn.token):
    %c = arith.constant true
    attn.yield %c : i1
  }
  attn.output %a
}

// -----

attn.pattern @bias_args layout seq {
  // expected-error @+1 {{'bias' region must take (!attn.token, !attn.token, i64), got (!attn.token, !attn.token)}}
  %a = attn.attend bias {
  ^bb0(%q: !attn.token, %kv: !attn.token):
    %b = arith.constant 0.0 : f32
    attn.yield %b : f32
  }
  attn.output %a
}

// -----

attn.pattern @scale layout seq {
  // expected-error @+1 {{scale must be positive}}
  %a = attn.attend {scale = -1.0 : f32}
  attn.output %a
}

// -----

attn.pattern @softcap layout seq {
  // expected-error @+1 {{softcap must be positive}}
  %a = attn.attend {softcap = 0.0 : f32}
  attn.output %a
}

// -----

attn.pattern @gate_neither layout seq {
  %a = attn.attend
  // expected-error @+1 {{needs exactly one of a routing (`by %r`) or an `expr` region}}
  %g = attn.gate %a
  attn.output %g
}

// -----

attn.pattern @gate_wrong_routing layout seq {
  %r = attn.route groups 4 top 1
  %a = attn.attend
  // expected-error @+1 {{gates by a routing that the gated branch is not grouped by}}
  %g = attn.gate %a by %r
  attn.output %g
}

// -----

attn.pattern @gate_expr_type layout seq {
  %a = attn.attend
  // expected-error @+1 {{'expr' region must yield 'f32', got 'i64'}}
  %g = attn.gate %a expr {
  ^bb0(%q: !attn.token):
    %p = attn.coord %q pos
    attn.yield %p : i64
  }
  attn.output %g
}

// -----

attn.pattern @mix_count layout seq {
  %a = attn.attend
  %b = attn.attend
  // expected-error @+1 {{has 2 inputs but 3 weights}}
  %m = attn.mix %a, %b weights [1.0, 1.0, 1.0]
  attn.output %m
}

// -----

attn.pattern @mix_weight layout seq {
  %a = attn.attend
  %b = attn.attend
  // expected-error @+1 {{weights must be positive, got -5.000000e-01}}
  %m = attn.mix %a, %b weights [1.0, -0.5]
  attn.output %m
}

// -----

attn.pattern @mix_twice layout seq {
  %a = attn.attend
  // expected-error @+1 {{mixes the same stream twice (add its weights instead)}}
  %m = attn.mix %a, %a weights [0.5, 0.5]
  attn.output %m
}

// -----

attn.pattern @mix_empty layout seq {
  // expected-error @+1 {{needs at least one input}}
  %m = attn.mix weights []
  attn.output %m
}

// -----

attn.pattern @kernel_route_gate layout seq {
  // expected-error @+1 {{route_gate needs a routing}}
  attn.kernel "k" weight 1.0 {accumulate = false, route_gate}
}

// -----

attn.pattern @kernel_weight layout seq {
  // expected-error @+1 {{weight must be positive, got 0}}
  attn.kernel "k" weight 0.0 {accumulate = false}
}

// -----

attn.pattern @kernel_two_gates layout seq {
  %r = attn.route groups 4 top 1
  // expected-error @+1 {{has both a route gate and a gate region}}
  attn.kernel "k" group(%r) weight 1.0 {accumulate = false, route_gate} gate {
  ^bb0(%q: !attn.token):
    %h = arith.constant 0.5 : f32
    attn.yield %h : f32
  }
}

// -----

attn.pattern @two_blocks layout seq {
  // expected-error @+1 {{'key' region must have one block}}
  %a = attn.attend key {
  ^bb0(%t: !attn.token):
    %p = attn.coord %t pos
    attn.yield %p : i64
  ^bb1(%u: !attn.token):
    %p2 = attn.coord %u pos
    attn.yield %p2 : i64
  }
  attn.output %a
}
