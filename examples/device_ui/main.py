"""A thermostat's web UI: every weblet package composed as a device owner would.

- a single-page UI (www/, pre-gzipped) served by weblet-static with caching;
- live readings pushed over a WebSocket Broadcast from a sensor task;
- a REST API for readings and settings (weblet-restapi); changing settings,
  and uploading a config file, needs Basic auth (weblet-auth); settings
  persist in data/settings.json;
- a .pyhtml status page (weblet-pyhtml), a CSV log download (send_file);
- HTTPS beside HTTP when a certificate is configured (weblet-ssl).
"""
import json
import random
import time

try:
    import asyncio
except ImportError:
    import uasyncio as asyncio

import boot
from weblet import App, HTTPError
from weblet.auth import BasicAuth
from weblet.pyhtml import Templates
from weblet.restapi import RestAPI
from weblet.static import Static, send_file
from weblet.websockets import Broadcast, websocket

SETTINGS_FILE = boot.DATA + '/settings.json'
LOG_FILE = boot.DATA + '/log.csv'
CONFIG_FILE = boot.DATA + '/config.bin'
DEFAULTS = {'name': 'thermostat-1', 'target': 21.0, 'unit': 'C'}
KEEP = 20  # readings kept in RAM for the API and the status page

app = App(max_connections=6, max_body=2048)
api = RestAPI(prefix='/api')
admin = BasicAuth(users={boot.ADMIN[0]: boot.ADMIN[1]}, realm='thermostat')
live = Broadcast()
templates = Templates('templates', globals={'device': 'weblet demo'})
readings = []
started = time.time()


def load_settings():
    try:
        with open(SETTINGS_FILE) as f:
            return json.load(f)
    except (OSError, ValueError):  # first start, or a damaged file
        return dict(DEFAULTS)


settings = load_settings()


def save_settings():
    with open(SETTINGS_FILE + '.new', 'w') as f:
        json.dump(settings, f)
    import os
    os.rename(SETTINGS_FILE + '.new', SETTINGS_FILE)


async def sensor():
    """A simulated temperature sensor: one reading a second, drifting towards the target."""
    temperature = 19.0
    while True:
        temperature += (settings['target'] - temperature) * 0.1 + random.uniform(-0.2, 0.2)
        reading = {'t': int(time.time()), 'temperature': round(temperature, 2)}
        readings.append(reading)
        if len(readings) > KEEP:
            readings.pop(0)
        with open(LOG_FILE, 'a') as f:
            f.write('%d,%.2f\n' % (reading['t'], reading['temperature']))
        await live.send(json.dumps(reading))
        await asyncio.sleep(1)


@api.resource('/readings', methods=['GET'])
def get_readings(req):
    return readings


@api.resource('/settings')
class Settings:
    def get(self, req):
        return settings

    async def put(self, req, data):
        await admin.check(req)  # 401 without the right Basic credentials
        changes = {}
        if 'name' in data:
            changes['name'] = str(data['name'])[:32]
        if 'target' in data:
            try:
                changes['target'] = min(30.0, max(5.0, float(data['target'])))
            except (TypeError, ValueError):
                api.abort(400, 'target must be a number')
        settings.update(changes)
        save_settings()
        return settings


@app.route('/ws/live')
@websocket(max_message=256)
async def live_readings(req, ws):
    live.add(ws)
    async for message in ws:  # keep reading: answers pings, notices the close
        pass


@app.get('/status')
async def status(req):
    return templates.render('status.pyhtml', settings=settings, readings=readings,
                            uptime=int(time.time() - started))


@app.get('/log.csv')
async def log(req):
    return await send_file(req, LOG_FILE, attachment='log.csv', max_age=0)


@app.post('/config')
@admin.required
async def upload_config(req):
    """Store an uploaded config file, streamed to flash in small pieces."""
    size = 0
    with open(CONFIG_FILE, 'wb') as f:
        while True:
            chunk = await req.stream.read(512)
            if not chunk:
                break
            size += len(chunk)
            if size > 64 * 1024:
                raise HTTPError(413, 'config files are 64 KB at most')
            f.write(chunk)
    return {'stored': size}


@app.after_request
def no_login_prompt_for_scripts(req, resp):
    # The dashboard asks for the password itself: a challenge on its fetch()
    # calls would make the browser pop up its own login box as well.
    if resp.status == 401 and req.headers.get('X-Requested-With') == 'fetch':
        resp.headers.pop('WWW-Authenticate')
    return resp


app.use(api)
app.use(Static(boot.WWW, prefix='/', max_age=3600))


async def main():
    asyncio.create_task(sensor())
    if boot.CERT and boot.KEY:
        from weblet.tls import TLS
        await TLS(cert=boot.CERT, key=boot.KEY).start(
            app, https_port=boot.HTTPS_PORT, http_port=boot.PORT, redirect=False)
        print('weblet demo: https://127.0.0.1:%d/ (and http on %d)' % (boot.HTTPS_PORT, boot.PORT))
    else:
        await app.start('0.0.0.0' if boot.PORT == 80 else '127.0.0.1', boot.PORT)
        print('weblet demo: http://127.0.0.1:%d/' % boot.PORT)
    print('login for settings: %s / %s' % boot.ADMIN)
    print('READY')
    await app.server.wait_closed()


asyncio.run(main())
