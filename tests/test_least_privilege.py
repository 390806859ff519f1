"""Least privilege that starts: the runtime role of deploy/roles/ is enough to consume and index
everything, and the setup role is what the privileged calls need.

The cluster is osmem behind a `CompatProxy` whose fault rule (tests/privileges.py) reads the role
file and answers `403 security_exception`, in the product's own words, for every request the
role does not grant, so the file and this test cannot drift apart. Documents are read back
through a proxy without the rule and compared by content (tests.support.finish_and_check)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexer.embedded import CompatProxy, Product, ServerProcess
from tests.privileges import EnforceRole, load_role
from tests.support import (
    IndexerProcess,
    create_topic,
    days_ago,
    finish_and_check,
    indexer_env,
    log_events,
    produce,
    wait_for,
)

# End to end, and the product is the subject (each product's role file and refusal wording).
pytestmark = [pytest.mark.slow, pytest.mark.dialect]

TOPIC = "filebeat-least"
LOG = "/log/app.log"
POLICIES = json.dumps({"pay": "k8s-logs-30d"})
# osmem has no ILM, so on the Elasticsearch bed `auto` would find the sweeper, whose deletes the
# Elasticsearch runtime role (made for ILM) does not grant: lifecycle off there. On the
# OpenSearch bed `auto` runs the sweeper (beside ISM, or alone), which its runtime role grants.
MODE: dict[Product, str] = {"elasticsearch": "off", "opensearch": "auto"}


@pytest.fixture
def guarded(es_server: ServerProcess, product: Product) -> Iterator[dict[str, CompatProxy]]:
    """Three doors to one cluster: `runtime` and `setup` enforce their role files, `admin`
    (no rule) is how the test reads what was stored."""
    proxies = {
        name: CompatProxy(es_server.port, product).start() for name in ("runtime", "setup", "admin")
    }
    for name in ("runtime", "setup"):
        proxies[name].fault = EnforceRole(product, load_role(product, f"log-indexer-{name}"))
    yield proxies
    for proxy in proxies.values():
        proxy.stop()


def _rule(proxy: CompatProxy) -> EnforceRole:
    assert isinstance(proxy.fault, EnforceRole)
    return proxy.fault


def _setup(url: str, tmp_path: Path, product: Product) -> subprocess.CompletedProcess[str]:
    env = {
        "INDEXER_LIFECYCLE__MODE": MODE[product],
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "INDEXER_ELASTICSEARCH__HOSTS": json.dumps([url]),
        "INDEXER_LIFECYCLE__NAMESPACE_POLICIES": POLICIES,
        "INDEXER_LOG__FORMAT": "json",
    }
    return subprocess.run(
        [sys.executable, "-m", "indexer", "setup"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _runtime(bootstrap: str, url: str, tmp_path: Path, product: Product) -> IndexerProcess:
    env = indexer_env(
        bootstrap,
        url,
        INDEXER_LIFECYCLE__MODE=MODE[product],
        INDEXER_KAFKA__TOPICS=json.dumps([TOPIC]),
        INDEXER_LIFECYCLE__SETUP_ON_START="false",
        INDEXER_LIFECYCLE__NAMESPACE_POLICIES=POLICIES,
    )
    return IndexerProcess(env, tmp_path / "runtime.log").start()


def _produce(bootstrap: str, per_app: int) -> dict[str, bytes]:
    """`per_app` events of each of three apps in two namespaces, over two partitions."""
    create_topic(bootstrap, TOPIC, 2)
    stamp = days_ago(1).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    values = [
        json.dumps(
            {
                "@timestamp": stamp,
                "message": f"{ns}/{app} line {n}",
                "log": {"file": {"path": f"/data/logs/{ns}/{app}/{app}-7d4b9c8f6-bcd2f{LOG}"}},
            }
        ).encode()
        for n in range(per_app)
        for ns, app in (("pay", "api"), ("shop", "cart"), ("shop", "web"))
    ]
    return produce(bootstrap, TOPIC, values, partitions=2)


def _readyz(indexer: IndexerProcess) -> tuple[int, str]:
    url = f"http://127.0.0.1:{indexer.metrics_port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_runtime_role_indexes_everything_and_only_the_setup_role_can_set_up(
    kafka: ServerProcess, guarded: dict[str, CompatProxy], product: Product, tmp_path: Path
) -> None:
    runtime, setup, admin = guarded["runtime"], guarded["setup"], guarded["admin"]

    refused = _setup(runtime.url, tmp_path, product)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "security_exception" in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr
    privileged = {action for _, _, action in _rule(runtime).refused}
    assert privileged, _rule(runtime).refused
    assert all("template" in a or "ilm" in a or "ism" in a for a in privileged), privileged
    _rule(runtime).refused.clear()

    done = _setup(setup.url, tmp_path, product)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _rule(setup).refused == []

    bootstrap = f"127.0.0.1:{kafka.port}"
    produced = _produce(bootstrap, 40)
    indexer = _runtime(bootstrap, runtime.url, tmp_path, product)
    stored = finish_and_check(bootstrap, admin.url, produced, [indexer], duplicates_possible=False)

    assert _rule(runtime).refused == []
    # It read our templates and changed none (no template or policy request but GETs).
    assert [
        (method, path)
        for method, path in _rule(runtime).allowed
        if path.startswith(("/_index_template", "/_component_template", "/_ilm", "/_plugins"))
        and method != "GET"
    ] == []
    assert {index.split("_")[0] for index, _ in stored.values()} == {
        "k8s-logs-pay",
        "k8s-logs-shop",
    }


def test_without_setup_the_runtime_stays_unready_naming_setup_and_indexes_once_it_ran(
    kafka: ServerProcess, guarded: dict[str, CompatProxy], product: Product, tmp_path: Path
) -> None:
    runtime, setup, admin = guarded["runtime"], guarded["setup"], guarded["admin"]
    bootstrap = f"127.0.0.1:{kafka.port}"
    produced = _produce(bootstrap, 10)
    indexer = _runtime(bootstrap, runtime.url, tmp_path, product)

    def failures() -> list[dict[str, Any]]:
        return log_events(indexer.log_lines(), "templates_check_failed")

    wait_for(lambda: len(failures()) >= 2, 60, "two templates_check_failed events")
    assert "run `indexer setup`" in failures()[0]["error"]["message"], failures()[0]
    status, reason = _readyz(indexer)
    assert status == 503 and "templates and policies are not applied" in reason, reason
    assert indexer.proc is not None and indexer.proc.poll() is None, "the indexer exited"
    # It consumed nothing, so it created no index without our mappings.
    assert not [path for method, path in _rule(runtime).allowed if method == "PUT"]
    assert "Traceback" not in indexer.log_path.read_text(errors="replace")

    assert _setup(setup.url, tmp_path, product).returncode == 0
    finish_and_check(bootstrap, admin.url, produced, [indexer], duplicates_possible=False)
    assert _rule(runtime).refused == []
