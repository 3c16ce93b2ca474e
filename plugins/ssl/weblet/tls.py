"""weblet-ssl: serve a weblet app over HTTPS, with an HTTP server beside it that redirects.

:class:`TLS` loads a device certificate and its private key (PEM or DER,
files or bytes) into an ``SSLContext`` for :meth:`weblet.App.start`, and
:meth:`TLS.start` runs the HTTPS server and, beside it, an HTTP server that
redirects to it (or serves the same app).

The two interpreters want different formats: MicroPython's TLS (mbedTLS)
parses DER only, CPython's ``ssl`` loads PEM files only. The plugin converts,
so the same files work on both.
"""
from binascii import a2b_base64

from weblet import App, Response, HTTPError, MICROPYTHON, quote

if MICROPYTHON:
    try:
        from tls import SSLContext, PROTOCOL_TLS_SERVER  # >= 1.23: no ssl.py wrapper on the heap
    except ImportError:  # MicroPython 1.22
        from ssl import SSLContext, PROTOCOL_TLS_SERVER
else:
    from ssl import SSLContext, PROTOCOL_TLS_SERVER

_HOST_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_[]:'
_PATH_SAFE = "/!$&'()*+,;=:@"


def _named(which, value):
    # A key's bytes are a secret: name their length, never their content.
    if isinstance(value, str):
        return '%s=%r' % (which, value)
    return '%s=<%d bytes>' % (which, len(value))


def _pem_block(data, label):
    """The base64 text of the first PEM block whose label ends with ``label``, and the label."""
    pos = 0
    while True:
        start = data.find(b'-----BEGIN ', pos)
        if start < 0:
            return None, None
        stop = data.find(b'-----', start + 11)
        end = data.find(b'-----END', stop + 5)
        if stop < 0 or end < 0:
            return None, None
        kind = bytes(data[start + 11:stop])
        if kind.endswith(label):
            return kind, data[stop + 5:end]
        pos = end


def _to_pem(label, der):
    """CPython: wrap DER in PEM; a key's label says its syntax (PKCS#8, SEC1 or PKCS#1)."""
    import base64
    if label == b'PRIVATE KEY':
        # Skip the outer SEQUENCE's tag and length, then look at its first fields.
        at = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)
        if der[at:at + 3] == b'\x02\x01\x01':  # version 1: SEC1 ECPrivateKey
            label = b'EC PRIVATE KEY'
        elif der[at + 3:at + 4] == b'\x02':  # version 0, then the modulus: PKCS#1
            label = b'RSA PRIVATE KEY'
    return b'-----BEGIN %s-----\n%s-----END %s-----\n' % (label, base64.encodebytes(der), label)


def _load_pem(ctx, cert, key):
    """CPython: load a certificate and key, each a PEM file's path or PEM bytes."""
    import os
    import tempfile
    paths = []
    try:
        for item in (cert, key):
            if isinstance(item, str):  # a PEM file already: load it where it is
                paths.append((item, False))
                continue
            fd, path = tempfile.mkstemp(suffix='.pem')  # readable by its owner only
            paths.append((path, True))
            with os.fdopen(fd, 'wb') as f:
                f.write(item)
        ctx.load_cert_chain(paths[0][0], paths[1][0])
    finally:
        for path, made in paths:
            if made:
                os.remove(path)


class TLS:
    """HTTPS for a weblet app: a device certificate and its private key.

    :param cert: the certificate: a file path, or its bytes. PEM or DER;
        a PEM file may hold a chain (MicroPython sends only its first
        certificate).
    :param key: the certificate's private key, unencrypted: a file path, or
        its bytes. PEM or DER; PKCS#8, SEC1 (EC) or PKCS#1 (RSA).
    :raises TypeError: if ``cert`` or ``key`` is not a ``str`` or ``bytes``.

    The files are read when the context is first made (:meth:`context` or
    :meth:`start`). Make a pair with ``tools/make_cert.py``.

    Example::

        tls = TLS(cert='device.crt', key='device.key')
        app.run(host='0.0.0.0', port=443, ssl=tls.context())
    """

    app = http_app = None
    _context = _hsts = None
    _https_port = 443

    def __init__(self, cert, key):
        for which, value in (('cert', cert), ('key', key)):
            if not isinstance(value, (str, bytes, bytearray)) or not value:
                raise TypeError('TLS(%s=%r): must be a file path or bytes'
                                % (which, type(value) if value else value))
        self.cert = cert
        self.key = key

    def _load(self, which, label):
        """What this interpreter loads for ``cert`` or ``key``: DER, a PEM path or PEM bytes."""
        value = data = getattr(self, which)
        if isinstance(value, str):
            try:
                with open(value, 'rb') as f:
                    data = f.read()
            except OSError as e:
                raise type(e)('TLS(%s): cannot read the file: %s' % (_named(which, value), e))
        kind, text = _pem_block(data, label)
        if kind is None:
            if data[:1] != b'\x30' or b'-----BEGIN' in data:  # DER starts with a SEQUENCE
                raise ValueError('TLS(%s): not a PEM or DER %s'
                                 % (_named(which, value), label.decode().lower()))
            return bytes(data) if MICROPYTHON else _to_pem(label, bytes(data))
        if kind.startswith(b'ENCRYPTED') or b'ENCRYPTED' in text:
            raise ValueError('TLS(%s): the key is encrypted; give it unencrypted'
                             % _named(which, value))
        if MICROPYTHON:
            return a2b_base64(text)
        return value if isinstance(value, str) else bytes(data)

    def context(self):
        """The server ``SSLContext`` with the certificate and key loaded (made once).

        :raises OSError: naming the file, if ``cert`` or ``key`` cannot be read.
        :raises ValueError: naming the file, if it holds no certificate or
            key, or (CPython) the key does not match the certificate.

        Example::

            await app.start('0.0.0.0', 443, ssl=tls.context())
        """
        if self._context is None:
            cert = self._load('cert', b'CERTIFICATE')
            key = self._load('key', b'PRIVATE KEY')
            ctx = SSLContext(PROTOCOL_TLS_SERVER)
            try:
                if MICROPYTHON:
                    ctx.load_cert_chain(cert, key)
                else:
                    _load_pem(ctx, cert, key)
            except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
                message = str(e)
                if MICROPYTHON:  # mbedTLS says 'invalid key' or 'invalid cert'
                    which = 'key' if 'key' in message else 'cert'
                    named = _named(which, getattr(self, which))
                else:
                    named = _named('cert', self.cert) + ', ' + _named('key', self.key)
                    if 'MISMATCH' in message or 'NO_CERTIFICATE_ASSIGNED' in message:
                        message = 'the key does not match the certificate: ' + message
                raise ValueError('TLS(%s): %s' % (named, message))
            self._context = ctx
        return self._context

    async def start(self, app, https_port=443, http_port=80, redirect=True, hsts=False,
                    host='0.0.0.0'):
        """Serve ``app`` over HTTPS and, beside it, over HTTP; returns the HTTPS server.

        :param app: the :class:`weblet.App` to serve.
        :param https_port: the HTTPS port.
        :param http_port: the HTTP port, or ``None`` for HTTPS only.
        :param redirect: answer every HTTP request with ``301`` to the same
            path and query on HTTPS; ``False`` serves the app over HTTP too.
        :param hsts: add ``Strict-Transport-Security`` to HTTPS responses:
            ``True`` for one year, or its ``max-age`` in seconds.
        :param host: the address to listen on (``'0.0.0.0'``: every interface).
        :raises ValueError: naming a wrong argument, or a certificate or key
            that cannot be loaded (before anything listens).

        The HTTP server is an app of its own, ``tls.http_app``, with
        ``app``'s limits; it stops when ``app`` is shut down. A request
        forwarded to ``app`` from HTTP has ``req.state.plain_http`` set.

        Example::

            async def main():
                server = await TLS('device.crt', 'device.key').start(app, hsts=True)
                await server.wait_closed()

            asyncio.run(main())
        """
        if not isinstance(app, App):
            raise TypeError('TLS.start(app=%r): must be a weblet App' % (app,))
        for which, port in (('https_port', https_port), ('http_port', http_port)):
            if not (port is None and which == 'http_port') and (
                    not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536):
                raise ValueError('TLS.start(%s=%r): must be a port number' % (which, port))
        if https_port == http_port:
            raise ValueError('TLS.start(http_port=%r): must differ from https_port' % http_port)
        if hsts is True:
            hsts = 31536000
        if hsts is not False and (not isinstance(hsts, int) or hsts <= 0):
            raise ValueError('TLS.start(hsts=%r): must be True, False or seconds' % (hsts,))
        ctx = self.context()
        if hsts:
            if self._hsts is None:
                app.after_request(self._add_hsts)
            self._hsts = 'max-age=%d' % hsts
        if self.app is None:
            app.on_shutdown(self._stop_http)
        self.app = app
        self._https_port = https_port
        server = await app.start(host, https_port, ssl=ctx)
        if http_port is None:
            return server
        plain = App(debug=app.debug, **app.limits)
        plain.log = app.log
        plain.before_request(self._redirect if redirect else self._forward)
        try:
            await plain.start(host, http_port)
        except BaseException:
            await app.shutdown()
            raise
        self.http_app = plain
        return server

    def _redirect(self, req):
        """HTTP's before-request hook: 301 to the same path and query on HTTPS."""
        host = req.headers.get('host', '')
        if host[:1] == '[':  # an IPv6 address: the port follows the ']'
            host = host[:host.find(']') + 1]
        else:
            host = host.partition(':')[0]
        if not host or host.strip(_HOST_CHARS):
            raise HTTPError(400, 'missing or bad host')
        if self._https_port != 443:
            host += ':%d' % self._https_port
        query = '?' + req.query if req.query else ''
        return Response.redirect('https://' + host + quote(req.path, _PATH_SAFE) + query, 301)

    async def _forward(self, req):
        """HTTP's before-request hook when not redirecting: the HTTPS app answers."""
        req.state.plain_http = True
        req.app = self.app  # so the handler sees its own app's limits and url_for
        return await self.app.dispatch(req)

    def _add_hsts(self, req, resp):
        if not getattr(req.state, 'plain_http', False):
            resp.headers['Strict-Transport-Security'] = self._hsts

    async def _stop_http(self):
        plain = self.http_app
        if plain is not None:
            self.http_app = None
            await plain.shutdown()
