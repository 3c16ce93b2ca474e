"""Hello world: the smallest weblet app.

Run it with the lib on the path: `MICROPYPATH=build/lib:.frozen .venv/bin/micropython examples/hello/main.py`.
"""
from weblet import App

app = App()


@app.route('/')
async def index(req):
    return '<h1>Hello from weblet</h1><p><a href="/api/led/2">/api/led/2</a></p>'


@app.get('/api/led/<int:pin>')
def led(req, pin):
    return {'pin': pin, 'on': req.args.get('on', 'false') == 'true'}


print('weblet demo: http://127.0.0.1:8080/')
app.run(host='127.0.0.1', port=8080)
