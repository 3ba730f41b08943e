"""The service's metrics for Prometheus (``prometheus_client``). What the parts count already (the
archive's and the CDR ingest's counters, the calls in progress, the connections) is read when scraped,
so a call's path carries nothing more; HTTP requests are counted as they are answered."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from asterisk_rec.health.durations import FAST, SLOW, Durations
from asterisk_rec.health.state import Dependencies


def _gauge(help_text: str) -> Any:
    return field(default=0, metadata={"kind": "gauge", "help": help_text})


def _counter(help_text: str) -> Any:
    return field(default=0, metadata={"kind": "counter", "help": help_text})


def _histogram(help_text: str, bounds: tuple[float, ...] = FAST) -> Any:
    return field(default_factory=lambda: Durations(bounds), metadata={"kind": "histogram", "help": help_text})


def _counters_by(label: str, help_text: str) -> Any:
    """A counter per value of ``label`` (the field holds each value's count)."""
    return field(default_factory=dict, metadata={"kind": "counter", "label": label, "help": help_text})


@dataclass(frozen=True)
class Readings:
    """The service's counters at one moment (made by the service from its parts); each field is served
    as ``asterisk_rec_<field>``, a gauge or a counter with its help text."""

    calls_in_progress: int = _gauge("Calls the app is conducting now.")
    recordings_in_progress: int = _gauge("Recordings running or paused now.")
    archive_queue: int = _gauge("Finished recordings waiting to be archived (Asterisk's spool is the queue).")
    archive_disk_full_seconds: float = _gauge("How long the archive's disk has been full (0: it is not).")
    recordings_stored: int = _counter("Recordings stored in the archive.")
    archive_failed_attempts: int = _counter("Attempts to archive a recording that failed (each is retried).")
    recordings_lost: int = _counter("Recordings started that are neither in Asterisk nor in the archive.")
    recordings_unowned: int = _counter("Recordings left in the spool whose organisation does not exist.")
    cdrs_received: int = _counter("CDRs received over AMI.")
    cdrs_stored: int = _counter("CDRs stored in PostgreSQL.")
    cdrs_recovered_from_csv: int = _counter("CDRs recovered from Asterisk's CDR file (missed over AMI).")
    cdrs_unreadable: int = _counter("CDRs that could not be read.")
    cdr_write_failures: int = _counter("Batches of CDRs PostgreSQL did not take (retried).")
    app_down_calls: int = _counter("Calls Asterisk connected or refused without the app (AsteriskRecAppDown).")
    completeness_exceptions: dict[str, int] = _counters_by(  # noqa: RUF009 (a field(), with its metadata)
        "reason", "Calls that had to be recorded and are not recorded completely, by reason.")
    calls: dict[str, int] = _counters_by(  # noqa: RUF009 (a field(), with its metadata)
        "outcome", "Calls the app ended, by outcome (answered, busy, no_answer, unavailable, cancelled, failed).")
    hangup_to_stored_seconds: Durations = _histogram(  # noqa: RUF009 (a field(), with its metadata)
        "From a recording's end to its file stored in the archive.", SLOW)
    feature_code_seconds: Durations = _histogram(  # noqa: RUF009 (a field(), with its metadata)
        "From the feature code's last digit to the recording switched.")
    cdr_lag_seconds: Durations = _histogram(  # noqa: RUF009 (a field(), with its metadata)
        "From a CDR's end time to its row stored in PostgreSQL.", SLOW)
    alarms_active: int = _gauge("Alarms raised and not cleared.")
    alarms_raised: dict[str, int] = _counters_by(  # noqa: RUF009 (a field(), with its metadata)
        "kind", "Alarms raised, by kind.")


class ServiceCollector(Collector):
    def __init__(self, readings: Callable[[], Readings], dependencies: Dependencies | None) -> None:
        self.readings = readings
        self.dependencies = dependencies

    def collect(self) -> Iterator[Metric]:
        now = self.readings()
        for reading in fields(now):
            family = GaugeMetricFamily if reading.metadata["kind"] == "gauge" else CounterMetricFamily
            name, help_text = f"asterisk_rec_{reading.name}", reading.metadata["help"]
            value = getattr(now, reading.name)
            if reading.metadata["kind"] == "histogram":
                histogram = HistogramMetricFamily(name, help_text)
                histogram.add_metric([], value.cumulative(), sum_value=value.total)
                yield histogram
                continue
            if "label" not in reading.metadata:
                yield family(name, help_text, value=value)
                continue
            by_label = family(name, help_text, labels=[reading.metadata["label"]])
            for label, count in sorted(value.items()):
                by_label.add_metric([label], count)
            yield by_label
        if self.dependencies is not None:
            up = GaugeMetricFamily("asterisk_rec_dependency_up", "1 while the connection is up.",
                                   labels=["dependency"])
            for dependency in self.dependencies.all():
                up.add_metric([dependency.name], 1.0 if dependency.up else 0.0)
            yield up


class CountRequests:
    """ASGI middleware: each answered request counted by its route's template (``/api/v1/calls/{call_id}``,
    "unmatched" for none: a scan of made-up paths must not make a series each), method and status."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.metrics.http_requests.labels(route, method, str(status)).inc()


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    """One registry a process (not the library's global one: tests start several apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter("asterisk_rec_http_requests", "HTTP requests answered, by route and status.",
                                     ["route", "method", "status"], registry=self.registry)

    def watch_service(self, readings: Callable[[], Readings], dependencies: Dependencies | None) -> None:
        self.registry.register(ServiceCollector(readings, dependencies))
