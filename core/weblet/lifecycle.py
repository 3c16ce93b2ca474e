"""Starting and stopping an app's server: listening, startup and shutdown hooks,
and a graceful shutdown.

:meth:`weblet.App.start` and :meth:`weblet.App.shutdown` forward here. A
device runs this code once at boot and once at the end, so :func:`start`
unloads this module once the server listens, which gives its heap back to
requests; :func:`shutdown` loads it again. Serving itself is
:mod:`weblet.server`'s.
"""
import gc

from .platform import MICROPYTHON, asyncio, call, ticks_ms, ticks_diff, unload


async def run_hooks(app, which):
    """Run ``app``'s ``_startup`` or ``_shutdown`` functions, then its mounted apps'."""
    for fn in getattr(app, which):
        await call(fn)
    for _, mounted in app.router.mounts:
        await run_hooks(mounted, which)


async def start(app, host, port, ssl):
    """:meth:`weblet.App.start`: run the startup hooks, listen, return the Server."""
    await run_hooks(app, '_startup')
    # The server's code is the largest load of all (7 KB with .mpy files on a
    # 32-bit port). Registering is done: weblet.setup's code goes first, then
    # a collection gives the heap its garbage back in one piece for the
    # server's (each of the two lets the .mpy hello world start in 1-2K less).
    unload('weblet.setup')
    gc.collect()
    from .server import Server
    server = Server(app)
    backlog = app.max_connections * 2
    if MICROPYTHON:
        import socket
        address = socket.getaddrinfo(host, port)[0]
        listener = socket.socket(address[0])
        listener.setblocking(False)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address[-1])
        listener.listen(backlog)
        server.listener = listener
        # asyncio.StreamReader asked for now, not at the first connection:
        # MicroPython's asyncio loads it when first asked and grows its own
        # globals for it (one 320-byte block on the 32-bit port). At the first
        # connection, in a heap fragmented by then, that failed every accept:
        # the .mpy hello world needed 51K, not 48K (76K, not 72K, 64-bit).
        server.accepter = asyncio.create_task(
            server.accept(listener, ssl, asyncio.StreamReader))
    else:
        from .cpython import listen
        server.listener = await listen(server.serve, host, port, backlog, ssl,
                                       app.request_timeout)
    server.watchdog = asyncio.create_task(server.watch())
    app.server = server
    app.log('INFO', 'listening on %s:%d' % (host, port))
    unload(__name__)
    return server


async def shutdown(app, timeout):
    """:meth:`weblet.App.shutdown`: stop accepting, finish or cancel connections, run the
    shutdown hooks, then mark the server stopped (its watchdog then ends, and
    ``server.closed`` is set)."""
    server = app.server
    if server is None:
        return
    app.server = None
    server.closing = True
    if MICROPYTHON:
        server.accepter.cancel()
    server.listener.close()
    for conn in list(server.connections):
        if conn.idle:
            conn.task.cancel()
    started = ticks_ms()
    while server.connections and ticks_diff(ticks_ms(), started) < timeout * 1000:
        await asyncio.sleep(0.01)
    for conn in list(server.connections):
        conn.task.cancel()
    while server.connections:
        await asyncio.sleep(0.01)
    if not MICROPYTHON:
        await server.listener.wait_closed()
    await run_hooks(app, '_shutdown')
    server.stopped = True
    if server._closed is not None:
        server._closed.set()
