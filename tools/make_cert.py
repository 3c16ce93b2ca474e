"""Make a self-signed TLS certificate and private key for a weblet device (weblet-ssl).

Runs on the host (CPython 3.9+) with the ``cryptography`` package
(``pip install cryptography``); the device needs nothing but the files. It
writes four files for ``--out PREFIX`` (default ``device``):

    PREFIX.crt       the certificate, PEM     PREFIX.crt.der   the same, DER
    PREFIX.key       the private key, PEM     PREFIX.key.der   the same, DER
                     (PKCS#8, unencrypted, mode 0600)

``weblet.tls.TLS`` takes either form on either interpreter; copy the DER pair
to a MicroPython device to skip the PEM decoding there. The key is EC P-256
unless ``--rsa`` (RSA 2048) is given: P-256 makes smaller files and faster
handshakes on a microcontroller.

Usage::

    python tools/make_cert.py --host thermostat.local --ip 192.168.4.1
    python tools/make_cert.py --ip 10.0.0.7 --rsa --days 365 --out certs/dev7

The subjectAltName lists every ``--host`` and ``--ip`` (give at least one:
browsers ignore the common name). ``--not-before YYYY-MM-DD`` backdates the
certificate (for testing an expired one with ``--days``).

From Python: ``make(hosts, ips, rsa=False, days=825, not_before=None)``
returns ``(cert_pem, key_pem, cert_der, key_der)``; ``write(prefix, ...)``
writes the four files.
"""
import argparse
import datetime
import ipaddress
import os
import sys

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa as rsa_keys
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:  # reported by main(); make() raises
    x509 = None

# Apple platforms reject TLS server certificates valid for longer than this.
DEFAULT_DAYS = 825


def make(hosts=(), ips=(), rsa=False, days=DEFAULT_DAYS, not_before=None):
    """A self-signed server certificate and its key: ``(cert_pem, key_pem, cert_der, key_der)``.

    :param hosts: DNS names for the subjectAltName, e.g. ``['thermostat.local']``.
    :param ips: IP addresses for the subjectAltName, e.g. ``['192.168.4.1']``.
    :param rsa: an RSA 2048 key instead of EC P-256.
    :param days: how long the certificate is valid.
    :param not_before: when validity starts (a ``datetime``; default: an hour ago,
        for clocks a little behind).
    :raises ValueError: no name at all, a bad IP address, or ``days`` < 1.
    """
    if x509 is None:
        raise ImportError('make_cert needs the cryptography package: pip install cryptography')
    hosts = list(hosts)
    ips = [ipaddress.ip_address(ip) for ip in ips]
    if not hosts and not ips:
        raise ValueError('give at least one host name or IP address')
    if days < 1:
        raise ValueError('days=%r: must be at least 1' % (days,))
    if rsa:
        key = rsa_keys.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else str(ips[0]))])
    start = not_before or datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(h) for h in hosts] + [x509.IPAddress(ip) for ip in ips]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_encipherment=rsa, content_commitment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    cert = builder.sign(key, hashes.SHA256())
    pkcs8 = serialization.PrivateFormat.PKCS8
    plain = serialization.NoEncryption()
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, pkcs8, plain),
            cert.public_bytes(serialization.Encoding.DER),
            key.private_bytes(serialization.Encoding.DER, pkcs8, plain))


def write(prefix, hosts=(), ips=(), rsa=False, days=DEFAULT_DAYS, not_before=None):
    """Write ``PREFIX.crt``, ``.key``, ``.crt.der`` and ``.key.der``; returns their paths."""
    cert_pem, key_pem, cert_der, key_der = make(hosts, ips, rsa, days, not_before)
    paths = []
    for suffix, data, secret in (('.crt', cert_pem, False), ('.key', key_pem, True),
                                 ('.crt.der', cert_der, False), ('.key.der', key_der, True)):
        path = prefix + suffix
        # Create key files owner-only from the start, not chmod them afterwards.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        paths.append(path)
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Make a self-signed certificate and key for a weblet device.')
    parser.add_argument('--host', action='append', default=[], metavar='NAME',
                        help='a DNS name for the subjectAltName (repeatable)')
    parser.add_argument('--ip', action='append', default=[], metavar='ADDR',
                        help='an IP address for the subjectAltName (repeatable)')
    parser.add_argument('--rsa', action='store_true', help='RSA 2048 instead of EC P-256')
    parser.add_argument('--days', type=int, default=DEFAULT_DAYS,
                        help='validity in days (default %d)' % DEFAULT_DAYS)
    parser.add_argument('--not-before', metavar='YYYY-MM-DD',
                        help='start of validity (default: an hour ago)')
    parser.add_argument('--out', default='device', metavar='PREFIX',
                        help='output file prefix (default: device)')
    args = parser.parse_args(argv)
    if x509 is None:
        parser.error('needs the cryptography package: pip install cryptography')
    not_before = None
    if args.not_before:
        try:
            not_before = datetime.datetime.strptime(args.not_before, '%Y-%m-%d').replace(
                tzinfo=datetime.timezone.utc)
        except ValueError:
            parser.error('--not-before %r: not a YYYY-MM-DD date' % args.not_before)
    try:
        paths = write(args.out, args.host, args.ip, args.rsa, args.days, not_before)
    except ValueError as e:
        parser.error(str(e))
    with open(paths[0], 'rb') as f:
        cert = x509.load_pem_x509_certificate(f.read())
    print('wrote %s' % ', '.join(paths))
    print('SHA-256 fingerprint: %s' % cert.fingerprint(hashes.SHA256()).hex(':').upper())
    return 0


if __name__ == '__main__':
    sys.exit(main())
