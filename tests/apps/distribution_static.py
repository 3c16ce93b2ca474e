"""The distribution tests' app: weblet-static as mip installed it. argv: PORT ROOT

Serves ROOT under /files/ and answers /where with the file each weblet
module was loaded from, so the test can see the installed tree is in use.
"""
import weblet
import weblet.static
from weblet import App
from weblet.static import Static
from testkit import serve, arg

app = App()
app.use(Static(arg(1), prefix='/files/', max_age=0))


@app.get('/where')
def where(req):
    return {'weblet': weblet.__file__, 'weblet.static': weblet.static.__file__}


serve(app)
