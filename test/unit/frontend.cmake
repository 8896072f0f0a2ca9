# GoogleTest suites of the DSL front end (compiler/frontend) and of the examples in docs/dsl.md.
if(TARGET moga_frontend)
  moga_unit_test(frontend_test
    SOURCES
      ${CMAKE_CURRENT_LIST_DIR}/frontend_lexer_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/frontend_parser_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/frontend_sema_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/frontend_resolve_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/frontend_patterns_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/frontend_fuzz_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/frontend_limits_test.cpp
    LIBS moga_frontend)
  moga_unit_test(dsl_examples_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/dsl_examples_test.cpp
    LIBS moga_frontend)
  # Tests find the source tree through $MOGA_SOURCE_DIR (set by ctest); this is the fallback
  # when a test binary is run by hand.
  target_compile_definitions(frontend_test PRIVATE MOGA_SOURCE_DIR_DEFAULT="${CMAKE_SOURCE_DIR}")
  target_compile_definitions(dsl_examples_test PRIVATE MOGA_SOURCE_DIR_DEFAULT="${CMAKE_SOURCE_DIR}")
endif()
