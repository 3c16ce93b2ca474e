"""weblet-websockets in a real browser: headless Chromium, driven by selenium.

A page served by tests/apps/websockets_app.py (on both interpreters) opens a
WebSocket to the same server with a subprotocol, echoes a text message (non-ASCII)
and a binary one, closes it from the page, then opens a second one that the server
closes with code 4000 and a reason. Then, as a page of another origin would, it
opens WebSockets to the same server under another name (``localhost`` for a page
from ``127.0.0.1``): the same-origin default refuses it, ``origins='*'`` takes it.
The test reads the page's report.

Needs Debian ``chromium`` and ``chromium-driver`` and PyPI ``selenium``; skipped
without them. Everything stays on 127.0.0.1 (the flags keep Chromium off the network).
"""
import json

import pytest

from conftest import INTERPRETERS, browser_missing, start_app, start_browser

pytestmark = pytest.mark.skipif(bool(browser_missing()), reason='the real-browser WebSocket test '
                                'needs ' + ', '.join(browser_missing()))


@pytest.fixture(scope='module')
def browser():
    driver = start_browser()
    yield driver
    driver.quit()


@pytest.mark.parametrize('interp', INTERPRETERS)
def test_browser_echoes_text_and_binary_and_sees_both_closes(staged, browser, interp):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    app = start_app(staged, interp, 'websockets_app')
    try:
        browser.get(app.url + '/page')
        WebDriverWait(browser, 20).until(lambda b: b.title in ('done', 'error'))
        report = json.loads(browser.find_element(By.ID, 'result').text)
        assert browser.title == 'done', report
    finally:
        app.stop()
    assert report == {'got': ['h\u00e9llo \u2603', [1, 2, 3, 250]], 'protocol': 'chat-v1',
                      'echo_close': [1000, True], 'server_close': [4000, 'bye', True],
                      'cross_origin': [1006], 'any_origin': 'any'}
