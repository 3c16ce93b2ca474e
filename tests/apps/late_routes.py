"""Starting and stopping live in weblet.lifecycle: unloaded once the server
listens, loaded again by shutdown. Routes added while serving need neither.
argv: PORT"""
import sys

from weblet import App
from testkit import asyncio, serve

app = App()


def lifecycle_loaded():
    return {'lifecycle_loaded': 'weblet.lifecycle' in sys.modules}


@app.route('/')
async def index(req):
    return lifecycle_loaded()


@app.post('/add/<name>')
async def add(req, name):
    @app.get('/late/' + name)
    def late(req):
        return 'late ' + name
    return lifecycle_loaded()


@app.post('/stop')
async def stop(req):
    asyncio.create_task(app.shutdown())
    return lifecycle_loaded()


@app.on_shutdown
def stopped():
    print('SHUTDOWN lifecycle_loaded=%s' % ('weblet.lifecycle' in sys.modules))


serve(app)
