# The `format` test: clang-format --dry-run --Werror over the files copycat-tidy checks.
# Run by ctest as: cmake -DTIDY=... -DSOURCE_DIR=... -DCLANG_FORMAT=... -P format.cmake
cmake_minimum_required(VERSION 3.20)
if(NOT CLANG_FORMAT OR NOT EXISTS "${CLANG_FORMAT}")
  # Not found when the build was configured: look again, ops/install-deps may have run since.
  unset(CLANG_FORMAT)
  find_program(CLANG_FORMAT NAMES clang-format clang-format-14)
endif()
if(NOT CLANG_FORMAT)
  message(FATAL_ERROR
    "clang-format not found: run ops/install-deps (it installs Debian's clang-format)")
endif()

execute_process(
  COMMAND ${TIDY} --list-files ${SOURCE_DIR}
  OUTPUT_VARIABLE files
  RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "copycat-tidy --list-files ${SOURCE_DIR} failed (${status})")
endif()
string(REPLACE "\n" ";" files "${files}")
list(REMOVE_ITEM files "")
list(LENGTH files file_count)

execute_process(
  COMMAND ${CLANG_FORMAT} --dry-run --Werror ${files}
  WORKING_DIRECTORY ${SOURCE_DIR}
  ERROR_VARIABLE diagnostics
  RESULT_VARIABLE status)
if(status EQUAL 0)
  message(STATUS "format: ${file_count} files formatted as .clang-format says")
  return()
endif()

# One line per file instead of three per misplaced token; the first places in full.
string(REGEX MATCHALL "[^\n]*: error: [^\n]*" errors "${diagnostics}")
set(bad_files "")
foreach(error IN LISTS errors)
  string(REGEX REPLACE ":[0-9]+:[0-9]+: error: .*" "" file "${error}")
  list(APPEND bad_files "${file}")
endforeach()
list(REMOVE_DUPLICATES bad_files)
list(LENGTH bad_files bad_count)
list(LENGTH errors error_count)
list(SUBLIST errors 0 10 first_errors)
list(JOIN first_errors "\n" first_errors)
list(JOIN bad_files "\n  " bad_list)
if(bad_count EQUAL 0)
  message(FATAL_ERROR "clang-format failed (${status}):\n${diagnostics}")
endif()
message(NOTICE
  "${first_errors}\n"
  "...\n"
  "${bad_count} of ${file_count} files are not formatted as .clang-format says "
  "(${error_count} places):\n  ${bad_list}\n"
  "Fix with: clang-format -i FILE...   (see the changes first: clang-format FILE | diff FILE -)")
message(FATAL_ERROR "format: ${bad_count} files not formatted")
