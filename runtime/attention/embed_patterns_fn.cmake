# moga_embed_patterns(TARGET FUNC ENTRY...): ENTRY = "label|file.moga|param=v,param=v" (params
# optional). Compiles each pattern with moga-compile at build time and embeds the outputs into
# TARGET as `moga::rt::FUNC()` (compiled_embed.h).
function(moga_embed_patterns target func)
  set(gen ${CMAKE_CURRENT_BINARY_DIR}/${func})
  set(outputs "")
  set(entries "")
  foreach(e ${ARGN})
    string(REPLACE "|" ";" parts "${e}")
    list(GET parts 0 label)
    list(GET parts 1 file)
    list(LENGTH parts n)
    set(params "")
    if(n GREATER 2)
      list(GET parts 2 p)
      string(REPLACE "," ";" params "${p}")
    endif()
    get_filename_component(stem ${file} NAME_WE)
    # moga-compile names its outputs after the pattern; the tests' and benches' .moga files use the
    # file stem as the pattern name.
    add_custom_command(
      OUTPUT ${gen}/${label}/${stem}.cu ${gen}/${label}/${stem}.json
      COMMAND moga-compile ${file} ${gen}/${label} ${params}
      DEPENDS moga-compile ${file}
      COMMENT "moga-compile ${label}" VERBATIM)
    list(APPEND outputs ${gen}/${label}/${stem}.cu ${gen}/${label}/${stem}.json)
    list(APPEND entries "${label}=${gen}/${label}/${stem}")
  endforeach()
  add_custom_command(
    OUTPUT ${gen}.cpp
    COMMAND ${CMAKE_COMMAND} -DOUT=${gen}.cpp -DFUNC=${func} "-DENTRIES=${entries}"
            -P ${PROJECT_SOURCE_DIR}/runtime/attention/embed_patterns.cmake
    DEPENDS ${outputs} ${PROJECT_SOURCE_DIR}/runtime/attention/embed_patterns.cmake
    COMMENT "Embedding ${func}" VERBATIM)
  target_sources(${target} PRIVATE ${gen}.cpp)
endfunction()
