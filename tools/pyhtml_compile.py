"""Precompile a folder of ``.pyhtml`` templates into modules weblet-pyhtml loads as they are.

Each ``SRC_DIR/path/name.pyhtml`` becomes ``OUT_DIR/path/name_pyhtml.py`` (or
``.mpy`` with ``--mpy``, compiled by mpy-cross), the same Python a device
would generate, includes copied in. Copy OUT_DIR's files to the device's
templates folder (OUT_DIR may be SRC_DIR itself): ``Templates`` then imports
them and never loads the compiler. A template source that is newer than its
module is compiled again on the device.

Usage::

    python tools/pyhtml_compile.py SRC_DIR OUT_DIR [--mpy]

Exit status 1, with the template file and line, on a template error.
From Python: ``compile_folder(src, out, mpy=False)``. Runs on CPython 3.9+.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import stage  # tools/stage.py: finds mpy-cross
from manifests import REPO_ROOT

# The compiler is weblet-pyhtml's own, imported from the source tree (not a
# sibling tool), so the generated code is what a device would generate.
sys.path.insert(0, str(REPO_ROOT / 'core'))

import weblet  # noqa: E402

# weblet-pyhtml lives in its own package folder: make it part of the weblet package.
weblet.__path__.append(str(REPO_ROOT / 'plugins' / 'pyhtml' / 'weblet'))

from weblet.pyhtml import TemplateError, module_name, where  # noqa: E402
from weblet.pyhtml_compiler import to_python  # noqa: E402


def find_templates(src):
    """The ``.pyhtml`` files under ``src``, as sorted POSIX paths relative to it."""
    found = []
    for folder, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            if name.endswith('.pyhtml'):
                found.append(Path(folder, name).relative_to(src).as_posix())
    return found


def module_source(src, name):
    """The checked module source of template ``name`` under ``src``.

    :raises TemplateError: for a template or Python syntax error, naming the
        template file and line.
    """
    source, _, files, lines = to_python(name, str(src))
    try:
        compile(source, name, 'exec')
    except SyntaxError as exc:
        raise TemplateError('%s: %s: %s' % (where(exc, (name,), lines, files),
                                            type(exc).__name__, exc.msg)) from None
    return source


def compile_folder(src, out, mpy=False):
    """Write one module per template of ``src`` into ``out``; returns the paths written.

    :param src: the folder of ``.pyhtml`` templates.
    :param out: where the modules go, in the same sub-folders (created).
    :param mpy: write ``.mpy`` files (with mpy-cross) instead of ``.py``.
    :raises TemplateError: on a template error; nothing more is written.
    :raises ValueError: when two templates map to one module name.

    Example: ``compile_folder('templates', 'build/templates', mpy=True)``.
    """
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise ValueError('SRC_DIR %s is not a folder' % src)
    sources = {}
    for name in find_templates(src):
        folder, _, file_name = name.rpartition('/')
        module = (folder + '/' if folder else '') + module_name(file_name)
        if module in sources:
            raise ValueError('%s and %s both become module %s'
                             % (sources[module][0], name, module))
        sources[module] = (name, module_source(src, name))
    mpy_cross = stage.find_mpy_cross() if mpy else None
    written = []
    for module, (name, source) in sorted(sources.items()):
        target = out / (module + ('.mpy' if mpy else '.py'))
        target.parent.mkdir(parents=True, exist_ok=True)
        # A .py beside a .mpy of the same module would shadow it: keep one.
        other = target.with_suffix('.py' if mpy else '.mpy')
        if other.exists():
            other.unlink()
        if mpy:
            build_mpy(mpy_cross, name, source, target)
        else:
            target.write_text(source, encoding='utf-8')
        written.append(target)
    return written


def build_mpy(mpy_cross, name, source, target):
    """Compile ``source`` with mpy-cross; tracebacks on the device name the template."""
    with tempfile.TemporaryDirectory(prefix='pyhtml-') as scratch:
        py_file = Path(scratch, 'template.py')
        py_file.write_text(source, encoding='utf-8')
        result = subprocess.run([mpy_cross, '-o', str(target), '-s', name, str(py_file)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise TemplateError('%s: mpy-cross failed:\n%s' % (name, result.stdout.strip()))


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Precompile .pyhtml templates into modules weblet-pyhtml loads as they are.')
    parser.add_argument('src', metavar='SRC_DIR', help='folder of .pyhtml templates')
    parser.add_argument('out', metavar='OUT_DIR', help='where the modules go (may be SRC_DIR)')
    parser.add_argument('--mpy', action='store_true', help='write .mpy files with mpy-cross')
    args = parser.parse_args(argv)
    try:
        written = compile_folder(args.src, args.out, args.mpy)
    except (TemplateError, ValueError, OSError, stage.StageError) as exc:
        print('pyhtml_compile: error: %s' % exc, file=sys.stderr)
        return 1
    print('pyhtml_compile: %d templates -> %s' % (len(written), args.out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
