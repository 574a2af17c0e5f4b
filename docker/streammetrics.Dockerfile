# The StreamMetrics service images, one multi-stage build. Build context: the repository root.
#
#   docker build -f docker/streammetrics.Dockerfile --target ingest      -t streammetrics/ingest .
#   docker build -f docker/streammetrics.Dockerfile --target aggregation -t streammetrics/aggregation .
#   docker build -f docker/streammetrics.Dockerfile --target loadgen     -t streammetrics/loadgen .
#   docker build -f docker/streammetrics.Dockerfile --target migrate     -t streammetrics/migrate .
#
# The build stage installs what building needs the way every machine does
# (deploy/install-deps.sh --build-only: Debian 12 packages, librdkafka 2.8.0 from Debian 13's
# source package) and builds the release binaries; each final image is bookworm-slim with the
# runtime libraries, one binary, grpc_health_probe for its HEALTHCHECK, and a non-root user.
# Configuration is by STREAMMETRICS_* variables only (every flag has one; `--help` lists them),
# secrets by the *_FILE variables pointing at mounted files. SIGTERM drains as on any machine.

FROM golang:1.26-bookworm AS probe
# The gRPC health checker (grpc.health.v1), pinned.
RUN GOBIN=/out go install github.com/grpc-ecosystem/grpc-health-probe@v0.4.63

FROM debian:bookworm AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV STREAMMETRICS_DEPS_DIR=/opt/streammetrics-deps
WORKDIR /src
COPY deploy/env.sh deploy/install-deps.sh deploy/
# Package versions are not pinned (DL3008): Debian's point and security releases replace them on
# the mirror, so a pinned version stops installing within weeks. The base image's release is the
# pin, and install-deps.sh names the packages.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && deploy/install-deps.sh --build-only \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTREAMMETRICS_BUILD_TESTS=OFF \
      -DCMAKE_PREFIX_PATH="$STREAMMETRICS_DEPS_DIR/librdkafka-2.8.0" \
    && cmake --build /build --target streammetrics-ingest streammetrics-aggregation \
         streammetrics-loadgen \
    && mkdir -p /out/bin /out/lib \
    && cp /build/ingest-service/streammetrics-ingest \
          /build/aggregation-service/streammetrics-aggregation \
          /build/tools/streammetrics-loadgen /out/bin/ \
    && strip --strip-debug /out/bin/* \
    && cp -P "$STREAMMETRICS_DEPS_DIR"/librdkafka-2.8.0/lib/librdkafka.so* /out/lib/

FROM debian:bookworm-slim AS runtime
# The shared libraries the binaries link (ldd of the release build), nothing else; unpinned for
# the reason given in the build stage.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libabsl20220623 libc-ares2 \
         libcurl4 libgrpc++1.51 libgrpc29 libhiredis0.14 libjemalloc2 liblz4-1 libmicrohttpd12 \
         libpq5 libprometheus-cpp-core1.0 libprotobuf32 libre2-9 libsasl2-2 libssl3 libzstd1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin streammetrics
COPY --from=build /out/lib/ /usr/local/lib/
COPY --from=probe /out/grpc-health-probe /usr/local/bin/grpc_health_probe
COPY docker/healthcheck.sh /usr/local/bin/streammetrics-healthcheck
RUN ldconfig
USER 10001:10001

FROM runtime AS ingest
COPY --from=build /out/bin/streammetrics-ingest /usr/local/bin/
# Listens on every interface inside the container: with TLS and a tokens file
# (STREAMMETRICS_TLS_CERT_FILE, STREAMMETRICS_TLS_KEY_FILE, STREAMMETRICS_AUTH_TOKENS_FILE), or
# STREAMMETRICS_ALLOW_INSECURE=true on a private network; the service refuses to start otherwise.
# 50051 is the native IngestService, 4317 the OTLP/gRPC metrics door (same TLS and tokens;
# STREAMMETRICS_OTLP_ADDRESS="" turns it off).
ENV STREAMMETRICS_INGEST_ADDRESS=0.0.0.0:50051 \
    STREAMMETRICS_OTLP_ADDRESS=0.0.0.0:4317 \
    STREAMMETRICS_INGEST_METRICS_ADDRESS=0.0.0.0:9464
EXPOSE 50051 4317 9464
# The health service answers on the gRPC port (docker/healthcheck.sh); the native one is checked.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/streammetrics-healthcheck", "50051"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/streammetrics-ingest"]

FROM runtime AS aggregation
COPY --from=build /out/bin/streammetrics-aggregation /usr/local/bin/
ENV STREAMMETRICS_QUERY_ADDRESS=0.0.0.0:50052 \
    STREAMMETRICS_AGGREGATION_METRICS_ADDRESS=0.0.0.0:9465
EXPOSE 50052 9465
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/streammetrics-healthcheck", "50052"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/streammetrics-aggregation"]

FROM runtime AS loadgen
COPY --from=build /out/bin/streammetrics-loadgen /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/streammetrics-loadgen"]

# deploy/migrate.sh and the migrations, with psql: the schema job (the Helm chart's pre-install
# and pre-upgrade hook). Reads STREAMMETRICS_PG_URL or STREAMMETRICS_PG_URL_FILE.
FROM debian:bookworm-slim AS migrate
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin streammetrics
COPY deploy/env.sh deploy/migrate.sh /opt/streammetrics/deploy/
COPY deploy/migrations/ /opt/streammetrics/deploy/migrations/
USER 10001:10001
ENTRYPOINT ["/opt/streammetrics/deploy/migrate.sh"]
