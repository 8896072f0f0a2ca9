# The checkpoint-loader fuzzer (test/unit/fuzz_loader/fuzz_loader.cpp; docs/reliability.md):
# a bounded run with a fixed seed and the regression corpus (test/fuzz/loader/) are ctests. Longer
# runs: build/bin/fuzz_loader --seed S --iterations N. Kept here (a *.cmake file the unit-test
# folder globs) so the tools/ tree of the compiler fuzzer stays separate.
if(TARGET moga_model)
  add_executable(fuzz_loader
    ${CMAKE_CURRENT_LIST_DIR}/fuzz_loader/fuzz_loader.cpp
    ${CMAKE_CURRENT_LIST_DIR}/fuzz_loader/reference.cpp)
  target_link_libraries(fuzz_loader PRIVATE moga_model)
  set_target_properties(fuzz_loader PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
  add_test(NAME FuzzLoader.Bounded
    COMMAND fuzz_loader --seed 20261201 --iterations 3000 --hang-seconds 10 --quiet)
  set_tests_properties(FuzzLoader.Bounded PROPERTIES TIMEOUT 120)
  add_test(NAME FuzzLoader.Corpus
    COMMAND fuzz_loader --replay ${CMAKE_SOURCE_DIR}/test/fuzz/loader)
  set_tests_properties(FuzzLoader.Corpus PROPERTIES TIMEOUT 60)
endif()
