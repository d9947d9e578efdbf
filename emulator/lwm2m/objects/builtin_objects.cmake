# hil_builtin_objects(<out_var>): generates builtin_objects.cc (the
# definition of ObjectRegistry::builtin()) from the DDF files in this folder,
# in the current binary directory; <out_var> names the generated source.
# Included by the host build and by firmware-images/, so both compile the
# same tables from the same files.
set(HIL_OBJECTS_DIR ${CMAKE_CURRENT_LIST_DIR})
function(hil_builtin_objects out_var)
  find_program(HIL_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH REQUIRED)
  set(ddf_files
    ${HIL_OBJECTS_DIR}/0.xml ${HIL_OBJECTS_DIR}/1.xml ${HIL_OBJECTS_DIR}/2.xml
    ${HIL_OBJECTS_DIR}/3.xml ${HIL_OBJECTS_DIR}/4.xml ${HIL_OBJECTS_DIR}/5.xml
    ${HIL_OBJECTS_DIR}/7.xml)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/builtin_objects.cc)
  add_custom_command(OUTPUT ${out}
    COMMAND ${HIL_PYTHON3} ${HIL_OBJECTS_DIR}/ddf_to_cc.py ${out} ${ddf_files}
    DEPENDS ${HIL_OBJECTS_DIR}/ddf_to_cc.py ${ddf_files}
    COMMENT "Generating the builtin object definitions from DDF files"
    VERBATIM)
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
