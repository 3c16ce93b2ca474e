"""weblet-static over real sockets on both interpreters (app: tests/apps/static_app.py)."""
import gzip
import hashlib
import http.client
import json
import os
import urllib.parse
from email.utils import formatdate

import pytest

from conftest import APPS, INTERPRETERS, raw_exchange, start_app, status_of

MTIME = 1700000000          # Tue, 14 Nov 2023 22:13:20 GMT
MTIME_TEXT = 'Tue, 14 Nov 2023 22:13:20 GMT'
RANGE_TEXT = b'0123456789abcdefghij'
JS = b'function hello() { return "hello from the plain file"; }\n' * 20
SECRET = b'TOPSECRET-OUTSIDE-THE-ROOT'
BIG_SIZE = 1024 * 1024


def write(path, data, mtime=MTIME):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    os.utime(path, (mtime, mtime))


def big_data():
    """1 MB that is not periodic with any small buffer size."""
    return b''.join(hashlib.sha256(b'%d' % i).digest() for i in range(BIG_SIZE // 32))


def make_site(base):
    """WWW (served at / and /nf/), PUB (at /pub/) and OUTSIDE (a secret beside them)."""
    www = os.path.join(base, 'www')
    pub = os.path.join(base, 'pub')
    outside = os.path.join(base, 'outside')
    write(os.path.join(outside, 'secret.txt'), SECRET)
    write(os.path.join(www, 'index.html'), b'<h1>home</h1>')
    write(os.path.join(www, 'data.csv'), b'a,b\n1,2\n')
    write(os.path.join(www, 'range.txt'), RANGE_TEXT)
    write(os.path.join(www, 'empty.txt'), b'')
    write(os.path.join(www, 'app.js'), JS)
    write(os.path.join(www, 'app.js.gz'), gzip.compress(JS, mtime=0), MTIME + 60)
    write(os.path.join(www, 'only.css.gz'), gzip.compress(b'body{color:red}', mtime=0))
    write(os.path.join(www, 'big.bin'), big_data())
    write(os.path.join(www, '.hidden'), SECRET)
    for ext in EXPECTED_TYPES:
        write(os.path.join(www, 'f' + ext), b'x')
    write(os.path.join(www, 'UPPER.PNG'), b'x')
    write(os.path.join(www, 'noext'), b'x')
    write(os.path.join(www, 'f.unknownext'), b'x')
    write(os.path.join(www, 'sub', 'default.htm'), b'default.htm')
    write(os.path.join(www, 'sub', 'default.html'), b'default.html')
    write(os.path.join(www, 'sub', 'deeper', 'index.htm'), b'deeper index.htm')
    os.makedirs(os.path.join(www, 'empty'))
    os.symlink(os.path.join(outside, 'secret.txt'), os.path.join(www, 'evil.txt'))
    os.symlink('../outside/secret.txt', os.path.join(www, 'evil-relative.txt'))
    os.symlink(outside, os.path.join(www, 'evildir'))
    os.symlink('index.html', os.path.join(www, 'inlink.html'))
    os.symlink('sub', os.path.join(www, 'sublink'))
    os.symlink(os.path.join(outside, 'secret.txt'), os.path.join(www, 'sub', 'index.html'))
    os.mkfifo(os.path.join(www, 'fifo.txt'))
    write(os.path.join(pub, '<b>&"x.txt'), b'odd name')
    write(os.path.join(pub, '\u00fc.txt'), b'u umlaut')
    write(os.path.join(pub, 'a dir', 'inner.txt'), b'inner')
    write(os.path.join(pub, '.secret'), SECRET)
    write(os.path.join(pub, 'z.js.gz'), gzip.compress(b'var z;', mtime=0))
    os.symlink(os.path.join(outside, 'secret.txt'), os.path.join(pub, 'link.txt'))
    return www, pub, outside


EXPECTED_TYPES = {
    '.txt': 'text/plain; charset=utf-8', '.htm': 'text/html; charset=utf-8',
    '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8',
    '.csv': 'text/csv; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
    '.mjs': 'text/javascript; charset=utf-8', '.xml': 'application/xml; charset=utf-8',
    '.xhtml': 'application/xhtml+xml; charset=utf-8',
    '.json': 'application/json; charset=utf-8', '.map': 'application/json; charset=utf-8',
    '.svg': 'image/svg+xml; charset=utf-8', '.zip': 'application/zip',
    '.pdf': 'application/pdf', '.ts': 'application/typescript', '.woff': 'font/woff',
    '.woff2': 'font/woff2', '.ttf': 'font/ttf', '.otf': 'font/otf', '.jpg': 'image/jpeg',
    '.jpeg': 'image/jpeg', '.png': 'image/png', '.gif': 'image/gif',
    '.ico': 'image/x-icon', '.wasm': 'application/wasm', '.webp': 'image/webp',
    '.mp3': 'audio/mpeg', '.mp4': 'video/mp4', '.gz': 'application/gzip',
    '.bin': 'application/octet-stream', '.tar': 'application/x-tar',
}


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    return make_site(str(tmp_path_factory.mktemp('static')))


@pytest.fixture(scope='module', params=INTERPRETERS)
def srv(request, staged, site):
    app = start_app(staged, request.param, 'static_app', site[0], site[1])
    yield app
    app.stop()


def fetch(srv, path, headers=None, method='GET', conn=None):
    """``(status, headers, body)``; headers is case-insensitive (an HTTPMessage)."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.msg, resp.read()
    finally:
        if own:
            conn.close()


def raw_get(srv, target, method='GET'):
    """The raw response to a request line sent byte for byte (no client-side cleaning)."""
    if isinstance(target, str):
        target = target.encode('utf-8')
    return raw_exchange(srv, method.encode() + b' ' + target
                        + b' HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')


# -- files, types, routes ---------------------------------------------------------


@pytest.mark.releases
def test_index_page_with_caching_headers(srv):
    status, headers, body = fetch(srv, '/')
    assert (status, body) == (200, b'<h1>home</h1>')
    assert headers['Content-Type'] == 'text/html; charset=utf-8'
    assert headers['Content-Length'] == str(len(body))
    assert headers['Cache-Control'] == 'max-age=86400'
    assert headers['Last-Modified'] == MTIME_TEXT
    assert headers['ETag'] == '"%x-%x"' % (MTIME, len(body))
    assert headers['Accept-Ranges'] == 'bytes'
    assert fetch(srv, '/index.html')[2] == body


def test_mime_table(srv):
    wrong = {}
    for ext, expected in EXPECTED_TYPES.items():
        status, headers, body = fetch(srv, '/f' + ext)
        if (status, headers['Content-Type'], body) != (200, expected, b'x'):
            wrong[ext] = (status, headers['Content-Type'])
    assert wrong == {}


@pytest.mark.parametrize('path, expected', [
    ('/UPPER.PNG', 'image/png'),
    ('/noext', 'application/octet-stream'),
    ('/f.unknownext', 'application/octet-stream'),
])
def test_case_and_unknown_types(srv, path, expected):
    status, headers, _ = fetch(srv, path)
    assert (status, headers['Content-Type']) == (200, expected)


def test_last_modified_matches_the_files_mtime(srv, site):
    path = os.path.join(site[0], 'data.csv')
    mtime = int(os.stat(path).st_mtime)
    assert fetch(srv, '/data.csv')[1]['Last-Modified'] == formatdate(mtime, usegmt=True)


def test_routes_still_answer_beside_files(srv):
    assert fetch(srv, '/api/ping')[2] == b'pong'
    assert fetch(srv, '/nothing-here')[0] == 404
    status, _, body = fetch(srv, '/index.html', method='POST')
    assert status == 404 and b'home' not in body


def test_empty_file(srv):
    status, headers, body = fetch(srv, '/empty.txt')
    assert (status, headers['Content-Length'], body) == (200, '0', b'')
    status, headers, _ = fetch(srv, '/empty.txt', {'Range': 'bytes=0-'})
    assert (status, headers['Content-Range']) == (416, 'bytes */0')


def test_fifo_is_not_served(srv):
    assert fetch(srv, '/fifo.txt')[0] == 404


# -- directories --------------------------------------------------------------------


def test_directory_serves_first_index_name(srv):
    assert fetch(srv, '/sub/deeper/')[2] == b'deeper index.htm'


def test_index_order_is_kept(srv):
    # sub/ holds a link index.html (never followed), default.html and default.htm.
    status, _, body = fetch(srv, '/sub/')
    assert (status, body) == (200, b'default.html')


@pytest.mark.parametrize('path, location', [
    ('/sub', 'sub/'), ('/sub/deeper', 'deeper/'), ('/pub', 'pub/'),
    ('/pub/a%20dir', 'a%20dir/'),
])
def test_directory_without_slash_redirects(srv, path, location):
    status, headers, _ = fetch(srv, path)
    assert (status, headers['Location']) == (301, location)


def test_directory_without_index_is_404(srv):
    assert fetch(srv, '/empty/')[0] == 404


def test_listing_is_html_escaped(srv):
    status, headers, body = fetch(srv, '/pub/')
    assert status == 200
    assert headers['Content-Type'] == 'text/html; charset=utf-8'
    text = body.decode()
    assert '<a href="%3Cb%3E%26%22x.txt">&lt;b&gt;&amp;&quot;x.txt</a>' in text
    assert '<a href="%C3%BC.txt">\u00fc.txt</a>' in text
    assert '<a href="a%20dir/">a dir/</a>' in text
    assert '<b>' not in text
    assert '.secret' not in text and 'link.txt' not in text
    assert fetch(srv, '/pub/%3Cb%3E%26%22x.txt')[2] == b'odd name'
    assert fetch(srv, '/pub/a%20dir/inner.txt')[2] == b'inner'


def test_listing_title_is_escaped(srv):
    status, _, body = fetch(srv, '/pub/a%20dir/')
    assert status == 200 and b'Index of /pub/a dir/' in body
    assert b'<a href="inner.txt">inner.txt</a>' in body


# -- caching --------------------------------------------------------------------------


def test_max_age_zero_is_no_cache(srv):
    assert fetch(srv, '/pub/a%20dir/inner.txt')[1]['Cache-Control'] == 'no-cache'


def test_if_none_match(srv):
    etag = fetch(srv, '/range.txt')[1]['ETag']
    for value in (etag, 'W/' + etag, '"other", ' + etag, '*'):
        status, headers, body = fetch(srv, '/range.txt', {'If-None-Match': value})
        assert (status, body) == (304, b''), value
        assert headers['ETag'] == etag and 'Content-Length' not in headers
        assert headers['Cache-Control'] == 'max-age=86400'
        assert headers['Last-Modified'] == MTIME_TEXT
    assert fetch(srv, '/range.txt', {'If-None-Match': '"other"'})[0] == 200


@pytest.mark.parametrize('since, status', [
    (MTIME_TEXT, 304),
    ('Tue, 14 Nov 2023 22:13:21 GMT', 304),
    ('Wed, 01 Jan 2025 00:00:00 GMT', 304),
    ('Tue, 14 Nov 2023 22:13:19 GMT', 200),
    ('Mon, 13 Nov 2023 23:59:59 GMT', 200),
    ('Sun, 14 Dec 2022 22:13:20 GMT', 200),
    ('not a date', 200),
    ('Tue, 14 Xyz 2023 22:13:20 GMT', 200),
])
def test_if_modified_since(srv, since, status):
    got, _, body = fetch(srv, '/range.txt', {'If-Modified-Since': since})
    assert got == status
    assert body == (b'' if status == 304 else RANGE_TEXT)


def test_if_none_match_wins_over_if_modified_since(srv):
    status, _, _ = fetch(srv, '/range.txt', {'If-None-Match': '"other"',
                                             'If-Modified-Since': MTIME_TEXT})
    assert status == 200


# -- pre-compressed files ------------------------------------------------------------


def test_gz_twin_served_to_gzip_clients(srv):
    status, headers, body = fetch(srv, '/app.js', {'Accept-Encoding': 'br, gzip, deflate'})
    assert status == 200
    assert headers['Content-Encoding'] == 'gzip'
    assert headers['Vary'] == 'Accept-Encoding'
    assert headers['Content-Type'] == 'text/javascript; charset=utf-8'
    assert gzip.decompress(body) == JS
    assert headers['Last-Modified'] == formatdate(MTIME + 60, usegmt=True)


def test_plain_file_for_other_clients_with_vary(srv):
    status, headers, body = fetch(srv, '/app.js')
    assert (status, body) == (200, JS)
    assert 'Content-Encoding' not in headers
    assert headers['Vary'] == 'Accept-Encoding'


def test_gz_and_plain_have_different_etags(srv):
    plain = fetch(srv, '/app.js')[1]['ETag']
    packed = fetch(srv, '/app.js', {'Accept-Encoding': 'gzip'})[1]['ETag']
    assert plain != packed
    assert fetch(srv, '/app.js', {'Accept-Encoding': 'gzip', 'If-None-Match': packed})[0] == 304
    assert fetch(srv, '/app.js', {'If-None-Match': packed})[0] == 200


def test_gz_only_file_is_served_to_everyone(srv):
    for headers in ({}, {'Accept-Encoding': 'gzip'}):
        status, got, body = fetch(srv, '/only.css', headers)
        assert status == 200
        assert got['Content-Encoding'] == 'gzip'
        assert got['Content-Type'] == 'text/css; charset=utf-8'
        assert gzip.decompress(body) == b'body{color:red}'


def test_gz_file_asked_for_by_name(srv):
    status, headers, body = fetch(srv, '/only.css.gz')
    assert (status, headers['Content-Type']) == (200, 'application/gzip')
    assert 'Content-Encoding' not in headers


def test_gzip_false_ignores_gz_files(srv):
    assert fetch(srv, '/pub/z.js', {'Accept-Encoding': 'gzip'})[0] == 404


# -- ranges ---------------------------------------------------------------------------


@pytest.mark.parametrize('spec, status, body, content_range', [
    ('bytes=0-9', 206, RANGE_TEXT[:10], 'bytes 0-9/20'),
    ('bytes=5-5', 206, b'5', 'bytes 5-5/20'),
    ('bytes=10-', 206, RANGE_TEXT[10:], 'bytes 10-19/20'),
    ('bytes=-5', 206, RANGE_TEXT[-5:], 'bytes 15-19/20'),
    ('bytes=-50', 206, RANGE_TEXT, 'bytes 0-19/20'),
    ('bytes=15-1000', 206, RANGE_TEXT[15:], 'bytes 15-19/20'),
    ('bytes=20-', 416, b'', 'bytes */20'),
    ('bytes=25-30', 416, b'', 'bytes */20'),
    ('bytes=-0', 416, b'', 'bytes */20'),
    ('bytes=0-1,5-6', 200, RANGE_TEXT, None),
    ('bytes=5-2', 200, RANGE_TEXT, None),
    ('bytes=x-y', 200, RANGE_TEXT, None),
    ('bytes=-', 200, RANGE_TEXT, None),
    ('items=0-1', 200, RANGE_TEXT, None),
    ('0-1', 200, RANGE_TEXT, None),
])
def test_ranges(srv, spec, status, body, content_range):
    got, headers, data = fetch(srv, '/range.txt', {'Range': spec})
    assert (got, data) == (status, body)
    assert headers['Content-Range'] == content_range
    if status != 416:
        assert headers['Content-Length'] == str(len(body))


def test_if_range(srv):
    headers = fetch(srv, '/range.txt')[1]
    for condition in (headers['ETag'], headers['Last-Modified']):
        assert fetch(srv, '/range.txt', {'Range': 'bytes=0-1', 'If-Range': condition})[0] == 206
    status, _, body = fetch(srv, '/range.txt', {'Range': 'bytes=0-1', 'If-Range': '"stale"'})
    assert (status, body) == (200, RANGE_TEXT)


def test_ranges_and_304_keep_the_connection_in_step(srv):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    try:
        etag = fetch(srv, '/range.txt', conn=conn)[1]['ETag']
        assert fetch(srv, '/range.txt', {'Range': 'bytes=3-4'}, conn=conn)[2] == b'34'
        assert fetch(srv, '/range.txt', {'If-None-Match': etag}, conn=conn)[0] == 304
        assert fetch(srv, '/range.txt', {'Range': 'bytes=99-'}, conn=conn)[0] == 416
        assert fetch(srv, '/range.txt', method='HEAD', conn=conn)[2] == b''
        assert fetch(srv, '/data.csv', conn=conn)[2] == b'a,b\n1,2\n'
    finally:
        conn.close()


def test_head_sends_headers_and_no_body(srv):
    raw = raw_exchange(srv, b'HEAD /range.txt HTTP/1.1\r\nHost: t\r\n\r\n'
                            b'GET /data.csv HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
    head, rest = raw.split(b'\r\n\r\n', 1)
    assert head.startswith(b'HTTP/1.1 200 ')
    assert b'Content-Length: 20' in head and b'ETag: ' in head
    assert rest.startswith(b'HTTP/1.1 200 ')  # no body between the two responses
    assert rest.endswith(b'a,b\n1,2\n')


# -- downloads -------------------------------------------------------------------------


@pytest.mark.parametrize('name, encoded', [
    (None, None),
    ('log.csv', None),
    ('re"port\\.csv', 're%22port%5C.csv'),
    ('r\u00e9sum\u00e9 1.csv', 'r%C3%A9sum%C3%A9%201.csv'),
    ('a\r\nSet-Cookie: x=1.csv', 'a%0D%0ASet-Cookie%3A%20x%3D1.csv'),
])
def test_send_file_attachment_name_is_escaped(srv, name, encoded):
    query = '?' + urllib.parse.urlencode({'name': name}) if name else ''
    if encoded:
        disposition = 'attachment; filename="%s"; filename*=UTF-8\'\'%s' % (encoded, encoded)
    else:
        disposition = 'attachment; filename="%s"' % (name or 'data.csv')
    status, headers, body = fetch(srv, '/download' + query)
    assert (status, body) == (200, b'a,b\n1,2\n')
    assert headers['Content-Disposition'] == disposition
    assert headers['Content-Type'] == 'text/csv; charset=utf-8'
    assert headers['Cache-Control'] == 'no-cache'
    assert 'Set-Cookie' not in headers


def test_send_file_caching_ranges_and_missing(srv):
    status, headers, body = fetch(srv, '/send/range.txt?max_age=60')
    assert (status, body, headers['Cache-Control']) == (200, RANGE_TEXT, 'max-age=60')
    assert fetch(srv, '/send/range.txt', {'If-None-Match': headers['ETag']})[0] == 304
    assert fetch(srv, '/send/range.txt', {'Range': 'bytes=-3'})[2] == b'hij'
    assert fetch(srv, '/send/no-such-file.txt')[0] == 404
    assert fetch(srv, '/send/sub')[0] == 404


def test_not_found_url_redirects_missing_files(srv):
    status, headers, _ = fetch(srv, '/nf/no-such-page')
    assert (status, headers['Location']) == (302, '/missing.html')
    assert fetch(srv, '/nf/data.csv')[2] == b'a,b\n1,2\n'
    assert fetch(srv, '/no-such-page')[0] == 404           # outside its prefix
    assert fetch(srv, '/nf/no-such-page', method='POST')[0] == 404


def test_wrong_arguments_name_the_argument(srv):
    errors = json.loads(fetch(srv, '/bad-args')[2])
    names = ['root', 'root', 'root', 'prefix', 'max_age', 'max_age', 'index', 'not_found_url',
             'add_mime_type', 'add_mime_type', 'add_mime_type', 'add_mime_type',
             'add_mime_type', 'path=5', 'max_age=-5', 'attachment=3']
    assert len(errors) == len(names)
    for name, error in zip(names, errors):
        assert name in error, errors


# -- security: nothing outside the root, ever ---------------------------------------


def traversal_targets(outside):
    secret = outside + '/secret.txt'
    return [
        '/../outside/secret.txt',
        '/sub/../../outside/secret.txt',
        '/%2e%2e/outside/secret.txt',
        '/%2E%2E%2Foutside%2Fsecret.txt',
        '/sub%2f..%2f..%2foutside%2fsecret.txt',
        '/..%5coutside%5csecret.txt',
        '/sub\\..\\..\\outside\\secret.txt',
        '/%5c..%5c..%5coutside%5csecret.txt',
        '/' + secret,                                   # //tmp/.../secret.txt
        '/' + urllib.parse.quote(secret, safe=''),      # /%2Ftmp%2F...
        '/' + urllib.parse.quote(secret, safe='') + '%00',
        '/nf/../outside/secret.txt',
        '/nf/%2e%2e/%2e%2e/outside/secret.txt',
        '/pub/..%2f..%2foutside%2fsecret.txt',
        '/pub/../outside/secret.txt',
        '/index.html%00/../../outside/secret.txt',
        '/evil.txt%00.html',
        '/%00',
        '/evil.txt',
        '/evil-relative.txt',
        '/evildir/secret.txt',
        '/evildir/',
        '/sub/index.html',
        '/pub/link.txt',
        '/nf/evil.txt',
        '/%252e%252e/outside/secret.txt',
        '/.%2e/outside/secret.txt',
        '/.hidden',
        '/pub/.secret',
        '/C:/secret.txt',
        '/' + 'a/' * 150 + 'x',
        '/' + 'b' * 300,
        '/' + '../' * 20 + 'outside/secret.txt',
        '/..',
        '/sub/..',
        '/%2e%2e',
        '/./index.html',
        '/sub/./default.html',
        'http://t/../outside/secret.txt',
        '/%01index.html',
    ]


def test_traversal_never_leaves_the_root(srv, site):
    leaks = {}
    for target in traversal_targets(site[2]):
        for method in ('GET', 'HEAD'):
            raw = raw_get(srv, target, method)
            status = status_of(raw)
            if target.startswith('/nf/') and status == 302:  # its not_found_url
                status = 404 if b'Location: /missing.html\r\n' in raw else status
            if status not in (400, 404) or SECRET in raw:
                leaks[(method, target)] = raw[:200]
    assert leaks == {}


@pytest.mark.parametrize('target', [
    '/../outside/secret.txt', '/%2e%2e/outside/secret.txt', '/sub%2f..%2f..%2foutside',
    '/..%5coutside%5csecret.txt', '/sub\\x', '/index.html%00', '/a:b', '/./index.html',
    '/' + 'c' * 256, '//etc/passwd', '/sub//default.html',
])
def test_bad_paths_are_400(srv, target):
    assert status_of(raw_get(srv, target)) == 400


@pytest.mark.parametrize('target', [
    '/evil.txt', '/evildir/secret.txt', '/inlink.html', '/sublink/default.html',
    '/%252e%252e/outside/secret.txt', '/' + 'd' * 255,
])
def test_links_and_odd_names_are_404(srv, target):
    assert status_of(raw_get(srv, target)) == 404


def test_root_is_resolved_once_at_start(run_app, interp, tmp_path):
    first = tmp_path / 'first'
    second = tmp_path / 'second'
    write(str(first / 'index.html'), b'first root')
    write(str(second / 'index.html'), b'second root')
    link = tmp_path / 'root'
    os.symlink(str(first), str(link))
    pub = tmp_path / 'pub'
    pub.mkdir()
    app = run_app(interp, 'static_app', str(link), str(pub))
    assert fetch(app, '/')[2] == b'first root'
    os.symlink(str(second), str(tmp_path / 'new-root'))
    os.replace(str(tmp_path / 'new-root'), str(link))
    assert os.path.realpath(str(link)) == str(second)
    assert fetch(app, '/')[2] == b'first root'


def test_relative_root(run_app, interp, site):
    www = os.path.relpath(site[0], APPS)  # the app's working directory is tests/apps
    app = run_app(interp, 'static_app', www, site[1])
    assert fetch(app, '/index.html')[2] == b'<h1>home</h1>'
    assert status_of(raw_get(app, '/../outside/secret.txt')) == 400


# -- memory -----------------------------------------------------------------------------


def check_big_download(app):
    expected = big_data()
    conn = http.client.HTTPConnection(app.host, app.port, timeout=60)
    try:
        for _ in range(2):
            status, headers, body = fetch(app, '/big.bin', conn=conn)
            assert (status, headers['Content-Length']) == (200, str(BIG_SIZE))
            assert hashlib.sha256(body).digest() == hashlib.sha256(expected).digest()
        status, _, body = fetch(app, '/big.bin', {'Range': 'bytes=500000-600000'}, conn=conn)
        assert (status, body) == (206, expected[500000:600001])
    finally:
        conn.close()


def test_one_megabyte_file_streams(srv):
    check_big_download(srv)


# On the PyPI port (64-bit, .mpy files) it passes at 84K today, 90K leaves a
# margin for noise. On the 32-bit build with weblet frozen in, as a device has it,
# it passes from 22K (before files shared one buffer, at 21K, 23K and from 25K,
# not at 22K or 24K, as the heap's layout shifted: a 512-byte block was then
# missing while the file streamed); 23K leaves a margin.
STATIC_PASSES = os.environ.get('WEBLET_STATIC_HEAP', '90K')
FROZEN_STATIC_PASSES = '23K'


@pytest.mark.parametrize('interp', INTERPRETERS)
def test_paths_of_many_characters_do_not_fill_the_heap(staged, site, interp):
    """MicroPython keeps every character a str is walked or indexed by, for good: a
    path checked that way grew the heap with each new character a client sent
    (this app's heap was full after about 230 of these requests, 900 characters,
    on the 64-bit port). 6,000 distinct characters must each get a 404, and the
    app serve on."""
    app = start_app(staged, interp, 'static_small', site[0],
                    heapsize=STATIC_PASSES if interp == 'micropython' else None,
                    mpy=interp == 'micropython')
    try:
        conn = http.client.HTTPConnection(app.host, app.port, timeout=10)
        statuses = set()
        for n in range(1500):
            name = ''.join(chr(0x4E00 + 4 * n + k) for k in range(4))
            statuses.add(fetch(app, '/' + urllib.parse.quote(name) + '.txt', conn=conn)[0])
        conn.close()
        assert statuses == {404}, app.output()
        assert fetch(app, '/')[2] == b'<h1>home</h1>'
    finally:
        app.stop()


@pytest.mark.micropython
@pytest.mark.parametrize('build', ['mpy', 'frozen'])
def test_one_megabyte_file_in_a_small_heap(request, run_app, site, build):
    """The app is Static alone (tests/apps/static_small.py), as on a device."""
    if build == 'frozen':
        app = run_app('micropython', 'static_small', site[0], heapsize=FROZEN_STATIC_PASSES,
                      firmware=request.getfixturevalue('frozen'))
    else:
        app = run_app('micropython', 'static_small', site[0], heapsize=STATIC_PASSES, mpy=True)
    check_big_download(app)
    for _ in range(3):
        assert fetch(app, '/')[2] == b'<h1>home</h1>'
    assert app.alive(), app.output()
