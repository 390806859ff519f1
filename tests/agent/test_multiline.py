"""Multi-line events: the rendered `multiline` parser joins what real s6-log wrote, as filebeat does.

Lines go through the base image's s6-log (real s6, `T` prefix); the follower (filestream_model.py)
applies the rendered input's parser with filebeat's semantics (pattern.go, message_buffer.go).
Settings are per namespace or `namespace/app`; errors name the setting.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from filestream_model import Event, Filestream
from pydantic import ValidationError
from s6_supervision import PREFIX_BYTES, S6App, s6_app

from indexer.agent.multiline import PRESETS, S6_PREFIX, MultilineRule, anchored
from indexer.agent.render import input_for
from indexer.agent.settings import AgentSettings
from indexer.settings import load_settings

ENV = {"APP_LOG_SIZE": "1000000"}  # no rotation in these tests

JAVA = [
    ["INFO before"],
    [
        "2026-01-01 10:00:00,123 ERROR [main] c.e.App - order 17 failed",
        "java.lang.IllegalStateException: boom",
        "\tat com.example.App.run(App.java:10)",
        "\tat com.example.App.main(App.java:5)",
        "Caused by: java.io.IOException: disk full",
        "\tat com.example.Disk.write(Disk.java:3)",
        "\t... 2 more",
    ],
    ["INFO after"],
]
PYTHON = [
    ["INFO:root:before"],
    [
        "ERROR:root:order 17 failed",
        "Traceback (most recent call last):",
        '  File "/app/shop.py", line 3, in <module>',
        "    main()",
        "KeyError: 'sku'",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File "/app/shop.py", line 5, in <module>',
        "shop.errors.OrderError: order 17",
    ],
    ["INFO:root:after"],
]
GO = [
    ["starting"],
    [
        "panic: runtime error: index out of range [5] with length 3",
        "",
        "goroutine 1 [running]:",
        "main.handle(0xc000012345, 0x3)",
        "\t/app/main.go:8 +0x1d",
        "main.main()",
        "\t/app/main.go:12 +0x25",
        "exit status 2",
    ],
    ["restarted"],
]
INDENTED = [["first"], ["request failed:", "  status: 500", "\tbody: oops"], ["last"]]


@pytest.fixture
def app(settings: AgentSettings, tmp_path: Path) -> Iterator[S6App]:
    logdir = settings.logs_root / "prod" / "web" / "web-0" / "log"
    logdir.parent.mkdir(parents=True)
    with s6_app(tmp_path, logdir, ENV) as running:
        yield running


def _rendered(settings: AgentSettings, rule: dict[str, Any]) -> dict[str, Any]:
    with_rule = settings.model_copy(update={"multiline": {"prod/web": MultilineRule(**rule)}})
    return input_for(with_rule, "prod", "web")


def _follow(app: S6App, follower: Filestream, lines: list[str], now: float) -> float:
    app.write([line.encode() for line in lines])
    app.wait_bytes()
    now += follower.interval
    follower.tick(now)
    return now


def _line_starts(app: S6App) -> list[int]:
    content = (app.logdir / "current").read_bytes()
    starts, at = [], 0
    for line in content.split(b"\n")[:-1]:
        starts.append(at)
        at += len(line) + 1
    return starts


def _bodies(event: Event) -> list[str]:
    parts = event.message.split(b"\n")
    assert all(len(p) >= PREFIX_BYTES and p[29:31] == b"  " for p in parts), event.message
    return [p[PREFIX_BYTES:].decode() for p in parts]


@pytest.mark.parametrize(
    ("preset", "groups"),
    [("java", JAVA), ("python", PYTHON), ("go", GO), ("indented", INDENTED)],
)
def test_each_preset_joins_a_trace_written_by_s6_log_into_one_event(
    app: S6App, settings: AgentSettings, preset: str, groups: list[list[str]]
) -> None:
    follower = Filestream(_rendered(settings, {"preset": preset}))
    now = _follow(app, follower, [line for group in groups for line in group], 0.0)
    # The last event waits for a line that would end it, or for the timeout.
    assert [_bodies(e) for e in follower.events] == groups[:-1]
    follower.tick(now + 5)
    assert [_bodies(e) for e in follower.events] == groups
    starts = _line_starts(app)
    ends = [sum(len(g) for g in groups[: n + 1]) - 1 for n in range(len(groups))]
    # log.offset: the start of the event's last line (the upstream merge, filestream_model.py),
    # so every event has its own offset and the indexer's document ids stay distinct.
    assert [e.offset for e in follower.events] == [starts[i] for i in ends]
    assert [("multiline" in e.flags) for e in follower.events] == [len(g) > 1 for g in groups]
    follower.stop()


def test_a_trace_re_read_after_a_filebeat_restart_is_the_same_event(
    app: S6App, settings: AgentSettings
) -> None:
    rendered = _rendered(settings, {"preset": "java"})
    whole = Filestream(rendered)
    stopped = Filestream(rendered)
    now = 0.0
    for follower in (whole, stopped):
        follower.tick(now)
    app.write([line.encode() for line in JAVA[0] + JAVA[1]])
    app.wait_bytes()
    for follower in (whole, stopped):
        follower.tick(now + 1)
    # filebeat stops with the trace read but not sent: its offset stays at the trace's start.
    stopped.stop()
    assert [_bodies(e) for e in stopped.events] == [JAVA[0]]
    restarted = Filestream(rendered, registry=stopped.registry)
    for follower in (whole, restarted):
        follower.tick(now + 2)
        follower.tick(now + 10)
    assert len(restarted.events) == 1 and restarted.events[0] == whole.events[1]
    assert _bodies(restarted.events[0]) == JAVA[1]


def test_max_lines_bounds_a_runaway_trace_and_the_next_line_is_its_own_event(
    app: S6App, settings: AgentSettings
) -> None:
    follower = Filestream(_rendered(settings, {"preset": "indented", "max_lines": 20}))
    runaway = ["start"] + [f"  frame {n}" for n in range(200)]
    now = _follow(app, follower, [*runaway, "next"], 0.0)
    (event,) = follower.events
    assert _bodies(event) == runaway[:20]
    assert set(event.flags) == {"truncated", "multiline"}
    assert event.offset == _line_starts(app)[200]  # the last line it read, kept or not
    follower.tick(now + 5)
    assert _bodies(follower.events[1]) == ["next"]


def test_an_explicit_pattern_with_negate_and_a_flush_pattern_and_match_before(
    app: S6App, settings: AgentSettings
) -> None:
    # A line starting with `[` begins an event; `END` closes one at once.
    rule = {"pattern": r"^\[", "negate": True, "flush_pattern": "^END"}
    follower = Filestream(_rendered(settings, rule))
    now = _follow(app, follower, ["[a] one", "two", "END", "stray", "[b] three", "four"], 0.0)
    follower.tick(now + 5)
    assert [_bodies(e) for e in follower.events] == [
        ["[a] one", "two", "END"],
        ["stray"],
        ["[b] three", "four"],
    ]


def test_match_before_joins_a_line_ending_in_a_backslash_to_the_next(
    app: S6App, settings: AgentSettings
) -> None:
    follower = Filestream(_rendered(settings, {"pattern": r".*\\$", "match": "before"}))
    now = _follow(app, follower, ["a \\", "b \\", "c", "d"], 0.0)
    follower.tick(now + 5)
    assert [_bodies(e) for e in follower.events] == [["a \\", "b \\", "c"], ["d"]]


def test_without_a_rule_every_line_is_its_own_event_and_the_input_has_no_parsers(
    app: S6App, settings: AgentSettings
) -> None:
    rendered = input_for(settings, "prod", "web")
    assert "parsers" not in rendered
    follower = Filestream(rendered)
    now = _follow(app, follower, JAVA[1], 0.0)
    follower.tick(now + 5)
    assert [_bodies(e) for e in follower.events] == [[line] for line in JAVA[1]]


def test_the_app_rule_wins_over_the_namespace_rule_and_other_namespaces_get_none(
    settings: AgentSettings,
) -> None:
    rules = {"prod": MultilineRule(preset="java"), "prod/py": MultilineRule(preset="python")}
    with_rules = settings.model_copy(update={"multiline": rules})

    def pattern(namespace: str, app: str) -> str | None:
        parsers = input_for(with_rules, namespace, app).get("parsers")
        return None if parsers is None else str(parsers[0]["multiline"]["pattern"])

    assert pattern("prod", "web") == anchored(PRESETS["java"], True)
    assert pattern("prod", "py") == anchored(PRESETS["python"], True)
    assert pattern("dev", "web") is None
    (parser,) = input_for(with_rules, "prod", "web")["parsers"]
    assert parser["multiline"]["max_lines"] == 500 and parser["multiline"]["timeout"] == "5s"
    assert parser["multiline"]["pattern"].startswith("^" + S6_PREFIX)


def test_multiline_rules_come_from_the_environment_and_errors_name_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "INDEXER_AGENT__MULTILINE",
        '{"shop": {"preset": "java"}, "shop/cart": {"pattern": "^\\\\[", "negate": true}}',
    )
    rules = load_settings().agent.multiline
    assert rules["shop"].preset == "java" and rules["shop/cart"].negate is True
    for bad, words in (
        ({"preset": "java", "pattern": "x"}, "exactly one"),
        ({}, "exactly one"),
        ({"preset": "java", "negate": True}, "explicit"),
        ({"pattern": "(unclosed"}, "not a regular expression"),
        ({"pattern": "(?=ahead)x"}, "RE2"),
        ({"preset": "java", "max_lines": 100000}, "max_lines"),
    ):
        with pytest.raises(ValidationError, match=words):
            AgentSettings(multiline={"shop": bad})
    with pytest.raises(ValidationError, match="namespace or namespace/app"):
        AgentSettings(multiline={"Shop_Bad!": {"preset": "java"}})
