"""Unit tests of weblet.escaping: percent-encoding (quote, unquote) and HTML
escaping, and weblet's own forwards to them.

Portable: runs on CPython under pytest and on MicroPython under micropython/run.py.
"""
import sys

if sys.implementation.name != 'micropython':  # CPython: weblet from the source tree
    import os
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), 'core'))

import pytest  # noqa: E402

import weblet  # noqa: E402
from weblet.escaping import escape_html, quote, unquote  # noqa: E402
from weblet.protocol import HTTPError  # noqa: E402


def status_of(fn, *args):
    """The status of the HTTPError that ``fn(*args)`` raises (fails if it returns)."""
    with pytest.raises(HTTPError) as info:
        fn(*args)
    return info.value.status


# -- unquote / quote ------------------------------------------------------------

@pytest.mark.parametrize('text, plus, expected', [
    ('', False, ''),
    ('abc', False, 'abc'),
    ('a%20b', False, 'a b'),
    ('%41%42', False, 'AB'),
    ('%2f%2F', False, '//'),
    ('%25', False, '%'),
    ('%2525', False, '%25'),
    ('caf%C3%A9', False, 'caf\u00e9'),
    ('caf%c3%a9', False, 'caf\u00e9'),
    ('caf\u00e9', False, 'caf\u00e9'),
    ('caf\u00e9%20x', False, 'caf\u00e9 x'),
    ('a+b', False, 'a+b'),
    ('a+b', True, 'a b'),
    ('a%2Bb', True, 'a+b'),
    ('+%20+', True, '   '),
    ('%F0%9F%98%80', False, '\U0001f600'),
])
def test_unquote_ok(text, plus, expected):
    assert unquote(text, plus) == expected


@pytest.mark.parametrize('text', [
    '%', 'abc%', '%4', 'a%4', '%zz', '%4g', '%g4', '% 4', '%%41', '%-1',
    '%\u00e94', '%4\u00e9',
    '%C3',          # truncated UTF-8
    '%FF',          # invalid UTF-8
    '%C3%28',
])
def test_unquote_malformed_is_400(text):
    assert status_of(unquote, text) == 400


@pytest.mark.parametrize('text', [
    '%ED%A0%80',    # an encoded surrogate
    '%C0%AF',       # overlong encoding of '/'
])
def test_unquote_strict_utf8_is_400(text):
    if weblet.MICROPYTHON:
        return  # MicroPython's UTF-8 decoder accepts these (a known difference)
    assert status_of(unquote, text) == 400


@pytest.mark.parametrize('text, safe, expected', [
    ('abc', '/', 'abc'),
    ('AZaz09-._~', '/', 'AZaz09-._~'),
    ('a b', '/', 'a%20b'),
    ('a/b', '/', 'a/b'),
    ('a/b', '', 'a%2Fb'),
    ('a+b&c=d?#%', '/', 'a%2Bb%26c%3Dd%3F%23%25'),
    ('caf\u00e9', '/', 'caf%C3%A9'),
    ('a:b@c', ':@', 'a:b@c'),
    ('', '/', ''),
    (42, '/', '42'),  # not a str: converted
])
def test_quote(text, safe, expected):
    assert quote(text, safe) == expected


def test_quote_default_keeps_slashes():
    assert quote('a b/c') == 'a%20b/c'


def test_package_forwards_the_text_helpers():
    assert weblet.quote('a b/c') == 'a%20b/c' and weblet.quote('a/b', '') == 'a%2Fb'
    assert weblet.unquote('a%20b+c') == 'a b+c' and weblet.unquote('a+b', True) == 'a b'
    assert weblet.escape_html('<b>"hi"</b>') == '&lt;b&gt;&quot;hi&quot;&lt;/b&gt;'
    assert status_of(weblet.unquote, '%zz') == 400


# -- escape_html ----------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    ('<b>"hi"</b>', '&lt;b&gt;&quot;hi&quot;&lt;/b&gt;'),
    ("it's & <ok>", 'it&#39;s &amp; &lt;ok&gt;'),
    ('&amp;', '&amp;amp;'),      # escaped once, as given
    ('plain caf\u00e9', 'plain caf\u00e9'),
    ('', ''),
    (None, ''),
    (5, '5'),
    (['<'], "[&#39;&lt;&#39;]"),
])
def test_escape_html(value, expected):
    assert escape_html(value) == expected
