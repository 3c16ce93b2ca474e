"""weblet-cors in a real browser: headless Chromium, driven by selenium.

A page served by one weblet app (tests/apps/cors_page.py) calls ``fetch()`` with a
custom header and credentials (a cookie) to the API app (tests/apps/cors_app.py, on
both interpreters) on another loopback port. From the allowed page origin the script
reads the answer, the cookie reached the API and only the exposed header is visible;
from a second page origin, and with a header the policy does not allow, the browser
blocks the call and never sends it.

Needs Debian ``chromium`` and ``chromium-driver`` and PyPI ``selenium``; skipped
without them. Everything stays on 127.0.0.1 (the flags keep Chromium off the network).
"""
import pytest

from conftest import browser_missing, get_json, start_app, start_browser

pytestmark = pytest.mark.skipif(bool(browser_missing()), reason='real-browser CORS check needs '
                                + ', '.join(browser_missing()))

CALL = ('const done = arguments[arguments.length - 1];'
        'callApi(arguments[0], arguments[1]).then(done);')
WITH_TOKEN = {'method': 'DELETE', 'credentials': 'include', 'headers': {'X-Token': 's3cret'}}


@pytest.fixture(scope='module')
def browser():
    driver = start_browser()
    yield driver
    driver.quit()


@pytest.fixture(scope='module')
def pages(staged):
    """Two page apps: ``allowed`` (its origin is in the API's list) and ``denied``."""
    started = {name: start_app(staged, 'cpython', 'cors_page') for name in ('allowed', 'denied')}
    yield started
    for app in started.values():
        app.stop()


@pytest.fixture(scope='module', params=['cpython', 'micropython'])
def api(request, staged, pages):
    app = start_app(staged, request.param, 'cors_app', 'list', pages['allowed'].url)
    yield app
    app.stop()


def call_from(browser, page, url, options):
    """Load ``page`` and run ``callApi(url, options)`` in it; returns its report."""
    browser.delete_all_cookies()
    browser.get(page.url + '/')
    return browser.execute_async_script(CALL, url, options)


def hits(api):
    return get_json(api, '/hits')


def test_allowed_origin_reads_the_answer_with_header_and_cookie(browser, pages, api):
    report = call_from(browser, pages['allowed'], api.url + '/private/data', WITH_TOKEN)
    assert report['ok'], report
    assert report['status'] == 200
    assert report['body'] == {'token': 's3cret', 'cookie': 'cookie-value',
                              'origin': pages['allowed'].url, 'method': 'DELETE'}
    assert report['requestId'] == '7'   # listed in expose_headers
    assert report['hidden'] is None     # not listed: the browser hides it


def test_denied_origin_is_blocked_before_the_request_is_sent(browser, pages, api):
    before = hits(api)['private']
    report = call_from(browser, pages['denied'], api.url + '/private/data', WITH_TOKEN)
    assert report == {'ok': False, 'error': 'TypeError: Failed to fetch'}
    assert hits(api)['private'] == before  # the preflight failed: no DELETE was sent


def test_header_outside_the_policy_is_blocked(browser, pages, api):
    before = hits(api)['private']
    options = dict(WITH_TOKEN, headers={'X-Token': 's3cret', 'X-Evil': '1'})
    report = call_from(browser, pages['allowed'], api.url + '/private/data', options)
    assert report == {'ok': False, 'error': 'TypeError: Failed to fetch'}
    assert hits(api)['private'] == before


def test_simple_request_from_denied_origin_is_sent_but_unreadable(browser, pages, api):
    before = hits(api).get('public', 0)
    report = call_from(browser, pages['denied'], api.url + '/public/data',
                       {'credentials': 'include'})
    assert report == {'ok': False, 'error': 'TypeError: Failed to fetch'}
    assert hits(api)['public'] == before + 1  # no preflight: the server did answer
    report = call_from(browser, pages['allowed'], api.url + '/public/data',
                       {'credentials': 'include'})
    assert report['ok'] and report['body'] == {'public': True}, report
