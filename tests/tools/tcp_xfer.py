#!/usr/bin/env python3
"""TCP transfer with digests, for the tests that move data through vhostd.

  tcp_xfer.py recv PORT [TIMEOUT]        accept one connection, read to EOF
  tcp_xfer.py send HOST PORT BYTES [TIMEOUT]
                                         connect (retrying up to TIMEOUT s)
                                         and send BYTES pseudo-random bytes

Each prints one line "bytes=N sha256=HEX"; the test compares the two.
Exit 0 on success, 1 on a timeout or socket error (with the reason).
"""
import hashlib
import os
import socket
import sys
import time


def recv(port, timeout):
    s = socket.socket(socket.AF_INET6 if ':' in os.environ.get('XFER_BIND', '') else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((os.environ.get('XFER_BIND', '0.0.0.0'), port))
    s.listen(1)
    s.settimeout(timeout)
    c, _ = s.accept()
    c.settimeout(timeout)
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        h.update(b)
        n += len(b)
    print(f"bytes={n} sha256={h.hexdigest()}", flush=True)


def send(host, port, total, timeout):
    end = time.monotonic() + timeout
    while True:
        try:
            c = socket.create_connection((host, port), timeout=timeout)
            break
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)
    h, n, seed = hashlib.sha256(), 0, hashlib.sha256(b'vhostd').digest()
    block = b''.join(hashlib.sha256(seed + bytes([i])).digest()
                     for i in range(256)) * 8          # 64 KiB
    while n < total:
        b = block[:min(len(block), total - n)]
        c.sendall(b)
        h.update(b)
        n += len(b)
        block = block[1:] + block[:1]                  # no two blocks alike
    c.shutdown(socket.SHUT_WR)
    c.settimeout(timeout)
    while c.recv(4096):
        pass
    print(f"bytes={n} sha256={h.hexdigest()}", flush=True)


def main(a):
    try:
        if len(a) >= 2 and a[0] == 'recv':
            recv(int(a[1]), float(a[2]) if len(a) > 2 else 30)
        elif len(a) >= 4 and a[0] == 'send':
            send(a[1], int(a[2]), int(a[3]), float(a[4]) if len(a) > 4 else 30)
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except OSError as e:
        print(f"tcp_xfer: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
