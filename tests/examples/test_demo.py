"""The device-UI demo end to end: installed by the real mip from a local index into a
temp folder, run on the MicroPython unix port with the demo's heap, driven by
headless Chromium (Debian chromium + chromium-driver, selenium).

The screenshot it takes is docs/demo.png, which the docs' front page and the
README show.
"""
import http.client
import json
import os
import subprocess

import pytest

from conftest import ROOT, RunningApp, browser_missing, free_port, start_browser

import demo as demo_tool  # tools/demo.py
import micropython_build

pytestmark = [pytest.mark.micropython,
              pytest.mark.skipif(bool(browser_missing()),
                                 reason='the demo test needs ' + ', '.join(browser_missing()))]
SCREENSHOT = os.path.join(ROOT, 'docs', 'demo.png')


class Demo:
    """The installed demo in a folder; start() and stop() it like a device's power."""

    def __init__(self, directory):
        self.directory = directory
        self.command, self.env = demo_tool.prepare(directory)
        self.port = free_port()
        self.env['WEBLET_DEMO_PORT'] = str(self.port)
        self.app = None

    def start(self):
        proc = subprocess.Popen(self.command, cwd=self.directory, env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.app = RunningApp(proc, self.port, 'micropython')
        self.app.wait_ready()
        return self.app

    def stop(self):
        self.app.stop()


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    demo = Demo(str(tmp_path_factory.mktemp('device')))
    demo.start()
    yield demo
    demo.stop()


@pytest.fixture(scope='module')
def browser():
    driver = start_browser()
    yield driver
    driver.quit()


def api(demo, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection('127.0.0.1', demo.port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, dict(resp.getheaders()), data


def wait_text(browser, element_id, predicate, timeout=15):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(browser, timeout).until(
        lambda d: predicate(d.find_element(By.ID, element_id).text)
        and d.find_element(By.ID, element_id).text)


def fill(browser, element_id, value):
    from selenium.webdriver.common.by import By
    field = browser.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value)


def submit(browser, form_id):
    from selenium.webdriver.common.by import By
    browser.find_element(By.CSS_SELECTOR, '#%s button' % form_id).click()


def test_page_loads_and_the_live_value_changes(demo, browser):
    browser.get('http://127.0.0.1:%d/' % demo.port)
    assert browser.title == 'Thermostat'
    wait_text(browser, 'state', lambda text: text == 'live')
    first = wait_text(browser, 'temperature', lambda text: text != '--')
    wait_text(browser, 'temperature', lambda text: text not in ('--', first))
    wait_text(browser, 'name', lambda text: text == 'thermostat-1')
    if not os.environ.get(micropython_build.BINARY_ENV):  # the docs show the PyPI port's run
        browser.save_screenshot(SCREENSHOT)


def test_ui_assets_are_served_pre_gzipped_and_cached(demo):
    status, headers, _ = api(demo, 'GET', '/app.js', headers={'Accept-Encoding': 'gzip'})
    assert status == 200 and headers['Content-Encoding'] == 'gzip'
    assert 'max-age=3600' in headers['Cache-Control'] and 'ETag' in headers


def test_settings_change_without_credentials_is_refused(demo, browser):
    browser.get('http://127.0.0.1:%d/' % demo.port)
    wait_text(browser, 'target', lambda text: text not in ('--', ''))
    fill(browser, 'target-input', '26')
    fill(browser, 'password', 'wrong')
    submit(browser, 'settings')
    wait_text(browser, 'saved', lambda text: text.startswith('refused'))
    assert json.loads(api(demo, 'GET', '/api/settings')[2])['target'] != 26
    status, headers, _ = api(demo, 'PUT', '/api/settings', b'{"target": 26}',
                             {'Content-Type': 'application/json'})
    assert status == 401 and headers['WWW-Authenticate'].startswith('Basic realm="thermostat"')


def test_settings_change_with_credentials_persists_across_a_restart(demo, browser):
    browser.get('http://127.0.0.1:%d/' % demo.port)
    wait_text(browser, 'target', lambda text: text not in ('--', ''))
    fill(browser, 'target-input', '24.5')
    fill(browser, 'name-input', 'greenhouse')
    fill(browser, 'password', 'weblet')
    submit(browser, 'settings')
    wait_text(browser, 'saved', lambda text: text == 'saved')
    demo.stop()
    demo.start()
    settings = json.loads(api(demo, 'GET', '/api/settings')[2])
    assert (settings['target'], settings['name']) == (24.5, 'greenhouse')
    browser.get('http://127.0.0.1:%d/' % demo.port)
    wait_text(browser, 'name', lambda text: text == 'greenhouse')


def test_csv_log_downloads(demo):
    status, headers, body = api(demo, 'GET', '/log.csv')
    assert status == 200 and 'attachment' in headers['Content-Disposition']
    assert 'log.csv' in headers['Content-Disposition']
    rows = body.decode().strip().splitlines()
    assert rows and all(len(row.split(',')) == 2 for row in rows)
    float(rows[-1].split(',')[1])


def test_config_upload_is_streamed_to_disk(demo):
    payload = bytes(range(256)) * 40
    auth = {'Authorization': 'Basic YWRtaW46d2VibGV0'}  # admin:weblet
    assert api(demo, 'POST', '/config', payload)[0] == 401
    status, _, body = api(demo, 'POST', '/config', payload, auth)
    assert (status, json.loads(body)) == (200, {'stored': len(payload)})
    with open(os.path.join(demo.directory, 'data', 'config.bin'), 'rb') as f:
        assert f.read() == payload


def test_status_page_renders(demo, browser):
    from selenium.webdriver.common.by import By
    browser.get('http://127.0.0.1:%d/status' % demo.port)
    assert 'status' in browser.find_element(By.TAG_NAME, 'h1').text
    rows = browser.find_elements(By.CSS_SELECTOR, '#readings tr')
    assert len(rows) >= 2  # the header and at least one reading
    assert browser.find_element(By.ID, 'uptime').text.startswith('Up ')
