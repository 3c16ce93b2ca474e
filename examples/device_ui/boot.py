"""Device set-up that runs before main.py: where things live and who may change them.

On a board this is where Wi-Fi would be joined; the demo only sets paths.
Run from this folder (MicroPython runs boot.py, then main.py).
"""
import os

DATA = os.getenv('WEBLET_DEMO_DATA') or 'data'   # settings.json, log.csv, config uploads
WWW = os.getenv('WEBLET_DEMO_WWW') or 'www'       # the single-page UI (pre-gzipped by make demo)
PORT = int(os.getenv('WEBLET_DEMO_PORT') or 8080)
HTTPS_PORT = int(os.getenv('WEBLET_DEMO_HTTPS_PORT') or 8443)
CERT = os.getenv('WEBLET_DEMO_CERT')              # PEM files: set both for HTTPS (make demo TLS=1)
KEY = os.getenv('WEBLET_DEMO_KEY')
ADMIN = ('admin', os.getenv('WEBLET_DEMO_PASSWORD') or 'weblet')

try:
    os.mkdir(DATA)
except OSError:  # already there
    pass
