# Install rules: `cmake --install build --prefix P` puts the libraries, public headers,
# protoc-gen-micro, the `micro` CLI, api-gateway and the CMake package in P, so that another project
# does
#
#   find_package(micro 0.2 CONFIG REQUIRED)
#   micro_proto_library(todo_proto PROTOS todo.proto)
#   target_link_libraries(todo PRIVATE micro::micro todo_proto)
#
# (tests/package/ builds such a project against a fresh prefix.)
include_guard(GLOBAL)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(MICRO_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/micro)

install(TARGETS micro_registry micro_registry_contract micro_selector micro_framework micro_service micro_plugins micro_mdns
                micro_consul micro_etcd micro_etcd_proto micro_broker_http micro_broker_nats micro_micro protoc-gen-micro
        EXPORT microTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS micro api-gateway RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/framework/include/ ${PROJECT_SOURCE_DIR}/plugins/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} PATTERN "*.in" EXCLUDE)
install(FILES ${PROJECT_BINARY_DIR}/generated/include/micro/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/micro)
install(EXPORT microTargets NAMESPACE micro:: DESTINATION ${MICRO_CMAKE_DIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/microConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/microConfig.cmake
                              INSTALL_DESTINATION ${MICRO_CMAKE_DIR})
# 0.x: a minor version may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/microConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/microConfig.cmake ${PROJECT_BINARY_DIR}/microConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/MicroHelpers.cmake
        DESTINATION ${MICRO_CMAKE_DIR})
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/CHANGELOG.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# `cmake --install --strip` and CPack (CPACK_STRIP_FILES) strip executables only; drop the debug
# sections of the static libraries too (their symbols stay: consumers link against them).
set(micro_strip_code [[
  if(CMAKE_INSTALL_DO_STRIP)
    file(GLOB micro_archives "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/MICRO_LIBDIR/libmicro_*.a")
    foreach(a ${micro_archives})
      execute_process(COMMAND strip --strip-debug ${a} RESULT_VARIABLE rc)
      if(NOT rc EQUAL 0)
        message(FATAL_ERROR "strip --strip-debug ${a} failed")
      endif()
    endforeach()
  endif()
]])
string(REPLACE "MICRO_LIBDIR" "${CMAKE_INSTALL_LIBDIR}" micro_strip_code "${micro_strip_code}")
install(CODE "${micro_strip_code}")
