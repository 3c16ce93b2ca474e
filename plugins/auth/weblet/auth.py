"""weblet-auth: HTTP Basic and Bearer authentication, per route or per path prefix.

Also signed, expiring tokens (:class:`TokenSigner`, HMAC-SHA256) to hand out
as bearer tokens, and an optional brake on password guessing (:class:`Brake`).

Example::

    from weblet.auth import BasicAuth

    basic = BasicAuth(users={'admin': 'secret'}, realm='device')

    @app.get('/settings')
    @basic.required
    async def settings(req):
        return {'user': req.state.user}
"""
import json
import time
from binascii import a2b_base64, b2a_base64
from hashlib import sha256

from weblet import HTTPError, MICROPYTHON, call

if MICROPYTHON:
    # No hmac built in (micropython-lib's, if installed, varies by version): hmac_sha256 below.
    _hmac_digest = None
else:
    from hmac import digest as _hmac_digest


def hmac_sha256(key, message):
    """HMAC-SHA256 (RFC 2104) of ``message`` under ``key``, both bytes: 32 bytes.

    CPython's ``hmac`` module; on MicroPython, which has none, the same
    algorithm written on ``hashlib.sha256``.

    :param key: the secret key.
    :param message: the data to authenticate.

    Example::

        mac = hmac_sha256(b'key', b'message')
    """
    if _hmac_digest is not None:
        return _hmac_digest(key, message, 'sha256')
    if len(key) > 64:
        key = sha256(key).digest()
    key = key + bytes(64 - len(key))
    inner = sha256(bytes(b ^ 0x36 for b in key))
    inner.update(message)
    outer = sha256(bytes(b ^ 0x5C for b in key))
    outer.update(inner.digest())
    return outer.digest()


# Tokens carry Unix times; a port whose epoch is 2000 adds the 30 years between.
_EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0
_BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
_TOKEN68 = _BASE64 + '-._~'


def equal(a, b):
    """Compare two secrets (``str`` or ``bytes``) in constant time.

    Both are hashed first, so neither the position of the first difference
    nor the lengths show in the time taken. Use it in your own ``verify``.

    :param a: one secret.
    :param b: the other.
    :returns: ``True`` if they are equal.

    Example::

        def verify(username, password):
            return username if equal(password, load_password(username)) else None
    """
    a = sha256(a.encode() if isinstance(a, str) else a).digest()
    b = sha256(b.encode() if isinstance(b, str) else b).digest()
    diff = 0
    for i in range(32):
        diff |= a[i] ^ b[i]
    return diff == 0


def _b64url(data):
    return b2a_base64(data).rstrip(b'=\n').replace(b'+', b'-').replace(b'/', b'_').decode()


def _b64decode(text):
    """Decode base64 ``text`` with any padding (or none); ``None`` if it is malformed."""
    text = text.rstrip('=')
    if not text or text.strip(_BASE64) or len(text) % 4 == 1:
        return None
    try:
        return a2b_base64(text + '=' * (-len(text) % 4))
    except ValueError:
        return None


def _checked(owner, realm, verify, brake):
    if not isinstance(realm, str) or not realm or [c for c in realm
                                                   if not ' ' <= c <= '~' or c in '"\\']:
        raise ValueError('%s(realm=%r): must be printable ASCII without " or \\'
                         % (owner, realm))
    if verify is not None and not callable(verify):
        raise ValueError('%s(verify=%r): must be callable' % (owner, verify))
    if brake is not None and not isinstance(brake, Brake):
        raise ValueError('%s(brake=%r): must be a Brake' % (owner, brake))
    return realm


class _Auth:
    """What every scheme (and :class:`AnyOf`) offers; not used directly.

    ``scheme`` is the lower-case scheme name of the ``Authorization`` header,
    ``parts`` the schemes accepted, ``brake`` an optional :class:`Brake`.
    """

    brake = None

    async def check(self, req):
        """Authenticate ``req``: return the user and set ``req.state.user``.

        Raises ``HTTPError(401)`` with ``WWW-Authenticate`` for missing or
        wrong credentials, and ``HTTPError(429)`` with ``Retry-After`` while
        the brake holds the client back. Call it yourself where a handler
        decides case by case.

        :param req: the request.

        Example::

            @app.get('/')
            async def index(req):
                if req.args.get('admin'):
                    await basic.check(req)
                return 'hi'
        """
        brake = self.brake
        address = req.client[0] if req.client else None
        if brake is not None:
            wait = brake.retry_after(address)
            if wait:
                error = HTTPError(429)
                error.headers = {'Retry-After': str(wait)}
                raise error
        header = req.headers.get('authorization')
        user = tried = None
        if header is not None:
            tried, _, credentials = header.partition(' ')
            tried = tried.lower()
            for part in self.parts:
                if user is None and part.scheme == tried:
                    user = await part._verify(credentials.lstrip(' '))
                    if user is False:
                        user = None
            if brake is not None:
                brake.record(req, address, user is not None)
        if user is None:
            error = HTTPError(401)
            error.headers = {'WWW-Authenticate': ', '.join(
                [part.challenge[part.scheme == tried] for part in self.parts])}
            raise error
        req.state.user = user
        return user

    def required(self, handler):
        """Decorate a route handler (sync or async) so it runs only for authenticated users.

        Put it *below* the route decorator, so the route gets the guarded
        handler. The route keeps the handler's name for ``url_for``.

        :param handler: the route handler.

        Example::

            @app.get('/settings')
            @basic.required
            async def settings(req):
                return {'user': req.state.user}
        """
        if not callable(handler):
            raise TypeError('required(handler=%r): must be callable' % (handler,))
        return _Guarded(self, handler)

    def protect(self, prefix):
        """A plugin that requires authentication for every path under ``prefix``.

        ``'/api'`` (or ``'/api/'``) covers ``/api`` and ``/api/...``, not
        ``/apis``; ``'/'`` covers everything. The full path is matched, also
        when the plugin is installed on a mounted app.

        :param prefix: a path starting with ``'/'``.

        Example::

            app.use(bearer.protect('/api'))
        """
        if not isinstance(prefix, str) or prefix[:1] != '/':
            raise ValueError("protect(prefix=%r): must be a str starting with '/'" % (prefix,))
        return _Protect(self, prefix.rstrip('/'))


class _Guarded:
    # A callable object rather than a closure: MicroPython functions take no __name__.
    def __init__(self, auth, handler):
        self.auth = auth
        self.handler = handler
        self.__name__ = getattr(handler, '__name__', 'guarded')

    async def __call__(self, req, **params):
        await self.auth.check(req)
        return await call(self.handler, req, **params)


class _Protect:
    def __init__(self, auth, path):
        self.auth = auth
        self.path = path
        self.under = path + '/'

    def install(self, app):
        app.before_request(self.before)

    async def before(self, req):
        if req.path == self.path or req.path.startswith(self.under):
            await self.auth.check(req)


class BasicAuth(_Auth):
    """HTTP Basic authentication (RFC 7617), UTF-8 credentials.

    Give exactly one of ``users`` and ``verify``.

    :param users: a dict of user name to password (``str``); the user is the
        user name. Passwords are compared in constant time.
    :param verify: ``fn(username, password)``, sync or async, returning the
        user (any value but ``None`` or ``False``) or ``None`` to refuse.
    :param realm: shown by browsers in the login prompt.
    :param brake: an optional :class:`Brake` against password guessing.

    Example::

        basic = BasicAuth(users={'admin': 'secret'}, realm='device')
        app.use(basic.protect('/settings'))
    """

    scheme = 'basic'

    def __init__(self, users=None, verify=None, realm='weblet', brake=None):
        realm = _checked('BasicAuth', realm, verify, brake)
        if (users is None) == (verify is None):
            raise ValueError('BasicAuth(users=..., verify=...): give exactly one of them')
        if users is not None and (not isinstance(users, dict) or not users or [
                name for name in users
                if not isinstance(name, str) or not isinstance(users[name], str)]):
            raise ValueError('BasicAuth(users=...): must be a non-empty dict of str to str')
        self.users = users
        self.verify = verify
        self.brake = brake
        self.parts = (self,)
        self.challenge = ('Basic realm="%s", charset="UTF-8"' % realm,) * 2

    async def _verify(self, credentials):
        decoded = _b64decode(credentials)
        if decoded is None or b':' not in decoded:
            return None
        for byte in decoded:
            if byte < 32 or byte == 127:  # RFC 7617: no control characters
                return None
        try:
            username, _, password = decoded.decode().partition(':')
        except UnicodeError:
            return None
        if self.users is None:
            return await call(self.verify, username, password)
        known = self.users.get(username)
        # Compare even for an unknown user, so timing does not tell who exists.
        if equal(password, '' if known is None else known) and known is not None:
            return username
        return None


class BearerAuth(_Auth):
    """Bearer token authentication (RFC 6750): ``Authorization: Bearer <token>``.

    :param verify: ``fn(token)``, sync or async, returning the user (any value
        but ``None`` or ``False``) or ``None`` for a bad token; a
        :class:`TokenSigner`'s ``verify`` fits.
    :param realm: the realm named in ``WWW-Authenticate``.
    :param brake: an optional :class:`Brake` against token guessing.

    Example::

        signer = TokenSigner(secret)
        bearer = BearerAuth(verify=signer.verify, realm='device')
        app.use(bearer.protect('/api'))
    """

    scheme = 'bearer'

    def __init__(self, verify=None, realm='weblet', brake=None):
        realm = _checked('BearerAuth', realm, verify, brake)
        if verify is None:
            raise ValueError('BearerAuth(verify=None): must be callable')
        self.verify = verify
        self.brake = brake
        self.parts = (self,)
        challenge = 'Bearer realm="%s"' % realm
        self.challenge = (challenge, challenge + ', error="invalid_token"')

    async def _verify(self, credentials):
        if not credentials.rstrip('=') or credentials.rstrip('=').strip(_TOKEN68):
            return None
        return await call(self.verify, credentials)


class AnyOf(_Auth):
    """Accept any of several schemes, e.g. a browser's Basic login or an API's bearer token.

    A request is checked by the scheme its ``Authorization`` header names;
    a 401 offers every scheme's challenge in one ``WWW-Authenticate`` header.

    :param schemes: :class:`BasicAuth` and :class:`BearerAuth` objects.
    :param brake: an optional :class:`Brake`; the schemes' own brakes are not
        used through this object.

    Example::

        either = AnyOf(basic, bearer)
        app.use(either.protect('/api'))
    """

    def __init__(self, *schemes, brake=None):
        if not schemes or [s for s in schemes if not isinstance(s, (BasicAuth, BearerAuth))]:
            raise ValueError('AnyOf(schemes=%r): must be BasicAuth or BearerAuth objects'
                             % (schemes,))
        _checked('AnyOf', 'x', None, brake)
        self.parts = schemes
        self.brake = brake


class Brake:
    """Answer 429 to a client address after too many failed logins.

    After ``failures`` rejected credentials from one address within
    ``window`` seconds, that address gets ``429 Too Many Requests`` with
    ``Retry-After`` for ``window`` seconds, even with right credentials. A
    request without credentials is not a failure. A success clears nothing:
    failures count until their window passes, so logging in with one's own
    account does not buy more guesses at another's.

    Memory is bounded: the table keeps ``slots`` addresses, and it never gives
    away a braked one. A failure from an address not in a full table takes
    the slot of an address whose window has passed, else the unbraked slot
    with the fewest failures (the oldest of equals) *together with its
    failures*, so addresses taking turns gain no guesses; while every slot is
    braked, untracked addresses get 429 until the first brake ends.

    :param failures: failures that trigger the brake.
    :param window: seconds over which failures count, and the lockout time.
    :param slots: addresses tracked at once.

    Example::

        basic = BasicAuth(users=USERS, brake=Brake(failures=5, window=60))
    """

    def __init__(self, failures=5, window=60, slots=8):
        for name, value in (('failures', failures), ('window', window), ('slots', slots)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError('Brake(%s=%r): must be a positive number' % (name, value))
        self.failures = failures
        self.window = window
        self.slots = max(1, int(slots))
        self.table = []  # [address, failures, since]

    def _wait(self, entry, now):
        # Seconds left of the entry's brake, 0 if it is not braked.
        left = entry[2] + self.window - now
        # left > window: the clock went back; let the client try.
        if entry[1] >= self.failures and 0 < left <= self.window:
            return int(left) + 1
        return 0

    def retry_after(self, address):
        """Seconds ``address`` must wait (``0``: it may try)."""
        now = time.time()
        soonest = None
        for entry in self.table:
            wait = self._wait(entry, now)
            if entry[0] == address:
                return wait
            if soonest is None or wait < soonest:
                soonest = wait
        # Untracked: wait only while no slot could count its failures (every one braked).
        return soonest if len(self.table) >= self.slots else 0

    def record(self, req, address, success):
        """Count a failure for ``address``; a success changes nothing."""
        if success:
            return  # clearing would let a user's own logins reset guesses at others
        now = time.time()
        window = self.window
        table = self.table
        found = spare = None
        least = 0
        for entry in table:
            if entry[0] == address:
                found = entry
                break
            if self._wait(entry, now):
                continue  # braked: never given away
            # An entry whose window has passed counts as no failures.
            weight = entry[1] if 0 <= now - entry[2] < window else 0
            if spare is None or weight < least or weight == least and entry[2] < spare[2]:
                spare = entry
                least = weight
        if found is None:
            if len(table) < self.slots:
                found = [address, 0, now]
                table.append(found)
            elif spare is None:
                return  # every slot braked since this request passed retry_after
            else:
                found = spare
                found[0] = address  # its failures stay counted, now against this address
        if not 0 <= now - found[2] < window:  # a new window (or the clock went back)
            found[1] = 0
            found[2] = now
        found[1] += 1
        if found[1] == self.failures:
            found[2] = now  # the lockout lasts a whole window from here
            req.app.log('WARN', 'auth: braking %s after %d failures' % (address, found[1]))


class TokenSigner:
    """Sign and verify expiring tokens: HMAC-SHA256 over a base64url JSON payload.

    A token is ``PAYLOAD.EXPIRES.SIGNATURE``: base64url JSON, a Unix time
    in whole seconds, base64url HMAC. It is signed, not encrypted: anyone
    holding it can read the payload. Expiry uses ``time.time()``, so the
    device clock must be set (NTP) for tokens to move between machines.

    :param secret: ``str`` or ``bytes``, at least 16 bytes; keep it secret
        and the same across restarts, or issued tokens stop verifying.

    Example::

        signer = TokenSigner(secret)
        token = signer.sign({'user': 'admin'}, expires_in=3600)
        signer.verify(token)     # {'user': 'admin'}, or None if bad or expired
    """

    def __init__(self, secret):
        if isinstance(secret, str):
            secret = secret.encode()
        if not isinstance(secret, bytes) or len(secret) < 16:
            raise ValueError('TokenSigner(secret=...): must be str or bytes of 16 bytes or more')
        self.secret = secret

    def sign(self, payload, expires_in=3600):
        """A token for ``payload`` that expires in ``expires_in`` seconds.

        :param payload: any JSON-serialisable value but ``None``.
        :param expires_in: lifetime in seconds, a positive number.
        """
        if payload is None:
            raise ValueError('sign(payload=None): must not be None')
        if (not isinstance(expires_in, (int, float)) or isinstance(expires_in, bool)
                or expires_in <= 0):
            raise ValueError('sign(expires_in=%r): must be a positive number' % (expires_in,))
        body = '%s.%d' % (_b64url(json.dumps(payload).encode()),
                          int(time.time() + _EPOCH_OFFSET + expires_in))
        return body + '.' + _b64url(hmac_sha256(self.secret, body.encode()))

    def verify(self, token):
        """The payload of a valid, unexpired ``token``, else ``None`` (never raises).

        :param token: the token as a ``str``.
        """
        if not isinstance(token, str):
            return None
        body, _, signature = token.rpartition('.')
        if not equal(signature, _b64url(hmac_sha256(self.secret, body.encode()))):
            return None
        data, _, expires = body.partition('.')
        try:
            if int(expires) <= time.time() + _EPOCH_OFFSET:
                return None
            return json.loads(_b64decode(data.replace('-', '+').replace('_', '/')).decode())
        except (ValueError, AttributeError):
            return None
