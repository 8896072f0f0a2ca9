# runtime/model/gpu: the DiT's GPU backend against the CPU backend (test/unit/gpu_model_test.cpp).
# GpuModelBuild needs no device (NVRTC, memory arithmetic); GpuModel skips loudly without one.
if(TARGET moga_model)
  moga_unit_test(moga_gpu_model_tests
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/gpu_model_test.cpp
    LIBS moga_model moga_gemm)
endif()
