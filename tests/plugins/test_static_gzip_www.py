"""tools/gzip_www.py: gzip a web folder for flashing, then serve it with weblet-static."""
import gzip
import http.client
import os
import subprocess
import sys

import pytest

from conftest import ROOT

TOOL = os.path.join(ROOT, 'tools', 'gzip_www.py')
PAGE = b'<!DOCTYPE html><title>device</title>' + b'<p>hello from the device</p>\n' * 40
STYLE = b'body { margin: 0; padding: 0; color: #333; }\n' * 30
SCRIPT = b'function blink(pin) { return fetch("/api/led/" + pin); }\n' * 30
PNG = bytes(range(256)) * 4


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=60)


def put(path, data):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(str(path), 'wb') as f:
        f.write(data)


def read(path):
    with open(str(path), 'rb') as f:
        return f.read()


def files_under(folder):
    found = set()
    for base, _, files in os.walk(str(folder)):
        for name in files:
            found.add(os.path.relpath(os.path.join(base, name), str(folder)))
    return found


@pytest.fixture
def src(tmp_path):
    folder = tmp_path / 'www'
    put(folder / 'index.html', PAGE)
    put(folder / 'css' / 'style.css', STYLE)
    put(folder / 'js' / 'app.js', SCRIPT)
    put(folder / 'logo.png', PNG)
    put(folder / 'tiny.txt', b'ok')            # gzip would make it bigger
    put(folder / '.DS_Store', b'junk')
    put(folder / '.git' / 'config', b'junk')
    return folder


def test_mirror_ready_to_flash(src, tmp_path):
    dst = tmp_path / 'flash'
    result = run_tool(src, dst)
    assert result.returncode == 0, result.stderr
    assert files_under(dst) == {'index.html.gz', 'css/style.css.gz', 'js/app.js.gz',
                                'logo.png', 'tiny.txt'}
    assert gzip.decompress(read(dst / 'index.html.gz')) == PAGE
    assert gzip.decompress(read(dst / 'css' / 'style.css.gz')) == STYLE
    assert gzip.decompress(read(dst / 'js' / 'app.js.gz')) == SCRIPT
    assert read(dst / 'logo.png') == PNG and read(dst / 'tiny.txt') == b'ok'
    assert len(read(dst / 'index.html.gz')) < len(PAGE) // 5
    assert 'total: ' in result.stdout and 'skipped .DS_Store' in result.stdout


def test_output_is_reproducible(src, tmp_path):
    assert run_tool(src, tmp_path / 'one').returncode == 0
    assert run_tool(src, tmp_path / 'two').returncode == 0
    assert read(tmp_path / 'one' / 'index.html.gz') == read(tmp_path / 'two' / 'index.html.gz')


def test_keep_leaves_the_originals_too(src, tmp_path):
    dst = tmp_path / 'flash'
    assert run_tool(src, dst, '--keep').returncode == 0
    assert {'index.html', 'index.html.gz', 'logo.png'} <= files_under(dst)
    assert read(dst / 'index.html') == PAGE


def test_min_size(src, tmp_path):
    dst = tmp_path / 'flash'
    assert len(PAGE) < 1300 < len(STYLE)
    assert run_tool(src, dst, '--min-size', 1300).returncode == 0
    names = files_under(dst)
    assert 'index.html' in names and 'css/style.css.gz' in names


def test_in_place_adds_gz_twins_and_is_idempotent(src):
    assert run_tool(src).returncode == 0
    first = files_under(src)
    assert {'index.html', 'index.html.gz', 'js/app.js', 'js/app.js.gz'} <= first
    assert 'logo.png.gz' not in first and 'tiny.txt.gz' not in first
    assert run_tool(src).returncode == 0
    assert files_under(src) == first  # no .gz.gz
    assert gzip.decompress(read(src / 'index.html.gz')) == PAGE


@pytest.mark.parametrize('args', [
    ('{tmp}/missing',),
    ('{src}', '{src}/inside'),
    ('{src}', '{src}'),
    ('{src}', '{src}/index.html'),
    ('{src}', '--keep'),
])
def test_usage_errors(src, tmp_path, args):
    args = [a.format(tmp=tmp_path, src=src) for a in args]
    result = run_tool(*args)
    assert result.returncode == 2, result.stdout
    assert 'error:' in result.stderr


def test_flashed_folder_is_served_gzipped(src, tmp_path, run_app, interp):
    dst = tmp_path / 'flash'
    assert run_tool(src, dst).returncode == 0
    pub = tmp_path / 'pub'
    pub.mkdir()
    app = run_app(interp, 'static_app', str(dst), str(pub))
    conn = http.client.HTTPConnection(app.host, app.port, timeout=10)
    try:
        for path, accept in (('/', 'gzip'), ('/', None), ('/css/style.css', 'gzip')):
            conn.request('GET', path, headers={'Accept-Encoding': accept} if accept else {})
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200
            assert resp.getheader('Content-Encoding') == 'gzip'
            assert resp.getheader('Vary') == 'Accept-Encoding'
            assert gzip.decompress(body) == (PAGE if path == '/' else STYLE)
        conn.request('GET', '/logo.png')
        resp = conn.getresponse()
        assert (resp.status, resp.read(), resp.getheader('Content-Type')) == (
            200, PNG, 'image/png')
    finally:
        conn.close()
