// RUN: moga-opt %s | FileCheck %s
// RUN: moga-opt %s | moga-opt | FileCheck %s
// attn.mix weights print with the fewest digits that read back to the same double (the array
// attribute's own printer turned 1.0e308 into INF and 1e-300 into 0.0).

// CHECK-LABEL: attn.pattern @weights
// CHECK: attn.mix %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} weights [1.0e+308, 1.0e-300, 0.1, 0.3333333333333333]
attn.pattern @weights layout seq {
  %a = attn.attend {name = "a"}
  %b = attn.attend {name = "b"}
  %c = attn.attend {name = "c"}
  %d = attn.attend {name = "d"}
  %m = attn.mix %a, %b, %c, %d weights [1.0e308, 1.0e-300, 0.1, 0.33333333333333331]
  attn.output %m
}
