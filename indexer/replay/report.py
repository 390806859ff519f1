"""Human-readable summaries of the replays (the `--json` output is the same data as one object)."""

from __future__ import annotations

from typing import Any


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {value}" for key, value in counts.items()) or "none"


def describe_deadletters(data: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if data["dry_run"]:
        for entry in data["listing"]:
            action = {"replay": "would replay", "skip": "would skip", "fails": "would fail"}[
                entry["action"]
            ]
            lines.append(
                f"{action:12} {entry['index']}/{entry['id']}  {entry['error_type']}  "
                f"{entry['timestamp']}  -> {entry['target_index'] or '-'}"
            )
        lines.append(
            f"dry run: {data['selected']} dead letters selected, {data['would_replay']} would "
            f"be replayed; skipped: {_counts(data['skipped'])}; "
            f"would fail again: {_counts(data['still_failing'])}. Nothing written or deleted."
        )
        return lines
    lines.append(f"dead letters selected: {data['selected']}")
    lines.append(
        f"replayed: {data['replayed']} (indexed {data['indexed']}, already present "
        f"{data['duplicates']}, salvaged {data['salvaged']}); dead letters deleted: "
        f"{data['deleted']}"
    )
    if data["kept_unconfirmed"]:
        lines.append(
            f"replayed but kept (not confirmed or not deleted; run again): {data['kept_unconfirmed']}"
        )
    lines.append(f"still failing (kept): {_counts(data['still_failing'])}")
    lines.append(f"skipped (kept): {_counts(data['skipped'])}")
    if data["interrupted"]:
        lines.append("interrupted: dead letters not replayed yet are kept")
    return lines


def describe_window(data: dict[str, Any]) -> list[str]:
    verb = "would write" if data["dry_run"] else "written"
    lines = [
        f"replay of [{data['since']}, {data['until']}) from {', '.join(data['topics']) or 'no topics'}",
        f"read {data['read']} messages: {data['before_since']} stamped before --since, "
        f"{data['no_timestamp']} without a timestamp, {data['filtered_out']} of other "
        f"namespaces/apps, {data['selected']} selected",
    ]
    if data["dry_run"]:
        lines.append(f"{verb}: {data['selected']}")
    else:
        lines.append(
            f"{verb}: {data['written']} (indexed {data['indexed']}, duplicates "
            f"{data['duplicates']}, salvaged {data['salvaged']}, dead-lettered "
            f"{_counts(data['deadlettered'])})"
        )
        if data["not_written"]:
            lines.append(
                f"NOT written (the cluster kept refusing them for now; run again): "
                f"{_counts(data['not_written'])}"
            )
    for index, count in data["by_index"].items():
        lines.append(f"  {index}: {count}")
    for name, part in data["partitions"].items():
        lines.append(f"  {name}: offsets {part['from']} to {part['to']} (stop: {part['stop']})")
    if data["incomplete"]:
        lines.append(f"incomplete (no end seen): {', '.join(data['incomplete'])}")
    if data["interrupted"]:
        lines.append("interrupted")
    return lines
