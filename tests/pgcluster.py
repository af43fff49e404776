"""A private PostgreSQL cluster for tests that stop and start the server: its own data
directory and port, so the shared cluster other tests use is never touched."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path("/usr/lib/postgresql/15/bin")


@dataclass
class PrivateCluster:
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        _run(str(BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-t", "60", *args)

    def start(self) -> None:
        self._ctl("-l", str(self.root / "log"), "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")


def _run(*cmd: str) -> None:
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        cmd = ("runuser", "-u", "postgres", "--", *cmd)
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """A fresh cluster (trust authentication) running until the block ends."""
    if not (BIN / "initdb").exists() or not (BIN / "pg_ctl").exists():
        pytest.skip(f"PostgreSQL server binaries not found in {BIN}: cannot run a private cluster")
    root = Path(tempfile.mkdtemp(prefix="sanji-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        cluster = PrivateCluster(root, _free_port())
        _run(str(BIN / "initdb"), "-D", str(cluster.data), "-U", "postgres", "-A", "trust")
        cluster.start()
        try:
            yield cluster
        finally:
            with suppress(subprocess.CalledProcessError):  # already stopped
                cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
