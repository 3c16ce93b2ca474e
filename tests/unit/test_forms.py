"""Unit tests of weblet.forms, the key-value text formats: MultiDict and query
strings, cookies (parsing, and the Set-Cookie value format_cookie builds) and
the origin form of a target.

Portable: runs on CPython under pytest and on MicroPython under micropython/run.py.
"""
import sys

if sys.implementation.name != 'micropython':  # CPython: weblet from the source tree
    import os
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), 'core'))

import pytest  # noqa: E402

from weblet.forms import (  # noqa: E402
    MultiDict, format_cookie, origin_form, parse_cookies, parse_query)
from weblet.protocol import HTTPError  # noqa: E402


def status_of(fn, *args):
    """The status of the HTTPError that ``fn(*args)`` raises (fails if it returns)."""
    with pytest.raises(HTTPError) as info:
        fn(*args)
    return info.value.status


# -- MultiDict and parse_query --------------------------------------------------

def test_multidict():
    d = MultiDict()
    assert isinstance(d, dict)
    assert len(d) == 0 and d.get('a') is None and d.getlist('a') == []
    d.add('a', '1')
    d.add('b', 'x')
    d.add('a', '2')
    assert d['a'] == '1' and d.get('a') == '1'
    assert d.getlist('a') == ['1', '2'] and d.getlist('b') == ['x']
    assert 'a' in d and 'z' not in d
    assert len(d) == 2 and sorted(d) == ['a', 'b']
    assert d == {'a': '1', 'b': 'x'}
    assert d.get('z', 'dflt') == 'dflt'
    with pytest.raises(KeyError):
        d['z']


def test_multidict_set_item_is_one_value():
    d = MultiDict()
    d['a'] = '1'
    assert d.getlist('a') == ['1']
    d.add('a', '2')
    assert d.getlist('a') == ['1', '2']


def test_multidict_getlist_is_a_copy():
    d = MultiDict()
    d.add('a', '1')
    d.add('a', '2')
    d.getlist('a').append('3')
    assert d.getlist('a') == ['1', '2']


@pytest.mark.parametrize('text, expected', [
    ('', {}),
    (None, {}),
    ('a=1', {'a': ['1']}),
    ('a=1&b=2', {'a': ['1'], 'b': ['2']}),
    ('a=1&a=2&b=3&a=4', {'a': ['1', '2', '4'], 'b': ['3']}),
    ('a', {'a': ['']}),
    ('a=', {'a': ['']}),
    ('=v', {'': ['v']}),
    ('a=b=c', {'a': ['b=c']}),
    ('&&a=1&&', {'a': ['1']}),
    ('q=hello+world', {'q': ['hello world']}),
    ('q=a%2Bb', {'q': ['a+b']}),
    ('k%20ey=v%26al', {'k ey': ['v&al']}),
    ('n=caf%C3%A9', {'n': ['caf\u00e9']}),
])
def test_parse_query(text, expected):
    result = parse_query(text)
    assert isinstance(result, MultiDict)
    assert dict((key, result.getlist(key)) for key in result) == expected


@pytest.mark.parametrize('text', ['a=%', 'a=%zz', '%=1', 'a=%FF', 'a=1&b=%2'])
def test_parse_query_bad_escape_is_400(text):
    assert status_of(parse_query, text) == 400


def test_parse_query_field_limit_is_413():
    assert len(parse_query('&'.join('k%d=v' % i for i in range(256)))) == 256
    assert status_of(parse_query, '&'.join('k%d=v' % i for i in range(257))) == 413
    assert status_of(parse_query, 'a=1&b=2&c=3', 2) == 413
    assert len(parse_query('a=1&b=2', 2)) == 2


# -- parse_cookies --------------------------------------------------------------

@pytest.mark.parametrize('header, expected', [
    (None, {}),
    ('', {}),
    ('a=1', {'a': '1'}),
    ('a=1; b=2', {'a': '1', 'b': '2'}),
    ('a=1;b=2', {'a': '1', 'b': '2'}),
    ('  a = 1 ;  b=2  ', {'a': '1', 'b': '2'}),
    ('a=1; a=2', {'a': '1'}),              # the first of repeated names wins
    ('a="quoted value"', {'a': 'quoted value'}),
    ('a="', {'a': '"'}),
    ('a=""', {'a': ''}),
    ('a=', {'a': ''}),
    ('a=b=c', {'a': 'b=c'}),
    ('flag; a=1', {'a': '1'}),             # no '=' is skipped
    ('=v; a=1', {'a': '1'}),               # empty name is skipped
    (';;; a=1 ;;', {'a': '1'}),
    ('a=%20', {'a': '%20'}),               # not percent-decoded
])
def test_parse_cookies(header, expected):
    assert parse_cookies(header) == expected


# -- format_cookie ----------------------------------------------------------------

def test_format_cookie_minimal():
    assert format_cookie('a', '1') == 'a=1; Path=/'
    assert format_cookie('a', '') == 'a=; Path=/'
    assert format_cookie('a', '1', path=None) == 'a=1'
    assert format_cookie('n', 5) == 'n=5; Path=/'
    assert format_cookie('a', '1', max_age=0) == 'a=1; Max-Age=0; Path=/'


def test_format_cookie_every_option():
    assert format_cookie(name='session', value='tok', max_age=3600, path='/app',
                         http_only=True, secure=True, same_site='Lax',
                         domain='example.com', expires='Wed, 21 Oct 2037 07:28:00 GMT') == (
        'session=tok; Max-Age=3600; Expires=Wed, 21 Oct 2037 07:28:00 GMT; '
        'Domain=example.com; Path=/app; Secure; HttpOnly; SameSite=Lax')


@pytest.mark.parametrize('same_site', ['Strict', 'Lax', 'None'])
def test_format_cookie_same_site(same_site):
    assert format_cookie('a', '1', same_site=same_site) == 'a=1; Path=/; SameSite=' + same_site


# The characters each field refuses: every field refuses ';', CR, LF and NUL.
BAD_COOKIE_TEXT = [
    ('name', ';,\r\n\x00\x1f\x7f \t"\\=()<>@:/[]?{}'),
    ('value', ';,\r\n\x00\x1f\x7f \t"\\'),
    ('path', ';\r\n\x00\x1f\x7f\t'),
    ('domain', ';,\r\n\x00 '),
    ('expires', ';\r\n\x00'),
]


@pytest.mark.parametrize('field, char', [
    (field, char) for field, chars in BAD_COOKIE_TEXT for char in chars])
def test_format_cookie_rejects_bad_characters(field, char):
    kwargs = {'name': 'a', 'value': 'b', 'path': '/', 'domain': 'example.com',
              'expires': 'Wed, 21 Oct 2037 07:28:00 GMT'}
    kwargs[field] = kwargs[field] + char + 'x'
    with pytest.raises(ValueError) as info:
        format_cookie(**kwargs)
    assert field in str(info.value)


@pytest.mark.parametrize('same_site', ['lax', 'strict', 'none', 'Loose', 'Lax\r\n'])
def test_format_cookie_rejects_bad_same_site(same_site):
    with pytest.raises(ValueError) as info:
        format_cookie('a', '1', same_site=same_site)
    assert 'same_site' in str(info.value)


def test_format_cookie_rejects_empty_name():
    with pytest.raises(ValueError) as info:
        format_cookie('', '1')
    assert 'name' in str(info.value)


def test_format_cookie_rejects_non_ascii_name():
    with pytest.raises(ValueError) as info:
        format_cookie('caf\u00e9', '1')
    assert 'name' in str(info.value)


# -- origin_form ----------------------------------------------------------------

@pytest.mark.parametrize('target, method, expected', [
    ('http://example.com/p', 'GET', '/p'),
    ('http://example.com/p?q=1', 'GET', '/p?q=1'),
    ('HTTP://Example.com/a/b', 'GET', '/a/b'),
    ('https://h:8080/x', 'POST', '/x'),
    ('http://example.com', 'GET', '/'),
    ('https://h:8080', 'GET', '/'),
    ('http://h/a://b', 'GET', '/a://b'),
    ('*', 'OPTIONS', '*'),
])
def test_origin_form(target, method, expected):
    assert origin_form(target, method) == expected


@pytest.mark.parametrize('target, method', [
    ('*', 'GET'), ('ftp://h/x', 'GET'), ('example.com/p', 'GET'), ('http:/p', 'GET'),
    ('p', 'GET'), ('//h/p', 'GET'), ('*x', 'OPTIONS'),
])
def test_origin_form_bad_target_is_400(target, method):
    assert status_of(origin_form, target, method) == 400
