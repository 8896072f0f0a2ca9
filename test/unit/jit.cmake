# runtime/jit: the CPU suite (NVRTC, cache, errors; no GPU needed) and the GPU suite, which skips
# loudly without a device. Suite names start with "jit"/"gpu_jit" so `ctest -R jit` selects them.
moga_unit_test(moga_jit_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/jit_test.cpp ${CMAKE_CURRENT_LIST_DIR}/jit_robust_test.cpp
  LIBS moga_jit nlohmann_json::nlohmann_json)
target_include_directories(moga_jit_tests PRIVATE $<TARGET_PROPERTY:moga_xxhash,INTERFACE_INCLUDE_DIRECTORIES>)

moga_unit_test(moga_gpu_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/gpu_jit_test.cpp
  LIBS moga_jit)
