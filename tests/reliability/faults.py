"""Faults to inject into real parts: a TCP link that can be cut, a Redis server that can be restarted."""

from __future__ import annotations

import contextlib
import random
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from devstack.stack import start_redis


def restartable_port() -> int:
    """A free loopback port below the ephemeral range, for a server that goes away and comes back.

    While such a server is down, clients keep reconnecting to its port; a port in the ephemeral
    range can then be given to one of them as its own source port (a TCP self-connect), and the
    server cannot bind it again. Ports below the range are never handed out that way.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(max(1024, low // 2), low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port below {low}")


class CuttableLink:
    """A loopback TCP proxy to ``target``: while cut, live connections are dropped and new ones refused.

    Put between the workers and MongoDB, cutting it is what a MongoDB outage looks like to a client
    (connections reset, then connection refused), with any MongoDB behind it: the stand-in keeps its
    data, and a real one at MONGODB_URL works the same way.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = restartable_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.connections = 0

    def start(self) -> CuttableLink:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name="link-accept").start()
        return self

    def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown() first: on Linux, close() alone leaves a socket that a thread is blocked
            # accepting on listening (and accepting) until that accept returns.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        self.start()

    @property
    def is_cut(self) -> bool:
        return self._listener is None

    def close(self) -> None:
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut: the listener was closed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # cut while connecting
                    client.close()
                    upstream.close()
                    return
                self._sockets |= {client, upstream}
                self.connections += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def through(link: CuttableLink, mongodb_url: str) -> str:
    """``mongodb_url`` with its host replaced by the link (credentials and options kept)."""
    parts = urlsplit(mongodb_url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@" if userinfo else ""
    query = (
        parts.query
        if "directConnection" in parts.query
        else "&".join(part for part in (parts.query, "directConnection=true") if part)
    )
    return urlunsplit((parts.scheme, f"{netloc}127.0.0.1:{link.port}", parts.path or "/", query, ""))


class RestartableRedis:
    """A private redis-server with AOF persistence (as the chart runs it) that can be stopped and started."""

    def __init__(self) -> None:
        self.port = restartable_port()
        self.data_dir = tempfile.mkdtemp(prefix="job-importer-aof-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RestartableRedis:
        self.process = start_redis(self.port, lambda message: None, appendonly=True, data_dir=self.data_dir)
        return self

    def stop(self) -> None:
        """A clean shutdown (SIGTERM): Redis writes its AOF buffer and exits, as on a pod restart."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None
