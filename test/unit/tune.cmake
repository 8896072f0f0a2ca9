# runtime/tune: the config space, the tuning database and the tuner, with a fake runner (no GPU).
# Suite names start with "Tune" so `ctest -R Tune` selects them.
moga_unit_test(moga_tune_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/tune_space_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/tune_db_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/tune_tuner_test.cpp
  LIBS moga_tune moga_jit nlohmann_json::nlohmann_json)
target_include_directories(moga_tune_tests PRIVATE $<TARGET_PROPERTY:moga_xxhash,INTERFACE_INCLUDE_DIRECTORIES>)
moga_unit_test(moga_tune_select_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/tune_select_test.cpp
  LIBS moga_tune_gpu)
