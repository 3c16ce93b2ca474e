"""Escaping text: percent-encoding for URLs, and HTML escaping.

The text helpers the core shares with plugins, exported by ``weblet``
itself. They are small, and kept apart from the query-string and cookie
formats of :mod:`weblet.forms`, which a device loads only when a request
needs them.
"""
from .protocol import HTTPError, HEX_DIGITS

_UNRESERVED = b'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~'


def unquote(text, plus=False):
    """Percent-decode ``text`` (str) as UTF-8; with ``plus``, ``+`` means space.

    A broken escape or invalid UTF-8 is ``HTTPError(400)``.
    """
    if plus:
        text = text.replace('+', ' ')
    if '%' not in text:
        return text
    parts = text.split('%')
    out = bytearray(parts[0].encode())
    for part in parts[1:]:
        # The two digits are checked as a slice: indexing a str one character at a
        # time makes MicroPython keep each character for good.
        if len(part) < 2 or part[:2].strip(HEX_DIGITS):
            raise HTTPError(400, 'bad percent-encoding')
        out.append(int(part[:2], 16))
        out.extend(part[2:].encode())
    try:
        return bytes(out).decode()
    except UnicodeError:
        raise HTTPError(400, 'bad percent-encoding')


def quote(text, safe='/'):
    """Percent-encode ``text`` for a URL; characters in ``safe`` are kept.

    Example: ``quote('a b/c')`` -> ``'a%20b/c'``, ``quote('a/b', '')`` -> ``'a%2Fb'``.
    """
    # Bytes in, bytes out: chr() makes MicroPython keep each character for good.
    safe = safe.encode()
    out = bytearray()
    for c in str(text).encode():
        if c in _UNRESERVED or c in safe:
            out.append(c)
        else:
            out.extend(b'%%%02X' % c)
    return bytes(out).decode()


# & first, so the entities added by the others are not escaped again.
_ENTITIES = (('&', '&amp;'), ('<', '&lt;'), ('>', '&gt;'), ('"', '&quot;'), ("'", '&#39;'))


def escape_html(value):
    """``value`` as text for HTML, with ``& < > " '`` escaped; ``None`` gives ``''``.

    :param value: any value; it is converted with ``str()``.

    Example::

        escape_html('<b>"hi"</b>')   # '&lt;b&gt;&quot;hi&quot;&lt;/b&gt;'
    """
    if value is None:
        return ''
    text = value if isinstance(value, str) else str(value)
    for char, entity in _ENTITIES:
        if char in text:
            text = text.replace(char, entity)
    return text
