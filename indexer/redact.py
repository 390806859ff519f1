"""Secrets never leave the process in text: credentials in URLs and secret librdkafka options are
masked wherever settings or errors are shown (`indexer config show`, every log line, the exit-2
message).

What a caller may assume: `redact_text` returns its input unchanged when it holds no URL with a
user-info part; `secret_kafka_option` is true for every librdkafka property that carries a
password, key, token or a whole SASL configuration (librdkafka CONFIGURATION.md: `sasl.password`,
`sasl.oauthbearer.config`, `sasl.oauthbearer.client.secret`, `ssl.key.password`,
`ssl.keystore.password`, `ssl.key.pem`, `sasl.jaas.config` of the Java clients, …).
"""

from __future__ import annotations

import re
from typing import Any

MASK = "**********"

# scheme://user:password@host — the user-info is everything up to the last `@` before the path.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s'\"<>]*@")

_SECRET_OPTION = re.compile(r"password|secret|key|token|credential|jaas|\.config$|oauthbearer")


def redact_text(text: str) -> str:
    """`https://user:pass@es:9200` -> `https://**********@es:9200`, anywhere in the text."""
    if "@" not in text:
        return text
    return _URL_CREDENTIALS.sub(rf"\g<1>{MASK}@", text)


def redact_value(value: Any) -> Any:
    """redact_text applied to every string inside lists, tuples and dicts."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    return value


def secret_kafka_option(name: str) -> bool:
    """Whether a librdkafka property's value must never be shown."""
    return bool(_SECRET_OPTION.search(name.lower()))


def redact_kafka_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options with every secret value masked and URLs' credentials removed."""
    return {
        key: MASK if secret_kafka_option(key) else redact_value(value)
        for key, value in options.items()
    }
