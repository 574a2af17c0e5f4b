# streammetrics_allocator(<executable>): links jemalloc as the program's malloc.
#
# Measured with bench/ingest_bench.sh (8 streams into the local cluster, back to back): glibc's
# malloc, free and consolidation took about 30 % of the ingest service's CPU (protobuf messages
# and maps, librdkafka messages, gRPC buffers allocated on one thread and freed on another), and
# the service acked 101-106k events/s; with jemalloc 120-133k. Not under ASan, which brings its
# own allocator.
function(streammetrics_allocator target)
  if(NOT STREAMMETRICS_SANITIZE)
    target_link_libraries(${target} PRIVATE PkgConfig::JEMALLOC)
  endif()
endfunction()
