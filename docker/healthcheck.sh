#!/bin/sh
# The images' HEALTHCHECK: asks this container's gRPC health service (grpc.health.v1) on the
# loopback port $1. Over TLS (STREAMMETRICS_TLS_CERT_FILE set) the probe skips certificate checks:
# it only tells whether this process serves, and the certificate names the service's public name.
set -eu
port="$1"
if [ -n "${STREAMMETRICS_TLS_CERT_FILE:-}" ]; then
  exec grpc_health_probe -addr="127.0.0.1:$port" -connect-timeout=2s -rpc-timeout=2s \
    -tls -tls-no-verify
fi
exec grpc_health_probe -addr="127.0.0.1:$port" -connect-timeout=2s -rpc-timeout=2s
