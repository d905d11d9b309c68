"""The invoke suite's floor: bare-runtime.py's loop (GET next, POST the event back) written on the
socket, as bootstrap.py's client writes its calls, instead of through http.client. It shows what
http.client costs the issue's baseline, so a reader can see how close to the floor either side is.
It expects what the trivial server sends: a Content-Length on every answer."""
import os
import socket

host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
sock = socket.create_connection((host, int(port)))
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode()
buffered = b""


def answer():
    global buffered
    while b"\r\n\r\n" not in buffered:
        buffered += sock.recv(65536)
    head, _, buffered = buffered.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(buffered) < length:
        buffered += sock.recv(65536)
    body, buffered = buffered[:length], buffered[length:]
    return headers, body


while True:
    sock.sendall(NEXT)
    headers, body = answer()
    request_id = headers["lambda-runtime-aws-request-id"].encode()
    sock.sendall(
        b"POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n%s"
        % (request_id, host.encode(), len(body), body)
    )
    answer()
