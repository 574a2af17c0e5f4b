# Finds every third-party library. All come from Debian 12 packages except librdkafka (>= 2.8,
# built by deploy/install-deps.sh into a prefix: pass it in CMAKE_PREFIX_PATH).
find_package(Threads REQUIRED)
find_package(Protobuf 3.21 REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
# libcrypto: token hashing, certificate checks, test certificates (Debian: libssl-dev).
find_package(OpenSSL REQUIRED)
find_package(benchmark CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka>=2.8.0)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
# The services' /metrics endpoint (lib/common/metrics_server.h says why not prometheus-cpp's).
pkg_check_modules(MICROHTTPD REQUIRED IMPORTED_TARGET libmicrohttpd)
# The programs' allocator (see streammetrics_allocator in cmake/Allocator.cmake).
pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)

find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

if(STREAMMETRICS_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
