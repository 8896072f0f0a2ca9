# runtime/reference: the CPU reference backend (manifest, program evaluators, brute-force attention,
# block map). CPU only; the suite's tests are named Reference* so `ctest -R Reference` selects them.
# A fresh random seed per run is printed ("[   seed   ] ... MOGA_TEST_SEED=n"); set MOGA_TEST_SEED to
# replay one.
if(TARGET moga_reference)
  moga_unit_test(moga_reference_tests
    SOURCES
      ${CMAKE_CURRENT_LIST_DIR}/reference_fixtures.cpp
      ${CMAKE_CURRENT_LIST_DIR}/reference_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/reference_attention_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/reference_block_map_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/reference_aligned_groups_test.cpp
    LIBS moga_reference)
endif()

# runtime/reference/backward.h: the float64 gradient against finite differences (its own binary: the
# finite differences run the forward thousands of times).
if(TARGET moga_reference)
  moga_unit_test(moga_reference_backward_tests
    SOURCES
      ${CMAKE_CURRENT_LIST_DIR}/reference_fixtures.cpp
      ${CMAKE_CURRENT_LIST_DIR}/reference_backward_test.cpp
    LIBS moga_reference)
endif()
