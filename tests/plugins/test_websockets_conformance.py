"""WebSocket conformance: the Autobahn test cases, run by ``kosoku``, against an echo app.

Cases 1.* to 7.* (framing, pings, reserved bits, opcodes, fragmentation, UTF-8,
closing) and 9.* (large messages, many fragments, small chops, round trips) on
both interpreters; 12.* and 13.* (compression) are out of scope. The 9.* cases
send messages of up to 16 MB: CPython takes them all, MicroPython (with a 16 MB
heap and ``.mpy`` files) those up to 1 MB, its ``max_message``; the larger ones
would end, correctly, in close 1009. A case fails this test unless both its
verdicts are OK, NON-STRICT or INFORMATIONAL. Run with ``-s`` to see the counts.
"""
import collections
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import INTERPRETERS, start_app

KOSOKU = shutil.which('kosoku') or os.path.join(os.path.dirname(sys.executable), 'kosoku')
PASSING = ('OK', 'NON-STRICT', 'INFORMATIONAL')
CASES = ['1.*', '2.*', '3.*', '4.*', '5.*', '6.*', '7.*', '9.*']
OVER_1MB = ['9.1.4', '9.1.5', '9.1.6', '9.2.4', '9.2.5', '9.2.6', '9.3.*', '9.4.*']
# interpreter -> (max_message of the echo app, heap size, excluded cases, cases run)
SETTINGS = {'cpython': (16 << 20, None, [], 300),
            'micropython': (1 << 20, '16M', OVER_1MB, 276)}


@pytest.mark.timeout(400)
@pytest.mark.parametrize('interp', INTERPRETERS)
def test_autobahn_cases_pass(staged, tmp_path, interp):
    if not os.path.exists(KOSOKU):
        pytest.skip('kosoku is not installed (pip install kosoku): it runs the Autobahn cases')
    max_message, heap, excluded, expected = SETTINGS[interp]
    app = start_app(staged, interp, 'websockets_echo', max_message, heapsize=heap,
                    mpy=interp == 'micropython')
    command = [KOSOKU, '-o', str(tmp_path)]
    for case in CASES:
        command += ['-i', case]
    for case in excluded:
        command += ['-x', case]
    command.append('%s:%d' % (app.host, app.port))
    started = time.monotonic()
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=360)
    finally:
        app.stop()
    elapsed = time.monotonic() - started
    with open(os.path.join(str(tmp_path), 'index.json')) as f:
        results = next(iter(json.load(f).values()))
    counts = collections.Counter(
        '%s/%s' % (r['behavior'], r['behaviorClose']) for r in results.values())
    failures = ['%s: %s/%s' % (case, r['behavior'], r['behaviorClose'])
                for case, r in results.items()
                if r['behavior'] not in PASSING or r['behaviorClose'] not in PASSING]
    print('\nAutobahn on %s: %d cases in %.1f s (max_message %d): %s'
          % (interp, len(results), elapsed, max_message, dict(sorted(counts.items()))))
    assert not failures, '%s\n%s' % (failures, run.stderr[-2000:])
    assert len(results) == expected, run.stdout + run.stderr
    assert run.returncode == 0, run.stdout + run.stderr
