# runtime/parallel: Ulysses sequence parallelism, checked on the CPU (docs/distributed.md): shards, the
# exchange plans run by the CPU emulation, sharded attention == single-process attention (float64,
# full and moga, P = 2 and 4), Ulysses x ring (parallel_usp_test: P = 5..8, full / stga / moga, the LSE
# merge, the K/V plan), argument errors of --gpus, the NCCL loader without a GPU. Suites are
# named Parallel* (`ctest -R Parallel`). The 2-GPU run is not a unit test (docs/distributed.md).
if(TARGET moga_parallel AND TARGET moga_model)
  moga_unit_test(moga_parallel_tests
    SOURCES
      ${CMAKE_CURRENT_LIST_DIR}/parallel_sharding_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/parallel_runtime_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/parallel_usp_test.cpp
    LIBS moga_parallel moga_model)
endif()
# The device side on one GPU (copies, route() + given routing vs the router, a 1-rank NCCL exchange);
# skips loudly without a device. The 2-GPU checks: runtime/parallel/sp_check.sh.
if(TARGET moga_parallel AND TARGET moga_attention)
  moga_unit_test(moga_parallel_gpu_tests
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/parallel_gpu_test.cpp
    LIBS moga_parallel moga_attention)
endif()
