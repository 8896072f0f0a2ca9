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
# The benchmark suite's patterns (bench/patterns) with parameters scaled to the GPU tests' small shapes
# (N ~ 2k, video 5x13x17), so each has empty, full and partial tiles there: gpu_attention's
# SuitePatternsOnTheTmaRows runs them on sm90.tma and sm90.tma.sorted.
set(_suite ${PROJECT_SOURCE_DIR}/bench/patterns)
list(APPEND _attn_test_patterns
  "suite_alibi_causal|${_suite}/alibi_causal.moga"
  "suite_dinat2d|${_suite}/dinat2d.moga|kr=2,kc=2"
  "suite_document_causal|${_suite}/document_causal.moga|long=300,short=100"
  "suite_gemma2_local_softcap|${_suite}/gemma2_local_softcap.moga|window=300"
  "suite_longformer_dilated|${_suite}/longformer_dilated.moga|w=40,dil=3"
  "suite_natten3d|${_suite}/natten3d.moga|kr=3,kc=3"
  "suite_nsa_mixture|${_suite}/nsa_mixture.moga|window=200,M=5"
  "suite_prefix_lm|${_suite}/prefix_lm.moga|prefix=300"
  "suite_routed_causal_m64|${_suite}/routed_causal_m64.moga|M=8"
  "suite_routed_m256|${_suite}/routed_m256.moga|M=64"
  "suite_routed_m4|${_suite}/routed_m4.moga"
  "suite_sta3d|${_suite}/sta3d.moga|tt=2,th=3,tw=4"
  "suite_streaming_sinks|${_suite}/streaming_sinks.moga|window=300"
  "suite_svg_mixture|${_suite}/svg_mixture.moga"
  "suite_svg_spatial|${_suite}/svg_spatial.moga"
  "suite_svg_temporal|${_suite}/svg_temporal.moga"
  "suite_top2_routing|${_suite}/top2_routing.moga|M=4")

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
# gpu_router_backward_test.cpp: RouterBackward (cuBLASLt) on its own against the float64 router gradient.
moga_unit_test(moga_gpu_backward_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/gpu_backward_test.cpp ${CMAKE_CURRENT_LIST_DIR}/gpu_router_backward_test.cpp
  LIBS moga_attention_test_patterns moga_attention)
