"""Build MicroPython unix ports the way devices have them (32-bit, weblet frozen), cached.

The PyPI unix port is a 64-bit build that loads ``.mpy`` code into the heap; a
board is 32-bit and keeps frozen code out of it. This tool builds unix ports
from the source tarballs in ``../shared/micropython`` (next to the repository;
the environment variable ``WEBLET_MICROPYTHON_SRC`` names another folder), with
the unix variant found there, and prints the binary's path. Builds:

- ``32bit-mpy``: 32-bit, the standard manifest (asyncio, mip, ssl frozen);
- ``32bit-frozen``: the same plus every weblet package frozen in, through
  the repository's ``manifest.py`` (it includes each package's own);
- ``64bit-frozen``: the 64-bit control with weblet frozen;
- ``32bit-frozen-bench``: ``32bit-frozen`` with Microdot frozen too (its
  modules that ``bench/run.py`` uses, from the ``microdot`` package of the
  Python running this tool: ``pip install -r requirements-bench.txt``), so
  that one binary gives both frameworks' frozen figures; a frozen module
  that is not imported costs no heap;
- ``v1.22.2``, ``v1.24.1``, ``v1.26.1``: 64-bit, the standard manifest, from
  ``older/`` (the tarballs' trees have the layout of the current one).

Each tarball is unpacked once into ``build/micropython/src-<source>/`` (and its
mpy-cross built there); each build goes to ``build/micropython/<BUILD_NAME>/``,
its binary is ``build/micropython/<BUILD_NAME>/micropython`` and the make
output ``build.log`` beside it. ``stamp.json`` there holds a hash of the inputs:

- base: the tarball's size and mtime, the variant's files, 32 or 64 bits,
  gcc's version, the make command; when it changes the build starts clean
  (make cannot see a changed ``mpconfigvariant.mk`` nor an older unpacked tree);
- frozen: the manifest text, and for frozen builds every package's
  manifest.py and every frozen ``.py`` file (Microdot's too, for the bench
  build); when only it changes, the build
  reuses the objects and recompiles only what is frozen (about 2 s; a clean
  build takes about 25 s, 30 s with unpacking and mpy-cross, on 2 cores).

A build whose stamp matches is reused as it is. Builds take a lock per build
and per source tree, so parallel callers wait rather than collide.

Usage::

    python tools/micropython_build.py BUILD_NAME   # prints the binary's path only
    python tools/micropython_build.py --all        # every build; skips those that cannot be built

Exit status: 0 built, 1 failed (see its build.log; or the packages' manifests
are stale), 2 something is missing (the tarball, gcc, 32-bit support, Microdot: the
one-line message says what and how to get it). ``--all`` skips a build that
cannot be made with that message and fails only when a build fails.

From Python: ``available(name) -> (ok, reason)`` and ``build(name) -> Path``;
``interpreter()`` is the binary the tests and tools run: ``$WEBLET_MICROPYTHON``
(a path, such as one ``build`` returned) when set, else the venv's
``micropython`` (the PyPI port), else the one on PATH.

Runs on CPython 3.9+ with the standard library, gcc and GNU make (Debian
``gcc-multilib libc6-dev-i386`` for 32-bit: ``make system-deps`` as root).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Iterator, NamedTuple

import check_packages
import manifests

SOURCE_ENV = "WEBLET_MICROPYTHON_SRC"
BINARY_ENV = "WEBLET_MICROPYTHON"  # the MicroPython tests and tools run, when set
DEFAULT_SOURCE_DIR = manifests.REPO_ROOT.parent / "shared" / "micropython"
BUILD_DIR = manifests.REPO_ROOT / "build" / "micropython"
JOBS = "-j2"  # the machines running this have 2 cores, shared with other builds and tests
LOCK_DIR = BUILD_DIR / "locks"
# The unpacked trees sit inside weblet's checkout: without a ceiling, the port's
# makeversionhdr.py finds weblet's git and names the build after weblet's commit
# ("MicroPython 6e6bc64-dirty") instead of its mpconfig.h version.
MAKE_ENV = {"GIT_CEILING_DIRECTORIES": str(BUILD_DIR)}
SYSTEM_DEPS_HINT = "run `make system-deps` as root"
# Microdot's modules that bench/run.py runs (the rest of its package is unused there).
MICRODOT_FILES = ("__init__.py", "microdot.py", "websocket.py", "helpers.py")

# The tarball of each source tree, relative to the source folder. Every tree
# unpacks to micropython/ with py, extmod, shared, mpy-cross, ports/unix,
# tools/manifestfile.py and lib/{mbedtls,micropython-lib}; REVISION names the
# commits. The older ones have the mip-cmdline and ssl packages too, so every
# build takes the standard manifest whole. v1.22.2's ssl.py wraps the built-in
# ussl where the later ones wrap tls.
TARBALLS = {
    "current": "micropython-unix-src.tar.xz",  # v1.29.0-preview, mbedTLS 3.6.6
    "v1.22.2": "older/micropython-v1.22.2-unix-src.tar.xz",
    "v1.24.1": "older/micropython-v1.24.1-unix-src.tar.xz",
    "v1.26.1": "older/micropython-v1.26.1-unix-src.tar.xz",
}
STANDARD_MANIFEST = (
    'include("$(MPY_DIR)/extmod/asyncio")',
    'require("mip-cmdline")',
    'require("ssl")',
)


class Build(NamedTuple):
    """What one build is made of."""

    source: str  # a key of TARBALLS
    bits: int  # 32 or 64
    frozen: bool  # weblet frozen in
    microdot: bool = False  # Microdot frozen in too, for bench/run.py


BUILDS = {
    "32bit-mpy": Build("current", 32, False),
    "32bit-frozen": Build("current", 32, True),
    "64bit-frozen": Build("current", 64, True),
    "32bit-frozen-bench": Build("current", 32, True, microdot=True),
    "v1.22.2": Build("v1.22.2", 64, False),
    "v1.24.1": Build("v1.24.1", 64, False),
    "v1.26.1": Build("v1.26.1", 64, False),
}


class Unavailable(Exception):
    """Something a build needs is missing from this machine; the message says how to get it."""


class BuildError(Exception):
    """A build failed, or the packages' freeze manifests are not as their package.json files."""


def log(message: str) -> None:
    """Progress goes to stderr: stdout carries the binary's path alone."""
    print("micropython_build: %s" % message, file=sys.stderr, flush=True)


def source_dir() -> Path:
    """The folder with the tarballs and ``variant/``: ``$WEBLET_MICROPYTHON_SRC`` or ``../shared/micropython``."""
    return Path(os.environ.get(SOURCE_ENV) or DEFAULT_SOURCE_DIR)


def interpreter() -> str | None:
    """The MicroPython binary to run: ``$WEBLET_MICROPYTHON`` when set (as it is, even
    if it does not exist: the caller says so), else ``micropython`` next to this
    Python (the venv's), else on PATH; ``None`` if there is none.

    Example: ``WEBLET_MICROPYTHON=$(python tools/micropython_build.py v1.22.2) make test``.
    """
    chosen = os.environ.get(BINARY_ENV)
    if chosen:
        return chosen
    local = Path(sys.executable).parent / "micropython"
    return str(local) if local.exists() else shutil.which("micropython")


def spec(build_name: str) -> Build:
    """The build called ``build_name``.

    :raises ValueError: for a name that is no build, naming the known ones.
    """
    if build_name not in BUILDS:
        raise ValueError("build_name=%r: unknown build (known: %s)" % (build_name, ", ".join(BUILDS)))
    return BUILDS[build_name]


@functools.lru_cache(maxsize=None)
def _toolchain_problem(bits: int) -> str:
    """Why this machine cannot compile a ``bits``-bit unix port, or ``""``."""
    for tool, package in (("gcc", "gcc"), ("make", "make")):
        if shutil.which(tool) is None:
            return "%s is missing: install the Debian package %s (apt-get install %s, as root)" % (
                tool, package, package)
    if bits == 32:
        with tempfile.TemporaryDirectory(prefix="weblet-m32-") as scratch:
            program = Path(scratch) / "probe.c"
            program.write_text("int main(void) { return 0; }\n")
            result = subprocess.run(["gcc", "-m32", str(program), "-o", str(Path(scratch) / "probe")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if result.returncode != 0:
            return ("32-bit support is missing (gcc -m32 cannot link): install the Debian packages "
                    "gcc-multilib libc6-dev-i386 (%s)" % SYSTEM_DEPS_HINT)
    return ""


def available(build_name: str) -> tuple[bool, str]:
    """Whether ``build_name`` can be built here: ``(True, "")`` or ``(False, what is missing and how to get it)``.

    Checks the tarball, the variant, gcc, make and, for 32-bit builds, that
    ``gcc -m32`` links a test program. Cheap after the first call.

    Example: ``ok, reason = available("32bit-frozen")``.
    """
    build_spec = spec(build_name)
    folder = source_dir()
    tarball = folder / TARBALLS[build_spec.source]
    if not tarball.is_file():
        return False, ("the MicroPython source tarball %s is missing: set %s to the folder holding it "
                       "(default %s)" % (tarball, SOURCE_ENV, DEFAULT_SOURCE_DIR))
    if not (folder / "variant" / "mpconfigvariant.mk").is_file():
        return False, "the unix variant %s is missing: set %s to the folder holding it" % (
            folder / "variant", SOURCE_ENV)
    if build_spec.microdot and _microdot_dir() is None:
        return False, ("Microdot is missing from %s: pip install -r requirements-bench.txt "
                       "(make bench does)" % sys.executable)
    problem = _toolchain_problem(build_spec.bits)
    return (not problem), problem


def _microdot_dir() -> Path | None:
    """The ``microdot`` package folder of the Python running this tool, or ``None``."""
    found = importlib.util.find_spec("microdot")
    return Path(found.origin).parent if found and found.origin else None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _make_env() -> dict:
    """The environment for MicroPython's make: ``MAKE_ENV``, without an outer make's flags and variables."""
    env = dict(os.environ)
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(name, None)
    env.update(MAKE_ENV)
    return env


def _run_make(args: list[str], cwd: Path, log_path: Path) -> None:
    """Run ``make ARGS`` in ``cwd``, appending its output to ``log_path``.

    :raises BuildError: when make fails, with the end of its output.
    """
    with open(log_path, "a") as output:
        output.write("$ make %s\n" % " ".join(args))
        output.flush()
        result = subprocess.run(["make"] + args, cwd=str(cwd), stdout=output, stderr=subprocess.STDOUT,
                                env=_make_env())
    if result.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-30:]
        raise BuildError("make %s failed (full output: %s):\n%s" % (" ".join(args), log_path, "\n".join(tail)))


def _tarball_identity(tarball: Path) -> dict:
    stat = tarball.stat()
    return {"tarball": str(tarball), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _source_tree(source: str) -> Path:
    """The unpacked ``micropython/`` of ``source`` with mpy-cross built; unpacked again when the tarball changed."""
    tarball = source_dir() / TARBALLS[source]
    home = BUILD_DIR / ("src-" + source)
    stamp = home / "unpacked.json"
    identity = _tarball_identity(tarball)
    with _locked(LOCK_DIR / ("src-%s" % source)):
        if not (stamp.is_file() and json.loads(stamp.read_text()) == identity):
            log("unpacking %s into %s" % (tarball, home))
            if home.exists():
                shutil.rmtree(home)
            BUILD_DIR.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix="src-%s." % source, dir=str(BUILD_DIR)))
            try:
                with tarfile.open(tarball) as archive:
                    if hasattr(tarfile, "data_filter"):  # Python 3.12+, and 3.9.17+ security releases
                        archive.extractall(scratch, filter="data")
                    else:
                        archive.extractall(scratch)
                (scratch / "unpacked.json").write_text(json.dumps(identity))
                scratch.chmod(0o755)  # mkdtemp makes it private
                scratch.rename(home)
            except BaseException:
                shutil.rmtree(scratch, ignore_errors=True)
                raise
        tree = home / "micropython"
        if not (tree / "mpy-cross" / "build" / "mpy-cross").is_file():  # linked last: absent until make succeeds
            log("building mpy-cross in %s" % tree)
            _run_make(["-C", "mpy-cross", JOBS], tree, home / "mpy-cross.log")
    return tree


def manifest_text(build_name: str) -> str:
    """The frozen manifest ``build_name`` is made with: the standard one, plus weblet when frozen."""
    build_spec = spec(build_name)
    lines = ["# Generated by tools/micropython_build.py for the build %s." % build_name]
    lines.extend(STANDARD_MANIFEST)
    if build_spec.frozen:
        root_manifest = manifests.REPO_ROOT / manifests.FREEZE_MANIFEST_NAME
        lines.append("include(%s)  # every weblet package, through each one's manifest.py"
                     % json.dumps(str(root_manifest)))
    if build_spec.microdot:
        lines.append("package(\"microdot\", files=%s, base_path=%s)" % (
            json.dumps(list(MICRODOT_FILES)), json.dumps(str(_microdot_dir().parent))))
    return "\n".join(lines) + "\n"


def _frozen_files() -> list[Path]:
    """Every file a frozen build reads from the repository: the manifests and the sources they freeze.

    :raises BuildError: when a package or a manifest.py is not as its package.json says.
    """
    problems = check_packages.problems()
    root_manifest = manifests.REPO_ROOT / manifests.FREEZE_MANIFEST_NAME
    if not root_manifest.exists():
        problems.append("%s is missing; run `%s`" % (root_manifest, check_packages.FIX_COMMAND))
    if problems:
        raise BuildError("cannot freeze weblet:\n  " + "\n  ".join(problems))
    files = [root_manifest]
    for package in manifests.valid_packages():
        files.append(manifests.freeze_manifest_path(package))
        files.extend(source for _, source in package.sources())
    return files


def _digest(parts: list) -> str:
    """A hash of JSON-able ``parts`` and the contents of the files among them (given as Paths)."""
    hasher = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            hasher.update(str(part).encode() + b"\0" + part.read_bytes() + b"\0")
        else:
            hasher.update(json.dumps(part, sort_keys=True).encode() + b"\0")
    return hasher.hexdigest()


def _make_args(build_spec: Build, out: Path) -> list[str]:
    """The make command line of the unix port; README: CC/LDFLAGS_EXTRA, since MICROPY_FORCE_32BIT is gone."""
    args = ["-C", "ports/unix", JOBS, "VARIANT_DIR=%s" % (source_dir() / "variant"), "BUILD=%s" % out,
            "FROZEN_MANIFEST=%s" % (out / "manifest.py")]
    if build_spec.bits == 32:
        args += ["CC=gcc -m32", "LDFLAGS_EXTRA=-m32"]
    return args


def _gcc_version() -> str:
    result = subprocess.run(["gcc", "-dumpfullversion", "-dumpversion"], stdout=subprocess.PIPE, text=True)
    return result.stdout.strip()


def build(build_name: str) -> Path:
    """Build ``build_name``, or reuse the cached build whose inputs are unchanged; return the binary.

    :raises ValueError: for an unknown build name.
    :raises Unavailable: when the tarball, gcc, make or 32-bit support is missing.
    :raises BuildError: when make fails or weblet's freeze manifests are stale.

    Example: ``subprocess.run([str(build("32bit-frozen")), "-c", "import weblet"])``.
    """
    build_spec = spec(build_name)
    ok, reason = available(build_name)
    if not ok:
        raise Unavailable("cannot build %s: %s" % (build_name, reason))
    out = BUILD_DIR / build_name
    binary = out / "micropython"
    stamp = out / "stamp.json"
    text = manifest_text(build_name)
    variant = sorted((source_dir() / "variant").iterdir())
    frozen_files = _frozen_files() if build_spec.frozen else []
    if build_spec.microdot:
        frozen_files += [_microdot_dir() / name for name in MICRODOT_FILES]
    tree = _source_tree(build_spec.source)
    args = _make_args(build_spec, out)
    wanted = {
        "base": _digest([_tarball_identity(source_dir() / TARBALLS[build_spec.source]), build_spec.bits,
                         _gcc_version(), args, MAKE_ENV] + variant),
        "frozen": _digest([text] + frozen_files),
    }
    with _locked(LOCK_DIR / build_name):
        recorded = json.loads(stamp.read_text()) if stamp.is_file() else {}
        if recorded == wanted and binary.is_file():
            log("%s is up to date" % build_name)
            return binary
        if recorded.get("base") != wanted["base"]:
            shutil.rmtree(out, ignore_errors=True)
            log("building %s from %s (clean, about 25 s; log: %s)" % (build_name, tree, out / "build.log"))
        else:
            # makemanifest regenerates frozen content only for inputs newer than
            # its output: a removed or reverted file would go unnoticed.
            shutil.rmtree(out / "frozen_mpy", ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                (out / "frozen_content.c").unlink()
            log("rebuilding %s: what is frozen changed (a few seconds; log: %s)" % (build_name, out / "build.log"))
        out.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            stamp.unlink()  # a failed build leaves no stamp behind
        (out / "manifest.py").write_text(text)
        (out / "build.log").write_text("")
        started = time.monotonic()
        _run_make(args, tree, out / "build.log")
        if not binary.is_file():
            raise BuildError("make succeeded but left no %s (see %s)" % (binary, out / "build.log"))
        stamp.write_text(json.dumps(wanted, indent=1) + "\n")
        log("built %s in %.0f s" % (build_name, time.monotonic() - started))
    return binary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build (or reuse) a MicroPython unix port; print its binary's path.")
    parser.add_argument("build_name", nargs="?", choices=list(BUILDS), help="the build to make")
    parser.add_argument("--all", action="store_true", help="make every build, skipping those that cannot be built")
    args = parser.parse_args(argv)
    if args.all == bool(args.build_name):
        parser.error("give one BUILD_NAME or --all")
    names = list(BUILDS) if args.all else [args.build_name]
    status = 0
    for name in names:
        try:
            print(build(name), flush=True)
        except Unavailable as exc:
            log(("skipped: %s" if args.all else "%s") % exc)
            status = status if args.all else 2
        except (BuildError, manifests.ManifestError) as exc:
            log("error: %s" % exc)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
