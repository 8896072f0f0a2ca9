# The compiler end to end: every shipped pattern (and the docs' unshipped example) compiled through
# MLIR, its serialized programs checked against an independent evaluation of the resolved AST.
moga_unit_test(compiler_tests
  SOURCES compiler_semantics_test.cpp ast_eval.cpp
  LIBS moga_compiler moga_reference)
target_compile_definitions(compiler_tests PRIVATE MOGA_SOURCE_DIR_DEFAULT="${CMAKE_SOURCE_DIR}")
target_compile_options(compiler_tests PRIVATE ${MOGA_NO_RTTI})
