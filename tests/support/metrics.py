"""Reading GET /metrics the way Prometheus does: every sample by name and labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def scrape(server) -> dict:
    """Every sample of the server's /metrics: (name, sorted labels) -> value."""
    r = server.get("/metrics")
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(r.body.decode()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict, name: str, absent=None, **labels):
    """The sample `name` with `labels`; a sample that is not there fails the test, unless
    `absent` gives its value (a failure counter before the first failure, say)."""
    key = (name, tuple(sorted(labels.items())))
    if key not in samples:
        assert absent is not None, f"no sample {name}{labels} in /metrics"
        return absent
    return samples[key]
