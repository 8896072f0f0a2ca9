# The benchmark suite's patterns (bench/patterns/*.moga) on the CPU: compile, CPU reference against a
# brute force, block-map soundness, and the FlexAttention peer's mask interpreter (numpy).
moga_unit_test(bench_patterns_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/bench_patterns_test.cpp
  LIBS moga_compiler moga_reference)
target_compile_definitions(bench_patterns_test PRIVATE MOGA_SOURCE_DIR_DEFAULT="${CMAKE_SOURCE_DIR}")
target_compile_options(bench_patterns_test PRIVATE ${MOGA_NO_RTTI})
