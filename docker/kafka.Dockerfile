# Kafka 3.9 KRaft node built from Debian 12, with the same jars (deploy/kafka/pom.xml) as the
# local stack. Build context: the repository root.
FROM debian:bookworm-slim AS jars
# Unpinned packages (DL3008): see docker/streammetrics.Dockerfile.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends maven openjdk-17-jdk-headless \
    && rm -rf /var/lib/apt/lists/*
COPY deploy/kafka/pom.xml /build/pom.xml
RUN mvn -q -B -f /build/pom.xml \
      org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
      -DoutputDirectory=/opt/kafka/libs -DincludeScope=runtime

FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*
COPY --from=jars /opt/kafka/libs /opt/kafka/libs
COPY deploy/local/kafka/log4j.properties /opt/kafka/log4j.properties
COPY docker/kafka-entrypoint.sh /opt/kafka/entrypoint.sh
ENTRYPOINT ["/opt/kafka/entrypoint.sh"]
