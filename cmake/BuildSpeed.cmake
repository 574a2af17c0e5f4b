# Build speed, measured on the 2-core machine the test command runs on (tests/run.sh prints the
# phases; docs/testing.md has the figures):
#   - ccache, when installed, caches every compilation: a second build after a one-file change
#     recompiles that file only, even from a fresh build directory.
#   - mold, when installed, links; linking the ASan test binaries with ld.bfd was a large part of
#     a rebuild.
# Both are optional: without them the build is the same, only slower.
find_program(STREAMMETRICS_CCACHE ccache)
if(STREAMMETRICS_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_C_COMPILER_LAUNCHER "${STREAMMETRICS_CCACHE}")
  set(CMAKE_CXX_COMPILER_LAUNCHER "${STREAMMETRICS_CCACHE}")
endif()

find_program(STREAMMETRICS_MOLD mold)
if(STREAMMETRICS_MOLD)
  include(CheckCXXSourceCompiles)
  set(CMAKE_REQUIRED_LINK_OPTIONS -fuse-ld=mold)
  check_cxx_source_compiles("int main() { return 0; }" STREAMMETRICS_HAVE_MOLD)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
  if(STREAMMETRICS_HAVE_MOLD)
    add_link_options(-fuse-ld=mold)
  endif()
endif()
