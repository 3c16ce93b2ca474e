"""CPython users `pip install` the whole stack: the wheel holds the core and every plugin."""
import glob
import os
import subprocess
import sys
import zipfile

from conftest import ROOT


def test_wheel_holds_core_and_every_plugin_module(tmp_path):
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '-w', str(tmp_path),
                    ROOT], check=True, timeout=300, capture_output=True)
    wheel = glob.glob(str(tmp_path / 'weblet-*.whl'))[0]
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {'weblet/' + os.path.basename(p) for p in
                glob.glob(os.path.join(ROOT, 'core', 'weblet', '*.py'))
                + glob.glob(os.path.join(ROOT, 'plugins', '*', 'weblet', '*.py'))}
    assert expected <= names, expected - names
    target = tmp_path / 'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--target',
                    str(target), wheel], check=True, timeout=300, capture_output=True)
    probe = 'import weblet, weblet.auth, weblet.cors, weblet.restapi; print(weblet.__file__)'
    out = subprocess.run([sys.executable, '-c', probe], env=dict(os.environ, PYTHONPATH=str(target)),
                         capture_output=True, text=True, timeout=60, check=True, cwd=str(tmp_path))
    assert out.stdout.startswith(str(target))
