# runtime/attention: the CPU suite (argument validation, pattern loading, JIT compile of the shipped
# patterns: no GPU needed) and the GPU suite (every shipped pattern against the CPU reference), which
# skips loudly without a device. Test patterns (test/unit/patterns/*.moga) are compiled at build
# time by moga-compile and embedded into both binaries (the GPU machine has no MLIR).
# runtime/CMakeLists.txt lists `attention`; the guard keeps this file working in a tree where it does not.
include(${PROJECT_SOURCE_DIR}/runtime/attention/embed_patterns_fn.cmake)

set(_attn_pat ${CMAKE_CURRENT_LIST_DIR}/patterns)
set(_attn_test_patterns
  "attn_all_masked|${_attn_pat}/attn_all_masked.moga"
  "attn_hooks|${_attn_pat}/attn_hooks.moga"
  "attn_routed_mix|${_attn_pat}/attn_routed_mix.moga"
  "attn_route64|${_attn_pat}/attn_route64.moga"
  "attn_route256|${_attn_pat}/attn_route256.moga"
  "attn_small_groups|${_attn_pat}/attn_small_groups.moga"
  "attn_softcap|${_attn_pat}/attn_softcap.moga"
  "attn_top2|${_attn_pat}/attn_top2.moga"
  "attn_top2_mix|${_attn_pat}/attn_top2_mix.moga"
  "attn_video_bias|${_attn_pat}/attn_video_bias.moga"
  "bwd_groups|${_attn_pat}/bwd_groups.moga"
  "bwd_hooks|${_attn_pat}/bwd_hooks.moga"
  "bwd_holes|${_attn_pat}/bwd_holes.moga"
  "bwd_mix|${_attn_pat}/bwd_mix.moga"
  "bwd_routed_gate|${_attn_pat}/bwd_routed_gate.moga")

add_library(moga_attention_test_patterns STATIC)
target_link_libraries(moga_attention_test_patterns PUBLIC moga_attention)
moga_embed_patterns(moga_attention_test_patterns test_patterns ${_attn_test_patterns})

moga_unit_test(moga_attention_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/attention_test.cpp ${CMAKE_CURRENT_LIST_DIR}/backward_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/prep_host_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/fp8_test.cpp
  LIBS moga_attention_test_patterns moga_attention)

moga_unit_test(moga_gpu_attention_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/gpu_attention_test.cpp
  LIBS moga_attention_test_patterns moga_attention)

# The backward (runtime/attention/backward.h) and the forward's log-sum-exp against a float64 oracle; GPU only.
moga_unit_test(moga_gpu_backward_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/gpu_backward_test.cpp
  LIBS moga_attention_test_patterns moga_attention)
