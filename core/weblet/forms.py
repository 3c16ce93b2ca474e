"""Key-value text formats: query strings and urlencoded forms, cookies, the
absolute form of a request target, and the check for unfinished JSON that
MicroPython before 1.26 needs.

Imported the first time a request needs one of them, so a device whose
requests never do pays nothing for this module. Parsing is strict where a
client's input is concerned (a bad escape is ``HTTPError(400)``) and building
is checked where the application's is (a bad cookie is ``ValueError``).
Escaping single values is :mod:`weblet.escaping`'s.
"""
from .protocol import HTTPError
from .escaping import unquote


class MultiDict(dict):
    """A dict of first values that remembers every value of a repeated key.

    ``d[key]`` and ``d.get(key)`` give the first value, ``d.getlist(key)``
    all of them. Example::

        args = parse_query('a=1&a=2&b=3')
        args['a'], args.getlist('a')   # '1', ['1', '2']
    """

    def getlist(self, key):
        """Every value of ``key``, in order (an empty list if none)."""
        if key not in self:
            return []
        more = getattr(self, '_more', None)
        return list(more[key]) if more and key in more else [self[key]]

    def add(self, key, value):
        """Add ``value`` as one more value of ``key``."""
        if key not in self:
            self[key] = value
            return
        more = getattr(self, '_more', None)
        if more is None:
            more = self._more = {}
        if key not in more:
            more[key] = [self[key]]
        more[key].append(value)


def parse_query(text, max_fields=256):
    """Parse ``a=1&b=2&a=3`` into a :class:`MultiDict` (``+`` is a space).

    More than ``max_fields`` fields is ``HTTPError(413)``; a bad escape 400.
    """
    args = MultiDict()
    if not text:
        return args
    pairs = text.split('&')
    if len(pairs) > max_fields:
        raise HTTPError(413, 'too many fields')
    for pair in pairs:
        if pair:
            key, _, value = pair.partition('=')
            args.add(unquote(key, True), unquote(value, True))
    return args


def parse_cookies(header):
    """Parse a ``Cookie`` header into a dict (the first of repeated names wins)."""
    cookies = {}
    for pair in (header or '').split(';'):
        name, eq, value = pair.partition('=')
        name = name.strip()
        if eq and name and name not in cookies:
            value = value.strip()
            # Not value[0]: MicroPython keeps each character a str is indexed by
            # for good, and a client's cookies could bring new ones each request.
            if len(value) > 1 and value.startswith('"') and value.endswith('"'):
                value = value[1:-1]
            cookies[name] = value
    return cookies


def _check_cookie_text(what, text, forbidden=b'()<>@,;:\\"/[]?={} '):
    # Its bytes, not its characters (see parse_cookies): a value may come from a client.
    for c in text.encode():
        if c in forbidden or c < 32 or c > 126:
            raise ValueError('set_cookie(%s=%r): %s not allowed' % (
                what, text, 'character %r' % chr(c) if c < 128 else 'non-ASCII text'))


def format_cookie(name, value, max_age=None, path='/', http_only=False, secure=False,
                  same_site=None, domain=None, expires=None):
    """The value of a ``Set-Cookie`` header; ``ValueError`` naming a bad argument."""
    name = str(name)
    value = str(value)
    if not name:
        raise ValueError('set_cookie(name=%r): must not be empty' % name)
    _check_cookie_text('name', name)
    _check_cookie_text('value', value, b';,\\" ')
    parts = [name + '=' + value]
    if max_age is not None:
        parts.append('Max-Age=%d' % max_age)
    if expires:
        _check_cookie_text('expires', expires, b';')
        parts.append('Expires=' + expires)
    if domain:
        _check_cookie_text('domain', domain, b';, ')
        parts.append('Domain=' + domain)
    if path:
        _check_cookie_text('path', path, b';')
        parts.append('Path=' + path)
    if secure:
        parts.append('Secure')
    if http_only:
        parts.append('HttpOnly')
    if same_site:
        if same_site not in ('Strict', 'Lax', 'None'):
            raise ValueError("set_cookie(same_site=%r): must be 'Strict', 'Lax' or 'None'"
                             % (same_site,))
        parts.append('SameSite=' + same_site)
    return '; '.join(parts)


def origin_form(target, method):
    """The path of an absolute-form target (``http://host/p`` -> ``/p``)."""
    if target == '*' and method == 'OPTIONS':
        return '*'
    scheme, sep, rest = target.partition('://')
    if not sep or scheme.lower() not in ('http', 'https'):
        raise HTTPError(400, 'bad target')
    slash = rest.find('/')
    return rest[slash:] if slash >= 0 else '/'


def unfinished_json(data):
    """Whether the JSON text ``data`` (bytes) leaves an array or object open:
    more ``[`` and ``{`` than ``]`` and ``}`` outside its strings.

    For a text ``json.loads`` accepted, that means the text stops early. It
    counts with ``bytes.count`` between strings and steps from quote to quote;
    bytes, as MicroPython finds an index in a non-ASCII ``str`` by walking it.

    Example: ``unfinished_json(b'[1, [2]')`` is ``True``;
    ``unfinished_json(b'["]", [2]]')`` is ``False``.
    """
    depth = start = 0
    while True:
        quote = data.find(b'"', start)
        end = len(data) if quote < 0 else quote
        depth += (data.count(b'[', start, end) + data.count(b'{', start, end)
                  - data.count(b']', start, end) - data.count(b'}', start, end))
        if quote < 0:
            return depth != 0
        while True:  # on to the quote that ends the string: one after an even run of backslashes
            quote = data.find(b'"', quote + 1)
            if quote < 0:
                return True
            escapes = 0
            while data[quote - 1 - escapes] == 92:  # a backslash
                escapes += 1
            if not escapes % 2:
                break
        start = quote + 1
