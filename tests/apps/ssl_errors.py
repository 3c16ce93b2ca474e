"""Each wrong argument or bad file given to weblet-ssl, and the error it raises.

argv: DIR PORT1 PORT2; DIR holds good.crt, good.key, good.crt.der, good.key.der and rsa.key;
the PORTs are free ports.
Prints one line per case: ``NAME TYPE MESSAGE`` (TYPE is OSError for any OSError).
"""
import os
import sys

try:
    import asyncio
except ImportError:
    import uasyncio as asyncio

from weblet import App
from weblet.tls import TLS

os.chdir(sys.argv[1])  # so messages show the short relative names
with open('junk.txt', 'w') as f:
    f.write('not a certificate\n')
with open('enc.key', 'w') as f:
    f.write('-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n')
try:
    os.mkdir('folder')
except OSError:
    pass
with open('good.crt.der', 'rb') as f:
    cert_der = f.read()


def show(name, fn):
    try:
        fn()
        print(name, 'ok')
    except Exception as e:
        kind = 'OSError' if isinstance(e, OSError) else type(e).__name__
        print(name, kind, str(e).replace('\n', ' '))


def context(cert, key):
    return lambda: TLS(cert, key).context()


def start(**kwargs):
    args = {'https_port': 8443, 'http_port': None}
    args.update(kwargs)
    app = args.pop('app', App())
    return lambda: asyncio.run(TLS('good.crt', 'good.key').start(app, **args))


show('missing-cert', context('missing.crt', 'good.key'))
show('missing-key', context('good.crt', 'missing.key'))
show('folder-as-cert', context('folder', 'good.key'))
show('key-as-cert', context('good.key', 'good.key'))
show('cert-as-key', context('good.crt', 'good.crt'))
show('junk-cert', context('junk.txt', 'good.key'))
show('encrypted-key', context('good.crt', 'enc.key'))
show('der-cert-as-key', context(cert_der, cert_der))
show('mismatch', context('good.crt', 'rsa.key'))
show('bad-type', context(5, 'good.key'))
show('empty-key', context('good.crt', b''))
show('bad-port', start(https_port=70000))
show('same-ports', start(https_port=8443, http_port=8443))
show('bad-hsts', start(hsts='yes'))
show('not-an-app', start(app=None))

app = App()
started = []
app.on_startup(lambda: started.append(1))
try:
    asyncio.run(TLS('missing.crt', 'good.key').start(app, https_port=8443, http_port=None))
except OSError:
    pass
print('bad-cert-nothing-listens', 'listening: %s' % (app.server is not None or bool(started)))


def port_taken():
    import socket
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(socket.getaddrinfo('127.0.0.1', int(sys.argv[3]))[0][-1])
    blocker.listen(1)
    app = App()
    try:
        asyncio.run(TLS('good.crt', 'good.key').start(
            app, https_port=int(sys.argv[2]), http_port=int(sys.argv[3]), host='127.0.0.1'))
    except OSError:
        print('http-port-taken', 'https listening: %s' % (app.server is not None))
    blocker.close()


port_taken()
show('good', context('good.crt', 'good.key'))
