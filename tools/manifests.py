"""Find weblet's package folders and read their mip ``package.json`` manifests.

This is the one reader every tool shares (stage, check_packages, build_index,
footprint). A package folder is ``core/`` (package ``weblet``) or
``plugins/<folder>/`` (package ``weblet-<folder>``); its ``package.json`` is a
JSON object with:

- ``urls``: ``[install path, source path]`` pairs; both are relative POSIX
  paths, the source relative to the package.json's folder, and every source
  exists;
- ``deps``: ``[name, version]`` pairs;
- ``version``: a non-empty string.

It also writes each package's MicroPython freeze manifest (``manifest.py``,
next to its package.json) from its package.json: ``freeze_manifest``.

This module checks each package on its own and that no install path is
claimed by two packages. It does not check that deps name packages of this
repository at their versions, nor that the root ``package.json`` (the whole
stack in one install, deps only) is their union: ``check_packages.py`` does.
It stages, compiles, freezes and indexes nothing.

From Python: ``load_packages(root)`` reads every package and reports what
could not be read; ``valid_packages(root)`` returns them only when nothing at
all is wrong. Runs on CPython 3.9+ with the standard library only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath
from typing import NamedTuple

REPO_ROOT = Path(__file__).resolve().parent.parent
MANIFEST_PATTERNS = ("core/package.json", "plugins/*/package.json")
CORE_NAME = "weblet"
PLUGIN_PREFIX = "weblet-"
# mip reads urls, deps and version; tools/build_index.py copies the others into index.json.
KNOWN_KEYS = {"urls", "deps", "version", "description", "author", "license"}


class ManifestError(Exception):
    """A package.json, or a file it names, is not as the tools need."""


def is_pair(item: object) -> bool:
    """Whether ``item`` is a two-string list, the shape of a url and of a dep."""
    return isinstance(item, list) and len(item) == 2 and all(isinstance(part, str) for part in item)


def is_pairs(value: object) -> bool:
    """Whether ``value`` is a list of two-string lists (``urls``, ``deps``)."""
    return isinstance(value, list) and all(is_pair(item) for item in value)


def relative_path(text: str, manifest: Path) -> PurePosixPath:
    """Turn a path from ``manifest`` into a safe relative POSIX path.

    :raises ManifestError: for an empty, absolute, drive-letter or ``..`` path,
        which would install or read outside the package.
    """
    path = PurePosixPath(text)
    if not text or path.is_absolute() or ":" in text or ".." in path.parts:
        raise ManifestError("%s: %r must be a relative path inside the package" % (manifest, text))
    return path


def output_path(dest: PurePosixPath, mpy: bool) -> PurePosixPath:
    """Where install path ``dest`` lands: the ``.mpy`` name when ``.py`` files are compiled."""
    if mpy and dest.suffix == ".py":
        return dest.with_suffix(".mpy")
    return dest


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

    def locate(self, dest_text: str, source_text: str) -> tuple[PurePosixPath, Path]:
        """One url as ``(install path, source file)``; the source need not exist.

        :raises ManifestError: when either path is not a safe relative path.
        """
        dest = relative_path(dest_text, self.manifest)
        return dest, self.folder / relative_path(source_text, self.manifest)

    def check_source(self, source_text: str, source: Path) -> None:
        """Check that ``source``, located from ``source_text``, is a file.

        :raises ManifestError: when it is missing, naming ``source_text`` as the package.json has it.
        """
        if not source.is_file():
            raise ManifestError("%s: source %r does not exist (%s)" % (self.manifest, source_text, source))

    def sources(self) -> list[tuple[PurePosixPath, Path]]:
        """``(install path, source file)`` of every file the package installs, in ``urls`` order.

        :raises ManifestError: on a malformed ``urls``, an unsafe path or a missing source.
        """
        if not is_pairs(self.urls):
            raise ManifestError('%s: "urls" must be a list of [install path, source path] string pairs'
                                % self.manifest)
        files = []
        for dest_text, source_text in self.urls:
            dest, source = self.locate(dest_text, source_text)
            self.check_source(source_text, source)
            files.append((dest, source))
        return files


def find_manifests(root: Path) -> list[Path]:
    """The package.json of every package folder under ``root``, sorted (core first)."""
    found = set()
    for pattern in MANIFEST_PATTERNS:
        found.update(Path(root).glob(pattern))
    return sorted(found)


def root_package_json(root: Path) -> Path:
    """The root package.json: the whole stack in one install (deps only, no files)."""
    return Path(root) / "package.json"


def package_name(manifest: Path, root: Path) -> str:
    """The mip name of the package whose package.json is ``manifest``: ``weblet`` or ``weblet-<folder>``."""
    folder = manifest.parent.resolve()
    if folder == (Path(root) / "core").resolve():
        return CORE_NAME
    return PLUGIN_PREFIX + folder.name


def read_json(path: Path) -> dict:
    """Parse ``path`` as a JSON object.

    :raises ManifestError: when it cannot be read, is not JSON, or is not an object.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError("%s: cannot read: %s" % (path, exc)) from exc
    except json.JSONDecodeError as exc:
        raise ManifestError("%s: not valid JSON: %s" % (path, exc)) from exc
    if not isinstance(data, dict):
        raise ManifestError("%s: the top level must be a JSON object" % path)
    return data


def load_packages(root: Path | str | None = None) -> tuple[list[Package], list[str]]:
    """Read every package under ``root``, without checking their fields.

    :param root: repository root; defaults to the one holding this tool.
    :returns: the packages that could be read (core first, then plugins by
        name) and the problems: unreadable package.json files, a missing core.
        When there are no problems, the first package is the core.

    Example: ``packages, problems = load_packages()``.
    """
    root = Path(root) if root is not None else REPO_ROOT
    problems: list[str] = []
    packages = []
    for manifest in find_manifests(root):
        try:
            packages.append(Package(package_name(manifest, root), manifest, read_json(manifest)))
        except ManifestError as exc:
            problems.append(str(exc))
    core = root / "core" / "package.json"
    if not core.exists():  # an unreadable one is reported above
        problems.append("%s: the core package.json is missing" % core)
    packages.sort(key=lambda package: (package.name != CORE_NAME, package.name))
    return packages, problems


def package_problems(package: Package) -> list[str]:
    """Every problem of one package on its own: its fields, its paths, its sources."""
    where = package.manifest
    found = []
    version = package.data.get("version")
    if not isinstance(version, str) or not version:
        found.append('%s: "version" must be a non-empty string, not %r' % (where, version))
    if not is_pairs(package.deps):
        found.append('%s: "deps" must be a list of [name, version] string pairs' % where)
    unknown = sorted(set(package.data) - KNOWN_KEYS)
    if unknown:
        found.append("%s: unknown keys %s (known: %s)" % (where, ", ".join(unknown), ", ".join(sorted(KNOWN_KEYS))))
    if not is_pairs(package.urls):
        found.append('%s: "urls" must be a list of [install path, source path] string pairs' % where)
        return found
    if not package.urls:
        found.append('%s: "urls" is empty: the package installs nothing' % where)
    for dest_text, source_text in package.urls:
        try:
            _, source = package.locate(dest_text, source_text)
            package.check_source(source_text, source)
        except ManifestError as exc:
            found.append(str(exc))
    return found


def claim_problems(packages: list[Package]) -> list[str]:
    """Install paths that two packages claim, as ``.py`` or as the ``.mpy`` it compiles to.

    Urls that are malformed or unsafe are skipped: ``package_problems`` reports them.
    """
    found = []
    claimed: dict[PurePosixPath, Package] = {}
    for package in packages:
        if not is_pairs(package.urls):
            continue
        for dest_text, source_text in package.urls:
            try:
                dest, _ = package.locate(dest_text, source_text)
            except ManifestError:
                continue
            for path in dict.fromkeys((dest, output_path(dest, mpy=True))):  # one path when not .py
                owner = claimed.setdefault(path, package)
                if owner is not package:
                    found.append("%s is claimed by two packages: %s (%s) and %s (%s)"
                                 % (path, owner.name, owner.manifest, package.name, package.manifest))
    return found


def valid_packages(root: Path | str | None = None) -> list[Package]:
    """Every package under ``root`` (core first), when every one is valid on its own.

    :raises ManifestError: naming every problem ``load_packages``,
        ``package_problems`` and ``claim_problems`` find.

    Example: ``for dest, source in valid_packages()[0].sources(): ...``.
    """
    packages, found = load_packages(root)
    for package in packages:
        found.extend(package_problems(package))
    found.extend(claim_problems(packages))
    if found:
        raise ManifestError("invalid packages:\n  " + "\n  ".join(found))
    return packages


# --- freeze manifests ------------------------------------------------------------
#
# A firmware build freezes a package with ``include("<folder>/manifest.py")``.
# Semantics checked in MicroPython's tools/manifestfile.py (v1.22.2 to
# v1.29.0-preview alike): paths in a manifest are relative to the manifest's
# own folder; ``module(path, base_path=".")`` freezes the file
# ``base_path/path`` under the name ``path``, so ``module("weblet/static.py")``
# freezes it as module ``weblet.static``, exactly where mip installs it;
# ``include()`` of one file twice is a no-op, so every plugin can include the
# core's manifest. ``metadata()`` is left out on purpose: it belongs to the
# including manifest (include() does not open a new package as require()
# does), and a second call fails with "Duplicate call to metadata()". ``opt``
# is left at mpy-cross's default, as the .mpy files mip installs have it.

FREEZE_MANIFEST_NAME = "manifest.py"
ROOT_LABEL = "the whole weblet stack"


def freeze_manifest_path(package: Package) -> Path:
    """Where ``package``'s freeze manifest lives: ``manifest.py`` beside its package.json."""
    return package.folder / FREEZE_MANIFEST_NAME


def root_package(root: Path | str | None = None) -> Package:
    """The root package.json (the whole stack, deps only) as a ``Package`` named by ``ROOT_LABEL``.

    :raises ManifestError: when it cannot be read.
    """
    path = root_package_json(Path(root) if root is not None else REPO_ROOT)
    return Package(ROOT_LABEL, path, read_json(path))


def freeze_manifest(package: Package, packages: list[Package]) -> str:
    """The text of ``package``'s freeze manifest, made from its package.json alone.

    It ``include()``s the manifest of every package ``package`` depends on,
    then freezes each file at its install path with ``module()``.

    :param packages: the packages deps are looked up in (``load_packages()``).
    :raises ManifestError: when a dep is no package of ``packages``, a url is
        no ``.py`` file, or its source path does not end with its install path
        (``module()`` freezes a file under its path relative to ``base_path``).

    Example: ``freeze_manifest(core, [core])`` gives ``module("weblet/app.py")`` lines.
    """
    by_name = {other.name: other for other in packages}
    lines = [
        "# MicroPython freeze manifest of %s." % package.name,  # no version: a bump leaves it as it is
        "# Freezes each file where mip installs it; include() brings its deps. In a",
        '# firmware\'s manifest: include("<this folder>/manifest.py"). Generated from',
        "# package.json by `python tools/check_packages.py --fix`; do not edit.",
    ]
    for name, _ in package.deps:
        dep = by_name.get(name)
        if dep is None:
            raise ManifestError("%s: cannot freeze dep %r: it is no package of this repository"
                                % (package.manifest, name))
        relative = os.path.relpath(freeze_manifest_path(dep), package.folder)
        lines.append("include(%s)" % json.dumps(Path(relative).as_posix()))
    for dest_text, source_text in package.urls:
        dest, _ = package.locate(dest_text, source_text)
        source_path = PurePosixPath(source_text)
        if dest.suffix != ".py":
            raise ManifestError("%s: cannot freeze %r: only .py files can be frozen"
                                % (package.manifest, dest_text))
        base = source_path.parts[:len(source_path.parts) - len(dest.parts)]
        if source_path.parts[len(base):] != dest.parts:
            raise ManifestError("%s: cannot freeze %r from %r: the source path must end with the install path"
                                % (package.manifest, dest_text, source_text))
        if base:
            lines.append("module(%s, base_path=%s)" % (json.dumps(dest.as_posix()),
                                                      json.dumps(PurePosixPath(*base).as_posix())))
        else:
            lines.append("module(%s)" % json.dumps(dest.as_posix()))
    return "\n".join(lines) + "\n"
