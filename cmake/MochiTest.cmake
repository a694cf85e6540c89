# One cmocka binary per module, registered with ctest.
find_package(PkgConfig REQUIRED)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)

# mochi_cmocka_test(NAME SOURCE [LIBS lib...] [LABELS l...] [FIXTURES f...] [TIMEOUT s])
# The test links mochi_common, cmocka and the LIBS it names (a program's
# module library such as mochi_collector, or mochi_harness): only what it
# uses, so that a test of common/ does not need the collector to build.
function(mochi_cmocka_test name source)
  cmake_parse_arguments(T "" "TIMEOUT" "LIBS;LABELS;FIXTURES;EXTRA_SOURCES" ${ARGN})
  add_executable(${name} ${source} ${T_EXTRA_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} mochi_common PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name})
  set(env
    "MOCHI_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
    "MOCHI_BINARY_DIR=${CMAKE_BINARY_DIR}"
    "MOCHI_TEST_PG_ENV=${CMAKE_BINARY_DIR}/pgtest/env"
    "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${env}")
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
  if(T_FIXTURES)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "${T_FIXTURES}")
  endif()
  if(T_TIMEOUT)
    set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT})
  else()
    set_tests_properties(${name} PROPERTIES TIMEOUT 120)
  endif()
endfunction()
