# streammetrics_warnings(<target>): strict warnings as errors for our own code only; generated
# protobuf/gRPC code is compiled without them.
function(streammetrics_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor
                                           -Wimplicit-fallthrough)
endfunction()
