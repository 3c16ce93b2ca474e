"""App's setup methods after start: weblet.appsetup is unloaded once the server
listens, and a route registered later loads it again. argv: PORT"""
import sys

from weblet import App
from testkit import serve

app = App()


@app.route('/')
async def index(req):
    return {'setup_loaded': 'weblet.appsetup' in sys.modules}


@app.post('/add/<name>')
async def add(req, name):
    @app.get('/late/' + name)
    def late(req):
        return 'late ' + name
    return {'setup_loaded': 'weblet.appsetup' in sys.modules}


serve(app)
