"""The Dockerfile, read statically (no Docker engine here): what can be known without a build."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

from deploy_checks import REPO, dockerfile_stages, final_stage_problems, find

from indexer.cli import build_parser

Docs = dict[str, list[dict[str, Any]]]


def dockerignore_allows(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches decides; `!` re-includes."""
    allowed = True
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        regex = fnmatch.translate(pattern).replace(".*", "[^/]*").replace("[^/]*[^/]*", ".*")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(re.match(regex, p) for p in prefixes) or fnmatch.fnmatch(path, pattern):
            allowed = negate
    return allowed


def read_patterns(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_image_is_multi_stage_non_root_without_compilers_with_indexer_as_entrypoint() -> None:
    stages = dockerfile_stages((REPO / "Dockerfile").read_text())
    assert final_stage_problems(stages, "indexer") == []
    assert "slim" in stages[-1].base
    assert any("build-essential" in rest for _, rest in stages[0].instructions)


def test_the_build_context_lets_in_exactly_what_the_dockerfile_copies() -> None:
    stages = dockerfile_stages((REPO / "Dockerfile").read_text())
    patterns = read_patterns(REPO / ".dockerignore")
    sources = []
    for stage in stages:
        for keyword, rest in stage.instructions:
            if keyword in {"COPY", "ADD"} and "--from=" not in rest:
                sources += rest.split()[:-1]
    assert sources, "the build copies nothing from the context"
    for source in sources:
        if source.startswith("dist/"):
            # A build output, not in the repository: the native core's wheel, which the
            # Makefile's `image` target builds first (`core-wheel`).
            assert "image: $(BIN)/.installed core-wheel" in (REPO / "Makefile").read_text()
            probe = f"{source.rstrip('/')}/indexer_core-0.1.0-cp311-cp311-linux_x86_64.whl"
            assert dockerignore_allows(probe, patterns), f"COPY {source}: excluded by .dockerignore"
            continue
        assert (REPO / source).exists(), f"COPY {source}: not in the repository"
        probe = source if (REPO / source).is_file() else f"{source}/cli.py"
        assert dockerignore_allows(probe, patterns), f"COPY {source}: excluded by .dockerignore"
    for private in (".venv/bin/python", ".git/HEAD", "tests/conftest.py"):
        assert not dockerignore_allows(private, patterns), private


def test_the_pods_run_as_the_images_user(rendered: Docs) -> None:
    stages = dockerfile_stages((REPO / "Dockerfile").read_text())
    user = [rest for keyword, rest in stages[-1].instructions if keyword == "USER"][-1]
    uid = int(user.split(":")[0])
    for overlay in rendered.values():
        for kind in ("Deployment", "Job"):
            for doc in find(overlay, kind):
                assert doc["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == uid


def test_every_subcommand_the_manifests_run_exists_in_the_cli(rendered: Docs) -> None:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    available = set(commands.choices or {})
    used = set()
    for overlay in rendered.values():
        for doc in overlay:
            spec = (doc.get("spec") or {}).get("template", {}).get("spec", {})
            for container in spec.get("containers", []):
                if str(container.get("image", "")).rsplit("/", 1)[-1].startswith("log-indexer"):
                    used.add(container["args"][0])
    assert used == {"run", "setup", "agent"}
    assert used <= available, f"not in `indexer --help`: {sorted(used - available)}"
