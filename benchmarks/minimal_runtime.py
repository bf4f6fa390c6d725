"""The least a runtime can do per invocation, for benchmarks/instrument.py: GET the next
event, POST a fixed response, on one kept-alive connection, with no JSON and no runtime
client. What coldbench measures for it is the instrument's own floor."""

import os
import socket

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
s = socket.create_connection((host, int(port)))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
f = s.makefile("rb")
while True:
    s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
    rid, length = None, 0
    f.readline()
    while (line := f.readline()) not in (b"\r\n", b""):
        k, _, v = line.decode().partition(":")
        if k.lower() == "lambda-runtime-aws-request-id":
            rid = v.strip()
        if k.lower() == "content-length":
            length = int(v)
    f.read(length)
    body = b'{"cold":false}'
    s.sendall(f"POST /2018-06-01/runtime/invocation/{rid}/response HTTP/1.1\r\nHost: x\r\n"
              f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    f.readline()
    while (line := f.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length"):
            length = int(line.split(b":")[1])
    f.read(length)
