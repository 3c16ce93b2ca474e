"""A smoke run of the benchmark harness (one tiny scenario), so bench/ cannot rot.

It asserts that every framework answered on both interpreters with no
errors; it asserts no speed (speed is reported by `make bench`, not tested).
"""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT


def test_benchmark_harness_smoke(tmp_path):
    if not shutil.which('wrk'):
        pytest.skip('wrk is missing: `make system-deps` installs it (as root; Debian package wrk)')
    out = tmp_path / 'smoke.md'
    subprocess.run([sys.executable, os.path.join(ROOT, 'bench', 'run.py'), '--smoke', str(out)],
                   check=True, timeout=300, cwd=ROOT)
    text = out.read_text()
    for interp in ('cpython', 'micropython'):
        section = text.split('## ' + interp)[1].split('##')[0]
        row = [line for line in section.splitlines() if line.startswith('| hello world')][0]
        cells = [c.strip() for c in row.strip('|').split('|')]
        assert 'errors' not in row and 'n/a' not in cells[1:4], row
        assert all(float(c.split()[0]) > 0 for c in cells[1:4]), row
