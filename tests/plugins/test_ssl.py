"""weblet-ssl: HTTPS and WSS on both interpreters, HTTP beside it, faults, certificates.

Certificates are made at test time by tools/make_cert.py into a pytest tmp dir.
The client is Python's ``ssl`` (through http.client, raw sockets and the
``websockets`` package), verifying the server against the test certificate.
"""
import hashlib
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest

from conftest import (INTERPRETERS, ROOT, APPS, free_port, import_cost, micropython_version,
                      parallel_clients, raw_exchange, recv_until_close, run_apps_script, start_app,
                      status_of)

MAKE_CERT = os.path.join(ROOT, 'tools', 'make_cert.py')
HAVE_WEBSOCKETS_PLUGIN = os.path.exists(
    os.path.join(ROOT, 'plugins', 'websockets', 'weblet', 'websockets.py'))
TIMEOUT = 2  # the HTTPS apps' request_timeout, in seconds
BIG = 1024 * 1024


def require_ecdhe_rsa(interp):
    """Skip on a MicroPython whose mbedTLS has no ECDHE-RSA key exchange (1.22)."""
    if interp == 'micropython' and micropython_version() < (1, 24):
        pytest.skip('MicroPython %d.%d.%d builds mbedTLS without ECDHE-RSA (1.24 has it): an RSA '
                    "certificate gets only RSA key exchange, which Python's ssl refuses"
                    % micropython_version())


def make_cert(directory, name, *args):
    """Run tools/make_cert.py; returns the path prefix of the four files."""
    prefix = str(directory / name)
    subprocess.run([sys.executable, MAKE_CERT, '--out', prefix] + list(args),
                   check=True, capture_output=True, timeout=60)
    return prefix


@pytest.fixture(scope='module')
def certs(tmp_path_factory):
    """Certificate files: ``ec`` (default, for 127.0.0.1 and localhost), ``rsa``,
    ``expired`` and ``other`` (a different self-signed certificate)."""
    base = tmp_path_factory.mktemp('certs')
    return {
        'ec': make_cert(base, 'ec', '--host', 'localhost', '--ip', '127.0.0.1'),
        'rsa': make_cert(base, 'rsa', '--ip', '127.0.0.1', '--rsa'),
        'expired': make_cert(base, 'expired', '--ip', '127.0.0.1',
                             '--not-before', '2020-01-01', '--days', '30'),
        'other': make_cert(base, 'other', '--ip', '127.0.0.1'),
        'dir': base,
    }


@pytest.fixture(scope='module')
def www(tmp_path_factory):
    """A web root with a 1 MB file for weblet-static."""
    root = tmp_path_factory.mktemp('www')
    data = hashlib.sha256(b'seed').digest() * (BIG // 32)
    (root / 'big.bin').write_bytes(data)
    return str(root), hashlib.sha256(data).hexdigest()


def client_context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    return ctx


def https(app, cafile, timeout=20):
    return http.client.HTTPSConnection(app.host, app.port, timeout=timeout,
                                       context=client_context(cafile))


def get(app, cafile, path='/', headers=None):
    return get_on(https(app, cafile), path, headers)


def get_on(conn, path, headers=None):
    """GET ``path`` on the new connection ``conn``, then close it: ``(status, headers, body)``."""
    try:
        conn.request('GET', path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def start_tls(staged, interp, cert, *options, **kwargs):
    """The ssl_app over ``cert`` (a make_cert prefix); options are NAME=VALUE strings."""
    return start_app(staged, interp, 'ssl_app', 'cert=' + cert + '.crt', 'key=' + cert + '.key',
                     'timeout=%s' % TIMEOUT, *options, **kwargs)


@pytest.fixture(scope='module', params=INTERPRETERS)
def dual(request, staged, certs, www):
    """HTTPS (``app.port``) with HSTS and weblet-static, HTTP redirecting (``app.http_port``)."""
    http_port = free_port()
    app = start_tls(staged, request.param, certs['ec'], 'http=%d' % http_port, 'hsts=1',
                    'www=' + www[0])
    app.http_port = http_port
    yield app
    app.stop()


def still_serving(app, cafile):
    status, _, body = get(app, cafile)
    assert status == 200 and body == b'<h1>hi over tls</h1>', app.output()
    assert app.alive(), app.output()


# -- requests over TLS --------------------------------------------------------

@pytest.mark.releases
def test_get_over_https(dual, certs):
    status, headers, body = get(dual, certs['ec'] + '.crt', '/echo-request?a=1&b=%20')
    assert status == 200
    assert json.loads(body) == {'path': '/echo-request', 'query': 'a=1&b=%20',
                                'plain_http': False, 'same_app': True}


def test_hsts_header_on_https_responses(dual, certs):
    _, headers, _ = get(dual, certs['ec'] + '.crt')
    assert headers['Strict-Transport-Security'] == 'max-age=31536000'
    _, headers, _ = get(dual, certs['ec'] + '.crt', '/no-such-page')
    assert headers['Strict-Transport-Security'] == 'max-age=31536000'


def test_keep_alive_reuses_one_tls_connection(dual, certs):
    conn = https(dual, certs['ec'] + '.crt')
    try:
        sockets = set()
        for n in range(5):
            conn.request('GET', '/echo-request?n=%d' % n)
            resp = conn.getresponse()
            assert resp.status == 200
            assert json.loads(resp.read())['query'] == 'n=%d' % n
            sockets.add(id(conn.sock))
        assert len(sockets) == 1
        assert conn.sock.version() in ('TLSv1.2', 'TLSv1.3')
    finally:
        conn.close()


def test_one_megabyte_static_file(dual, certs, www):
    status, headers, body = get(dual, certs['ec'] + '.crt', '/static/big.bin')
    assert status == 200
    assert int(headers['Content-Length']) == BIG
    assert hashlib.sha256(body).hexdigest() == www[1]


def test_one_megabyte_streamed_body(dual, certs):
    status, headers, body = get(dual, certs['ec'] + '.crt', '/stream?n=1024')
    assert status == 200
    assert headers['Transfer-Encoding'] == 'chunked'
    assert body == b'0123456789abcdef' * 64 * 1024


def test_requests_from_several_clients_at_once(dual, certs):
    errors = []

    def client(index):
        try:
            for n in range(3):
                status, _, body = get(dual, certs['ec'] + '.crt', '/echo-request?c=%d' % index)
                if status != 200 or json.loads(body)['query'] != 'c=%d' % index:
                    errors.append((index, n, status, body[:80]))
        except (OSError, http.client.HTTPException) as e:
            errors.append((index, repr(e)))
    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [], dual.output()


@pytest.mark.releases
@pytest.mark.skipif(not HAVE_WEBSOCKETS_PLUGIN,
                    reason='needs the weblet-websockets plugin (plugins/websockets)')
def test_wss_echo(dual, certs):
    import asyncio
    from websockets.asyncio.client import connect

    async def talk():
        url = 'wss://127.0.0.1:%d/ws' % dual.port
        async with connect(url, ssl=client_context(certs['ec'] + '.crt'),
                           open_timeout=10, close_timeout=5) as ws:
            replies = []
            for message in ('hello', b'\x00\x01binary', 'x' * 5000):
                await ws.send(message)
                replies.append(await asyncio.wait_for(ws.recv(), 10))
            return replies
    assert asyncio.run(talk()) == ['hello', b'\x00\x01binary', 'x' * 5000]
    still_serving(dual, certs['ec'] + '.crt')


# -- HTTP beside HTTPS --------------------------------------------------------

def http_get(port, path, headers=None, host='127.0.0.1'):
    return get_on(http.client.HTTPConnection(host, port, timeout=10), path, headers)


def test_http_redirects_to_https_keeping_path_and_query(dual, certs):
    status, headers, body = http_get(dual.http_port, '/echo-request?x=1&y=a%20b')
    assert status == 301
    location = headers['Location']
    assert location == 'https://127.0.0.1:%d/echo-request?x=1&y=a%%20b' % dual.port
    assert 'Strict-Transport-Security' not in headers  # never over plain HTTP
    # Following it reaches the same resource over HTTPS.
    status, _, body = get(dual, certs['ec'] + '.crt', location.split(str(dual.port), 1)[1])
    assert status == 200
    assert json.loads(body)['query'] == 'x=1&y=a%20b'


def test_redirect_keeps_encoded_path_and_uses_host_name(dual):
    status, headers, _ = http_get(dual.http_port, '/a%20b/%C3%A9/?q=%2F',
                                  headers={'Host': 'thermostat.local:%d' % dual.http_port})
    assert status == 301
    assert headers['Location'] == ('https://thermostat.local:%d/a%%20b/%%C3%%A9/?q=%%2F'
                                   % dual.port)
    status, headers, _ = http_get(dual.http_port, '/x', headers={'Host': '[::1]:80'})
    assert headers['Location'] == 'https://[::1]:%d/x' % dual.port


def test_redirect_of_any_method_and_unknown_path(dual):
    conn = http.client.HTTPConnection('127.0.0.1', dual.http_port, timeout=10)
    try:
        conn.request('POST', '/nowhere?z=9', body=b'data')
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 301
        assert resp.getheader('Location') == 'https://127.0.0.1:%d/nowhere?z=9' % dual.port
        conn.request('GET', '/again')  # the redirect connection is kept alive
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 301
    finally:
        conn.close()


class Port:
    """Just enough of a RunningApp for raw_exchange: host and port."""

    def __init__(self, port):
        self.host = '127.0.0.1'
        self.port = port


def test_redirect_needs_a_good_host(dual):
    raw = raw_exchange(Port(dual.http_port), b'GET / HTTP/1.0\r\n\r\n')
    assert status_of(raw) == 400
    raw = raw_exchange(Port(dual.http_port),
                       b'GET / HTTP/1.1\r\nHost: evil.example/x"\r\nConnection: close\r\n\r\n')
    assert status_of(raw) == 400


def test_http_can_serve_the_app_instead_of_redirecting(run_app, interp, certs):
    http_port = free_port()
    app = run_app(interp, 'ssl_app', 'cert=%s.crt' % certs['ec'], 'key=%s.key' % certs['ec'],
                  'http=%d' % http_port, 'redirect=0', 'hsts=1')
    status, headers, body = http_get(http_port, '/echo-request?p=1')
    assert status == 200
    assert json.loads(body) == {'path': '/echo-request', 'query': 'p=1',
                                'plain_http': True, 'same_app': True}
    assert 'Strict-Transport-Security' not in headers
    status, headers, body = get(app, certs['ec'] + '.crt', '/echo-request')
    assert json.loads(body)['plain_http'] is False
    assert headers['Strict-Transport-Security'] == 'max-age=31536000'


def test_shutdown_stops_both_servers(run_app, interp, certs):
    http_port = free_port()
    app = run_app(interp, 'ssl_app', 'cert=%s.crt' % certs['ec'], 'key=%s.key' % certs['ec'],
                  'http=%d' % http_port)
    status, _, body = get(app, certs['ec'] + '.crt', '/shutdown')
    assert (status, body) == (200, b'bye')
    assert app.wait_exit(15) == 0, app.output()
    assert 'STOPPED' in app.output()
    for port in (app.port, http_port):
        with pytest.raises(OSError):
            socket.create_connection(('127.0.0.1', port), timeout=5).close()


# -- certificate and key formats ----------------------------------------------

@pytest.mark.parametrize('form', ['pem-files', 'der-files', 'pem-bytes', 'der-bytes', 'rsa-pem',
                                  'rsa-der-bytes'])
def test_certificate_and_key_forms(run_app, interp, certs, form):
    if form.startswith('rsa'):
        require_ecdhe_rsa(interp)
    prefix = certs['rsa' if form.startswith('rsa') else 'ec']
    ext = '.der' if 'der' in form else ''
    options = ['cert=%s.crt%s' % (prefix, ext), 'key=%s.key%s' % (prefix, ext)]
    if 'bytes' in form:
        options.append('as_bytes=1')
    app = run_app(interp, 'ssl_app', *options)
    status, _, body = get(app, prefix + '.crt')
    assert (status, body) == (200, b'<h1>hi over tls</h1>')


def test_pem_files_as_openssl_writes_them(run_app, interp, certs, tmp_path):
    """A traditional EC key file (EC PARAMETERS block, then EC PRIVATE KEY) and a CRLF chain."""
    from cryptography.hazmat.primitives import serialization
    with open(certs['ec'] + '.key', 'rb') as f:
        key = serialization.load_pem_private_key(f.read(), None)
    traditional = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption())
    params = b'-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n'
    (tmp_path / 'k.pem').write_bytes(params + traditional)
    with open(certs['ec'] + '.crt', 'rb') as f:
        cert = f.read()
    with open(certs['other'] + '.crt', 'rb') as f:
        extra = f.read()
    (tmp_path / 'c.pem').write_bytes((cert + extra).replace(b'\n', b'\r\n'))
    app = run_app(interp, 'ssl_app', 'cert=%s' % (tmp_path / 'c.pem'),
                  'key=%s' % (tmp_path / 'k.pem'))
    status, _, _ = get(app, certs['ec'] + '.crt')
    assert status == 200


def two_free_ports():
    ports = {free_port()}
    while len(ports) < 2:
        ports.add(free_port())
    return sorted(ports)


def startup_errors(staged, interp, tmp_path):
    """Run tests/apps/ssl_errors.py; returns its lines (one per bad case)."""
    out = run_apps_script(staged, interp, 'ssl_errors', tmp_path, *two_free_ports(), cwd=APPS)
    assert out.returncode == 0, out.stdout + out.stderr
    return dict(line.split(' ', 1) for line in out.stdout.splitlines())


def test_startup_errors_name_the_file(staged, interp, certs, tmp_path):
    for name in ('crt', 'key', 'crt.der', 'key.der'):
        with open(certs['ec'] + '.' + name, 'rb') as f:
            (tmp_path / ('good.' + name)).write_bytes(f.read())
    with open(certs['rsa'] + '.key', 'rb') as f:
        (tmp_path / 'rsa.key').write_bytes(f.read())
    errors = startup_errors(staged, interp, tmp_path)
    print('\n'.join('%s: %s' % item for item in errors.items()))
    assert errors['missing-cert'].startswith('OSError '), errors
    assert "cert='missing.crt'" in errors['missing-cert']
    assert "key='missing.key'" in errors['missing-key']
    assert errors['folder-as-cert'].startswith('OSError ') and "cert='folder'" in \
        errors['folder-as-cert']
    assert errors['key-as-cert'] == "ValueError TLS(cert='good.key'): not a PEM or DER certificate"
    assert errors['cert-as-key'] == "ValueError TLS(key='good.crt'): not a PEM or DER private key"
    assert errors['junk-cert'] == "ValueError TLS(cert='junk.txt'): not a PEM or DER certificate"
    assert errors['encrypted-key'] == ("ValueError TLS(key='enc.key'): the key is encrypted; "
                                       "give it unencrypted")
    # DER bytes that are no key: the message names the argument, never the bytes.
    assert errors['der-cert-as-key'].startswith('ValueError TLS(')
    assert 'key=<%d bytes>' % os.path.getsize(certs['ec'] + '.crt.der') in errors['der-cert-as-key']
    assert errors['bad-type'] == "TypeError TLS(cert=<class 'int'>): must be a file path or bytes"
    assert errors['empty-key'] == "TypeError TLS(key=b''): must be a file path or bytes"
    assert errors['bad-port'] == 'ValueError TLS.start(https_port=70000): must be a port number'
    assert errors['same-ports'] == ('ValueError TLS.start(http_port=8443): '
                                    'must differ from https_port')
    assert errors['bad-hsts'] == "ValueError TLS.start(hsts='yes'): must be True, False or seconds"
    assert errors['not-an-app'] == "TypeError TLS.start(app=None): must be a weblet App"
    assert errors['bad-cert-nothing-listens'] == 'listening: False'
    if interp == 'cpython':  # mbedTLS finds a wrong key only in the handshake
        assert errors['mismatch'].startswith("ValueError TLS(cert='good.crt', key='rsa.key'): ")
    assert errors['http-port-taken'] == 'https listening: False'
    assert errors['good'] == 'ok'


@pytest.mark.micropython
def test_import_heap_on_micropython(staged):
    """Heap that ``import weblet.tls`` adds to ``import weblet`` (.mpy files)."""
    cost = import_cost(staged, 'weblet.tls') - import_cost(staged, 'weblet')
    print('import weblet.tls: %d bytes of heap' % cost)
    assert cost < 9 * 1024


# -- faults do not stop the server ---------------------------------------------

def test_plain_http_on_the_tls_port(dual, certs):
    raw = raw_exchange(dual, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', timeout=TIMEOUT + 5)
    assert not raw.startswith(b'HTTP/1.1 200'), raw[:200]
    still_serving(dual, certs['ec'] + '.crt')


def client_hello():
    """The first bytes a real TLS client sends: its ClientHello record."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname='localhost')
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def test_client_that_stops_mid_handshake(dual, certs):
    hello = client_hello()
    for cut in (5, len(hello) // 2, len(hello)):
        with socket.create_connection((dual.host, dual.port), timeout=10) as sock:
            sock.sendall(hello[:cut])
            if cut == len(hello):
                sock.recv(100)  # the server's hello has begun: now vanish
    still_serving(dual, certs['ec'] + '.crt')


def handshake_garbage():
    """Bytes a broken or hostile client might send instead of a handshake."""
    import random
    rng = random.Random(19)
    hello = bytearray(client_hello())
    flipped = bytearray(hello)
    for _ in range(12):
        flipped[rng.randrange(5, len(flipped))] ^= 1 << rng.randrange(8)
    return [
        bytes(rng.getrandbits(8) for _ in range(600)),               # noise
        b'\x16\x03\x01\xff\xff' + bytes(200),                         # a record claiming 64 KB
        b'\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00',                  # a truncated ClientHello
        bytes(flipped),                                              # a ClientHello bit-flipped
        bytes(hello) * 2,                                            # two hellos at once
        b'\x80\x2e\x01\x00\x02\x00\x15' + bytes(40),                  # an SSLv2-style hello
        bytes(1000),                                                 # zeros
    ]


def test_handshake_garbage_is_refused_and_the_server_serves_on(dual, certs):
    for data in handshake_garbage():
        with socket.create_connection((dual.host, dual.port), timeout=10) as sock:
            sock.sendall(data)
            recv_until_close(sock, TIMEOUT + 4)  # an alert or nothing, then the close
    still_serving(dual, certs['ec'] + '.crt')
    assert dual.alive(), dual.output()


def test_handshake_that_never_finishes_is_bounded_by_the_request_timeout(dual, certs):
    hello = client_hello()
    with socket.create_connection((dual.host, dual.port), timeout=10) as stalled, \
            socket.create_connection((dual.host, dual.port), timeout=10) as silent:
        stalled.sendall(hello)  # then never answers the server's hello
        started = time.monotonic()
        # Meanwhile other clients are served.
        still_serving(dual, certs['ec'] + '.crt')
        for sock in (stalled, silent):  # the silent one never even says hello
            recv_until_close(sock, TIMEOUT + 4)
        assert time.monotonic() - started < TIMEOUT + 4
    still_serving(dual, certs['ec'] + '.crt')


def test_client_refusing_a_wrong_certificate(dual, certs):
    with pytest.raises(ssl.SSLCertVerificationError):
        get(dual, certs['other'] + '.crt')
    hostname_ctx = client_context(certs['ec'] + '.crt')
    with socket.create_connection((dual.host, dual.port), timeout=10) as sock:
        with pytest.raises(ssl.SSLCertVerificationError):
            hostname_ctx.wrap_socket(sock, server_hostname='not-this-device.example')
    still_serving(dual, certs['ec'] + '.crt')


def test_client_refusing_an_expired_certificate(run_app, interp, certs):
    app = run_app(interp, 'ssl_app', 'cert=%s.crt' % certs['expired'],
                  'key=%s.key' % certs['expired'], 'timeout=%s' % TIMEOUT)
    with pytest.raises(ssl.SSLCertVerificationError, match='expired'):
        get(app, certs['expired'] + '.crt')
    # A client that accepts it (as after a browser's warning) is served.
    ctx = ssl.create_default_context(cafile=certs['expired'] + '.crt')
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection(app.host, app.port, timeout=10, context=ctx)
    conn.request('GET', '/')
    assert conn.getresponse().read() == b'<h1>hi over tls</h1>'
    conn.close()
    assert app.alive(), app.output()


def open_fds(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


def wait_for_fds(app, most, timeout=5):
    """Wait until the server process has at most ``most`` open files; returns the count."""
    deadline = time.monotonic() + timeout
    count = open_fds(app.proc.pid)
    while count > most and time.monotonic() < deadline:
        time.sleep(0.05)  # polling an observable condition, with a deadline
        count = open_fds(app.proc.pid)
    return count


@pytest.mark.skipif(not os.path.isdir('/proc/self/fd'), reason='counts open files in /proc')
def test_failed_handshakes_leave_no_socket_open(run_app, interp, certs):
    """Each kind of failed handshake, ten times: the server's open files go back to before.

    On MicroPython mbedTLS leaves the TCP socket of a failed handshake open
    (weblet-ssl closes it); a leak here would end with the server out of sockets.
    """
    app = run_app(interp, 'ssl_app', 'cert=%s.crt' % certs['ec'], 'key=%s.key' % certs['ec'],
                  'timeout=%s' % TIMEOUT)
    cafile = certs['ec'] + '.crt'
    still_serving(app, cafile)
    baseline = wait_for_fds(app, 0, timeout=0)
    hello = client_hello()
    for _ in range(10):
        raw_exchange(app, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', timeout=TIMEOUT + 5)
        with socket.create_connection((app.host, app.port), timeout=10) as sock:
            sock.sendall(hello[:len(hello) // 2])
        with pytest.raises(ssl.SSLCertVerificationError):
            get(app, certs['other'] + '.crt')
    assert wait_for_fds(app, baseline) <= baseline, app.output()
    still_serving(app, cafile)


# -- memory on MicroPython ------------------------------------------------------

# The core's hello world passes in 71K with 4 keep-alive clients today; TLS adds its
# import (about 7 KB), the SSLContext (about 3.5 KB) and 0.5 KB per connection to
# MicroPython's heap. On the unix port mbedTLS's own buffers are on the C heap. This
# test passes at 82K.
TLS_HEAP = '88K'


def heap_in_use(conn):
    conn.request('GET', '/mem')
    resp = conn.getresponse()
    assert resp.status == 200
    return json.loads(resp.read())['alloc']


def resident_bytes(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    return 0


@pytest.mark.micropython
@pytest.mark.parametrize('kind', ['ec', 'rsa'])
def test_heap_per_idle_tls_connection_on_micropython(staged, certs, kind):
    """gc.mem_alloc() (and the process's resident memory) with 8 idle TLS keep-alive
    connections more than with one; printed for the docs."""
    if kind == 'rsa':
        require_ecdhe_rsa('micropython')
    n = 8
    app = start_app(staged, 'micropython', 'ssl_small', certs[kind] + '.crt',
                    certs[kind] + '.key', n + 2, mpy=True)
    cafile = certs[kind] + '.crt'
    try:
        probe = https(app, cafile)
        warm = https(app, cafile)  # one full connection first: lazy imports, first buffers
        warm.request('GET', '/')
        warm.getresponse().read()
        warm.close()
        before = heap_in_use(probe)
        rss_before = resident_bytes(app.proc.pid) if os.path.exists('/proc/self/status') else 0
        idle = []
        for _ in range(n):
            conn = https(app, cafile)
            conn.request('GET', '/')
            assert conn.getresponse().read() == b'<h1>hi</h1>'
            idle.append(conn)
        per = (heap_in_use(probe) - before) // n
        rss = (resident_bytes(app.proc.pid) - rss_before) // n if rss_before else 0
        print('weblet-ssl, %s key, per idle TLS keep-alive connection: %d bytes of MicroPython '
              'heap, %d bytes of process memory' % (kind, per, rss))
        for conn in idle + [probe]:
            conn.close()
        assert 0 < per < 4096, per
    finally:
        app.stop()


@pytest.mark.micropython
def test_tls_clients_in_a_small_heap(staged, certs):
    """Four keep-alive TLS clients, 50 requests each, with zero failures in a TLS_HEAP heap."""
    if micropython_version() < (1, 24):
        pytest.skip('MicroPython %d.%d.%d keeps its SSLContext on the heap: 39.8 KB (1.24: 3.1 KB), '
                    'which TLS_HEAP does not hold' % micropython_version())
    app = start_app(staged, 'micropython', 'ssl_small', certs['ec'] + '.crt',
                    certs['ec'] + '.key', heapsize=TLS_HEAP, mpy=True)
    cafile = certs['ec'] + '.crt'

    def work(conn, index):
        for n in range(50):
            conn.request('GET', '/')
            resp = conn.getresponse()
            if resp.status != 200 or resp.read() != b'<h1>hi</h1>':
                yield (index, n, resp.status)
    try:
        failures = parallel_clients(work, lambda: https(app, cafile))
        assert failures == [], app.output()
        assert app.alive(), app.output()
    finally:
        app.stop()


# -- tools/make_cert.py -----------------------------------------------------------

def test_make_cert_writes_pem_and_der_for_ec_and_rsa(certs):
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    import ipaddress
    for kind, key_type in (('ec', ec.EllipticCurvePrivateKey), ('rsa', rsa.RSAPrivateKey)):
        prefix = certs[kind]
        with open(prefix + '.crt', 'rb') as f:
            cert = x509.load_pem_x509_certificate(f.read())
        with open(prefix + '.crt.der', 'rb') as f:
            assert x509.load_der_x509_certificate(f.read()) == cert
        from cryptography.hazmat.primitives import serialization
        with open(prefix + '.key', 'rb') as f:
            key = serialization.load_pem_private_key(f.read(), None)
        with open(prefix + '.key.der', 'rb') as f:
            assert serialization.load_der_private_key(f.read(), None).private_numbers() == \
                key.private_numbers()
        assert isinstance(key, key_type)
        assert cert.public_key().public_numbers() == key.public_key().public_numbers()
        if kind == 'ec':
            assert key.curve.name == 'secp256r1'
        else:
            assert key.key_size == 2048
        assert os.stat(prefix + '.key').st_mode & 0o077 == 0
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert ipaddress.ip_address('127.0.0.1') in names.get_values_for_type(x509.IPAddress)
    names = x509.load_pem_x509_certificate(open(certs['ec'] + '.crt', 'rb').read()) \
        .extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ['localhost']


def test_make_cert_needs_a_name(tmp_path):
    out = subprocess.run([sys.executable, MAKE_CERT, '--out', str(tmp_path / 'x')],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert 'give at least one host name or IP address' in out.stderr
    assert not os.listdir(tmp_path)
