"""Multi-line joining in the rendered input: presets and explicit patterns, after s6-log's prefix.

filebeat's filestream `parsers: - multiline: {type: pattern, …}` (filestream docs, "multiline";
semantics in `beats: libbeat/reader/multiline/pattern.go`): each line is tested against
`pattern`, `negate` inverts the test, and with `match: after` a line that passes joins the event
of the lines before it, with `match: before` the line after it; a line that fails ends the event
in progress and starts the next. `flush_pattern` ends an event on the line that matches it.
`max_lines` bounds the lines kept (later ones are read and dropped, the event flagged
`log.flags: [truncated]`), the input's `message_max_bytes` bounds its bytes, and `timeout` sends
an event when no further line came for that long. Lines are joined with `\\n`.

s6-log's `T` directive (deploy/app-base/.../app-log/run) starts every line with
`YYYY-MM-DD HH:MM:SS.nnnnnnnnn` and two spaces (31 bytes, NODE-SIDE.md §7), so a rule's pattern
is anchored after that prefix: the rendered pattern is `^<prefix>(?:<body>)`. A rule with
`s6_prefix: false` is for apps that write their own `*.log` files; one input reads both kinds of
file of an app, so a rule matches only one kind. Patterns are in the syntax common to Go's RE2
(filebeat) and Python's `re` (the tests' model): no look-around, no back-references.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

S6_PREFIX = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{9}  "

# Continuation lines (negate false, match after: a matching line joins the line before it).
PRESETS: dict[str, str] = {
    # `\tat com.x.Y(Y.java:10)`, `\t... 5 more`, `... 3 common frames omitted`, `Caused by: …`,
    # `Suppressed: …`, and the exception's own line after the log line (`java.io.IOException: x`).
    "java": r"[ \t]+at |[ \t]*\.\.\. \d+ (more|common frames omitted)|[ \t]*(Caused by|Suppressed): "
    r"|([A-Za-z_$][\w$]*\.)+[A-Za-z_$][\w$]*(Exception|Error|Throwable)(: |$)",
    # `Traceback (most recent call last):`, its indented frames, blank lines and the chaining
    # sentences between chained tracebacks, and the closing `ValueError: …` (dotted names too).
    "python": r"Traceback \(most recent call last\):|[ \t]|$|During handling of the above exception"
    r"|The above exception was the direct cause|([A-Za-z_]\w*\.)*[A-Za-z_]\w*"
    r"(Error|Exception|Warning|Exit|Interrupt|Iteration)(: |$)",
    # `panic: …`/`fatal error: …` then blank lines, `goroutine N [running]:`, `main.main()`,
    # tab-indented `/app/main.go:8 +0x1d`, `created by …`, `[signal SIGSEGV …`, `exit status 2`.
    "go": r"$|goroutine \d+ \[|[ \t]|created by |\[signal |exit status \d+"
    r"|[\w.*/()\[\]-]+\(.*\)$",
    # Any line that starts with a space or a tab continues the one before it.
    "indented": r"[ \t]",
}


class MultilineRule(BaseModel):
    """One rule: a `preset`, or an explicit `pattern` (with `negate`, `match`, `flush_pattern`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preset: Literal["java", "python", "go", "indented"] | None = Field(
        None, description="java, python, go or indented (continuation lines join the one before)."
    )
    pattern: str | None = Field(
        None,
        description="A regular expression matched at the start of the app's line (after "
        "s6-log's prefix when `s6_prefix`); with a preset, not allowed.",
    )
    negate: bool = Field(False, description="filebeat's `negate` (explicit pattern only).")
    match: Literal["after", "before"] = Field(
        "after", description="filebeat's `match` (explicit pattern only)."
    )
    flush_pattern: str | None = Field(
        None, description="filebeat's `flush_pattern`: the line that ends an event."
    )
    s6_prefix: bool = Field(
        True, description="Lines start with s6-log's 31-byte `T` timestamp (the base image)."
    )
    max_lines: int = Field(500, ge=2, le=10000, description="Lines kept per event at most.")
    timeout_seconds: float = Field(
        5.0, gt=0, le=300, description="An event is sent when no line came for this long."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> MultilineRule:
        if (self.preset is None) == (self.pattern is None):
            raise ValueError("give exactly one of `preset` and `pattern`")
        if self.preset is not None and (self.negate or self.match != "after"):
            raise ValueError("`negate` and `match` go with an explicit `pattern`, not a preset")
        for name in ("pattern", "flush_pattern"):
            value = getattr(self, name)
            if value is None:
                continue
            if re.search(r"\(\?[=!<]|\\[1-9]", value):
                raise ValueError(f"{name}: look-around and back-references are not in Go's RE2")
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"{name} is not a regular expression: {exc}") from None
        return self

    def parser(self) -> dict[str, Any]:
        """The `multiline` parser of filestream, as data for the input template."""
        body = PRESETS[self.preset] if self.preset is not None else str(self.pattern)
        rendered: dict[str, Any] = {
            "type": "pattern",
            "pattern": anchored(body, self.s6_prefix),
            "negate": self.negate,
            "match": self.match,
            "max_lines": self.max_lines,
            "timeout": f"{self.timeout_seconds:g}s",
            "flush_pattern": None,
        }
        if self.flush_pattern is not None:
            rendered["flush_pattern"] = anchored(self.flush_pattern, self.s6_prefix)
        return rendered


def anchored(body: str, s6_prefix: bool) -> str:
    """`body` anchored at the start of the app's line (one leading `^` of its own is dropped)."""
    body = body[1:] if body.startswith("^") else body
    return f"^{S6_PREFIX if s6_prefix else ''}(?:{body})"


def rule_for(rules: dict[str, MultilineRule], namespace: str, app: str) -> MultilineRule | None:
    """The rule of `namespace/app`, else of `namespace`, else None."""
    return rules.get(f"{namespace}/{app}", rules.get(namespace))
