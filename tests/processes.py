"""Run an example app as its own process, the way a user (or a second host) would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from .redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def serve(script: str, log: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start ``python <script> --port N <args>``, wait until it answers, yield its base URL."""
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / script), "--port", str(port), *args],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/", timeout=1)
                break
            except httpx.TransportError as error:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{script} did not start:\n{log.read_text()}") from error
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
