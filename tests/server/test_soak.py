"""A soak: 100,000 keep-alive requests to the hello world on MicroPython in the
hello memory test's heap, on the PyPI port (64-bit, ``.mpy`` files) and on the
32-bit build with weblet frozen in. Every request must be answered, and the heap
left after a collection must stay flat: a leak of one byte in a hundred requests
would show.

Four clients on a keep-alive connection each make BATCH requests a round, one
at a time (the hello memory test's load: pipelined requests need room for a
longer read buffer, and a heap this close to the limit is not sized for it);
between rounds, with every client waiting, a fifth connection asks the app for
``gc.mem_alloc()`` after ``gc.collect()``.
"""
import http.client
import json
import socket
import threading
import time

import pytest

from conftest import FROZEN_HELLO_HEAP, HELLO_HEAP, raw_exchange, start_hello

REQUESTS = 100000
CLIENTS = 4
BATCH = 50
ROUNDS = REQUESTS // (CLIENTS * BATCH)
SAMPLES = 20  # heap samples, evenly spread over the rounds (after a warm-up round)
# How far the floor of the second half's samples may be above the first half's. A
# sample can be a few hundred bytes high now and then (the collector is conservative:
# a stale pointer on the C stack keeps some garbage); the floor is not, unless the
# heap leaks: a byte in every 200 requests would raise it by 250.
FLAT_BYTES = 128
REQUEST = b'GET / HTTP/1.1\r\nHost: device\r\n\r\n'


def answer_to(app):
    """The exact bytes the app answers REQUEST with (every answer must be these)."""
    data = raw_exchange(app, REQUEST.replace(b'\r\n\r\n', b'\r\nConnection: close\r\n\r\n'))
    return data.replace(b'Connection: close\r\n', b'')


def soak(app):
    """Run the soak; returns (answered, failures, heap samples)."""
    expected = answer_to(app)
    assert expected.startswith(b'HTTP/1.1 200 '), expected
    socks = [socket.create_connection((app.host, app.port), timeout=30) for _ in range(CLIENTS)]
    meter = http.client.HTTPConnection(app.host, app.port, timeout=30)
    answered = [0] * CLIENTS
    failures = []

    def round_trip(index):
        sock = socks[index]
        try:
            for _ in range(BATCH):
                sock.sendall(REQUEST)
                data = b''
                while len(data) < len(expected):
                    part = sock.recv(4096)
                    if not part:
                        break
                    data += part
                if data != expected:
                    failures.append((index, answered[index], data[:200]))
                    return
                answered[index] += 1
        except OSError as exc:
            failures.append((index, repr(exc)))

    def heap():
        meter.request('GET', '/mem')
        return json.loads(meter.getresponse().read())['alloc']

    samples = []
    every = max(1, (ROUNDS - 1) // (SAMPLES - 1))
    for number in range(ROUNDS):
        threads = [threading.Thread(target=round_trip, args=(index,)) for index in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        if failures:
            break
        if number % every == 0:
            samples.append(heap())
    for sock in socks:
        sock.close()
    meter.close()
    return sum(answered), failures, samples


def check(app, where):
    started = time.monotonic()
    answered, failures, samples = soak(app)
    seconds = time.monotonic() - started
    print('\nsoak on %s: %d requests answered in %.1f s (%.0f/s); heap samples %s'
          % (where, answered, seconds, answered / seconds, samples))
    assert failures == [], (failures[:3], app.output())
    assert answered == ROUNDS * CLIENTS * BATCH
    # The first sample follows the first round, which has made everything a
    # request makes once; from there the heap must stay where it was.
    half = len(samples) // 2
    assert min(samples[half:]) - min(samples[:half]) <= FLAT_BYTES, samples
    assert app.alive(), app.output()


@pytest.mark.micropython
@pytest.mark.parametrize('build', ['mpy', 'frozen'])
def test_soak(request, staged, build):
    app = start_hello(request, staged, build)
    try:
        check(app, '%s build, %s heap' % (build, FROZEN_HELLO_HEAP if build == 'frozen'
                                          else HELLO_HEAP))
    finally:
        app.stop()
