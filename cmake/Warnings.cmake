# streammetrics_warnings(<target>): strict warnings as errors for our own code only; generated
# protobuf/gRPC code is compiled without them.
# The fuzz build (Clang) keeps the warnings but not -Werror: GCC's clean build is the one that
# gates, and Clang warns about other things.
function(streammetrics_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor
                                           -Wimplicit-fallthrough)
  if(NOT STREAMMETRICS_FUZZ)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
