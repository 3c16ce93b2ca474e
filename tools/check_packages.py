"""Check every weblet mip package.json and keep the root package.json their union.

The packages are ``core/`` (named ``weblet``) and every ``plugins/<dir>/``
(named ``weblet-<dir>``); each holds a mip ``package.json`` with relative
``urls`` (``[install path, source path]``), ``deps`` and a ``version``. This
tool checks, and reports every problem at once:

- each package.json is a JSON object with a non-empty string ``version``;
- ``urls`` are ``[install path, source path]`` pairs of safe relative paths and
  every source exists;
- no install path is claimed by two packages (as ``.py`` or as ``.mpy``);
- ``deps`` are ``[name, version]`` pairs naming a package of this repository at
  its current version (or a full URL), and every plugin depends on ``weblet``;
- the root ``package.json`` is the union of all packages: it depends on every
  package by name at its version (core first, then plugins by name) and lists
  no files of its own. ``mip install --index INDEX <root package.json URL>``
  thus installs the whole stack from an index, as ``.mpy`` files.

Usage::

    python tools/check_packages.py [--root DIR]        # check, exit 1 on problems
    python tools/check_packages.py --fix [--root DIR]  # rewrite the root, then check

From Python: ``problems(root)`` returns the problems as strings,
``load_packages(root)`` the packages, ``fix_root(root)`` rewrites the root.

Runs on CPython 3.9+ with the standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path, PurePosixPath
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stage  # noqa: E402  (tools/stage.py: the same path rules as staging)

REPO_ROOT = stage.REPO_ROOT
CORE_NAME = "weblet"
PLUGIN_PREFIX = "weblet-"
URL_PREFIXES = ("http://", "https://", "github:", "gitlab:", "codeberg:")
FIX_COMMAND = "python tools/check_packages.py --fix"
# mip reads urls, deps and version; tools/build_index.py copies the others into index.json.
KNOWN_KEYS = {"urls", "deps", "version", "description", "author", "license"}


class Package(NamedTuple):
    """One package folder: its mip name, its package.json path and contents."""

    name: str
    manifest: Path
    data: dict

    @property
    def folder(self) -> Path:
        return self.manifest.parent

    @property
    def version(self) -> str:
        return self.data.get("version", "")

    @property
    def urls(self) -> list:
        return self.data.get("urls", [])

    @property
    def deps(self) -> list:
        return self.data.get("deps", [])

    def sources(self) -> list[tuple[PurePosixPath, Path]]:
        """``(install path, source file)`` of every file; call only on a valid package."""
        return [(PurePosixPath(dest), self.folder / source) for dest, source in self.urls]


def package_name(manifest: Path, root: Path) -> str:
    """The mip name of the package whose package.json is ``manifest``."""
    folder = manifest.parent.resolve()
    if folder == (root / "core").resolve():
        return CORE_NAME
    return PLUGIN_PREFIX + folder.name


def _is_pair(item: object) -> bool:
    return isinstance(item, list) and len(item) == 2 and all(isinstance(part, str) for part in item)


def read_json(path: Path, problems: list[str]) -> dict | None:
    """Parse ``path`` as a JSON object, or append why not to ``problems``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append("%s: not valid JSON: %s" % (path, exc))
        return None
    if not isinstance(data, dict):
        problems.append("%s: the top level must be a JSON object" % path)
        return None
    return data


def load_packages(root: Path | None = None) -> tuple[list[Package], list[str]]:
    """Read every package under ``root``: the packages (core first) and the problems found."""
    root = Path(root) if root is not None else REPO_ROOT
    problems: list[str] = []
    packages = []
    for manifest in stage.find_manifests(root):
        data = read_json(manifest, problems)
        if data is not None:
            packages.append(Package(package_name(manifest, root), manifest, data))
    if not any(package.name == CORE_NAME for package in packages):
        problems.append("%s: the core package.json is missing" % (root / "core" / "package.json"))
    packages.sort(key=lambda package: (package.name != CORE_NAME, package.name))
    return packages, problems


def _check_fields(package: Package, problems: list[str]) -> bool:
    """Check the shape of one package.json; False when its files cannot be checked further."""
    where = package.manifest
    version = package.data.get("version")
    if not isinstance(version, str) or not version:
        problems.append('%s: "version" must be a non-empty string, not %r' % (where, version))
    urls_ok = isinstance(package.urls, list) and all(_is_pair(url) for url in package.urls)
    if not urls_ok:
        problems.append('%s: "urls" must be a list of [install path, source path] string pairs' % where)
    elif not package.urls:
        problems.append('%s: "urls" is empty: the package installs nothing' % where)
    if not isinstance(package.deps, list) or not all(_is_pair(dep) for dep in package.deps):
        problems.append('%s: "deps" must be a list of [name, version] string pairs' % where)
    unknown = sorted(set(package.data) - KNOWN_KEYS)
    if unknown:
        problems.append("%s: unknown keys %s (known: %s)" % (where, ", ".join(unknown), ", ".join(sorted(KNOWN_KEYS))))
    return urls_ok


def _check_sources(package: Package, claimed: dict, problems: list[str]) -> None:
    """Check every url of one package and record its install paths in ``claimed``."""
    for dest_text, source_text in package.urls:
        try:
            dest = stage.relative_path(dest_text, package.manifest)
            source = package.folder / stage.relative_path(source_text, package.manifest)
        except stage.StageError as exc:
            problems.append(str(exc))
            continue
        if not source.is_file():
            problems.append("%s: source %r does not exist (%s)" % (package.manifest, source_text, source))
        for path in {dest, stage.output_path(dest, mpy=True)}:
            owner = claimed.setdefault(path, package)
            if owner is not package:
                problems.append(
                    "%s is claimed by two packages: %s (%s) and %s (%s)"
                    % (path, owner.name, owner.manifest, package.name, package.manifest)
                )


def _check_deps(package: Package, versions: dict, problems: list[str]) -> None:
    """Deps name packages of this repository at their current version, or are URLs."""
    names = []
    for name, version in package.deps:
        if name.startswith(URL_PREFIXES):
            continue
        names.append(name)
        if name not in versions:
            problems.append(
                "%s: depends on %r, which is not a package of this repository (known: %s)"
                % (package.manifest, name, ", ".join(sorted(versions)))
            )
        elif version != versions[name]:
            problems.append(
                "%s: depends on %s %s, but %s is at version %s"
                % (package.manifest, name, version, name, versions[name])
            )
    if package.name != CORE_NAME and CORE_NAME not in names:
        problems.append('%s: a plugin must depend on the core: add ["%s", "%s"] to "deps"'
                        % (package.manifest, CORE_NAME, versions.get(CORE_NAME, "VERSION")))


def root_manifest(packages: list[Package], version: str) -> dict:
    """The root package.json that installs every package: deps by name, core first."""
    return {"deps": [[package.name, package.version] for package in packages], "version": version}


def _root_version(current: dict | None, packages: list[Package]) -> str:
    version = (current or {}).get("version")
    if isinstance(version, str) and version:
        return version
    core = [package for package in packages if package.name == CORE_NAME]
    return core[0].version if core else "0.1.0"


def _check_root(root: Path, packages: list[Package], problems: list[str]) -> None:
    path = root / "package.json"
    current = read_json(path, problems) if path.exists() else None
    if not path.exists():
        problems.append("%s is missing; run `%s`" % (path, FIX_COMMAND))
        return
    if current is None:
        return
    wanted = root_manifest(packages, _root_version(current, packages))
    if current == wanted:
        return
    have = {tuple(dep) for dep in current.get("deps", []) if _is_pair(dep)}
    want = {tuple(dep) for dep in wanted["deps"]}
    details = []
    missing = sorted(want - have)
    extra = sorted(have - want)
    if missing:
        details.append("missing deps: " + ", ".join("%s %s" % dep for dep in missing))
    if extra:
        details.append("deps that are no package of this version: " + ", ".join("%s %s" % dep for dep in extra))
    if set(current) - {"deps", "version"}:
        details.append("keys besides deps and version: " + ", ".join(sorted(set(current) - {"deps", "version"})))
    if not details:
        details.append("deps are not in the canonical order (core first, then plugins by name)")
    problems.append(
        "%s is stale: it must depend on every package (%s); run `%s`"
        % (path, "; ".join(details), FIX_COMMAND)
    )


def problems(root: Path | None = None, check_root: bool = True) -> list[str]:
    """Every problem with the packages under ``root`` (an empty list when all is well).

    :param root: repository root; defaults to the one holding this tool.
    :param check_root: also check that the root package.json is the union.

    Example: ``assert problems() == []``.
    """
    root = Path(root) if root is not None else REPO_ROOT
    packages, found = load_packages(root)
    claimed: dict = {}
    for package in packages:
        if _check_fields(package, found):
            _check_sources(package, claimed, found)
    versions = {package.name: package.version for package in packages}
    for package in packages:
        if isinstance(package.deps, list) and all(_is_pair(dep) for dep in package.deps):
            _check_deps(package, versions, found)
    if check_root:
        _check_root(root, packages, found)
    return found


def format_root(data: dict) -> str:
    """Serialise the root package.json in the repository's style (one dep per line)."""
    deps = ",\n".join("    " + json.dumps(dep) for dep in data["deps"])
    return '{\n  "deps": [\n%s\n  ],\n  "version": %s\n}\n' % (deps, json.dumps(data["version"]))


def fix_root(root: Path | None = None) -> bool:
    """Rewrite the root package.json as the union of all packages; True if it changed."""
    root = Path(root) if root is not None else REPO_ROOT
    packages, _ = load_packages(root)
    path = root / "package.json"
    current = None
    if path.exists():
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            current = None
    text = format_root(root_manifest(packages, _root_version(current if isinstance(current, dict) else None,
                                                             packages)))
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check every weblet package.json; --fix rewrites the root.")
    parser.add_argument("--fix", action="store_true", help="rewrite the root package.json as the union first")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.fix and fix_root(args.root):
        print("check_packages: rewrote %s" % (args.root / "package.json"))
    found = problems(args.root)
    if found:
        for problem in found:
            print("check_packages: error: %s" % problem, file=sys.stderr)
        return 1
    packages, _ = load_packages(args.root)
    print("check_packages: %d packages are valid: %s"
          % (len(packages), ", ".join("%s %s" % (p.name, p.version) for p in packages)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
