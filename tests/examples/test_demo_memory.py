"""The demo on the 32-bit unix port with weblet frozen in, as a device has it: its
page, assets, JSON API (a settings change behind Basic auth), status page and a
live WebSocket, served in DEMO_FROZEN_HEAP with no failure. DESIGN.md section 4
aims at 64 KB for the demo without TLS.
"""
import base64
import http.client
import subprocess

import pytest

from conftest import RunningApp, free_port, parallel_clients

import demo as demo_tool  # tools/demo.py

# The smallest heap it passes in: 52K every run (4 in 4; bench/run.py's helpers,
# 32-bit frozen; 56K before url_for and chunked coding left the modules every
# request loads); 56K leaves a margin for noise. The demo's own test runs on the
# 64-bit PyPI port in tools/demo.py's HEAP.
DEMO_FROZEN_HEAP = '56K'
AUTH = {'Authorization': 'Basic ' + base64.b64encode(b'admin:weblet').decode()}
GZIP = {'Accept-Encoding': 'gzip'}
CYCLE = (('GET', '/', GZIP, None), ('GET', '/app.css', GZIP, None), ('GET', '/app.js', GZIP, None),
         ('GET', '/api/readings', {}, None), ('GET', '/api/settings', {}, None),
         ('GET', '/status', {}, None),
         ('PUT', '/api/settings', dict(AUTH, **{'Content-Type': 'application/json'}),
          b'{"target": 21.5}'))


@pytest.mark.micropython
def test_demo_serves_in_a_small_heap_on_the_32bit_frozen_build(tmp_path, frozen):
    from websockets.sync.client import connect
    directory = str(tmp_path / 'device')
    _, env = demo_tool.prepare(directory)
    env['MICROPYPATH'] = '.frozen'  # the frozen packages, not the ones mip installed
    port = free_port()
    env['WEBLET_DEMO_PORT'] = str(port)
    proc = subprocess.Popen([frozen, '-X', 'heapsize=' + DEMO_FROZEN_HEAP, 'main.py'],
                            cwd=directory, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    app = RunningApp(proc, port, 'micropython')
    app.wait_ready()
    try:
        def work(conn, index):
            for n in range(70):
                method, path, headers, body = CYCLE[(n + index) % len(CYCLE)]
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 200 or not data:
                    yield (index, n, path, resp.status, data[:80])

        with connect('ws://127.0.0.1:%d/ws/live' % port, open_timeout=10, close_timeout=2,
                     ping_interval=None, compression=None) as ws:
            failures = parallel_clients(
                work, lambda: http.client.HTTPConnection('127.0.0.1', port, timeout=20))
            reading = ws.recv(timeout=5)
        assert failures == [], app.output()
        assert reading, 'no live reading over the WebSocket'
        assert app.alive() and 'Traceback' not in app.output(), app.output()
    finally:
        app.stop()
