"""Registering lives in weblet.setup, starting and stopping in weblet.lifecycle:
both unloaded once the server listens; a route added while serving loads setup
again, shutdown lifecycle.
argv: PORT"""
import sys

from weblet import App, escape_html
from testkit import asyncio, serve

app = App()


def loaded():
    return dict((name, 'weblet.' + name in sys.modules)
                for name in ('setup', 'lifecycle'))


@app.route('/')
async def index(req):
    return loaded()


@app.post('/add/<name>')
async def add(req, name):
    @app.get('/late/' + name)
    def late(req):
        return escape_html('late <%s>' % name)
    return loaded()


@app.post('/stop')
async def stop(req):
    asyncio.create_task(app.shutdown())
    return loaded()


@app.on_shutdown
def stopped():
    print('SHUTDOWN lifecycle_loaded=%s' % ('weblet.lifecycle' in sys.modules))


serve(app)
