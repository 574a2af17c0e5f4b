#!/usr/bin/env python3
"""Sends metrics to StreamMetrics' OTLP door with the official OpenTelemetry Python SDK and
exporter (opentelemetry-sdk and opentelemetry-exporter-otlp-proto-grpc, pinned in deploy/env.sh,
installed by deploy/install-deps.sh), then writes what it recorded as JSON: what the windows
must hold. Run by OtelSdkPipelineTest (otlp_e2e_test.cc); it exits non-zero when an export fails.

  otel_sdk_export.py OTLP_ADDRESS SERVICE_NAME OUTPUT_JSON

Two meter providers: one exporting every instrument with DELTA temporality, and one with the
SDK's default (CUMULATIVE for counters), whose first point StreamMetrics takes as the baseline.
Each collection is driven by force_flush(), so the test needs no timers.
"""
import json
import random
import sys

from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import (Counter, Histogram, MeterProvider, ObservableCounter,
                                       ObservableGauge, ObservableUpDownCounter, UpDownCounter)
from opentelemetry.sdk.metrics.export import (AggregationTemporality, MetricExportResult,
                                              PeriodicExportingMetricReader)
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

DELTA = {kind: AggregationTemporality.DELTA
         for kind in (Counter, Histogram, UpDownCounter, ObservableCounter,
                      ObservableUpDownCounter, ObservableGauge)}


class CheckedExporter(OTLPMetricExporter):
    """Fails the run when an export does not succeed (the SDK would only log it)."""

    def export(self, metrics_data, timeout_millis=10_000, **kwargs):
        result = super().export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        if result != MetricExportResult.SUCCESS:
            sys.exit("an export to StreamMetrics failed")
        return result


def provider(address, service, temporality, views=()):
    exporter = CheckedExporter(endpoint=address, insecure=True, preferred_temporality=temporality)
    # A reader that never fires by itself: force_flush() collects and exports.
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    resource = Resource.create({"service.name": service, "service.instance.id": "python-sdk-1"})
    # No shutdown, here or at exit: the reader's shutdown collects once more, and an observable
    # gauge would report a point the expectations below do not count.
    return MeterProvider(resource=resource, metric_readers=[reader], views=list(views),
                         shutdown_on_exit=False)


def main():
    address, service, output = sys.argv[1:4]
    rng = random.Random(5)
    expected = {}

    exponential = View(instrument_name="sdk.latency",
                       aggregation=ExponentialBucketHistogramAggregation())
    delta = provider(address, service, DELTA, [exponential])
    meter = delta.get_meter("streammetrics-test")
    requests = meter.create_counter("sdk.requests", unit="1")
    latency = meter.create_histogram("sdk.latency", unit="ms")
    size = meter.create_histogram("sdk.size", unit="By")  # explicit buckets, the SDK's default
    inflight = meter.create_up_down_counter("sdk.inflight")
    meter.create_observable_gauge("sdk.temperature",
                                  callbacks=[lambda options: [Observation(21.5)]])

    requests.add(3, {"route": "/a"})
    requests.add(4, {"route": "/a"})
    inflight.add(5)
    inflight.add(-2)
    latencies = [rng.lognormvariate(3, 0.8) for _ in range(1000)]
    for v in latencies:
        latency.record(v)
    sizes = [rng.randint(1, 4000) for _ in range(200)]
    for v in sizes:
        size.record(v)
    delta.force_flush()
    requests.add(5, {"route": "/a"})
    delta.force_flush()

    expected["sdk.requests"] = {"count": 2, "sum": 12}
    expected["sdk.inflight"] = {"count": 1, "sum": 3}
    expected["sdk.temperature"] = {"count": 2, "sum": 43, "min": 21.5, "max": 21.5}
    ordered = sorted(latencies)
    expected["sdk.latency"] = {
        "count": len(latencies), "sum": sum(latencies), "min": ordered[0], "max": ordered[-1],
        "p50": ordered[int(0.50 * (len(ordered) - 1))],
        "p95": ordered[int(0.95 * (len(ordered) - 1))],
        "p99": ordered[int(0.99 * (len(ordered) - 1))]}
    expected["sdk.size"] = {"count": len(sizes), "sum": sum(sizes), "min": min(sizes),
                            "max": max(sizes)}

    # The SDK's default temporality: the first point is only a baseline (docs/otlp.md).
    cumulative = provider(address, service, {})
    total = cumulative.get_meter("streammetrics-test").create_counter("sdk.cumulative")
    for increment in (5, 7, 3):
        total.add(increment)
        cumulative.force_flush()
    expected["sdk.cumulative"] = {"count": 2, "sum": 10}

    with open(output, "w", encoding="utf-8") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main()
