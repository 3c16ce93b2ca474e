"""weblet-auth over real sockets on both interpreters, and its tokens across them.

The server tests talk to tests/apps/auth_app.py with http.client (raw sockets
for malformed headers); the token and HMAC tests run tests/apps/auth_tool.py
under each interpreter with the staged lib.
"""
import base64
import hashlib
import hmac
import http.client
import json
import random
import time

import pytest

from conftest import (INTERPRETERS, parallel_clients, raw_exchange, run_apps_script, served,
                      status_of)

SECRET = 'test secret, 32 bytes long......'


srv = served('auth_app')


def basic(user, password):
    return 'Basic ' + base64.b64encode(('%s:%s' % (user, password)).encode()).decode()


def request(srv, path, authorization=None, method='GET', source=None, headers=None):
    """``(status, headers, body)``; ``source`` binds the client to another loopback address."""
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10,
                                      source_address=(source, 0) if source else None)
    headers = dict(headers or {})
    if authorization is not None:
        headers['Authorization'] = authorization
    try:
        conn.request(method, path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def user_of(srv, path, authorization=None):
    status, _, body = request(srv, path, authorization)
    assert status == 200, (status, body)
    return json.loads(body)['user']


def raw_status(srv, header_lines):
    """Status for GET /settings with raw header bytes (one connection, closed after)."""
    data = (b'GET /settings HTTP/1.1\r\nHost: x\r\n' + header_lines
            + b'Connection: close\r\n\r\n')
    return status_of(raw_exchange(srv, data))


# -- Basic ---------------------------------------------------------------------------

BASIC_CHALLENGE = 'Basic realm="device", charset="UTF-8"'


def test_basic_accepts_a_known_user_on_an_async_handler(srv):
    assert json.loads(request(srv, '/settings', basic('admin', 'secret'))[2]) == {
        'user': 'admin', 'url': '/settings'}


def test_basic_on_a_sync_handler_with_route_params_keeps_url_for(srv):
    status, _, body = request(srv, '/items/7', basic('admin', 'secret'), method='POST')
    assert (status, json.loads(body)) == (200, {'user': 'admin', 'n': 7, 'url': '/items/7'})
    assert request(srv, '/items/7', method='POST')[0] == 401


def test_basic_guards_a_streaming_handler(srv):
    status, _, body = request(srv, '/stream', basic('admin', 'secret'))
    assert (status, body) == (200, b'one;two;')
    assert request(srv, '/stream')[0] == 401


@pytest.mark.parametrize('authorization', [
    None, basic('admin', 'wrong'), basic('nobody', 'secret'), basic('Admin', 'secret'),
    basic('admin', 'secret '), basic('admin', ''), basic('', ''), 'Basic', 'Basic ',
    'Basic ***', 'Basic YWRtaW4=',                                   # 'admin', no colon
    'Basic ' + base64.b64encode(b'admin:secret').decode() + ' x',   # trailing junk
    'Basic YWRt aW46c2VjcmV0',                                       # space inside
    'Basic YWRtaW46c2Vj=cmV0',                                       # padding inside
    'Basic YWRtaW46c2VjcmV0Z',                                       # length 4n+1
    'Basic ' + base64.urlsafe_b64encode(b'url:???').decode(),       # base64url alphabet
    'Basic ' + base64.b64encode(b'\xff\xfe:secret').decode(),       # not UTF-8
    'Basic ' + base64.b64encode(b'admin:sec\x00ret').decode(),      # control character
    'Digest username="admin"', 'Bearer abc', 'Basicx YWRtaW46c2VjcmV0', 'admin:secret',
])
def test_basic_refuses_with_401_and_a_challenge(srv, authorization):
    status, headers, _ = request(srv, '/settings', authorization)
    assert status == 401
    assert headers.get_all('WWW-Authenticate') == [BASIC_CHALLENGE]


def test_basic_padding_mistakes_are_tolerated(srv):
    ok = base64.b64encode(b'admin:secret').decode()          # 'YWRtaW46c2VjcmV0' (no padding)
    for credentials in (ok, ok + '=', ok + '===='):
        assert user_of(srv, '/settings', 'Basic ' + credentials) == 'admin'
    padded = base64.b64encode(b'colon::').decode()           # 'Y29sb246Og=='
    for credentials in (padded, padded.rstrip('='), padded + '=', padded[:-1]):
        assert user_of(srv, '/settings', 'Basic ' + credentials) == 'colon'


def test_scheme_is_case_insensitive_and_spaces_after_it_are_allowed(srv):
    credentials = base64.b64encode(b'admin:secret').decode()
    for authorization in ('basic ' + credentials, 'BASIC ' + credentials,
                          'bAsIc   ' + credentials):
        assert user_of(srv, '/settings', authorization) == 'admin'


def test_passwords_with_colons_and_utf8_credentials(srv):
    assert user_of(srv, '/settings', basic('jürgen', 'pä:ss:wört')) == 'jürgen'
    assert request(srv, '/settings', basic('jürgen', 'pä'))[0] == 401
    assert user_of(srv, '/settings', basic('colon', ':')) == 'colon'
    assert user_of(srv, '/settings', 'Basic dXJsOj8/Pw==') == 'url'  # '/' in base64
    assert request(srv, '/settings', basic('colon', ''))[0] == 401
    # The same user name in Latin-1 is another user.
    latin1 = 'Basic ' + base64.b64encode('jürgen:pä:ss:wört'.encode('latin-1')).decode()
    assert request(srv, '/settings', latin1)[0] == 401


def test_garbled_headers_never_give_a_500(srv):
    for lines in (b'Authorization: Basic \xc3\xa9\xc3\xa9\r\n',   # UTF-8, not base64
                  b'Authorization:\r\n', b'Authorization: \t \r\n',
                  b'Authorization: Basic ' + b'QUFB' * 200 + b'\r\n',
                  b'Authorization: Basic YWRtaW46c2VjcmV0\r\n'
                  b'Authorization: Basic YWRtaW46c2VjcmV0\r\n',      # repeated: joined, refused
                  b'Authorization: Basic\tYWRtaW46c2VjcmV0\r\n'):
        assert raw_status(srv, lines) == 401, lines
    assert raw_status(srv, b'Authorization: Basic YWRtaW46c2VjcmV0\r\n') == 200


def test_async_verify_callback_and_its_user_object(srv):
    assert user_of(srv, '/custom', basic('dev', 'a:b')) == {'name': 'dev', 'role': 'developer'}
    for authorization in (basic('dev', 'a'), basic('false', 'x'), None):
        status, headers, _ = request(srv, '/custom', authorization)
        assert status == 401
        assert headers['WWW-Authenticate'] == 'Basic realm="weblet", charset="UTF-8"'


def test_check_in_a_handler(srv):
    assert user_of(srv, '/check') is None
    assert request(srv, '/check?private=1')[0] == 401
    assert user_of(srv, '/check?private=1', basic('admin', 'secret')) == 'admin'


def test_state_user_is_per_request(srv):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    try:
        conn.request('GET', '/settings', headers={'Authorization': basic('admin', 'secret')})
        assert conn.getresponse().read()
        conn.request('GET', '/public')  # same keep-alive connection, no credentials
        assert json.loads(conn.getresponse().read()) == {'user': None}
    finally:
        conn.close()


# -- Bearer and tokens ----------------------------------------------------------------

def test_bearer_with_a_sync_and_an_async_verify(srv):
    token = 'abc-DEF_123.~+/=='
    for path in ('/tokens', '/async-tokens'):
        assert user_of(srv, path, 'Bearer ' + token) == {'token': token}
        assert user_of(srv, path, 'bearer  ' + token) == {'token': token}


def test_bearer_challenges(srv):
    status, headers, _ = request(srv, '/tokens')
    assert (status, headers['WWW-Authenticate']) == (401, 'Bearer realm="weblet"')
    for authorization in ('Bearer nope', 'Bearer', 'Bearer ', 'Bearer a b', 'Bearer a=b',
                          'Bearer ===', 'Bearer ab\u00e9'.encode().decode('latin-1')):
        status, headers, _ = request(srv, '/tokens', authorization)
        assert status == 401, authorization
        assert headers['WWW-Authenticate'] == 'Bearer realm="weblet", error="invalid_token"'
    # A Basic header is no bearer token: no error code for it
    status, headers, _ = request(srv, '/tokens', basic('admin', 'secret'))
    assert (status, headers['WWW-Authenticate']) == (401, 'Bearer realm="weblet"')


@pytest.mark.releases
def test_login_then_use_the_signed_token_under_a_protected_prefix(srv):
    status, _, body = request(srv, '/login', basic('admin', 'secret'), method='POST')
    assert status == 200
    token = json.loads(body)['token']
    assert user_of(srv, '/api/status', 'Bearer ' + token) == {'user': 'admin'}
    assert user_of(srv, '/api', 'Bearer ' + token) == {'user': 'admin'}
    status, headers, _ = request(srv, '/api/status', 'Bearer ' + token[:-2] + 'xx')
    assert (status, headers['WWW-Authenticate']) == (
        401, 'Bearer realm="api", error="invalid_token"')
    status, headers, _ = request(srv, '/api/status')
    assert (status, headers['WWW-Authenticate']) == (401, 'Bearer realm="api"')


def test_protect_covers_the_prefix_only_and_also_unknown_paths(srv):
    assert request(srv, '/apiary')[0] == 200
    assert request(srv, '/public')[0] == 200
    assert request(srv, '/api/nothing-here')[0] == 401  # no hint of what exists
    assert request(srv, '/api/status', method='DELETE')[0] == 401


def test_protect_on_a_mounted_app_matches_the_full_path(srv):
    assert request(srv, '/dev/info')[0] == 200
    status, headers, _ = request(srv, '/dev/admin/reboot')
    assert (status, headers['WWW-Authenticate']) == (401, BASIC_CHALLENGE)
    assert user_of(srv, '/dev/admin/reboot', basic('admin', 'secret')) == 'admin'


def test_a_token_from_another_secret_or_tampered_is_refused(srv):
    other = TokenFormat('another secret of sufficient length')
    assert request(srv, '/api/status', 'Bearer ' + other.sign({'user': 'admin'}))[0] == 401
    good = TokenFormat(SECRET)
    token = good.sign({'user': 'admin'})
    assert user_of(srv, '/api/status', 'Bearer ' + token) == {'user': 'admin'}
    payload, expires, signature = token.split('.')
    longer = '.'.join([payload, str(int(expires) + 1000), signature])
    assert request(srv, '/api/status', 'Bearer ' + longer)[0] == 401
    expired = good.sign({'user': 'admin'}, expires=int(time.time()) - 1)
    assert request(srv, '/api/status', 'Bearer ' + expired)[0] == 401


# -- Both schemes ---------------------------------------------------------------------

def test_any_of_accepts_either_scheme(srv):
    assert user_of(srv, '/either', basic('admin', 'secret')) == 'admin'
    token = TokenFormat(SECRET).sign({'user': 'robot'})
    assert user_of(srv, '/either', 'Bearer ' + token) == {'user': 'robot'}


def test_any_of_challenges_with_both(srv):
    both = BASIC_CHALLENGE + ', Bearer realm="api"'
    for authorization, challenge in (
            (None, both), (basic('admin', 'no'), both), ('Digest x', both),
            ('Bearer bad', BASIC_CHALLENGE + ', Bearer realm="api", error="invalid_token"')):
        status, headers, _ = request(srv, '/either', authorization)
        assert (status, headers.get_all('WWW-Authenticate')) == (401, [challenge])


# -- The brake ------------------------------------------------------------------------

def test_brake_answers_429_after_three_failures_from_one_address(srv):
    me, other = '127.0.0.2', '127.0.0.3'
    assert request(srv, '/braked', basic('admin', 'secret'), source=me)[0] == 200
    assert request(srv, '/braked', source=me)[0] == 401          # no credentials: not counted
    for _ in range(3):
        assert request(srv, '/braked', basic('admin', 'guess'), source=me)[0] == 401
    for authorization in (basic('admin', 'secret'), basic('admin', 'guess'), None):
        status, headers, _ = request(srv, '/braked', authorization, source=me)
        assert status == 429
        assert 1 <= int(headers['Retry-After']) <= 61
    # Another address is not held back, nor are routes without the brake.
    assert user_of(srv, '/braked', basic('admin', 'secret'), ) == 'admin'
    assert request(srv, '/braked', basic('admin', 'secret'), source=other)[0] == 200
    assert request(srv, '/settings', basic('admin', 'secret'), source=me)[0] == 200
    # A brake shared with AnyOf holds the address back there too.
    assert request(srv, '/braked-either', basic('admin', 'secret'), source=me)[0] == 429


def test_brake_a_login_of_ones_own_buys_no_guesses_at_another(run_app, interp):
    # Issue 19 (a): a success clears no failure; failures count until their window passes.
    app = run_app(interp, 'auth_app')
    me, mine = '127.0.0.4', basic('jürgen', 'pä:ss:wört')
    for _ in range(2):
        assert request(app, '/braked', basic('admin', 'guess'), source=me)[0] == 401
        assert request(app, '/braked', mine, source=me)[0] == 200
    assert request(app, '/braked', basic('admin', 'guess'), source=me)[0] == 401  # the third
    for authorization in (mine, basic('admin', 'guess'), basic('admin', 'secret'), None):
        assert request(app, '/braked', authorization, source=me)[0] == 429
    # Token guesses between Basic logins, through a brake shared with AnyOf: the same.
    other = '127.0.0.5'
    for _ in range(2):
        assert request(app, '/braked-either', 'Bearer bad', source=other)[0] == 401
        assert request(app, '/braked-either', mine, source=other)[0] == 200
    assert request(app, '/braked-either', 'Bearer bad', source=other)[0] == 401
    assert request(app, '/braked-either', mine, source=other)[0] == 429
    assert request(app, '/braked', 'Bearer bad', source=other)[0] == 429


def test_brake_failures_from_other_addresses_never_unbrake_one(run_app, interp):
    # Issue 19 (b): a braked address outlives its brake in the table, whatever others do.
    app = run_app(interp, 'auth_app', '60', '4')  # window 60 s, 4 slots
    locked = '127.0.0.5'
    for _ in range(3):
        assert request(app, '/braked', basic('x', 'y'), source=locked)[0] == 401
    for n in range(10, 40):
        for _ in range(2):  # one failure fewer than the brake needs, from each
            status = request(app, '/braked', basic('x', 'y'), source='127.0.0.%d' % n)[0]
            assert status in (401, 429)
        status, headers, _ = request(app, '/braked', basic('admin', 'secret'), source=locked)
        assert status == 429 and 1 <= int(headers['Retry-After']) <= 61


def test_brake_full_table_keeps_every_failure_then_holds_back_unknown_addresses(
        run_app, interp):
    app = run_app(interp, 'auth_app', '60', '4')  # window 60 s, 4 slots, 3 failures
    wrong, right = basic('x', 'y'), basic('admin', 'secret')
    for n in range(10, 14):
        assert request(app, '/braked', wrong, source='127.0.0.%d' % n)[0] == 401
    # A full table without a braked slot turns no right login away.
    assert request(app, '/braked', right, source='127.0.0.20')[0] == 200
    # A new failing address takes the slot with the fewest failures, and its failures.
    assert request(app, '/braked', wrong, source='127.0.0.30')[0] == 401
    assert request(app, '/braked', wrong, source='127.0.0.30')[0] == 401
    assert request(app, '/braked', right, source='127.0.0.30')[0] == 429
    # Five addresses taking turns, two guesses each a turn: the table forgets no
    # failure, so together they get no more than 3 failures x 4 slots per window.
    guesses = 4 + 2
    for _ in range(10):
        for n in range(10, 15):
            for _ in range(2):
                status = request(app, '/braked', wrong, source='127.0.0.%d' % n)[0]
                assert status in (401, 429)
                guesses += status == 401
    assert guesses <= 3 * 4
    # Every slot braked: an address the table cannot hold waits for the first brake to end.
    status, headers, _ = request(app, '/braked', right, source='127.0.0.21')
    assert status == 429 and 1 <= int(headers['Retry-After']) <= 61
    assert request(app, '/public', source='127.0.0.21')[0] == 200  # only braked routes


def test_brake_lifts_after_its_window(run_app, interp):
    app = run_app(interp, 'auth_app', '1')
    for _ in range(3):
        assert request(app, '/braked', basic('admin', 'guess'))[0] == 401
    status, headers, _ = request(app, '/braked', basic('admin', 'secret'))
    assert status == 429 and headers['Retry-After'] in ('1', '2')
    deadline = time.monotonic() + 10
    while request(app, '/braked', basic('admin', 'secret'))[0] == 429:
        assert time.monotonic() < deadline, 'the brake did not lift'
        time.sleep(0.1)
    assert app.wait_output('braking')  # logged at WARN


# -- Memory ---------------------------------------------------------------------------

AUTH_HEAP = '100K'  # passes at 94K: HELLO_HEAP's app plus weblet.auth and its own app


@pytest.mark.micropython
def test_four_keepalive_clients_log_in_and_call_the_api_in_a_small_heap(run_app):
    app = run_app('micropython', 'auth_device', heapsize=AUTH_HEAP, mpy=True)

    def work(conn, index):
        conn.request('POST', '/login', headers={'Authorization': basic('admin', 'secret')})
        resp = conn.getresponse()
        token = json.loads(resp.read())['token']
        for n in range(40):
            path, authorization, expected = (
                ('/settings', basic('admin', 'secret'), 200),
                ('/api/led/%d' % n, 'Bearer ' + token, 200),
                ('/api/led/1', 'Bearer ' + token + 'x', 401))[n % 3]
            conn.request('GET', path, headers={'Authorization': authorization})
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != expected:
                yield (index, n, resp.status, body[:80])
    failures = parallel_clients(
        work, lambda: http.client.HTTPConnection(app.host, app.port, timeout=20))
    assert failures == [], app.output()
    assert app.alive(), app.output()


# -- Tokens and HMAC across interpreters ----------------------------------------------

class TokenFormat:
    """The documented token format, written independently with the standard library."""

    def __init__(self, secret):
        self.secret = secret.encode()

    def sign(self, payload, expires=None):
        if expires is None:
            expires = int(time.time()) + 60
        data = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b'=').decode()
        body = '%s.%d' % (data, expires)
        mac = hmac.new(self.secret, body.encode(), hashlib.sha256).digest()
        return body + '.' + base64.urlsafe_b64encode(mac).rstrip(b'=').decode()


def tool(staged, interp, *args, stdin=None):
    """Run tests/apps/auth_tool.py under ``interp``; its stdout, stripped."""
    out = run_apps_script(staged, interp, 'auth_tool', *args, input=stdin)
    assert out.returncode == 0, out.stderr + out.stdout
    return out.stdout.strip()


@pytest.mark.parametrize('signer,verifier', [(a, b) for a in INTERPRETERS for b in INTERPRETERS])
def test_tokens_verify_across_interpreters(staged, signer, verifier):
    payload = {'user': 'jürgen', 'roles': ['admin', 'ops'], 'n': 3, 'ok': True}
    token = tool(staged, signer, 'sign', SECRET, json.dumps(payload), '60')
    assert json.loads(tool(staged, verifier, 'verify', SECRET, token)) == payload
    assert json.loads(tool(staged, verifier, 'verify', 'x' + SECRET, token)) is None
    expected_expiry = time.time() + 60
    assert abs(int(token.split('.')[1]) - expected_expiry) < 30


@pytest.mark.parametrize('interp_name', INTERPRETERS)
def test_tokens_match_the_documented_format(staged, interp_name):
    fresh = TokenFormat(SECRET).sign(['any', 'json', 1])
    assert json.loads(tool(staged, interp_name, 'verify', SECRET, fresh)) == ['any', 'json', 1]
    expired = TokenFormat(SECRET).sign('old', expires=int(time.time()) - 2)
    assert json.loads(tool(staged, interp_name, 'verify', SECRET, expired)) is None
    for garbage in ('', '.', '..', 'a.b.c', fresh + '.', fresh.replace('.', '', 1),
                    '%s.%s' % tuple(fresh.split('.')[::2])):
        assert json.loads(tool(staged, interp_name, 'verify', SECRET, garbage)) is None


@pytest.mark.micropython  # both cases verify on MicroPython too
@pytest.mark.parametrize('interp_name', INTERPRETERS)
def test_a_device_whose_epoch_is_2000_signs_and_verifies_unix_times(staged, interp_name):
    token = tool(staged, interp_name, 'sign', SECRET, '{"user": "admin"}', '60', '--epoch2000')
    assert abs(int(token.split('.')[1]) - (time.time() + 60)) < 30
    for verifier in INTERPRETERS:
        assert json.loads(tool(staged, verifier, 'verify', SECRET, token)) == {'user': 'admin'}
    fresh = TokenFormat(SECRET).sign({'user': 'admin'})
    assert json.loads(tool(staged, interp_name, 'verify', SECRET, fresh, '--epoch2000')) == {
        'user': 'admin'}


@pytest.mark.parametrize('variant', ['micropython', 'cpython-without-hmac', 'cpython'])
def test_hmac_sha256_matches_the_standard_library(staged, variant):
    rng = random.Random(6)
    pairs = [(b'\x0b' * 20, b'Hi There'), (b'', b''), (b'k' * 64, b'block-sized key'),
             (b'k' * 65, b'longer key'), (b'\xaa' * 131, b'x' * 1000)]
    pairs += [(rng.randbytes(rng.randrange(0, 200)), rng.randbytes(rng.randrange(0, 300)))
              for _ in range(100)]
    stdin = json.dumps([[k.hex(), m.hex()] for k, m in pairs])
    args = ['hmac'] + (['--no-hmac'] if variant == 'cpython-without-hmac' else [])
    digests = json.loads(tool(staged, variant.split('-')[0], *args, stdin=stdin))
    assert digests[0] == 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'
    assert digests == [hmac.new(k, m, hashlib.sha256).hexdigest() for k, m in pairs]


@pytest.mark.parametrize('interp_name', INTERPRETERS)
def test_wrong_arguments_raise_errors_naming_them(staged, interp_name):
    lines = tool(staged, interp_name, 'errors').splitlines()
    assert 'no error' not in lines
    assert len(lines) == 26
    for line in lines:
        assert line.startswith(('ValueError: ', 'TypeError: ')), line
        assert '(' in line.split(': ', 1)[1], line  # names the argument: Name(arg=...)
    assert not [line for line in lines if 'secret' in line.lower() and 'TokenSigner' not in line]
