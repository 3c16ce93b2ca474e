"""Build a static mip package index of every weblet package, as ``.mpy`` and as ``.py``.

The output is the layout mip (``mip.install(name, index=URL)``, frozen into
MicroPython) and ``mpremote mip install --index URL`` read, the same as
micropython-lib's ``tools/build.py`` writes for https://micropython.org/pi/v2::

    OUT/index.json                              every package, its versions
    OUT/package/<mpy>/<name>/<version>.json     compiled flavour (mip's default)
    OUT/package/<mpy>/<name>/latest.json
    OUT/package/py/<name>/<version>.json        source flavour (mip --no-mpy)
    OUT/package/py/<name>/latest.json
    OUT/file/<h[:2]>/<h>                        file contents, named by hash

``<mpy>`` is the bytecode version of the ``.mpy`` files mpy-cross emits (byte 1
of their header); mip asks for ``sys.implementation._mpy & 0xff``, the same
number, so a device only ever gets bytecode it can load. ``<h>`` is the first
8 hex digits of the file's SHA-256 (mip compares that prefix with the file
already on the device to skip unchanged files; it does not re-check downloads,
so ``--verify`` checks an index before it is published). Each package json is
``{"v": 1, "hashes": [[install path, h], ...], "deps": [[name, version], ...],
"version": V}``: deps are by name, so mip fetches them from the same index.

Published versions are immutable: rebuilding into an existing OUT rewrites
``latest.json`` and ``index.json`` but refuses (exit 1, nothing written) to
change an existing ``<version>.json``; bump the package's ``version`` instead.
Rebuilding unchanged packages is a no-op.

Usage::

    python tools/build_index.py OUT [--root DIR] [--hash-length N]
    python tools/build_index.py --verify OUT

Serve OUT with any static web server (``python -m http.server``) and install
with ``mip.install("weblet-static", index="http://HOST:PORT")``.

The packages are read with ``tools/manifests.py`` and checked with
``tools/check_packages.py`` (the root ``package.json`` aside) before anything
is written.

Runs on CPython 3.9+ with the standard library and mpy-cross.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import check_packages
import manifests
import stage

HASH_LENGTH = 8
PACKAGE_FORMAT = 1
INDEX_FORMAT = 2
SOURCE_FLAVOUR = "py"


class BuildError(Exception):
    """The packages, the compiler or an existing index do not allow this build."""


class Built(NamedTuple):
    """What one build wrote: the mpy version and one ``(name, version)`` per package."""

    mpy_version: str
    packages: list
    files: int


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mpy_version_of(data: bytes, where: str) -> str:
    """The bytecode version in an ``.mpy`` header (``b"M"``, version, flags, ...)."""
    if len(data) < 4 or data[0:1] != b"M":
        raise BuildError("%s: not an .mpy file (header %r)" % (where, data[:4]))
    return str(data[1])


def dumps(obj: dict) -> str:
    """Minified JSON, as micropython-lib publishes it (small for a device to parse)."""
    return json.dumps(obj, separators=(",", ":")) + "\n"


def read_package_files(package: manifests.Package, mpy_cross: str, scratch: Path) -> tuple[list, list]:
    """The ``(install path, bytes)`` pairs of one package: compiled flavour, source flavour."""
    compiled, sources = [], []
    for dest, source in package.sources():
        data = source.read_bytes()
        sources.append((str(dest), data))
        if dest.suffix != ".py":
            compiled.append((str(dest), data))
            continue
        compiled_dest = manifests.output_path(dest, mpy=True)
        target = scratch / package.name / compiled_dest
        target.parent.mkdir(parents=True, exist_ok=True)
        stage.compile_mpy(stage.Entry(dest, source, package.manifest), target, mpy_cross)
        compiled.append((str(compiled_dest), target.read_bytes()))
    return compiled, sources


class Plan:
    """Everything a build writes, checked against OUT before anything is written."""

    def __init__(self, out: Path, hash_length: int):
        self.out = out
        self.hash_length = hash_length
        self.files: dict[str, bytes] = {}
        self.versioned: dict[Path, dict] = {}
        self.latest: dict[Path, dict] = {}

    def add_file(self, data: bytes, where: str) -> str:
        short = sha256_hex(data)[: self.hash_length]
        known = self.files.setdefault(short, data)
        if known != data:
            raise BuildError("hash prefix collision on %s (%s): use a longer --hash-length" % (where, short))
        return short

    def file_path(self, short: str) -> Path:
        return self.out / "file" / short[:2] / short

    def add_package(self, flavour: str, package: manifests.Package, files: list) -> None:
        hashes = [[path, self.add_file(data, "%s:%s" % (package.name, path))] for path, data in files]
        manifest = {"v": PACKAGE_FORMAT, "hashes": hashes, "version": package.version}
        if package.deps:
            manifest["deps"] = [list(dep) for dep in package.deps]
        folder = self.out / "package" / flavour / package.name
        self.versioned[folder / (package.version + ".json")] = manifest
        self.latest[folder / "latest.json"] = manifest

    def conflicts(self) -> list[str]:
        """Published version files and hashed files this build would change."""
        found = []
        for path, manifest in sorted(self.versioned.items()):
            if not path.exists():
                continue
            try:
                published = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                published = None
            if published != manifest:
                found.append(
                    "refusing to overwrite the published %s with different content: published versions are"
                    " immutable, bump \"version\" in the package's package.json" % path
                )
        for short, data in sorted(self.files.items()):
            path = self.file_path(short)
            if path.exists() and path.read_bytes() != data:
                found.append("%s exists with other content (hash prefix collision): use a longer --hash-length"
                             % path)
        return found

    def write(self) -> None:
        for short, data in self.files.items():
            path = self.file_path(short)
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        for path, manifest in list(self.versioned.items()) + list(self.latest.items()):
            path.parent.mkdir(parents=True, exist_ok=True)
            text = dumps(manifest)
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")


def update_index_json(out: Path, packages: list, flavours: tuple, root: Path) -> None:
    """Add this build's versions to ``OUT/index.json`` (the package list mip tools browse)."""
    path = out / "index.json"
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        index = {}
    entries = {entry.get("name"): entry for entry in index.get("packages", []) if isinstance(entry, dict)}
    for package in packages:
        entry = entries.setdefault(package.name, {"name": package.name})
        entry["version"] = package.version
        entry["author"] = package.data.get("author", "")
        entry["description"] = package.data.get("description", "")
        entry["license"] = package.data.get("license", "MIT")
        versions = entry.setdefault("versions", {})
        for flavour in flavours:
            known = versions.setdefault(flavour, [])
            if package.version not in known:
                known.append(package.version)
        entry["path"] = package.folder.resolve().relative_to(root.resolve()).as_posix()
    index = {"v": INDEX_FORMAT, "updated": int(time.time()),
             "packages": [entries[name] for name in sorted(entries)]}
    path.write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")


def build(out: str | Path, root: Path | None = None, hash_length: int = HASH_LENGTH) -> Built:
    """Build (or extend) the mip index in ``out`` from every package under ``root``.

    :param out: the index directory; created if missing, existing versions kept.
    :param root: repository root; defaults to the one holding this tool.
    :param hash_length: hex digits of SHA-256 naming each file (mip reads any length).
    :returns: the mpy version, the ``(name, version)`` pairs built, the file count.
    :raises BuildError: on an invalid package or a change to a published version.
    :raises stage.StageError: when mpy-cross is missing or fails.

    Example: ``build("build/index")`` then serve ``build/index`` over HTTP.
    """
    root = Path(root) if root is not None else manifests.REPO_ROOT
    out = Path(out)
    if not 4 <= hash_length <= 64:
        raise BuildError("hash_length must be between 4 and 64, not %r" % hash_length)
    problems = check_packages.problems(root, check_root=False)
    if problems:
        raise BuildError("invalid packages:\n  " + "\n  ".join(problems))
    packages, _ = manifests.load_packages(root)
    mpy_cross = stage.find_mpy_cross()
    plan = Plan(out, hash_length)
    mpy_versions = set()
    with tempfile.TemporaryDirectory(prefix="weblet-index-") as scratch:
        built = [(package,) + read_package_files(package, mpy_cross, Path(scratch)) for package in packages]
    for package, compiled, _ in built:
        mpy_versions.update(mpy_version_of(data, path) for path, data in compiled if path.endswith(".mpy"))
    if len(mpy_versions) != 1:
        raise BuildError("mpy-cross produced mpy versions %s; expected exactly one" % sorted(mpy_versions))
    mpy_version = mpy_versions.pop()
    for package, compiled, sources in built:
        plan.add_package(mpy_version, package, compiled)
        plan.add_package(SOURCE_FLAVOUR, package, sources)
    conflicts = plan.conflicts()
    if conflicts:
        raise BuildError("\n".join(conflicts))
    plan.write()
    update_index_json(out, packages, (mpy_version, SOURCE_FLAVOUR), root)
    return Built(mpy_version, [(package.name, package.version) for package in packages], len(plan.files))


def _verify_file(path: Path, out: Path, problems: list[str]) -> None:
    short = path.name
    if path.parent.name != short[:2]:
        problems.append("%s: a file named %s belongs in file/%s/" % (path, short, short[:2]))
    if not sha256_hex(path.read_bytes()).startswith(short):
        problems.append("%s: content does not match its hash (sha256 %s...)"
                        % (path, sha256_hex(path.read_bytes())[:16]))


def _verify_manifest(path: Path, out: Path, problems: list[str]) -> None:
    flavour = path.parent.parent.name
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append("%s: not valid JSON: %s" % (path, exc))
        return
    if not isinstance(manifest, dict) or not isinstance(manifest.get("hashes", []), list):
        problems.append("%s: not a mip package json" % path)
        return
    for item in manifest.get("hashes", []):
        if not manifests.is_pair(item):
            problems.append("%s: hashes entry %r is not [install path, hash]" % (path, item))
            continue
        target, short = item
        if (flavour == SOURCE_FLAVOUR) == target.endswith(".mpy"):
            problems.append("%s: %s does not belong in the %r flavour" % (path, target, flavour))
        if len(short) < 4 or not (out / "file" / short[:2] / short).is_file():
            problems.append("%s: %s needs file/%s/%s, which is missing" % (path, target, short[:2], short))
    for dep in manifest.get("deps", []):
        if not manifests.is_pair(dep):
            problems.append("%s: deps entry %r is not [name, version]" % (path, dep))
            continue
        name, version = dep
        if name.startswith(check_packages.URL_PREFIXES):
            continue
        wanted = out / "package" / flavour / name / ((version or "latest") + ".json")
        if not wanted.is_file():
            problems.append("%s: dependency %s %s is not in the index (%s)" % (path, name, version, wanted))


def verify(out: str | Path) -> list[str]:
    """Every problem in the index at ``out``: files not matching their hash, missing files or deps.

    mip trusts the index (it never re-hashes a download), so run this before
    publishing. Example: ``assert verify("build/index") == []``.
    """
    out = Path(out)
    problems: list[str] = []
    manifests = sorted((out / "package").glob("*/*/*.json"))
    if not manifests:
        problems.append("%s: no package/<flavour>/<name>/<version>.json found" % out)
    for path in sorted((out / "file").glob("*/*")):
        _verify_file(path, out, problems)
    for path in manifests:
        _verify_manifest(path, out, problems)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build a static mip index of every weblet package.")
    parser.add_argument("out", type=Path, help="index directory (created or extended)")
    parser.add_argument("--root", type=Path, default=manifests.REPO_ROOT,
                        help="repository root (default: %(default)s)")
    parser.add_argument("--hash-length", type=int, default=HASH_LENGTH,
                        help="hex digits of SHA-256 naming each file (default: %(default)s)")
    parser.add_argument("--verify", action="store_true", help="only check an existing index; write nothing")
    args = parser.parse_args(argv)
    if args.verify:
        problems = verify(args.out)
        for problem in problems:
            print("build_index: error: %s" % problem, file=sys.stderr)
        if not problems:
            print("build_index: %s is a consistent index" % args.out)
        return 1 if problems else 0
    try:
        built = build(args.out, args.root, args.hash_length)
    except (BuildError, manifests.ManifestError, stage.StageError) as exc:
        print("build_index: error: %s" % exc, file=sys.stderr)
        return 1
    names = ", ".join("%s %s" % pair for pair in built.packages)
    print("build_index: %d packages (%s), %d files, mpy v%s and py -> %s"
          % (len(built.packages), names, built.files, built.mpy_version, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
