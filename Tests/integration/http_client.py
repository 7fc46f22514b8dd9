"""A small blocking HTTP/1.1 client over raw sockets, so tests control every byte; and, for
many requests at once, an asyncio one (one connection per request)."""
import asyncio
import json
import socket


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")


class Connection:
    def __init__(self, port, host="127.0.0.1", timeout=30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buffer += chunk

    def _line(self):
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode("latin-1")

    def read_response(self, head=False):
        status_line = self._line()
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or parts[0] != "HTTP/1.1":
            raise ValueError(f"bad status line {status_line!r}")
        headers = {}
        while True:
            line = self._line()
            if not line:
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(parts[1])
        bodiless = head or status < 200 or status in (204, 304)
        if not bodiless and "chunked" in headers.get("transfer-encoding", "").lower():
            body, trailers = self.read_chunked()
            response = Response(status, headers, body)
            response.trailers = trailers
            return response
        length = int(headers.get("content-length", "0"))
        if bodiless:
            length = 0
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Response(status, headers, body)

    def read_exactly(self, n):
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_chunk(self):
        """One chunk of a chunked body: its data, b"" for the last chunk (trailers not read)."""
        size = int(self._line().split(";", 1)[0], 16)
        if size == 0:
            return b""
        data = self.read_exactly(size)
        if self.read_exactly(2) != b"\r\n":
            raise ValueError("chunk data not followed by CRLF")
        return data

    def read_trailers(self):
        trailers = {}
        while True:
            line = self._line()
            if not line:
                return trailers
            name, _, value = line.partition(":")
            trailers[name.strip().lower()] = value.strip()

    def read_chunked(self):
        parts = []
        while True:
            chunk = self.read_chunk()
            if not chunk:
                return b"".join(parts), self.read_trailers()
            parts.append(chunk)

    def request(self, method, target, body=b"", headers=None):
        lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        self.send("\r\n".join(lines).encode() + b"\r\n\r\n" + body)
        return self.read_response(head=(method == "HEAD"))

    def closed_by_server(self):
        """True when the server closed (or reset) the connection and sent nothing more."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True


def request(port, method, target, body=b"", headers=None, timeout=30.0):
    with Connection(port, timeout=timeout) as connection:
        return connection.request(method, target, body, headers)


def stats(port):
    """The demo's /stats, parsed."""
    return request(port, "GET", "/stats").json()


async def fetch(port, method, target):
    """One request on its own connection; (status, headers, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"{method} {target} HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n".encode())
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def run_all(port, method, targets, timeout=120.0):
    """All the requests at once; their answers in order. A server that stops answering fails
    the test after `timeout` seconds instead of hanging it."""
    async def main():
        return await asyncio.wait_for(asyncio.gather(*(fetch(port, method, t) for t in targets)), timeout)
    return asyncio.run(main())
