"""Wrong arguments to weblet-websockets: prints one line per case, ``<name>: <error>``."""
from weblet.websockets import websocket, WebSockets, Broadcast

CASES = (
    ('max_message', lambda: websocket(max_message=0)),
    ('protocols', lambda: websocket(protocols='chat')),
    ('origins', lambda: websocket(origins='http://a.example')),
    ('origins', lambda: websocket(origins=True)),
    ('origins', lambda: websocket(origins=['http://a.example', 80])),
    ('origins', lambda: WebSockets('/ws', origins='any')),
    ('origins', lambda: websocket(origins=['http://a.example/'])),
    ('origins', lambda: websocket(origins=['a.example'])),
    ('ping_interval', lambda: websocket(ping_interval=-1)),
    ('max_queue', lambda: Broadcast(max_queue=0)),
    ('on_txt', lambda: WebSockets('/ws', on_txt=print)),
    ('on_text', lambda: WebSockets('/ws', on_text='not callable')),
)

for name, make in CASES:
    try:
        make()
        print('%s: no error' % name)
    except (ValueError, TypeError) as e:
        print('%s: %s %s' % (name, type(e).__name__, e))
print('DONE')
