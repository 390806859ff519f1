"""Build the project's images with podman, and smoke-test them (`make image`, `make image-smoke`).

    podman_images.py build --image localhost/log-indexer:ci
    podman_images.py smoke --image localhost/log-indexer:ci --app-base-image NAME

`build` builds the real `Dockerfile` unchanged. Its base is the upstream Python image when it is
present (or, with `PULL_PYTHON_IMAGE=1`, can be pulled); otherwise (CI and development machines: only PyPI, npm and Debian's mirror are
reachable) a Debian bookworm base bootstrapped with `mmdebstrap` from the mirror apt already
uses, imported with `podman import`, passed as the `PYTHON_IMAGE` build argument.

`smoke` builds the indexer image, the Debian-s6 variant of the app base image
(deploy/app-base/Dockerfile.debian) and the sample app on it, then runs tests/deploy/test_images.py
against them. Where podman genuinely cannot run it prints `SKIP image smoke: <reason>` and exits 0;
every other failure is a failure.

podman runs with deploy/images/containers.conf (runc, cgroupfs, ulimits the hosts allow) through
CONTAINERS_CONF; the host's /etc/containers is not changed. Where the host's CA bundle exists it
is mounted read-only into the build steps (outbound TLS may be re-signed by a proxy); nothing of
it ends up in an image.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
APP_BASE = REPO / "deploy" / "app-base"
CONTAINERS_CONF = HERE / "containers.conf"
UPSTREAM_PYTHON = "docker.io/library/python:3.11-slim-bookworm"
# The locally bootstrapped stand-in for UPSTREAM_PYTHON (and for debian:bookworm-slim).
LOCAL_BASE = "localhost/log-pipeline/debian-python:bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
SUITE = "bookworm"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
BUILD_TIMEOUT = 900.0


class CannotRun(RuntimeError):
    """podman cannot run containers on this machine (the one reason to skip)."""


def env() -> dict[str, str]:
    result = dict(os.environ)
    result.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    return result


def podman(
    *args: str, timeout: float = 120.0, check: bool = True, quiet: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run podman; on failure raise with its stderr (unless check=False)."""
    proc = subprocess.run(
        ["podman", *args],
        env=env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if quiet or check else None,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"podman {' '.join(args[:3])}… exited {proc.returncode}: {(proc.stderr or '')[-2000:]}"
        )
    return proc


def probe() -> None:
    """Raise CannotRun with the exact reason when podman cannot run containers here."""
    if shutil.which("podman") is None:
        raise CannotRun("podman is not installed (apt-get install podman runc mmdebstrap)")
    info = podman("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False, quiet=True)
    if info.returncode != 0:
        raise CannotRun(f"`podman info` fails: {info.stderr.strip().splitlines()[-1:]}")


def probe_run(image: str) -> None:
    """A trivial container must start: namespaces, the runtime and cgroups work."""
    proc = podman("run", "--rm", "--network", "none", image, "true", check=False, quiet=True)
    if proc.returncode != 0:
        raise CannotRun(f"podman cannot start a container: {proc.stderr.strip()[-500:]}")


def exists(image: str) -> bool:
    return podman("image", "exists", image, check=False, quiet=True).returncode == 0


def size_mb(image: str) -> float:
    out = podman("image", "inspect", "--format", "{{.Size}}", image).stdout.strip()
    return int(out) / 1e6


def debian_mirror(sources: Path = Path("/etc/apt")) -> str:
    """The Debian mirror apt uses for `bookworm main` (deb822 .sources or one-line lists)."""
    for path in sorted(sources.glob("sources.list.d/*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields = dict(
                (key.strip().lower(), value.strip())
                for key, _, value in (
                    line.partition(":") for line in stanza.splitlines() if ":" in line
                )
                if not key.startswith("#")
            )
            suites = fields.get("suites", "").split()
            components = fields.get("components", "").split()
            types = fields.get("types", "deb").split()
            if SUITE in suites and "main" in components and "deb" in types:
                return str(fields["uris"].split()[0])
    for path in [sources / "sources.list", *sorted(sources.glob("sources.list.d/*.list"))]:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if len(words) >= 4 and words[0] == "deb" and words[2] == SUITE and "main" in words:
                return words[1]
    raise RuntimeError(f"no `deb … {SUITE} main` source in {sources}: cannot bootstrap a base")


def bootstrap_base(tag: str = LOCAL_BASE) -> str:
    """A Debian bookworm image with Python 3.11 from the apt mirror (mmdebstrap minbase)."""
    if exists(tag):
        print(f"image: base {tag} already present (delete it with `podman rmi` to rebuild)")
        return tag
    if shutil.which("mmdebstrap") is None:
        raise RuntimeError("mmdebstrap is not installed (apt-get install mmdebstrap)")
    mirror = debian_mirror()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="base-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        subprocess.run(
            [
                "mmdebstrap",
                "--quiet",
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                # what python:*-slim leaves out too; licences (copyright) stay
                "--dpkgopt=path-exclude=/usr/share/man/*",
                "--dpkgopt=path-exclude=/usr/share/locale/*",
                "--dpkgopt=path-exclude=/usr/share/doc/*",
                "--dpkgopt=path-include=/usr/share/doc/*/copyright",
                # like debian:*-slim's docker-clean: apt keeps no package caches in image layers
                '--aptopt=Dir::Cache::pkgcache "";',
                '--aptopt=Dir::Cache::srcpkgcache "";',
                "--customize-hook=rm -rf $1/var/lib/apt/lists/* $1/var/cache/apt/*.bin",
                SUITE,
                str(rootfs),
                mirror,
            ],
            check=True,
            timeout=600,
        )
        podman("import", "--change", 'CMD ["/bin/bash"]', str(rootfs), tag, timeout=300)
    took = time.monotonic() - started
    print(f"image: bootstrapped base {tag} from {mirror} in {took:.0f} s, {size_mb(tag):.0f} MB")
    return tag


def python_base() -> str:
    """UPSTREAM_PYTHON when present, or pulled where `PULL_PYTHON_IMAGE=1` says a registry is
    reachable; else the bootstrapped Debian base. Nothing is pulled unless asked: on machines
    that reach only the package mirrors, a pull would be traffic to a host they must not try."""
    if exists(UPSTREAM_PYTHON):
        return UPSTREAM_PYTHON
    if os.environ.get("PULL_PYTHON_IMAGE") != "1":
        print(
            f"image: {UPSTREAM_PYTHON} not present and PULL_PYTHON_IMAGE unset; local Debian base"
        )
        return bootstrap_base()
    pull = podman("pull", "--quiet", UPSTREAM_PYTHON, check=False, quiet=True, timeout=300)
    if pull.returncode == 0:
        return UPSTREAM_PYTHON
    reason = (pull.stderr.strip().splitlines() or ["?"])[-1]
    print(
        f"image: {UPSTREAM_PYTHON} cannot be pulled ({reason[:160]}); using the local Debian base"
    )
    return bootstrap_base()


def build(
    image: str, context: Path, dockerfile: Path, build_args: dict[str, str], label: str
) -> float:
    """`podman build`; prints and returns the time it took."""
    args = ["build", "--quiet", "--file", str(dockerfile), "--tag", image]
    for key, value in build_args.items():
        args += ["--build-arg", f"{key}={value}"]
    if HOST_CA.is_file():
        args += ["--volume", f"{HOST_CA}:{HOST_CA}:ro"]
    started = time.monotonic()
    podman(*args, str(context), timeout=BUILD_TIMEOUT)
    took = time.monotonic() - started
    print(f"image: built {label} {image} in {took:.0f} s, size {size_mb(image):.0f} MB")
    return took


def build_indexer(image: str) -> str:
    base = python_base()
    probe_run(base)
    build(image, REPO, REPO / "Dockerfile", {"PYTHON_IMAGE": base}, "indexer")
    return base


def build_app_images(app_base_image: str, base: str) -> str:
    """The Debian-s6 app base image and the sample app on it; returns the sample's name."""
    build(
        app_base_image,
        APP_BASE,
        APP_BASE / "Dockerfile.debian",
        {"DEBIAN_IMAGE": base},
        "app base (Debian s6)",
    )
    sample = f"{app_base_image.rsplit(':', 1)[0]}-ticker:ci"
    build(
        sample,
        APP_BASE / "sample",
        APP_BASE / "sample" / "Dockerfile",
        {"BASE_IMAGE": app_base_image},
        "sample app",
    )
    return sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build", "smoke"])
    parser.add_argument("--image", default="localhost/log-indexer:ci")
    parser.add_argument("--app-base-image", default="localhost/log-pipeline/app-base-debian:ci")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    started = time.monotonic()
    try:
        probe()
        base = build_indexer(args.image)
        if args.command == "build":
            return 0
        sample = build_app_images(args.app_base_image, base)
    except CannotRun as exc:
        if args.command == "build":
            print(f"image: podman cannot run here: {exc}", file=sys.stderr)
            return 1
        print(f"SKIP image smoke: {exc}")
        return 0
    tests = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-v",
            "-p",
            "no:cacheprovider",
            "tests/deploy/test_images.py",
        ],
        cwd=REPO,
        env={
            **env(),
            "SMOKE_INDEXER_IMAGE": args.image,
            "SMOKE_APP_IMAGE": sample,
        },
        check=False,
        timeout=900,
    )
    took = time.monotonic() - started
    verdict = "passed" if tests.returncode == 0 else "FAILED"
    print(f"image smoke: {verdict}; builds and smoke tests took {took:.0f} s")
    return tests.returncode


if __name__ == "__main__":
    sys.exit(main())
