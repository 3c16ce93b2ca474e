"""weblet-auth outside a server, for the cross-interpreter tests.

argv: COMMAND ...
  hmac [--no-hmac]              stdin: JSON [[key_hex, message_hex], ...]; prints the digests
                                (--no-hmac: CPython uses the MicroPython code path)
  sign SECRET PAYLOAD EXPIRES   prints a token (PAYLOAD is JSON)
  verify SECRET TOKEN           prints the payload as JSON (null: refused)
  errors                        tries wrong arguments; prints 'TypeName: message' lines
With --epoch2000 after COMMAND, the time module is replaced by one whose epoch is
2000-01-01, as on MicroPython's bare-metal ports.
"""
import json
import sys
from binascii import hexlify, unhexlify

import weblet  # noqa: F401 (the core and asyncio keep the real clock; weblet-auth gets the one below)

command = sys.argv[1]
if '--epoch2000' in sys.argv:
    import time as real_time

    class Time2000:
        @staticmethod
        def time():
            return real_time.time() - 946684800

        @staticmethod
        def gmtime(seconds):
            return (2000, 1, 1, 0, 0, 0, 5, 1) if seconds == 0 else real_time.gmtime(seconds)
    sys.modules['time'] = Time2000

from weblet import auth  # noqa: E402

if '--no-hmac' in sys.argv:
    auth._hmac_digest = None  # CPython: use the HMAC written for MicroPython

if command == 'hmac':
    pairs = json.loads(sys.stdin.read())
    print(json.dumps([hexlify(auth.hmac_sha256(unhexlify(k), unhexlify(m))).decode()
                      for k, m in pairs]))
elif command == 'sign':
    print(auth.TokenSigner(sys.argv[2]).sign(json.loads(sys.argv[3]),
                                             expires_in=float(sys.argv[4])))
elif command == 'verify':
    print(json.dumps(auth.TokenSigner(sys.argv[2]).verify(sys.argv[3])))
elif command == 'errors':
    def ok(req):
        return None

    attempts = [
        lambda: auth.BasicAuth(),
        lambda: auth.BasicAuth(users={'a': 'b'}, verify=ok),
        lambda: auth.BasicAuth(users={}),
        lambda: auth.BasicAuth(users={'a': 1}),
        lambda: auth.BasicAuth(users=[('a', 'b')]),
        lambda: auth.BasicAuth(verify='nope'),
        lambda: auth.BasicAuth(verify=ok, realm='say "hi"'),
        lambda: auth.BasicAuth(verify=ok, realm='a\r\nX-Evil: 1'),
        lambda: auth.BasicAuth(verify=ok, realm=''),
        lambda: auth.BasicAuth(verify=ok, brake=3),
        lambda: auth.BearerAuth(),
        lambda: auth.BearerAuth(verify=ok, realm=5),
        lambda: auth.AnyOf(),
        lambda: auth.AnyOf(ok),
        lambda: auth.AnyOf(auth.BearerAuth(verify=ok), brake='x'),
        lambda: auth.Brake(failures=0),
        lambda: auth.Brake(window=True),
        lambda: auth.Brake(slots='8'),
        lambda: auth.TokenSigner('short'),
        lambda: auth.TokenSigner(None),
        lambda: auth.TokenSigner('0123456789abcdef').sign(None),
        lambda: auth.TokenSigner('0123456789abcdef').sign({}, expires_in=0),
        lambda: auth.TokenSigner('0123456789abcdef').sign({}, expires_in='1'),
        lambda: auth.BearerAuth(verify=ok).protect('api'),
        lambda: auth.BearerAuth(verify=ok).protect(None),
        lambda: auth.BearerAuth(verify=ok).required('x'),
    ]
    for attempt in attempts:
        try:
            attempt()
            print('no error')
        except (ValueError, TypeError) as exc:
            print('%s: %s' % (type(exc).__name__, exc))
