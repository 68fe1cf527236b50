# Helper functions shared by every CMakeLists.txt in the tree.
include_guard(GLOBAL)

# Compiler set-up: warnings, the optional sanitizer build, ccache when present.
macro(micro_setup_compiler)
  find_program(MICRO_CCACHE ccache)
  if(MICRO_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
    set(CMAKE_CXX_COMPILER_LAUNCHER ${MICRO_CCACHE})
  endif()
  add_compile_options(-Wall -Wextra -Wno-unused-parameter)
  if(MICRO_WERROR)
    add_compile_options(-Werror)
  endif()
  if(MICRO_FUZZ)
    # Coverage for libFuzzer plus ASan and UBSan on everything the targets link.
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                        -fno-omit-frame-pointer)
    add_link_options(-fsanitize=address,undefined)
  endif()
  if(MICRO_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                        -fno-omit-frame-pointer
                        # GCC 12 reports false positives inside libstdc++ (regex) under ASan.
                        -Wno-maybe-uninitialized)
    add_link_options(-fsanitize=address,undefined)
  endif()
endmacro()

# micro_cc_library(NAME SRCS a.cc b.cc DEPS x y [PRIVATE_DEPS z])
# A static library `micro_NAME` with the alias `micro::NAME`; framework/include is public.
function(micro_cc_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;PRIVATE_DEPS;INCLUDES" ${ARGN})
  set(target micro_${name})
  add_library(${target} STATIC ${ARG_SRCS})
  add_library(micro::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/framework/include>
                                              $<INSTALL_INTERFACE:include>
                                        PRIVATE ${PROJECT_SOURCE_DIR}/framework/src ${ARG_INCLUDES})
  target_link_libraries(${target} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# micro_cc_test(NAME SRCS a.cc DEPS x LABELS unit [TIMEOUT s] [EXECUTOR script] [INTERNAL] [SERIAL])
# A Catch2 test binary whose test cases are registered with CTest one by one.
# EXECUTOR runs each test case through a wrapper (for example netns-run.sh).
# SERIAL: its test cases run alone (load tests that would skew others, and be skewed).
function(micro_cc_test name)
  cmake_parse_arguments(ARG "INTERNAL;SERIAL" "TIMEOUT;EXECUTOR" "SRCS;DEPS;LABELS" ${ARGN})
  set(serial FALSE)
  if(ARG_SERIAL)
    set(serial TRUE)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE micro_test_main ${ARG_DEPS})
  # Tests see public headers only; INTERNAL marks the framework's own white-box tests.
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  if(ARG_INTERNAL)
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/framework/src)
  endif()
  if(ARG_EXECUTOR)
    # Must be set before catch_discover_tests, which reads it.
    set_target_properties(${name} PROPERTIES CROSSCOMPILING_EMULATOR ${ARG_EXECUTOR})
  endif()
  # --warn NoTests: a name CTest mangled (it splits at ';') fails instead of running nothing.
  catch_discover_tests(${name}
    TEST_PREFIX "${name}: "
    EXTRA_ARGS --warn NoTests
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
               ENVIRONMENT "MICRO_TEST_FIXTURES=${PROJECT_SOURCE_DIR}/tests/fixtures"
               SKIP_RETURN_CODE 77
               RUN_SERIAL ${serial})
endfunction()

# micro_proto_library(NAME PROTOS a.proto b.proto [IMPORT_DIRS dir...])
# Runs protoc with the C++, gRPC and micro plugins over PROTOS (paths relative
# to the first import dir, default the current source dir) and builds a
# library `NAME` of the generated code. Output is regenerated when a proto or
# protoc-gen-micro changes. Include generated headers as "<proto path>.micro.h".
# In this tree it uses the protoc-gen-micro target; in a project that did
# find_package(micro), the installed micro::protoc-gen-micro.
function(micro_proto_library name)
  # NO_MICRO: protobuf and gRPC code only (no protoc-gen-micro, no framework
  # link), for the wire protos of other systems such as etcd's.
  cmake_parse_arguments(ARG "NO_MICRO" "" "PROTOS;IMPORT_DIRS" ${ARGN})
  if(NOT ARG_IMPORT_DIRS)
    set(ARG_IMPORT_DIRS ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  list(GET ARG_IMPORT_DIRS 0 root)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/gen)
  set(import_flags)
  foreach(dir ${ARG_IMPORT_DIRS})
    list(APPEND import_flags -I${dir})
  endforeach()
  find_program(MICRO_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
  if(TARGET protoc-gen-micro)
    set(micro_gen protoc-gen-micro)
  else()
    set(micro_gen micro::protoc-gen-micro)
  endif()
  set(srcs)
  foreach(proto ${ARG_PROTOS})
    string(REGEX REPLACE "\\.proto$" "" base ${proto})
    set(gen ${out}/${base}.pb.cc ${out}/${base}.pb.h ${out}/${base}.grpc.pb.cc ${out}/${base}.grpc.pb.h)
    set(micro_flags)
    set(deps ${root}/${proto})
    if(NOT ARG_NO_MICRO)
      list(APPEND gen ${out}/${base}.micro.cc ${out}/${base}.micro.h)
      set(micro_flags --micro_out=${out} --plugin=protoc-gen-micro=$<TARGET_FILE:${micro_gen}>)
      list(APPEND deps ${micro_gen})
    endif()
    add_custom_command(
      OUTPUT ${gen}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
      COMMAND protobuf::protoc ${import_flags} --cpp_out=${out} --grpc_out=${out}
              --plugin=protoc-gen-grpc=${MICRO_GRPC_CPP_PLUGIN}
              ${micro_flags}
              ${root}/${proto}
      DEPENDS ${deps}
      COMMENT "protoc ${proto}"
      VERBATIM)
    list(APPEND srcs ${out}/${base}.pb.cc ${out}/${base}.grpc.pb.cc)
    if(NOT ARG_NO_MICRO)
      list(APPEND srcs ${out}/${base}.micro.cc)
    endif()
  endforeach()
  add_library(${name} STATIC ${srcs})
  target_include_directories(${name} PUBLIC $<BUILD_INTERFACE:${out}>)
  if(ARG_NO_MICRO)
    target_link_libraries(${name} PUBLIC protobuf::libprotobuf gRPC::grpc++)
  else()
    target_link_libraries(${name} PUBLIC micro::framework protobuf::libprotobuf gRPC::grpc++)
  endif()
  # Generated code is not ours to warn about.
  target_compile_options(${name} PRIVATE -w)
endfunction()
