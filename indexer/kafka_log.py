"""librdkafka's own logs and errors, as our structured events, throttled; and the Kafka problem
`/readyz` reports.

Without this, librdkafka writes raw text to standard error: about 20 lines a second while Kafka is
unreachable, never slowing. With a client's `logger` and `error_cb` set (confluent-kafka's
configuration, both served from inside `poll()`/`consume()` on the polling thread), every line
becomes a JSON event and each kind (librdkafka's facility, or the error code) is written at most
once per `interval_seconds`, with the count of the ones held back.

One clear event opens an episode: `kafka_unreachable` (all brokers down, connection refused,
name not resolved, TLS handshake failed) or `kafka_auth_refused` (SASL authentication failed,
topic/group/cluster authorization failed). It is not repeated while the episode lasts;
`kafka_reachable` closes it when librdkafka's statistics show a broker up again. `problem()`
says what is wrong meanwhile (the readiness check's reason).

Thread safety: the callbacks run on the thread that polls the client; `problem()` may be read
from any thread (one attribute read).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

import orjson
import structlog
from confluent_kafka import KafkaError

from indexer import metrics
from indexer.redact import redact_text

log = structlog.get_logger("indexer.kafka")

# librdkafka's error codes (rdkafka.h) that mean "cannot reach Kafka" and "Kafka refuses us".
UNREACHABLE = {
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._TRANSPORT,
    KafkaError._RESOLVE,
    KafkaError._SSL,
}
REFUSED = {
    KafkaError._AUTHENTICATION,
    KafkaError.SASL_AUTHENTICATION_FAILED,
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.GROUP_AUTHORIZATION_FAILED,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED,
}

DEFAULT_INTERVAL_SECONDS = 30.0

_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}


class _Throttle:
    """At most one pass per key per interval; counts what it held back."""

    def __init__(self, interval: float, clock: Callable[[], float]) -> None:
        self._interval = interval
        self._clock = clock
        self._last: dict[Any, float] = {}
        self._held: dict[Any, int] = {}

    def passes(self, key: Any) -> int | None:
        """None: hold this one back; else pass it, with the number held back since the last."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._held.pop(key, 0)


class _ForwardingLogger(logging.Logger):
    """What confluent-kafka calls for each librdkafka log line:
    `logger.log(level, "%s [%s] %s", facility, client name, text)`."""

    def __init__(self, bridge: KafkaLogBridge) -> None:
        super().__init__("librdkafka")
        self._bridge = bridge

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if len(args) == 3:
            facility, client, text = (str(a) for a in args)
        else:
            facility, client, text = "LOG", "", str(msg) % args if args else str(msg)
        self._bridge.on_log(level, facility, client, text)


class KafkaLogBridge:
    """One per Kafka client (`client`: what it is, e.g. "consumer"). Pass `config()` into the
    client's configuration, and `on_stats` the statistics JSON (the caller owns `stats_cb`)."""

    def __init__(
        self,
        client: str,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self._throttle = _Throttle(interval_seconds, clock)
        self._problem: str | None = None
        self._refused = False
        self._logger = _ForwardingLogger(self)

    def config(self) -> dict[str, Any]:
        """The confluent-kafka configuration entries that route logs and errors here."""
        return {"logger": self._logger, "error_cb": self.on_error}

    def problem(self) -> str | None:
        """What keeps the client from Kafka now (None: nothing known)."""
        return self._problem

    def on_log(self, level: int, facility: str, client: str, text: str) -> None:
        if facility == "OFFSET" and level >= logging.WARNING and offset_reset(text):
            return  # counted and logged on its own, never throttled away
        held = self._throttle.passes(("log", facility))
        if held is None:
            return
        method = getattr(
            log, _LEVELS.get(level, "warning") if level < logging.CRITICAL else "error"
        )
        method(
            "kafka_log",
            client=self.client,
            facility=facility,
            detail=redact_text(text),
            held_back=held,
        )

    def on_error(self, error: KafkaError) -> None:
        code = error.code()
        reason = redact_text(str(error.str()))
        if code in REFUSED or (code in UNREACHABLE and not self._refused):
            # A refusal outranks "unreachable" until the episode ends: librdkafka follows a
            # failed authentication with "all brokers down", which says less.
            refused = code in REFUSED
            opening = self._problem is None or refused != self._refused
            self._refused = refused
            self._problem = (
                f"Kafka refuses this client's credentials or permissions: {reason}"
                if refused
                else f"Kafka is unreachable: {reason}"
            )
            if opening:
                log.error(
                    "kafka_auth_refused" if refused else "kafka_unreachable",
                    client=self.client,
                    code=error.name(),
                    reason=reason,
                )
                return
        held = self._throttle.passes(("error", code))
        if held is None:
            return
        log.warning(
            "kafka_error",
            client=self.client,
            code=error.name(),
            reason=reason,
            fatal=error.fatal(),
            held_back=held,
        )

    def on_stats(self, stats_json: str) -> None:
        """A broker up in librdkafka's statistics ends an episode (STATISTICS.md: brokers.state)."""
        if self._problem is None:
            return
        brokers = orjson.loads(stats_json).get("brokers", {})
        if any(b.get("state") == "UP" and b.get("nodeid", -1) >= 0 for b in brokers.values()):
            self._problem = None
            self._refused = False
            log.info("kafka_reachable", client=self.client)


# librdkafka's line for a reset forced by an error (rdkafka_offset.c, `rd_kafka_offset_reset`):
# "<topic> [<partition>]: offset reset (at offset 8 (leader epoch 8), broker 1) to offset
# BEGINNING (leader epoch -1): fetch failed due to requested offset not available on the broker:
# Broker: Offset out of range". It logs it at LOG_WARNING, facility OFFSET, only when an error
# caused the reset; a new group's start (no committed offset) is only debug-logged.
_RESET = re.compile(
    r"(?:\[thrd:[^\]]*\]: )?(?P<topic>.+) \[(?P<partition>-?\d+)\]: offset reset "
    r"\(at (?P<at>.*?), broker (?P<broker>-?\d+)\) to (?P<to>.*?): (?P<reason>.*)",
    re.DOTALL,
)


def offset_reset(text: str) -> bool:
    """Count and log librdkafka's offset reset line (`indexer_offset_resets_total{topic}`,
    `offset_reset`); whether `text` was one.

    An offset reset after an out-of-range fetch means the committed (or current) position no
    longer exists on the broker: retention or a delete removed messages the group had not read,
    and the consumer jumped to `auto.offset.reset` (earliest). Those messages were never
    indexed, and nothing else says so: the lag even looks fine afterwards. librdkafka reports it
    only in this log line (no error event unless `auto.offset.reset=error`, which stops the
    partition instead), so the line is recognised here."""
    found = _RESET.fullmatch(text)
    if found is None:
        return False
    metrics.OFFSET_RESETS.labels(found["topic"]).inc()
    log.error(
        "offset_reset",
        topic=found["topic"],
        partition=int(found["partition"]),
        at=found["at"],
        to=found["to"],
        reason=found["reason"],
    )
    return True
