# Host GoogleTest of kernels_src/cuda/interval.cuh (interval arithmetic and tri-state logic).
moga_unit_test(interval_test SOURCES interval_test.cpp)
