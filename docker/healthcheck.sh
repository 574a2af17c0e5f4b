#!/bin/bash
# The images' health check: asks this container's gRPC health service (grpc.health.v1) on the
# loopback port $1; SERVING exits 0. Over TLS (STREAMMETRICS_TLS_CERT_FILE set) the probe skips
# certificate checks: it only tells whether this process serves, and the certificate names the
# service's public name, not 127.0.0.1. With client certificates required
# (STREAMMETRICS_TLS_CLIENT_CA_FILE), the probe presents STREAMMETRICS_HEALTHCHECK_CLIENT_CERT_FILE
# and _KEY_FILE; without them it can only check that the port accepts connections, and says so.
set -euo pipefail
port="$1"
args=(-addr="127.0.0.1:$port" -connect-timeout=2s -rpc-timeout=2s)
if [ -n "${STREAMMETRICS_TLS_CERT_FILE:-}" ]; then
  args+=(-tls -tls-no-verify)
  if [ -n "${STREAMMETRICS_TLS_CLIENT_CA_FILE:-}" ]; then
    if [ -z "${STREAMMETRICS_HEALTHCHECK_CLIENT_CERT_FILE:-}" ] ||
      [ -z "${STREAMMETRICS_HEALTHCHECK_CLIENT_KEY_FILE:-}" ]; then
      echo "mutual TLS without a health-check client certificate: checking the port only" >&2
      exec 3<>"/dev/tcp/127.0.0.1/$port"
      exit 0
    fi
    args+=(-tls-client-cert="$STREAMMETRICS_HEALTHCHECK_CLIENT_CERT_FILE"
      -tls-client-key="$STREAMMETRICS_HEALTHCHECK_CLIENT_KEY_FILE")
  fi
fi
exec grpc_health_probe "${args[@]}"
