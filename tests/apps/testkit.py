"""Shared start-up for test apps: serve on the port given in argv[1], then print READY."""
import sys

try:
    import asyncio
except ImportError:
    import uasyncio as asyncio


def arg(index, default=None):
    """Command-line argument ``index`` after the port (1-based), or ``default``."""
    return sys.argv[index + 1] if len(sys.argv) > index + 1 else default


def serve(app):
    port = int(sys.argv[1])

    async def main():
        server = await app.start('127.0.0.1', port)
        print('READY', port)
        await server.wait_closed()
        # server.closed, made only now, is already set: the shutdown tests look for STOPPED.
        print('STOPPED' if server.closed.is_set() else 'closed is not set')

    asyncio.run(main())
