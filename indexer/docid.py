"""Document ids: the same event always gets the same `_id`, and a different line never does.

Elasticsearch answers 409 to a `create` whose `_id` exists, and we count that as "already
stored". That is only true if the id names the event, not where Kafka happened to put it: a
topic's offsets restart at 0 when it is re-created, two Kafka clusters (or MirrorMaker 2) give
one event different coordinates, and filebeat re-sends an event as a new record at a new offset
(NODE-SIDE.md §5). So the id comes from the event itself, first rule that applies:

1. `@metadata._id` when the shipper set one (filebeat's `fingerprint` processor, an ndjson
   `document_id`), as Logstash and filebeat's own Elasticsearch output use it;
2. a line read from a file (`log.offset` an integer, `message` and `host.name` strings): a 128-bit xxh3 of
   the host (`host.name`), the file (`log.file.fingerprint`, else `device_id` and `inode`, else
   `log.file.path`), the byte offset and the line. A re-send carries the same four (filebeat
   re-reads from its registry offset), so it meets its first copy; two equal lines sit at two
   offsets, so they stay two documents. filebeat's `@timestamp` is left out on purpose: it is the
   time of reading, which a re-read after a restart changes;
3. anything else: a 128-bit xxh3 of the message bytes as received, so a byte-identical record
   (a produce retry, a mirrored copy) is one document.

docs/failure-handling.md lists the collisions that remain and how unlikely they are.
"""

from __future__ import annotations

from typing import Any

import orjson
from xxhash import xxh3_128_hexdigest

MAX_ID_BYTES = 512  # Elasticsearch refuses longer ids (REAL-CLUSTERS.md §8)


def event_id(event: dict[str, Any], value: bytes) -> bytes:
    """The `_id` of a decoded event whose message bytes were `value`, as it goes between the
    quotes of a JSON string (a shipper's id escaped, ours hexadecimal).

    Removes `@metadata` from the event: it describes the shipping, and is never indexed.
    """
    metadata = event.pop("@metadata", None)
    if metadata.__class__ is dict and "_id" in metadata:
        given = metadata["_id"]
        if given.__class__ is str and 0 < len(given.encode()) <= MAX_ID_BYTES:
            return orjson.dumps(given)[1:-1]
    # Subscripts, not `.get` chains: this runs once per event, and a missing key or a value of
    # the wrong shape (a KeyError or TypeError) is the rare case.
    try:
        log = event["log"]
        offset = log["offset"]
        message = event["message"]
        file = log["file"]
        host = event["host"]["name"]
    except (KeyError, TypeError):
        return message_id(value)
    if offset.__class__ is not int or message.__class__ is not str or host.__class__ is not str:
        return message_id(value)
    # One C call writes the four as a JSON array: unambiguous (each element quoted or a
    # number), and cheaper than formatting them into a string and encoding it.
    identity: str | int | None
    if file.__class__ is dict and "fingerprint" not in file and "inode" not in file:
        path = file.get("path")  # _file_of's common case, inline (filestream's default)
        identity = path if path.__class__ is str else None
    else:
        identity = _file_of(file)
    return xxh3_128_hexdigest(orjson.dumps((host, identity, offset, message))).encode()


def message_id(value: bytes | None) -> bytes:
    """The `_id` of a message known only by its bytes (one that never decoded)."""
    return xxh3_128_hexdigest(value or b"").encode()


def _file_of(file: Any) -> str | int | None:
    """The file's identity as filebeat keeps it: the fingerprint (filebeat 9.x default), else
    device and inode (filestream's `native`), else the path. Only scalars count."""
    if file.__class__ is not dict:
        return None
    # `in` before reading: cheaper than `.get` for the keys an event does not have.
    if "fingerprint" in file:
        fingerprint = file["fingerprint"]
        if fingerprint.__class__ is str and fingerprint:
            return fingerprint
    if "inode" in file:
        inode = file["inode"]
        if inode.__class__ in (str, int) and inode:
            device = file.get("device_id")
            return f"{device}:{inode}" if device.__class__ in (str, int) else f":{inode}"
    path = file.get("path")
    return path if path.__class__ is str else None
