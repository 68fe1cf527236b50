# CPack: the micro-cpp-dev Debian package (static libraries, headers, the CMake package, protoc-gen-micro,
# the micro CLI and api-gateway, under /usr). deploy/install.sh builds and installs it:
#
#   cmake --build build && (cd build && cpack -G DEB)    ->  build/micro-cpp-dev_0.2.0_amd64.deb
#
# Depends lists what a consumer's find_package(micro) and build need from Debian 12, so
# `apt-get install ./micro-cpp-dev_*.deb` on a fresh machine is all `micro new` output needs.
include_guard(GLOBAL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME micro-cpp-dev)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "micro-cpp")
set(CPACK_PACKAGE_CONTACT "micro-cpp developers <micro-cpp@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "go-micro for C++: services, registries, client, gateway (development files)")
set(CPACK_PACKAGE_DESCRIPTION
    "micro-cpp is a C++17 microservice framework that speaks go-micro's registry encodings, gRPC paths and
errors, so C++ and Go services share one fleet. This package holds the static libraries, headers and CMake
package (find_package(micro)), protoc-gen-micro, the micro command line and the API gateway.")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "cmake (>= 3.22), g++, make, pkg-config, libgrpc++-dev, protobuf-compiler-grpc, libprotobuf-dev, protobuf-compiler, libabsl-dev, libboost-dev, nlohmann-json3-dev, zlib1g-dev, libssl-dev, libnghttp2-dev, libnats-dev")
# Executables are stripped (CPACK_STRIP_FILES); static libraries lose their debug sections
# (MicroInstall.cmake), which keeps the package near a tenth of the RelWithDebInfo tree.
set(CPACK_STRIP_FILES ON)
include(CPack)
