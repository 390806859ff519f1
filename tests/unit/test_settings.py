from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from indexer.consume import consumer_config
from indexer.settings import SettingsError, load_settings
from tests.support import run_cli


def test_defaults_work_out_of_the_box(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.kafka.group_id == "log-indexer"
    assert settings.kafka.subscription == ["^filebeat.*"]
    assert settings.elasticsearch.hosts == ["http://localhost:9200"]


def test_the_fixed_environment_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INDEXER_KAFKA__BOOTSTRAP_SERVERS", "k1:9093,k2:9093")
    monkeypatch.setenv("INDEXER_KAFKA__GROUP_ID", "logs")
    monkeypatch.setenv("INDEXER_KAFKA__TOPICS", '["filebeat-a", "filebeat-b"]')
    monkeypatch.setenv("INDEXER_KAFKA__OPTIONS", '{"security.protocol": "SASL_SSL"}')
    monkeypatch.setenv("INDEXER_ELASTICSEARCH__HOSTS", '["https://es:9200"]')
    monkeypatch.setenv("INDEXER_ELASTICSEARCH__API_KEY", "c2VjcmV0")
    monkeypatch.setenv("INDEXER_METRICS__PORT", "9300")
    settings = load_settings()
    assert settings.kafka.subscription == ["filebeat-a", "filebeat-b"]
    assert settings.kafka.options == {"security.protocol": "SASL_SSL"}
    assert settings.elasticsearch.api_key is not None
    assert settings.elasticsearch.api_key.get_secret_value() == "c2VjcmV0"
    assert settings.metrics.port == 9300
    assert settings.kafka.bootstrap_servers == "k1:9093,k2:9093"


def test_a_yaml_file_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "indexer.yaml"
    config.write_text(
        "kafka:\n  group_id: from-file\n  topic_pattern: '^logs-.*'\nrouting:\n  max_past: P7D\n"
    )
    monkeypatch.setenv("INDEXER_KAFKA__GROUP_ID", "from-env")
    settings = load_settings(config)
    assert settings.kafka.group_id == "from-env"
    assert settings.kafka.subscription == ["^logs-.*"]
    assert settings.routing.max_past == timedelta(days=7)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INDEXER_BATCH__MAX_DOCS": "0"}, "setting batch.max_docs (INDEXER_BATCH__MAX_DOCS)"),
        ({"INDEXER_KAFKA__TOPIC_PATTERN": "(["}, "not a valid regular expression"),
        ({"INDEXER_ELASTICSEARCH__HOSTS": '["es:9200"]'}, "is not an http(s):// URL"),
        ({"INDEXER_METRICS__PORT": "http"}, "setting metrics.port (INDEXER_METRICS__PORT)"),
        ({"INDEXER_KAFKA__TOPICS": "[]"}, "non-empty list"),
        ({"INDEXER_ROUTING__LAYOUTS": '["/x/{app}/{file}"]'}, "needs {namespace}"),
        ({"INDEXER_KAFKA__COLOUR": "red"}, "kafka.colour"),
        ({"INDEXER_ELASTICSEARCH__USERNAME": "u"}, "username and password go together"),
    ],
)
def test_a_bad_value_names_the_setting_and_the_problem(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert message in str(caught.value)


def test_the_command_exits_2_with_one_line_on_a_bad_value() -> None:
    result = run_cli("config", "show", INDEXER_BATCH__MAX_DOCS="-5")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("setting batch.max_docs (INDEXER_BATCH__MAX_DOCS):")


def test_config_show_prints_the_resolved_settings_with_secrets_masked() -> None:
    result = run_cli(
        "config",
        "show",
        INDEXER_ELASTICSEARCH__API_KEY="topsecret",
        INDEXER_KAFKA__OPTIONS=json.dumps({"sasl.password": "hunter2", "sasl.username": "me"}),
    )
    assert result.returncode == 0, result.stderr
    assert "topsecret" not in result.stdout and "hunter2" not in result.stdout
    assert "sasl.username: me" in result.stdout
    assert "group_id: log-indexer" in result.stdout


def test_user_options_cannot_turn_off_the_offset_guarantees() -> None:
    settings = load_settings(
        kafka={"options": {"enable.auto.offset.store": True, "fetch.queue.backoff.ms": 50}}
    )
    config = consumer_config(settings.kafka)
    assert config["enable.auto.offset.store"] is False
    assert config["fetch.queue.backoff.ms"] == 50
    assert config["partition.assignment.strategy"] == "cooperative-sticky"


@pytest.mark.parametrize("reset", ["latest", "largest", "end", "error", "LATEST"])
def test_an_offset_reset_that_skips_the_backlog_is_refused_naming_the_setting(reset: str) -> None:
    result = run_cli(
        "config", "show", INDEXER_KAFKA__OPTIONS=json.dumps({"auto.offset.reset": reset})
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("setting kafka.options (INDEXER_KAFKA__OPTIONS):")
    assert f"auto.offset.reset='{reset}'" in lines[0]


@pytest.mark.parametrize("reset", ["earliest", "smallest", "beginning"])
def test_an_offset_reset_to_the_earliest_offset_is_accepted(reset: str) -> None:
    settings = load_settings(kafka={"options": {"auto.offset.reset": reset}})
    assert consumer_config(settings.kafka)["auto.offset.reset"] == reset


def test_the_pod_name_becomes_the_static_member_id() -> None:
    settings = load_settings(kafka={"instance_id": "indexer-7f9c-abcde"})
    assert consumer_config(settings.kafka)["group.instance.id"] == "indexer-7f9c-abcde"


@pytest.mark.parametrize(
    ("prefix", "claimed_by"),
    [
        ("logs", "logs-*-*"),
        ("metrics", "metrics-*-*"),
        ("traces", "traces-*-*"),
        ("profiling", "profiling-*"),
        ("synthetics", "synthetics-*-*"),
    ],
)
def test_a_prefix_whose_names_elastic_reserves_is_refused_naming_the_pattern(
    prefix: str, claimed_by: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(routing={"index_prefix": prefix})
    message = str(caught.value)
    assert "setting routing.index_prefix (INDEXER_ROUTING__INDEX_PREFIX)" in message
    assert repr(claimed_by) in message


def test_the_default_prefix_and_object_names_are_our_own() -> None:
    settings = load_settings()
    assert settings.routing.index_prefix == "k8s-logs"
    assert settings.lifecycle.default_policy == "k8s-logs-7d"
    assert load_settings(routing={"index_prefix": "team-a.logs"}).routing.index_prefix


@pytest.mark.parametrize("glob", ["pay?", 'pay"', "pay_*"])
def test_namespace_globs_ism_would_refuse_are_refused(glob: str) -> None:
    with pytest.raises(SettingsError, match=r"lifecycle\.namespace_policies"):
        load_settings(lifecycle={"namespace_policies": {glob: "k8s-logs-30d"}})


def test_the_distribution_can_be_forced_and_nothing_else() -> None:
    assert load_settings(elasticsearch={"distribution": "opensearch"}).elasticsearch.distribution
    with pytest.raises(SettingsError, match=r"elasticsearch\.distribution"):
        load_settings(elasticsearch={"distribution": "solr"})


def test_the_kibana_section_is_off_by_default_and_refuses_bad_urls_and_two_auths() -> None:
    kibana = load_settings().kibana
    assert kibana.url is None and kibana.space_per_namespace is False
    assert load_settings(kibana={"url": "https://kb:5601/"}).kibana.url == "https://kb:5601"
    with pytest.raises(SettingsError, match=r"kibana.url \(INDEXER_KIBANA__URL\)"):
        load_settings(kibana={"url": "kb:5601"})
    with pytest.raises(SettingsError, match="either api_key or username/password"):
        load_settings(kibana={"api_key": "k", "username": "u", "password": "p"})


# --- The environment as people type it (issue 29) --------------------------------------------


@pytest.mark.parametrize(
    ("value", "hosts"),
    [
        ("http://es:9200", ["http://es:9200"]),
        ("http://es1:9200, https://es2:9200", ["http://es1:9200", "https://es2:9200"]),
        ('["http://es:9200"]', ["http://es:9200"]),
    ],
)
def test_the_hosts_take_one_url_a_comma_list_or_a_json_list(
    monkeypatch: pytest.MonkeyPatch, value: str, hosts: list[str]
) -> None:
    monkeypatch.setenv("INDEXER_ELASTICSEARCH__HOSTS", value)
    assert load_settings().elasticsearch.hosts == hosts


def test_every_list_setting_takes_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INDEXER_KAFKA__TOPICS", "filebeat-a,filebeat-b")
    monkeypatch.setenv("INDEXER_PARSING__DISABLED_FOR", "shop/cart")
    settings = load_settings()
    assert settings.kafka.topics == ["filebeat-a", "filebeat-b"]
    assert settings.parsing.disabled_for == ["shop/cart"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "INDEXER_BATCHX__MAX_DOCS",
            "INDEXER_BATCHX__MAX_DOCS: not a setting (batchx.max_docs); "
            "did you mean INDEXER_BATCH__MAX_DOCS?",
        ),
        (
            "INDEXER_KAFKA_BOOTSTRAP_SERVERS",
            "INDEXER_KAFKA_BOOTSTRAP_SERVERS: not a setting (kafka_bootstrap_servers); "
            "did you mean INDEXER_KAFKA__BOOTSTRAP_SERVERS?",
        ),
        ("indexer_kafka__colour", "INDEXER_KAFKA__COLOUR: not a setting (kafka.colour)"),
    ],
)
def test_an_unknown_indexer_variable_is_refused_naming_it_like_a_yaml_typo(
    monkeypatch: pytest.MonkeyPatch, name: str, message: str
) -> None:
    monkeypatch.setenv(name, "5")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == message


def test_the_same_typo_in_yaml_is_refused_too(tmp_path: Path) -> None:
    config = tmp_path / "indexer.yaml"
    config.write_text("batchx:\n  max_docs: 5\n")
    with pytest.raises(SettingsError, match="batchx"):
        load_settings(config)


def test_keys_of_a_mapping_setting_are_not_typos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INDEXER_KAFKA__OPTIONS__SASL_USERNAME", "me")
    assert load_settings().kafka.options


def test_unparsable_json_names_the_variable_without_echoing_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INDEXER_KAFKA__OPTIONS", "{sasl.password: hunter2}")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("setting kafka.options (INDEXER_KAFKA__OPTIONS): not valid JSON")
    assert "hunter2" not in message


def test_the_command_exits_2_naming_an_unknown_variable_on_one_line() -> None:
    result = run_cli("config", "show", INDEXER_KAFKA_BOOTSTRAP_SERVERS="kafka:9092")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "INDEXER_KAFKA_BOOTSTRAP_SERVERS: not a setting (kafka_bootstrap_servers); "
        "did you mean INDEXER_KAFKA__BOOTSTRAP_SERVERS?"
    ]


def test_a_yaml_syntax_error_is_one_line_with_its_place_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "indexer.yaml"
    config.write_text("kafka:\n  group_id: [a\nbatch: 3\n")
    result = run_cli("--config", str(config), "config", "show")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"--config {config}: not valid YAML: expected ',' or ']', but got ':' at line 3, column 6"
    ]


def test_indexer_alone_says_what_it_does_instead_of_starting() -> None:
    result = run_cli()
    assert result.returncode == 2
    assert "run" in result.stdout and "usage: indexer" in result.stdout
    assert "no command given; `indexer run` starts the indexer" in result.stderr
