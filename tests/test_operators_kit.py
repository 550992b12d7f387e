"""The operators' kit (deploy/prometheus/alerts.yml, deploy/grafana/bookstore-jobs.json)
speaks of metrics that /metrics really exports, in PromQL that Prometheus accepts.
(bin/test also runs `promtool check rules` and `promtool test rules` on the alerts.)"""

import json
import re
import subprocess

import pytest

from tests.helpers import PROJECT_DIR
from worker.counters import count_processed

pytestmark = pytest.mark.django_db

TOKEN = "test-only-metrics-token"
ALERTS = PROJECT_DIR / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = PROJECT_DIR / "deploy" / "grafana" / "bookstore-jobs.json"
METRIC = re.compile(r"\b((?:bookstore|django)_[a-z_]+)\b")


def _dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    return [target["expr"] for panel in panels for target in panel["targets"]]


def _exported(client, redis_conn) -> set[str]:
    with redis_conn.pipeline() as pipe:  # one job attempt with a duration, as a worker counts it
        count_processed(pipe, "cart:cleanup", "success", 0.05)
        pipe.execute()
    client.get("/health")  # a request and a query, so django's series exist
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    return set(re.findall(r"^# TYPE (\w+) ", text, flags=re.MULTILINE))


def _known(name: str, exported: set[str]) -> bool:
    base = re.sub(r"_(total|bucket|sum|count)$", "", name)
    return name in exported or base in exported


def test_every_metric_of_the_alerts_and_the_dashboard_is_exported(client, redis_conn):
    exported = _exported(client, redis_conn)
    named = set(METRIC.findall(ALERTS.read_text())) | {
        name for expr in _dashboard_queries() for name in METRIC.findall(expr)
    }
    assert {"bookstore_redis_up", "bookstore_workers", "bookstore_outbox_oldest_seconds"} <= named
    assert sorted(name for name in named if not _known(name, exported)) == []


def test_the_dashboards_queries_are_valid_promql(tmp_path):
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {
                        "record": f"dashboard:query_{number}",
                        "expr": expr.replace("$__rate_interval", "1m").replace("$job", ".*"),
                    }
                    for number, expr in enumerate(_dashboard_queries())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules['groups'][0]['rules'])} rules found" in result.stdout
