# The checkpoint loader on its own (issue #14): the fuzzer (test/unit/fuzz_loader/; docs/reliability.md)
# and the loader's unit tests, linked against just the loader's sources (safetensors, checkpoints,
# configs, atomic writes, safe file reads) rather than moga_model, so the sanitizer build of
# .ci/sanitize compiles five files instead of the whole runtime. A bounded fuzz run with a fixed
# seed and the regression corpus (test/fuzz/loader/) are ctests. Longer runs:
# build/bin/fuzz_loader --seed S --iterations N.
add_library(moga_loader_standalone STATIC
  ${CMAKE_SOURCE_DIR}/runtime/model/config.cpp
  ${CMAKE_SOURCE_DIR}/runtime/model/safetensors.cpp
  ${CMAKE_SOURCE_DIR}/runtime/model/weights.cpp
  ${CMAKE_SOURCE_DIR}/runtime/jit/atomic_file.cpp
  ${CMAKE_SOURCE_DIR}/runtime/jit/safe_file.cpp)
target_include_directories(moga_loader_standalone PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(moga_loader_standalone PUBLIC nlohmann_json::nlohmann_json fmt::fmt-header-only Threads::Threads)

add_executable(fuzz_loader
  ${CMAKE_CURRENT_LIST_DIR}/fuzz_loader/fuzz_loader.cpp
  ${CMAKE_CURRENT_LIST_DIR}/fuzz_loader/reference.cpp)
target_link_libraries(fuzz_loader PRIVATE moga_loader_standalone)
set_target_properties(fuzz_loader PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
add_test(NAME FuzzLoader.Bounded
  COMMAND fuzz_loader --seed 20261201 --iterations 3000 --hang-seconds 10 --quiet)
set_tests_properties(FuzzLoader.Bounded PROPERTIES TIMEOUT 120)
add_test(NAME FuzzLoader.Corpus COMMAND fuzz_loader --replay ${CMAKE_SOURCE_DIR}/test/fuzz/loader)
set_tests_properties(FuzzLoader.Corpus PROPERTIES TIMEOUT 60)

# The loader's unit tests again, for the sanitizer build only (the Release ctest runs them inside
# moga_model_tests): not built by default, not registered with ctest.
add_executable(moga_loader_tests EXCLUDE_FROM_ALL
  ${CMAKE_CURRENT_LIST_DIR}/model_safetensors_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model_weights_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model_robust_test.cpp)
target_link_libraries(moga_loader_tests PRIVATE moga_loader_standalone GTest::gtest GTest::gtest_main)
set_target_properties(moga_loader_tests PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
