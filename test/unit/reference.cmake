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
# finite differences run the forward thousands of times). Where the compiler is built, also on the
# shipped patterns, compiled by moga-compile at build time with parameters for tiny shapes.
if(TARGET moga_reference)
  set(_bwd_sources
    ${CMAKE_CURRENT_LIST_DIR}/reference_fixtures.cpp
    ${CMAKE_CURRENT_LIST_DIR}/reference_backward_fd.cpp
    ${CMAKE_CURRENT_LIST_DIR}/reference_backward_test.cpp)
  if(TARGET moga-compile)
    list(APPEND _bwd_sources ${CMAKE_CURRENT_LIST_DIR}/reference_backward_patterns_test.cpp)
  endif()
  moga_unit_test(moga_reference_backward_tests SOURCES ${_bwd_sources} LIBS moga_reference)
  if(TARGET moga-compile)
    set(_bwd_dir ${CMAKE_CURRENT_BINARY_DIR}/reference_backward_patterns)
    set(_shipped ${PROJECT_SOURCE_DIR}/kernels_src/patterns)
    set(_bwd_manifests "")
    # label|file|params: the label is the pattern's name (moga-compile names its outputs after it).
    foreach(e
        "full|${_shipped}/full.moga|"
        "causal|${_shipped}/causal.moga|"
        "sliding_window|${_shipped}/sliding_window.moga|window=3"
        "moga|${_shipped}/moga.moga|M=3,tsize=2,ext=1"
        "moga_dynamic|${_shipped}/moga_dynamic.moga|M=3"
        "stga|${_shipped}/stga.moga|tsize=2,ext=1"
        "natten2d|${_shipped}/natten2d.moga|kr=1,kc=1"
        "radial|${_shipped}/radial.moga|radius=1"
        "frame_local|${_shipped}/frame_local.moga|"
        "attn_hooks|${CMAKE_CURRENT_LIST_DIR}/patterns/attn_hooks.moga|"
        "attn_top2_mix|${CMAKE_CURRENT_LIST_DIR}/patterns/attn_top2_mix.moga|M=3")
      string(REPLACE "|" ";" parts "${e}")
      list(GET parts 0 label)
      list(GET parts 1 file)
      list(GET parts 2 p)
      string(REPLACE "," ";" params "${p}")
      add_custom_command(
        OUTPUT ${_bwd_dir}/${label}/${label}.json
        COMMAND moga-compile ${file} ${_bwd_dir}/${label} ${params}
        DEPENDS moga-compile ${file}
        COMMENT "moga-compile ${label} (reference backward tests)" VERBATIM)
      list(APPEND _bwd_manifests ${_bwd_dir}/${label}/${label}.json)
    endforeach()
    add_custom_target(moga_reference_backward_patterns DEPENDS ${_bwd_manifests})
    add_dependencies(moga_reference_backward_tests moga_reference_backward_patterns)
    target_compile_definitions(moga_reference_backward_tests PRIVATE MOGA_BWD_PATTERN_DIR="${_bwd_dir}")
  endif()
endif()
