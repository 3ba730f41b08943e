"""The metrics as Prometheus reads them (pure: a registry of the process's own, an ASGI app in memory)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import generate_latest

from asterisk_rec.health.durations import Durations
from asterisk_rec.health.metrics import CountRequests, Metrics, Readings
from asterisk_rec.health.state import Dependencies


def test_the_services_counters_are_read_when_scraped() -> None:
    """Each scrape reads the counters as they are then; connections as 1 (up) or 0 (down)."""
    metrics = Metrics()
    now = [Readings(calls_in_progress=3, recordings_stored=7, archive_queue=2)]
    dependencies = Dependencies()
    dependencies.expect("ari")
    dependencies.up("ami")
    metrics.watch_service(lambda: now[0], dependencies)
    text = generate_latest(metrics.registry).decode()
    assert "asterisk_rec_calls_in_progress 3.0" in text and "asterisk_rec_recordings_stored_total 7.0" in text
    assert "asterisk_rec_archive_queue 2.0" in text
    assert 'asterisk_rec_dependency_up{dependency="ari"} 0.0' in text
    assert 'asterisk_rec_dependency_up{dependency="ami"} 1.0' in text
    now[0] = Readings(recordings_stored=8)
    dependencies.up("ari")
    text = generate_latest(metrics.registry).decode()
    assert "asterisk_rec_recordings_stored_total 8.0" in text and "asterisk_rec_calls_in_progress 0.0" in text
    assert 'asterisk_rec_dependency_up{dependency="ari"} 1.0' in text


@pytest.mark.anyio
async def test_requests_are_counted_by_route_template_not_by_path() -> None:
    """Two calls' pages are one series (the route's template); made-up paths, whatever their characters,
    all count as "unmatched"; a handler that fails counts as 500; odd methods as "other"."""
    metrics = Metrics()
    app = FastAPI()
    app.add_middleware(CountRequests, metrics=metrics)

    @app.get("/calls/{call_id}")
    async def call(call_id: int) -> dict[str, int]:
        return {"id": call_id}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("fault")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/calls/1")).status_code == 200
        assert (await client.get("/calls/2")).status_code == 200
        for path in ("/nope", "/\u65e5\u672c", "/%F0%9F%93%9E", "/calls/1/x"):
            assert (await client.get(path)).status_code == 404
        assert (await client.get("/broken")).status_code == 500
        await client.request("BREW", "/calls/1")
    counted = {tuple(sample.labels.values()): sample.value
               for metric in metrics.registry.collect() if metric.name == "asterisk_rec_http_requests"
               for sample in metric.samples if sample.name.endswith("_total")}
    assert counted == {("/calls/{call_id}", "GET", "200"): 2, ("unmatched", "GET", "404"): 4,
                       ("/broken", "GET", "500"): 1, ("/calls/{call_id}", "other", "405"): 1}


DASHBOARD = Path(__file__).parents[2] / "asterisk_rec" / "health" / "grafana-dashboard.json"


def test_the_dashboard_graphs_only_metrics_the_service_exposes() -> None:
    """Every metric the Grafana dashboard's queries name is one /metrics serves (a renamed metric would
    leave an empty panel), and every series the service serves is on the dashboard."""
    metrics = Metrics()
    dependencies = Dependencies()
    dependencies.up("ari")
    # Every labelled family with a value: a family without any serves no series.
    metrics.watch_service(lambda: Readings(completeness_exceptions={"too_short": 1},
                                                  alarms_raised={"ami_lost": 1}, calls={"answered": 1}), dependencies)
    metrics.http_requests.labels("/metrics", "GET", "200").inc()
    served = {line.split("{")[0].split(" ")[0] for line in generate_latest(metrics.registry).decode().splitlines()
              if line and not line.startswith("#")}
    served = {name for name in served if not name.endswith("_created")}
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    named = {name for query in queries for name in re.findall(r"\b(asterisk_rec_[a-z_]+)\b", query)}
    assert named <= served, named - served
    assert served <= named, served - named


def test_durations_are_served_as_a_histogram() -> None:
    """Observed durations land in their buckets (an observation on a bound counts in it, one beyond the
    last in +Inf), served cumulatively with their sum and count."""
    timed = Durations((0.1, 1.0))
    for seconds in (0.05, 0.1, 0.5, 3.0, -1.0):
        timed.observe(seconds)
    assert timed.cumulative() == [("0.1", 3), ("1.0", 4), ("+Inf", 5)] and timed.count == 5
    metrics = Metrics()
    metrics.watch_service(lambda: Readings(feature_code_seconds=timed), None)
    text = generate_latest(metrics.registry).decode()
    assert 'asterisk_rec_feature_code_seconds_bucket{le="+Inf"} 5.0' in text
    assert "asterisk_rec_feature_code_seconds_sum 3.65" in text
