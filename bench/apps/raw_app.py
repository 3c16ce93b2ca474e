"""The ceiling: a minimal asyncio-streams keep-alive server with no framework.

It reads a request head, skips a Content-Length body and answers a fixed
response, so its rate is what the interpreter's streams allow.
argv: PORT [STATIC_ROOT (unused)] [MODULE]: MODULE is imported and left unused,
so the smallest heap then is the floor any server built on MODULE starts from.
"""
import gc
import sys

try:
    import asyncio
except ImportError:
    import uasyncio as asyncio

if len(sys.argv) > 3:
    __import__(sys.argv[3])

HELLO = b'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\nHello, World!'


async def serve(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            length = 0
            close = False
            while True:
                header = await reader.readline()
                if header in (b'\r\n', b''):
                    break
                name = header[:15].lower()
                if name == b'content-length:':
                    length = int(header[15:].strip())
                elif name[:11] == b'connection:' and b'close' in header.lower():
                    close = True
            if length:
                await reader.readexactly(length)
            if line.startswith(b'GET /mem '):
                gc.collect()
                body = b'{"alloc": %d}' % (gc.mem_alloc() if hasattr(gc, 'mem_alloc') else 0)
                writer.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
                             b'Content-Length: %d\r\n\r\n' % len(body) + body)
            else:
                writer.write(HELLO)
            await writer.drain()
            if close:
                break
    except (OSError, EOFError):
        pass
    writer.close()
    await writer.wait_closed()


async def main(port):
    await asyncio.start_server(serve, '127.0.0.1', port)
    while True:
        await asyncio.sleep(3600)


asyncio.run(main(int(sys.argv[1])))
