"""HTTP/1.1 wire format and its decisions, as pure functions.

Finding and parsing a request head under hard limits, :class:`Headers`,
:class:`HTTPError`, status lines, and the decisions the server then carries
out: whether a request wants its connection kept (:func:`wants_keep_alive`)
and how a response is framed (:func:`response_framing`). Nothing here does
I/O or imports the rest of weblet. Every malformed input becomes an
:class:`HTTPError` carrying the status the client should get; nothing else
escapes. Query strings, forms and cookies are in :mod:`weblet.forms`, and
chunked coding in :mod:`weblet.body`, loaded only by requests that use them.
"""

# One string rather than a dict: a fraction of the heap on a device.
_REASONS = (
    '\n100 Continue\n101 Switching Protocols\n200 OK\n201 Created\n202 Accepted'
    '\n204 No Content\n206 Partial Content\n301 Moved Permanently\n302 Found'
    '\n303 See Other\n304 Not Modified\n307 Temporary Redirect'
    '\n308 Permanent Redirect\n400 Bad Request\n401 Unauthorized\n403 Forbidden'
    '\n404 Not Found\n405 Method Not Allowed\n406 Not Acceptable'
    '\n408 Request Timeout\n409 Conflict\n410 Gone\n411 Length Required'
    '\n412 Precondition Failed\n413 Content Too Large\n414 URI Too Long'
    '\n415 Unsupported Media Type\n416 Range Not Satisfiable'
    '\n417 Expectation Failed\n418 I\'m a teapot\n422 Unprocessable Content\n426 Upgrade Required'
    '\n428 Precondition Required\n429 Too Many Requests'
    '\n431 Request Header Fields Too Large\n500 Internal Server Error'
    '\n501 Not Implemented\n502 Bad Gateway\n503 Service Unavailable'
    '\n504 Gateway Timeout\n505 HTTP Version Not Supported\n')

HEX_DIGITS = '0123456789abcdefABCDEF'  # percent-escapes and chunk sizes


def reason(status):
    """The standard reason phrase for ``status`` (``'Unknown'`` if none)."""
    if status == 200:  # most answers: spares a search of _REASONS (19K instructions)
        return 'OK'
    start = _REASONS.find('\n%d ' % status)
    if start < 0:
        return 'Unknown'
    return _REASONS[start + 5:_REASONS.find('\n', start + 1)]


class HTTPError(Exception):
    """An HTTP error answer: raise it anywhere in a request to reply with ``status``.

    :param status: the HTTP status code, e.g. ``404``.
    :param message: an optional short text for the response body; the
        status line's text is used when it is omitted.

    ``headers`` (a dict, default ``None``) adds response headers, as the
    router does with ``Allow`` on a 405.

    Example::

        if pin not in PINS:
            raise HTTPError(404, 'no such pin')
    """

    headers = None

    def __init__(self, status, message=None):
        super().__init__(status, message)
        self.status = status
        self.message = message

    def __str__(self):
        return '%d %s' % (self.status, self.message or reason(self.status))


# Bytes, never a str, are walked one by one here: MicroPython makes each
# character of a str it walks a permanent interned string, and the pool they go
# to grows at whatever moment a new one comes (a 320-byte block, which a full
# heap may not have: the first request then got 503).

# Each ASCII byte a token may hold (RFC 9110 section 5.6.2: not a control, space
# or one of "(),/:;<=>?@[\]{}) is itself here, every other one a space (NUL for
# the space itself): one look-up a byte, 7x fewer instructions than comparing it
# with the delimiters. A literal, so frozen it costs no heap (made at import, it
# took 144 B); a unit test checks it against RFC 9110's list.
_TOKEN_BYTES = (b'                                \x00!'  # 0-31 (controls), 32 (space), 33
                b" #$%&'  *+ -. 0123456789       "  # 34-64
                b'ABCDEFGHIJKLMNOPQRSTUVWXYZ   ^_`'  # 65-96
                b'abcdefghijklmnopqrstuvwxyz | ~ ')  # 97-127


def _is_token(data):
    for c in data:
        if c > 127 or _TOKEN_BYTES[c] != c:
            return False
    return len(data) > 0


def _has_controls(data):
    # min() walks the bytes in C; only bytes with one look again without tabs.
    return len(data) > 0 and (min(data) < 32 and min(data.replace(b'\t', b' ')) < 32
                              or b'\x7f' in data)


def has_control_chars(text):
    """Whether the str ``text`` holds a control character other than HTAB: CR or
    LF, NUL, VT, FF, ESC, DEL..., none of which a header value may hold."""
    return _has_controls(text.encode())


# Names and values the core sets on nearly every response, known to be safe:
# not checked again.
_COMMON_NAMES = ('content-type', 'content-length', 'connection', 'transfer-encoding')
_COMMON_VALUES = ('text/html; charset=utf-8', 'application/json', 'application/octet-stream',
                  'text/plain; charset=utf-8', 'close', 'keep-alive', 'chunked')


def find_head(buf, pos, max_line, max_header_bytes):
    """Where the request head in ``buf`` (from ``pos``) lies: ``(start, end)``.

    Empty lines before a request are skipped (RFC 9112 section 2.2), so
    ``start`` may lie past ``pos``. ``end`` is the index of the CRLF CRLF that
    ends the head, or ``-1`` while more bytes are needed. A request line of
    more than ``max_line`` bytes is ``HTTPError(414)``, header lines (with
    their CRLFs) of more than ``max_header_bytes`` 431, a bare LF ending the
    request line or LF LF 400: each as soon as the bytes seen so far show it,
    so a client cannot make the server buffer more. (Another bare LF is found
    by :func:`parse_head` once the head is complete.)
    """
    while buf[pos:pos + 2] == b'\r\n':
        pos += 2
    end = buf.find(b'\r\n\r\n', pos)
    line_end = buf.find(b'\n', pos)
    # The request line's length without its CRLF: line_end - 1 - pos once it
    # has ended; until then, what has come of it but a CR that may end it.
    if (line_end - pos > max_line + 1 if line_end >= 0
            else len(buf) - pos - (buf[-1:] == b'\r') > max_line):
        raise HTTPError(414)
    # LF LF is looked for in this head only: past its end lie a body or the
    # next request, whose bytes are not its own (a POST whose body held LF LF
    # was refused when the body came with its head).
    if line_end > pos and buf[line_end - 1] != 13 or buf.find(
            b'\n\n', pos, end if end >= 0 else len(buf)) >= 0:
        raise HTTPError(400, 'bad line ending')
    # The header lines lie between the request line's LF and the blank line;
    # of an unfinished head, at most one byte (a CR) is not a header line's.
    if end >= 0 and end + 1 - line_end > max_header_bytes or (
            end < 0 and line_end >= 0 and len(buf) - line_end - 2 > max_header_bytes):
        raise HTTPError(431)
    return pos, end


def parse_head(data, max_headers=32):
    """Parse a request head into ``(method, target, version, headers, length)``.

    :param data: the request line and header lines as bytes, each ending in
        CRLF, without the blank line that ends the head.
    :param max_headers: more header lines than this is ``HTTPError(431)``.

    ``version`` is ``'1.1'`` or ``'1.0'`` (later 1.x minors answer as 1.1);
    ``headers`` is a dict of lower-case names to str values, repeats joined
    with ``', '`` (``'; '`` for cookies); ``length`` says how the body is
    delimited: ``None`` (no body), ``-1`` (chunked) or a byte count.

    Anything malformed is ``HTTPError(400)``: a bare CR or LF, a control
    character other than HTAB anywhere, a bad request line or method, a
    target with a ``#fragment``, obsolete line folding, whitespace before a
    colon, a repeated Host or Content-Length, and the request-smuggling
    cases of RFC 9112 section 6 (Content-Length with Transfer-Encoding, a
    coding other than ``chunked``, a non-numeric length). An HTTP major
    version other than 1 is ``HTTPError(505)``.
    """
    # No control character but HTAB, and CR LF only between lines (a bare CR
    # or LF is left over): looked for in C, by min() over the head with its
    # line ends blanked (6 us for a 200 B head on the unix port; a loop over
    # each value's characters takes 4x as long).
    if _has_controls(data.replace(b'\r\n', b'  ')):
        raise HTTPError(400, 'control character in the head')
    lines = data.split(b'\r\n')
    if len(lines) > max_headers + 2:
        raise HTTPError(431)
    if lines.pop() != b'' or not lines:
        raise HTTPError(400, 'bad line ending')
    parts = lines[0].split(b' ')
    if len(parts) != 3 or not _is_token(parts[0]):
        raise HTTPError(400, 'bad request line')
    method, target, version = parts
    if (len(version) != 8 or version[:5] != b'HTTP/' or version[6] != 46
            or not (48 <= version[5] <= 57 and 48 <= version[7] <= 57)):
        raise HTTPError(400, 'bad version')
    if version[5] != 49:
        raise HTTPError(505)
    version = '1.0' if version[7] == 48 else '1.1'
    if not target or b'#' in target:  # a fragment is the client's own (RFC 9112 section 3.2)
        raise HTTPError(400, 'bad target')
    for c in target:
        if c < 33 or c > 126:
            raise HTTPError(400, 'bad target')
    headers = {}
    for index in range(1, len(lines)):
        line = lines[index]
        colon = line.find(b':')
        name = line[:colon]
        if colon < 1 or not _is_token(name):
            raise HTTPError(400, 'bad header line')
        try:
            name = name.lower().decode()
            value = line[colon + 1:].strip(b' \t').decode()
        except UnicodeError:
            raise HTTPError(400, 'bad header value')
        old = headers.get(name)
        if old is None:
            headers[name] = value
        elif name == 'content-length' or name == 'host':
            raise HTTPError(400, 'repeated ' + name)
        else:
            headers[name] = old + ('; ' if name == 'cookie' else ', ') + value
    length = headers.get('content-length')
    if 'transfer-encoding' in headers:
        # The coding lower-cased as bytes (ASCII): CPython's str.lower() made
        # 'chunKed' with a Kelvin sign (U+212A) chunked, which h11 and
        # MicroPython refuse, so a proxy could frame it another way.
        if (length is not None or version == '1.0'
                or headers['transfer-encoding'].encode().lower() != b'chunked'):
            raise HTTPError(400, 'bad transfer-encoding')
        length = -1
    elif length is not None:
        if not length or length.strip('0123456789') or len(length) > 15:
            raise HTTPError(400, 'bad content-length')
        length = int(length)
    return method.decode(), target.decode(), version, headers, length


# What a Host value (uri-host [":" port], RFC 9110 section 7.2) must not hold
# lest it be read as more than a host: whitespace, the start of a path, a query
# or a fragment, or user information. One-character strings, each looked for
# in C: 8K instructions a request, where walking the host took 88K.
_NOT_IN_HOST = (' ', '\t', '/', '?', '#', '@')


def _host_ok(host):
    for c in _NOT_IN_HOST:
        if c in host:
            return False
    return True


def check_request(version, headers):
    """The rules of a request :func:`parse_head` leaves to its caller; True if the
    client waits for ``100 Continue`` before it sends its body.

    An HTTP/1.1 request without ``Host``, or a ``Host`` holding whitespace,
    ``/``, ``?``, ``#`` or ``@`` (more than a host and port), is
    ``HTTPError(400)``; an ``Expect``
    other than ``100-continue`` ``HTTPError(417)``.

    :param headers: the lower-case dict :func:`parse_head` returns.
    """
    host = headers.get('host')
    if host is None and version == '1.1':
        raise HTTPError(400, 'missing host')
    if host is not None and not _host_ok(host):
        raise HTTPError(400, 'bad host')
    expect = headers.get('expect')
    if expect is not None and expect.lower() != '100-continue':
        raise HTTPError(417)
    return expect is not None and version == '1.1'


def wants_keep_alive(version, headers):
    """Whether a request asks to keep its connection open (RFC 9112 section 9.3).

    HTTP/1.1 does unless ``Connection`` has the token ``close``; HTTP/1.0 only
    with the token ``keep-alive`` and not ``close``.

    :param headers: a lower-case dict, as :func:`parse_head` returns, or
        :class:`Headers`.
    """
    tokens = headers.get('connection')
    if tokens is None:
        return version == '1.1'
    # Lower-cased and stripped as bytes, so as ASCII on both interpreters:
    # CPython's str.lower() makes a Kelvin sign (U+212A) a 'k', and an HTTP/1.0
    # 'Keep-alive' spelt with one kept its connection there, not on MicroPython.
    tokens = [token.strip() for token in tokens.encode().lower().split(b',')]
    if b'close' in tokens:  # close wins on HTTP/1.0 too ('keep-alive, close' was kept)
        return False
    return version == '1.1' or b'keep-alive' in tokens


class Headers:
    """A mutable, case-insensitive mapping of header names to str values.

    Request headers arrive with lower-case names; a response keeps the
    spelling a name was first set with. Example::

        resp.headers['Cache-Control'] = 'no-store'
        'cache-control' in resp.headers   # True
    """

    _names = None  # lower-case name -> spelling, where that differs; made when needed

    def __init__(self, initial=None):
        self._values = {}  # lower-case name -> value
        if initial:
            for name in initial:
                self[name] = initial[name]

    @classmethod
    def parsed(cls, values):
        """Headers over ``values``, a dict of lower-case names to str values as
        :func:`parse_head` returns it; the dict is used, not copied."""
        headers = cls()
        headers._values = values
        return headers

    def __setitem__(self, name, value):
        checked = isinstance(value, int) or value in _COMMON_VALUES  # no control character
        value = str(value)
        key = name.lower()
        if key not in _COMMON_NAMES and not _is_token(name.encode()):
            raise ValueError('header %r: the name is not an HTTP token' % (name,))
        if not checked and has_control_chars(value):
            raise ValueError('header %r: the value %r holds a control character' % (name, value))
        if key != name and key not in self._values:
            if self._names is None:
                self._names = {}
            self._names[key] = name
        self._values[key] = value

    def __getitem__(self, name):
        return self._values[name.lower()]

    def __delitem__(self, name):
        del self._values[name.lower()]

    def __contains__(self, name):
        return name.lower() in self._values

    def __iter__(self):
        return iter(self._values)

    def get(self, name, default=None):
        """The value of ``name``, or ``default``."""
        return self._values.get(name.lower(), default)

    def pop(self, name, default=None):
        """Remove ``name`` and return its value, or ``default``."""
        return self._values.pop(name.lower(), default)

    def setdefault(self, name, value):
        """Set ``name`` unless it is set; return its value."""
        if name.lower() not in self._values:
            self[name] = value
        return self[name]

    def items(self):
        """``(name, value)`` pairs, names as they were first spelled."""
        names = self._names or {}
        return [(names.get(key, key), value) for key, value in self._values.items()]


def format_head(status, headers, cookies=()):
    """Serialise an HTTP/1.1 status line, ``headers`` (a :class:`Headers`, each name
    as first spelled) and a ``Set-Cookie`` line per cookie, with the blank line."""
    out = ['HTTP/1.1 %d %s\r\n' % (status, reason(status))]
    names = headers._names
    values = headers._values
    for key in values:  # not items(): no (name, value) tuple per header
        out.append('%s: %s\r\n' % (names.get(key, key) if names else key, values[key]))
    for cookie in cookies:
        out.append('Set-Cookie: %s\r\n' % cookie)
    out.append('\r\n')
    return ''.join(out).encode()


# How a response's body goes on the wire: a mode of response_framing.
NO_BODY = 'none'        # no body bytes (HEAD, 1xx, 204, 304)
LENGTH = 'length'       # exactly Content-Length bytes
CHUNKED = 'chunked'     # chunked transfer coding
UNTIL_CLOSE = 'close'   # the body, then the connection closes (HTTP/1.0 streams)


def response_framing(method, version, keep_alive, status, headers, length):
    """How a response is framed on the wire: ``(mode, keep_alive, changes)``.

    The decision the server carries out, made here without I/O, in the spirit
    of h11's ``_body_framing``.

    :param method: the request's method (a HEAD response sends no body).
    :param version: the request's HTTP version, ``'1.1'`` or ``'1.0'``.
    :param keep_alive: whether the connection may stay open as far as the
        request and its server are concerned.
    :param status: the response's status.
    :param headers: the response's :class:`Headers`.
    :param length: the body's size in bytes, or ``None`` for a stream.
    :returns: ``mode``, one of :data:`NO_BODY`, :data:`LENGTH`,
        :data:`CHUNKED` and :data:`UNTIL_CLOSE`; whether the connection stays
        open after the response; and the header ``changes`` to make first, a
        list of ``(name, value)``, where a value of ``None`` removes the header.

    Example::

        response_framing('GET', '1.1', True, 200, Headers(), None)
        # -> ('chunked', True, [('Transfer-Encoding', 'chunked')])
    """
    changes = []
    if status < 200 or status == 204 or status == 304:  # never a body (RFC 9110 section 6.4.1)
        mode = NO_BODY
        if 'content-length' in headers:
            changes.append(('Content-Length', None))
    elif length is not None:
        mode = LENGTH
        changes.append(('Content-Length', length))
    elif 'content-length' in headers:  # a stream of a size the application stated
        mode = LENGTH
    elif version == '1.1':
        mode = CHUNKED
        changes.append(('Transfer-Encoding', 'chunked'))
    else:  # HTTP/1.0 has no chunks: the end of the connection ends the body
        mode = UNTIL_CLOSE
        keep_alive = False
    if method == 'HEAD':
        mode = NO_BODY
    if status == 101:  # the connection now speaks another protocol, never HTTP again
        return mode, False, changes
    if keep_alive and headers.get('connection', '').lower() == 'close':
        keep_alive = False
    if not keep_alive:
        changes.append(('Connection', 'close'))
    elif version == '1.0':
        changes.append(('Connection', 'keep-alive'))
    return mode, keep_alive, changes
