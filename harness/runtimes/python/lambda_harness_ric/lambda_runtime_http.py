"""The Runtime API's HTTP: one persistent keep-alive HTTP/1.1 connection, written on the socket.

The requests are the bytes http.client wrote (request line, Host, User-Agent, the call's headers,
Content-Length, body in one send); an answer is read by Content-Length, chunked, or to the end of
the connection, as HTTP/1.1 allows. http.client cost ~110 us of CPU per invoke (bench/findings.md).
"""

import sys

# The C module under socket: socket.py's own import (with selectors) is ~4 ms of each runtime
# start, and awslambdaric (its HTTP in C) does not import it either.
import _socket

_RIC_VERSION = "lambda-harness"
_USER_AGENT = "aws-lambda-python/%d.%d.%d-%s" % (sys.version_info[:3] + (_RIC_VERSION,))
_USER_AGENT_BYTES = _USER_AGENT.encode("latin-1")


def open_connection(address):
    """A TCP connection to `host:port`, Nagle off; OSError, or ValueError for a port that is no
    number."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if host.isascii():
        # Bytes: getaddrinfo encodes a str host with the idna codec, whose import is ~4 ms of a cold start.
        host = host.encode("ascii")
    port = int(port)
    error = OSError("getaddrinfo returned no address for %r" % (address,))
    # socket.create_connection's loop: the first address that connects.
    for family, kind, proto, _, sockaddr in _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM):
        sock = _socket.socket(family, kind, proto)
        try:
            # Blocking, whatever socket.setdefaulttimeout() user code set: /next must never time out.
            sock.settimeout(None)
            sock.connect(sockaddr)
        except OSError as e:
            sock.close()
            error = e
            continue
        try:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        except OSError:
            pass
        return sock
    raise error


def connect_early(address):
    """The Runtime API connection, opened before the client's other imports and the handler's, not
    at the first /next. No request is made, so nothing on the API changes; the harness learns early
    which socket is its own (and so reads no socket table to describe it before a SIGKILL). Any
    failure is left to the first request, which reports it as before."""
    try:
        return open_connection(address)
    except (OSError, ValueError):
        return None


# Its name shows in the runtime's error line for a failed call ("... failed: _BadAnswer: ...").
class _BadAnswer(Exception):
    """The server's bytes were not an HTTP/1.1 answer, or the connection ended inside one."""


class Response(object):
    __slots__ = ("status", "headers", "body")

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> the first value, as message.get gave it
        self.body = body


_MAX_HEAD_BYTES = 64 * 1024
_RECV_BYTES = 64 * 1024
_NO_BODY_STATUSES = frozenset((204, 304))


def _header_bytes(value):
    # http.client sends str values as latin-1 and refuses CR/LF in them (a ValueError that would
    # end the runtime); here such a value is sent with spaces instead.
    data = value if isinstance(value, bytes) else value.encode("latin-1", "replace")
    if b"\r" in data or b"\n" in data:
        data = data.replace(b"\r", b" ").replace(b"\n", b" ")
    return data


class Connection(object):
    def __init__(self, address, sock=None):
        self._address = address
        host, _, port = address.rpartition(":")
        # Host as http.client writes it: the port left out when it is 80.
        self._host = _header_bytes(host if port == "80" else address)
        self.sock = sock
        self._buffer = b""  # bytes read past the end of the last answer

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self._buffer = b""

    def _connect(self):
        # A port that is no number is a ValueError, which _request reports like a refused connection.
        self.sock = open_connection(self._address)
        self._buffer = b""

    def send(self, method, path, body, headers):
        if self.sock is None:
            self._connect()
        parts = [
            b"%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
            % (method.encode("ascii"), path.encode("utf-8"), self._host, _USER_AGENT_BYTES)
        ]
        for name, value in headers:
            parts.append(b"%s: %s\r\n" % (name.encode("ascii"), _header_bytes(value)))
        if body is not None:
            parts.append(b"Content-Length: %d\r\n" % len(body))
        parts.append(b"\r\n")
        if body is not None:
            parts.append(body)
        self.sock.sendall(b"".join(parts))

    @property
    def answer_waiting(self):
        """Whether bytes of the next answer were already read (nothing to wait for)."""
        return bool(self._buffer)

    def _more(self, data, what):
        chunk = self.sock.recv(_RECV_BYTES)
        if not chunk:
            raise _BadAnswer("Remote end closed connection %s" % what)
        return data + chunk

    def _exactly(self, data, count):
        """`count` bytes: those already in `data`, then straight from the socket."""
        if len(data) >= count:
            return data[:count], data[count:]
        out = bytearray(count)
        out[: len(data)] = data
        view = memoryview(out)
        got = len(data)
        while got < count:
            n = self.sock.recv_into(view[got:])
            if n == 0:
                raise _BadAnswer("Remote end closed connection inside a body")
            got += n
        return bytes(out), b""

    def _line(self, data):
        while True:
            end = data.find(b"\r\n")
            if end >= 0:
                return data[:end], data[end + 2 :]
            if len(data) > _MAX_HEAD_BYTES:
                raise _BadAnswer("chunk line too long")
            data = self._more(data, "inside a chunked body")

    def _chunked(self, data):
        pieces = []
        while True:
            line, data = self._line(data)
            try:
                size = int(line.split(b";", 1)[0], 16)
            except ValueError:
                raise _BadAnswer("bad chunk size %r" % line[:64]) from None
            if size == 0:
                while True:  # trailers, up to the empty line
                    line, data = self._line(data)
                    if not line:
                        return b"".join(pieces), data
            piece, data = self._exactly(data, size + 2)
            pieces.append(piece[:size])

    def read(self):
        data = self._buffer
        self._buffer = b""
        while True:
            end = data.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(data) > _MAX_HEAD_BYTES:
                raise _BadAnswer("answer head too long")
            data = self._more(data, "without response" if not data else "inside a head")
        lines = data[:end].decode("latin-1").split("\r\n")
        data = data[end + 4 :]
        status_line = lines[0].split(None, 2)
        try:
            if len(status_line) < 2 or not status_line[0].startswith("HTTP/"):
                raise ValueError
            status = int(status_line[1])
        except ValueError:
            raise _BadAnswer("bad status line %r" % lines[0][:64]) from None
        headers = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon:
                name = name.strip().lower()
                if name not in headers:
                    headers[name] = _utf8(value.strip())
        keep = headers.get("connection", "").lower() != "close" and status_line[0] != "HTTP/1.0"
        length = headers.get("content-length")
        if status in _NO_BODY_STATUSES or 100 <= status < 200:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body, data = self._chunked(data)
        elif length is not None:
            try:
                count = int(length)
            except ValueError:
                raise _BadAnswer("bad Content-Length %r" % length[:64]) from None
            body, data = self._exactly(data, count)
        else:
            pieces = [data]
            while True:
                chunk = self.sock.recv(_RECV_BYTES)
                if not chunk:
                    break
                pieces.append(chunk)
            body, data, keep = b"".join(pieces), b"", False
        if keep:
            self._buffer = data
        else:
            self.close()
        return Response(status, headers, body)


def _utf8(value):
    # The head is decoded as latin-1, byte for byte; the C client hands Python the raw UTF-8.
    if value.isascii():
        return value
    return value.encode("latin-1").decode("utf-8", "replace")
