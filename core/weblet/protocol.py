"""HTTP/1.1 wire format: pure functions that parse and serialise a message head.

Nothing here does I/O. Every malformed input becomes an :class:`HTTPError`
carrying the status the client should get; nothing else escapes. Only what
every request needs lives here: query strings, forms and cookies are in
:mod:`weblet.forms`, chunked bodies in :mod:`weblet.body`, both imported on
first use so a device that needs neither pays nothing for them.
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

# Bytes that may not appear in a token (RFC 9110 section 5.6.2), besides
# controls, space and anything outside ASCII.
_DELIMITERS = b'"(),/:;<=>?@[\\]{}'
HEX_DIGITS = '0123456789abcdefABCDEF'  # percent-escapes and chunk sizes


def reason(status):
    """The standard reason phrase for ``status`` (``'Unknown'`` if none)."""
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


def _is_token(data):
    for c in data:
        if c < 33 or c > 126 or c in _DELIMITERS:
            return False
    return len(data) > 0


def parse_head(data, max_headers=32):
    """Parse a request head into ``(method, target, version, headers, length)``.

    :param data: the request line and header lines as bytes, each ending in
        CRLF, without the blank line that ends the head.
    :param max_headers: more header lines than this is ``HTTPError(431)``.

    ``version`` is ``'1.1'`` or ``'1.0'`` (later 1.x minors answer as 1.1);
    ``headers`` is a dict of lower-case names to str values, repeats joined
    with ``', '`` (``'; '`` for cookies); ``length`` says how the body is
    delimited: ``None`` (no body), ``-1`` (chunked) or a byte count.

    Anything malformed is ``HTTPError(400)``: a bare CR or LF, a bad request
    line or method, obsolete line folding, whitespace before a colon, NUL in
    a value, a repeated Host or Content-Length, and the request-smuggling
    cases of RFC 9112 section 6 (Content-Length with Transfer-Encoding, a
    coding other than ``chunked``, a non-numeric length). An HTTP major
    version other than 1 is ``HTTPError(505)``.
    """
    lines = data.split(b'\r\n')
    if len(lines) > max_headers + 2:
        raise HTTPError(431)
    if lines.pop() != b'' or not lines:
        raise HTTPError(400, 'bad line ending')
    for line in lines:
        if b'\r' in line or b'\n' in line:
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
    if not target:
        raise HTTPError(400, 'bad target')
    for c in target:
        if c < 33 or c > 126:
            raise HTTPError(400, 'bad target')
    headers = {}
    for index in range(1, len(lines)):
        line = lines[index]
        colon = line.find(b':')
        if colon < 1 or not _is_token(line[:colon]):
            raise HTTPError(400, 'bad header line')
        value = line[colon + 1:].strip(b' \t')
        if b'\x00' in value:
            raise HTTPError(400, 'bad header value')
        try:
            name = line[:colon].decode().lower()
            value = value.decode()
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
        if (length is not None or version == '1.0'
                or headers['transfer-encoding'].lower() != 'chunked'):
            raise HTTPError(400, 'bad transfer-encoding')
        length = -1
    elif length is not None:
        if not length or length.strip('0123456789') or len(length) > 15:
            raise HTTPError(400, 'bad content-length')
        length = int(length)
    return method.decode(), target.decode(), version, headers, length


class Headers:
    """A mutable, case-insensitive mapping of header names to str values.

    Request headers arrive with lower-case names; a response keeps the
    spelling a name was first set with. Example::

        resp.headers['Cache-Control'] = 'no-store'
        'cache-control' in resp.headers   # True
    """

    def __init__(self, initial=None):
        self._values = {}  # lower-case name -> value
        self._names = {}   # lower-case name -> spelling, where that differs
        if initial:
            for name in initial:
                self[name] = initial[name]

    def __setitem__(self, name, value):
        value = str(value)
        if '\r' in value or '\n' in value:
            raise ValueError('header %r: value contains CR or LF' % name)
        key = name.lower()
        if key != name and key not in self._values:
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
        names = self._names
        return [(names.get(key, key), value) for key, value in self._values.items()]


def format_head(status, headers, cookies=()):
    """Serialise an HTTP/1.1 status line and ``(name, value)`` headers, with the blank line."""
    out = ['HTTP/1.1 %d %s\r\n' % (status, reason(status))]
    for name, value in headers:
        out.append('%s: %s\r\n' % (name, value))
    for cookie in cookies:
        out.append('Set-Cookie: %s\r\n' % cookie)
    out.append('\r\n')
    return ''.join(out).encode()
