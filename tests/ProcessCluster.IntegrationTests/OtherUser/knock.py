# Run as another local user by OtherUserTests: knocks COUNT times on a primary's abstract channel socket with a
# guessed Hello, then asks its control socket to stop the cluster. Prints one JSON line: how many channel connections
# were refused (closed or reset without a Welcome) and what the control socket said (or the error connecting to it).
import json
import socket
import sys

channel, control, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
refused = 0
for _ in range(count):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    try:
        s.connect("\0" + channel)
        hello = json.dumps({"WorkerId": 1, "Secret": "guessed"}).encode()
        s.sendall(len(hello).to_bytes(4, "little") + bytes([1, 0]) + hello)
        if s.recv(1) == b"":
            refused += 1
    except (ConnectionResetError, BrokenPipeError):
        refused += 1
    finally:
        s.close()

try:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(30)
    c.connect(control)
    c.sendall(b'{"command":"stop"}\n')
    reply = c.recv(4096).decode() or "closed"
except OSError as error:
    reply = type(error).__name__
print(json.dumps({"refused": refused, "control": reply}))
