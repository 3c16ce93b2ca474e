"""Check every weblet mip package.json and keep the root package.json their union.

The packages are ``core/`` (named ``weblet``) and every ``plugins/<dir>/``
(named ``weblet-<dir>``); each holds a mip ``package.json`` with relative
``urls`` (``[install path, source path]``), ``deps`` and a ``version``. This
tool checks, and reports every problem at once:

- each package on its own, and that no install path is claimed by two
  packages (as ``.py`` or as ``.mpy``), with ``tools/manifests.py``, the reader
  every tool shares;
- ``deps`` name a package of this repository at its current version (or are a
  full URL), and every plugin depends on ``weblet``;
- the root ``package.json`` is the union of all packages: it depends on every
  package by name at its version (core first, then plugins by name) and lists
  no files of its own. ``mip install --index INDEX <root package.json URL>``
  thus installs the whole stack from an index, as ``.mpy`` files;
- every freeze manifest (``manifest.py`` beside a package.json, the root's
  too) is the one ``manifests.freeze_manifest`` makes from its package.json,
  and every manifest it includes exists. A package without a manifest.py is
  not a problem on its own (it cannot be frozen with include() yet); ``--fix``
  writes them all.

Usage::

    python tools/check_packages.py [--root DIR]        # check, exit 1 on problems
    python tools/check_packages.py --fix [--root DIR]  # rewrite the root and every manifest.py, then check

From Python: ``problems(root)`` returns the problems as strings,
``fix_root(root)`` rewrites the root package.json, ``fix_freeze_manifests(root)``
every manifest.py; ``manifests.load_packages(root)`` reads the packages.

Runs on CPython 3.9+ with the standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import manifests

URL_PREFIXES = ("http://", "https://", "github:", "gitlab:", "codeberg:")
FIX_COMMAND = "python tools/check_packages.py --fix"


def _check_deps(package: manifests.Package, versions: dict, problems: list[str]) -> None:
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
    core = manifests.CORE_NAME
    if package.name != core and core not in names:
        problems.append('%s: a plugin must depend on the core: add ["%s", "%s"] to "deps"'
                        % (package.manifest, core, versions.get(core, "VERSION")))


def root_manifest(packages: list[manifests.Package], version: str) -> dict:
    """The root package.json that installs every package: deps by name, core first."""
    return {"deps": [[package.name, package.version] for package in packages], "version": version}


def _root_version(current: dict | None, packages: list[manifests.Package]) -> str:
    version = (current or {}).get("version")
    if isinstance(version, str) and version:
        return version
    core = [package for package in packages if package.name == manifests.CORE_NAME]
    return core[0].version if core else "0.1.0"


def _check_root(root: Path, packages: list[manifests.Package], problems: list[str]) -> None:
    path = manifests.root_package_json(root)
    if not path.exists():
        problems.append("%s is missing; run `%s`" % (path, FIX_COMMAND))
        return
    try:
        current = manifests.read_json(path)
    except manifests.ManifestError as exc:
        problems.append(str(exc))
        return
    wanted = root_manifest(packages, _root_version(current, packages))
    if current == wanted:
        return
    have = {tuple(dep) for dep in current.get("deps", []) if manifests.is_pair(dep)}
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


def _freeze_manifests(root: Path, packages: list[manifests.Package], existing: bool,
                      problems: list[str]) -> list[tuple[manifests.Package, str]]:
    """``(package, manifest text)`` of every package and of the root.

    Packages with problems of their own are left out (those are reported
    already), and so is an unreadable root. With ``existing``, only packages
    that have a manifest.py; a manifest that cannot be made is added to
    ``problems``.
    """
    chosen = [package for package in packages if not manifests.package_problems(package)]
    try:
        chosen.append(manifests.root_package(root))
    except manifests.ManifestError:
        pass  # _check_root reports it
    made = []
    for package in chosen:
        if existing and not manifests.freeze_manifest_path(package).exists():
            continue
        try:
            made.append((package, manifests.freeze_manifest(package, packages)))
        except manifests.ManifestError as exc:
            problems.append(str(exc))
    return made


def _check_freeze_manifests(root: Path, packages: list[manifests.Package], problems: list[str]) -> None:
    """Each existing manifest.py is made from its package.json, and what it includes exists."""
    by_name = {package.name: package for package in packages}
    for package, text in _freeze_manifests(root, packages, True, problems):
        path = manifests.freeze_manifest_path(package)
        if path.read_text(encoding="utf-8") != text:
            problems.append("%s does not match %s; run `%s`" % (path, package.manifest, FIX_COMMAND))
        for name, _ in package.deps:
            included = manifests.freeze_manifest_path(by_name[name])
            if not included.exists():
                problems.append("%s includes %s, which is missing; run `%s`" % (path, included, FIX_COMMAND))


def fix_freeze_manifests(root: Path | None = None) -> list[Path]:
    """Write the freeze manifest of every valid package and of the root; return those that changed."""
    root = Path(root) if root is not None else manifests.REPO_ROOT
    packages, _ = manifests.load_packages(root)
    changed = []
    for package, text in _freeze_manifests(root, packages, False, []):  # the check reports what is left out
        path = manifests.freeze_manifest_path(package)
        if not (path.exists() and path.read_text(encoding="utf-8") == text):
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def problems(root: Path | None = None, check_root: bool = True) -> list[str]:
    """Every problem with the packages under ``root`` (an empty list when all is well).

    :param root: repository root; defaults to the one holding this tool.
    :param check_root: also check that the root package.json is the union.

    Example: ``assert problems() == []``.
    """
    root = Path(root) if root is not None else manifests.REPO_ROOT
    packages, found = manifests.load_packages(root)
    for package in packages:
        found.extend(manifests.package_problems(package))
    found.extend(manifests.claim_problems(packages))
    versions = {package.name: package.version for package in packages}
    for package in packages:
        if manifests.is_pairs(package.deps):
            _check_deps(package, versions, found)
    if check_root:
        _check_root(root, packages, found)
    _check_freeze_manifests(root, packages, found)
    return found


def format_root(data: dict) -> str:
    """Serialise the root package.json in the repository's style (one dep per line)."""
    deps = ",\n".join("    " + json.dumps(dep) for dep in data["deps"])
    return '{\n  "deps": [\n%s\n  ],\n  "version": %s\n}\n' % (deps, json.dumps(data["version"]))


def fix_root(root: Path | None = None) -> bool:
    """Rewrite the root package.json as the union of all packages; True if it changed."""
    root = Path(root) if root is not None else manifests.REPO_ROOT
    packages, _ = manifests.load_packages(root)
    path = manifests.root_package_json(root)
    try:
        current = manifests.read_json(path)
    except manifests.ManifestError:
        current = None  # rewritten from the packages alone
    text = format_root(root_manifest(packages, _root_version(current, packages)))
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check every weblet package.json; --fix rewrites the root.")
    parser.add_argument("--fix", action="store_true",
                        help="first rewrite the root package.json as the union, and every manifest.py")
    parser.add_argument("--root", type=Path, default=manifests.REPO_ROOT,
                        help="repository root (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.fix:
        if fix_root(args.root):
            print("check_packages: rewrote %s" % manifests.root_package_json(args.root))
        for path in fix_freeze_manifests(args.root):
            print("check_packages: rewrote %s" % path)
    found = problems(args.root)
    if found:
        for problem in found:
            print("check_packages: error: %s" % problem, file=sys.stderr)
        return 1
    packages, _ = manifests.load_packages(args.root)
    print("check_packages: %d packages are valid: %s"
          % (len(packages), ", ".join("%s %s" % (p.name, p.version) for p in packages)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
