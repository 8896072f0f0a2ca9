# NVRTC compiles every shipped pattern's generated source for sm_90 (no GPU needed).
moga_unit_test(codegen_nvrtc_tests SOURCES ${CMAKE_CURRENT_LIST_DIR}/codegen_nvrtc_test.cpp LIBS moga_attention)
