"""Core + static + restapi + auth serving a page and its JSON API, the memory bench's
"page + API" app (tests/apps/api_small.py): what it answers on both interpreters, and
that it serves the bench's load in API_FROZEN_HEAP on the 32-bit frozen build, where
DESIGN.md section 4 budgets it at 32 KB.
"""
import base64
import http.client
import json
import os
import shutil

import pytest

from conftest import INTERPRETERS, ROOT, parallel_clients

# The smallest heap it serves 4 keep-alive clients x 125 requests in (the bench's load)
# is 32K (11 runs in 12; 31K 3 in 12). 34K leaves a margin for noise: at 33K one
# run failed once (a 503) while three MicroPython releases were tested at once.
API_FROZEN_HEAP = '34K'
AUTH = {'Authorization': 'Basic ' + base64.b64encode(b'admin:secret').decode()}
PAGE = os.path.join(ROOT, 'examples', 'device_ui', 'www', 'index.html')


@pytest.fixture(scope='module')
def www(tmp_path_factory):
    folder = tmp_path_factory.mktemp('www')
    shutil.copy(PAGE, str(folder))
    return str(folder)


def ask(app, method, path, headers=None, body=None, conn=None):
    own = conn is None
    conn = conn or http.client.HTTPConnection(app.host, app.port, timeout=20)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        if own:
            conn.close()


@pytest.mark.parametrize('interp', INTERPRETERS)
def test_page_and_api(run_app, www, interp):
    app = run_app(interp, 'api_small', www, listening=True)
    with open(PAGE, 'rb') as f:
        assert ask(app, 'GET', '/') == (200, f.read())
    assert ask(app, 'GET', '/api/items/1')[0] == 401
    assert ask(app, 'GET', '/api/items/1', AUTH) == (200, b'{"id": 1, "on": false}')
    put = ask(app, 'PUT', '/api/items/1', dict(AUTH, **{'Content-Type': 'application/json'}),
              b'{"on": true}')
    assert put[0] == 200 and json.loads(put[1]) == {'on': True}
    assert json.loads(ask(app, 'GET', '/api/items/1', AUTH)[1]) == {'on': True}


@pytest.mark.micropython
def test_page_and_api_in_a_small_heap_on_the_32bit_frozen_build(request, run_app, www):
    app = run_app('micropython', 'api_small', www, heapsize=API_FROZEN_HEAP,
                  firmware=request.getfixturevalue('frozen'), listening=True)
    cycle = (('GET', '/', {'Accept-Encoding': 'gzip'}, None),
             ('GET', '/api/items/1', AUTH, None),
             ('PUT', '/api/items/1', dict(AUTH, **{'Content-Type': 'application/json'}),
              b'{"on": true, "level": 40}'))

    def work(conn, index):
        for n in range(125):
            method, path, headers, body = cycle[n % len(cycle)]
            status, data = ask(app, method, path, headers, body, conn)
            if status != 200 or not data:
                yield (index, n, path, status, data[:80])
    assert parallel_clients(
        work, lambda: http.client.HTTPConnection(app.host, app.port, timeout=20)) == []
    assert app.alive(), app.output()
