"""The portable unit test modules, run again on MicroPython, over the staged
``.py`` tree and over the ``.mpy`` tree.

Each run is ``micropython tests/unit/micropython/run.py MODULE``, with the
staged lib, tests/unit and the pytest stand-in in tests/unit/micropython on
MICROPYPATH. Every test module in tests/unit is portable unless it is named
in CPYTHON_ONLY.
"""
import glob
import os
import re
import subprocess

import pytest

from conftest import micropython_command

pytestmark = [pytest.mark.micropython, pytest.mark.releases]
UNIT = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(UNIT, 'micropython')
# Modules that need CPython: hypothesis, h11, ast and inspect, subprocesses.
CPYTHON_ONLY = ('test_on_micropython', 'test_properties', 'test_structure',
                'test_h11_differential')
PORTABLE = sorted(name for name in (os.path.basename(path)[:-3]
                                    for path in glob.glob(os.path.join(UNIT, 'test_*.py')))
                  if name not in CPYTHON_ONLY)


@pytest.mark.parametrize('kind', ['py', 'mpy'])
@pytest.mark.parametrize('module', PORTABLE)
def test_unit_module_on_micropython(staged, module, kind):
    path = ':'.join([staged[kind], UNIT, RUNNER, '.frozen'])
    env = dict(os.environ, MICROPYPATH=path)
    proc = subprocess.run([micropython_command(), os.path.join(RUNNER, 'run.py'), module],
                          env=env, cwd=UNIT, capture_output=True, text=True, timeout=120)
    output = proc.stdout + proc.stderr
    summary = re.search(r'^SUMMARY passed=(\d+) failed=(\d+)$', proc.stdout, re.M)
    assert summary, 'no SUMMARY line:\n' + output
    passed, failed = int(summary.group(1)), int(summary.group(2))
    failures = '\n'.join(line for line in output.splitlines() if not line.startswith('PASS '))
    assert (proc.returncode, failed) == (0, 0), failures
    assert passed > 0, output
