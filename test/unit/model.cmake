# runtime/model: the DiT runtime (safetensors, checkpoints, CPU layers, sampler, `moga run` through the
# library). CPU only; suites are named Model* so `ctest -R Model` selects them.
if(TARGET moga_model)
  moga_unit_test(moga_model_tests
    SOURCES
      ${CMAKE_CURRENT_LIST_DIR}/model_safetensors_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/model_config_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/model_weights_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/model_layers_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/model_run_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/model_router_calibration_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/model_robust_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/model_robust_cli_test.cpp
    LIBS moga_model)
endif()
