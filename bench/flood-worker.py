#!/usr/bin/env python3
"""A fake ProcessCluster worker that floods its primary (bench/flood.sh; issue 11, bug 4).

Started by the primary as a worker (through bench/flood-worker.sh), so the primary knows its pid and gave it the
worker environment. It connects, says Hello, reads the Welcome, reports Listening (it counts as ready), then idles,
answering the primary like a worker would, until SIGUSR1: from then on it sends frames as fast as it can for
FLOOD_SECONDS, then idles again with the channel open. FLOOD_MODE picks the frames:
  load     LoadReport frames (32-byte payload), what a worker's load timer sends;
  message  Message frames carrying FLOOD_MESSAGE_BYTES of JSON (the app's worker.send);
  fds      LoadReport frames that declare no descriptors but carry one by SCM_RIGHTS (a dup of /dev/null): the
           primary is to drop the channel at the first, so the flood ends when a send fails.
Heartbeats keep going throughout, so the primary never takes it for hung. Connections the primary hands over are
refused at once (they go to another worker), so the cluster keeps serving. A summary line goes to stderr, which the
primary relays to its log.

`flood-worker.py connect NAME SECONDS` is no worker: a local process that, for SECONDS, opens connections to the abstract
socket NAME (the primary's channel, PROCESSCLUSTER_CHANNEL) as fast as it can and closes each at once, so the primary
refuses each ("closed before saying hello"); it prints how many it opened.
"""
import ctypes
import json
import os
import signal
import socket
import struct
import sys
import threading
import time

if sys.argv[1:2] == ["connect"]:
    name, seconds = sys.argv[2], float(sys.argv[3])
    opened = failed = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect("\0" + name)
                opened += 1
            except OSError:
                failed += 1
    elapsed = time.monotonic() - start
    print(f"connector: opened {opened} connections in {elapsed:.1f} s ({opened / elapsed:.0f}/s), {failed} failed")
    sys.exit(0)

HEADER = struct.Struct("<IBB")  # payload length, frame type, descriptor count (Ipc/Frame.cs)
LOAD = struct.Struct("<qiqqi")  # requests, in flight, busy µs, clock µs, open connections
ACK = struct.Struct("<qB")  # connection id, accepted
HELLO, WELCOME, LISTENING, NEW_CONNECTION, ACK_TYPE, MESSAGE, DISCONNECT = 1, 2, 3, 4, 5, 6, 7
CHANNEL_PROTOCOL = 2  # Ipc/ChannelProtocol.cs: a Hello without it is refused as another protocol
HEARTBEAT, LOAD_REPORT = 9, 11
FRAMES_PER_SEND = 1024  # one sendall of many frames: the flood is limited by the primary, not by our syscalls

worker_id = int(os.environ["PROCESSCLUSTER_WORKER_ID"])
mode = os.environ.get("FLOOD_MODE", "load")
seconds = float(os.environ.get("FLOOD_SECONDS", "10"))
message_bytes = int(os.environ.get("FLOOD_MESSAGE_BYTES", "65536"))

# Die with the primary, as a real worker does (PR_SET_PDEATHSIG = 1): the benchmark may SIGKILL a primary whose memory
# runs away, and nothing of ours should outlive it.
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
if os.getppid() != int(os.environ["PROCESSCLUSTER_PRIMARY_PID"]):
    sys.exit(1)

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect("\0" + os.environ["PROCESSCLUSTER_CHANNEL"])
send_lock = threading.Lock()  # the flood, the heartbeats and the acks share the socket; a frame goes out whole


def frame(kind, payload=b""):
    return HEADER.pack(len(payload), kind, 0) + payload


def send(data):
    with send_lock:
        sock.sendall(data)


def clock_us():
    return time.monotonic_ns() // 1000


def load_payload(clock):
    return LOAD.pack(0, 0, 0, clock, 0)


class Reader:
    """Frames from the primary, with the descriptors that came with them (SCM_RIGHTS, on a frame's first byte)."""

    def __init__(self):
        self.data = b""
        self.fds = []

    def next(self):
        while True:
            if len(self.data) >= HEADER.size:
                length, kind, fd_count = HEADER.unpack_from(self.data)
                if len(self.data) >= HEADER.size + length:
                    payload = self.data[HEADER.size:HEADER.size + length]
                    self.data = self.data[HEADER.size + length:]
                    fds, self.fds = self.fds[:fd_count], self.fds[fd_count:]
                    return kind, payload, fds
            try:
                data, fds, _, _ = socket.recv_fds(sock, 65536, 16)
            except ConnectionResetError:
                return None
            if not data:
                return None
            self.data += data
            self.fds += fds


reader = Reader()
send(frame(HELLO, json.dumps({"WorkerId": worker_id, "Secret": os.environ["PROCESSCLUSTER_SECRET"], "Protocol": CHANNEL_PROTOCOL}).encode()))
welcome = reader.next()
if welcome is None or welcome[0] != WELCOME:
    sys.exit(f"flooder: no Welcome from the primary ({welcome})")
welcome_message = json.loads(welcome[1])
for fd in welcome[2]:
    os.close(fd)
heartbeat_interval = welcome_message["HeartbeatIntervalMs"] / 1000
addresses = [f"http://{e['BoundAddress']}:{e['BoundPort']}" for e in welcome_message["Endpoints"]]
send(frame(LISTENING, json.dumps({"Addresses": addresses}).encode()))


def heartbeats():
    while True:
        try:
            send(frame(HEARTBEAT, load_payload(clock_us())))
        except OSError:
            return  # the primary closed the channel
        time.sleep(heartbeat_interval)


flooding = threading.Event()
flood_done = threading.Event()


def flood():
    flooding.set()
    try:
        flood_frames()
    finally:
        flood_done.set()


def flood_fds():
    """One LoadReport frame a sendmsg, each with an undeclared descriptor, until the primary closes the channel."""
    spare = os.open("/dev/null", os.O_RDONLY)
    sent = 0
    start = time.monotonic()
    clock = clock_us()
    outcome = f"no drop in {seconds:.0f} s"
    while time.monotonic() - start < seconds:
        fd = os.dup(spare)
        try:
            with send_lock:
                socket.send_fds(sock, [frame(LOAD_REPORT, load_payload(clock + sent))], [fd])
        except OSError as error:
            outcome = f"channel closed by the primary ({error.strerror})"
            break
        finally:
            os.close(fd)
        sent += 1
    elapsed = time.monotonic() - start
    print(f"flooder: worker {worker_id} sent {sent} fds frames in {elapsed:.3f} s; {outcome}", file=sys.stderr, flush=True)


def flood_frames():
    if mode == "fds":
        return flood_fds()
    if mode == "message":
        body = json.dumps({"flood": "x" * message_bytes}).encode()
        batch = frame(MESSAGE, body)  # a large frame is its own batch
        per_send = 1
    else:
        per_send = FRAMES_PER_SEND
    sent = 0
    start = time.monotonic()
    clock = clock_us()
    while time.monotonic() - start < seconds:
        if mode != "message":
            # Increasing clocks, as a real worker's reports carry; the primary computes busy fractions from them.
            batch = b"".join(frame(LOAD_REPORT, load_payload(clock + i)) for i in range(per_send))
            clock += per_send
        send(batch)
        sent += per_send
    elapsed = time.monotonic() - start
    print(f"flooder: worker {worker_id} sent {sent} {mode} frames in {elapsed:.1f} s ({sent / elapsed:.0f}/s)",
          file=sys.stderr, flush=True)


# SIGUSR1 is blocked in every thread and taken by the flood thread's sigwait: a Python-level handler would only run
# once the main thread's blocking receive returns.
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
threading.Thread(target=heartbeats, daemon=True).start()
threading.Thread(target=lambda: (signal.sigwait({signal.SIGUSR1}), flood()), daemon=True).start()

# The main thread answers the primary until it closes the channel or says Disconnect: connections are refused (the
# primary sends them to another worker), everything else is let be.
while (incoming := reader.next()) is not None:
    kind, payload, fds = incoming
    for fd in fds:
        os.close(fd)
    if kind == NEW_CONNECTION:
        connection_id = struct.unpack_from("<q", payload)[0]
        send(frame(ACK_TYPE, ACK.pack(connection_id, 0)))
    elif kind == DISCONNECT:
        break
if flooding.is_set():
    flood_done.wait(seconds + 1)  # the flood's summary line, when the primary closes the channel under it (fds)
