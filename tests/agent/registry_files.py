"""Write a registry directory the way filebeat's memlog store does (checkpoint plus log)."""

from __future__ import annotations

import json
import os
from pathlib import Path


def key(input_id: str, path: Path) -> str:
    info = os.stat(path)
    return f"filestream::{input_id}::native::{info.st_ino}-{info.st_dev}"


def value(path: Path, offset: int) -> dict[str, object]:
    return {
        "ttl": 1800000000000,
        "updated": [281470681743360, 18446744011573954816],
        "cursor": {"offset": offset},
        "meta": {"source": str(path), "identifier_name": "native"},
    }


def write(registry_dir: Path, checkpoint: dict[str, object], log: list[tuple[str, str, object]]):  # type: ignore[no-untyped-def]
    """`checkpoint` as `<txid>.json` (txid 10), then `log` ops (op, key, value) from id 11."""
    registry_dir.mkdir(parents=True, exist_ok=True)
    (registry_dir / "meta.json").write_text('{"version":"1"}')
    states = [{"_key": k, **v} for k, v in checkpoint.items()]  # type: ignore[dict-item]
    (registry_dir / "10.json").write_text(json.dumps(states))
    (registry_dir / "active.dat").write_text(str(registry_dir / "10.json"))
    lines = []
    for number, (op, k, v) in enumerate(log, start=11):
        lines.append(json.dumps({"op": op, "id": number}))
        lines.append(json.dumps({"k": k, "v": v} if op == "set" else {"k": k}))
    (registry_dir / "log.json").write_text("".join(line + "\n" for line in lines))
