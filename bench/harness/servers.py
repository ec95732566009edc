"""Servers started for a benchmark and always stopped: `churnlens serve` and `mlflow models
serve` in their own sessions, waited for until ready, and a plain HTTP client to check
them before load."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from harness import VENV_BIN
from harness.procfs import tree_cpu_seconds, tree_rss_mib

SCORER_KEY = "bench-scorer-key-0123456789abcdef"
VIEWER_KEY = "bench-viewer-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, body: bytes | None = None, key: str | None = None,
         timeout: float = 10.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Server:
    """A server process (and its children) started here, stopped on leaving the block."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], ready_url: str,
                 log_path: Path, cwd: Path) -> None:
        self.name, self.cmd, self.env, self.ready_url = name, cmd, env, ready_url
        self.log_path, self.cwd = log_path, cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready_seconds = float("nan")

    def __enter__(self) -> Server:
        log = self.log_path.open("wb")
        began = time.perf_counter()
        # Its own session, so stopping it reaches uvicorn workers and mlflow's child.
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=self.cwd, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        try:
            deadline = began + 120
            while time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited ({self.proc.returncode}) before "
                                       f"it was ready:\n{self.log_tail()}")
                with contextlib.suppress(OSError):
                    if http("GET", self.ready_url, timeout=2)[0] == 200:
                        self.ready_seconds = time.perf_counter() - began
                        print(f"{self.name}: ready in {self.ready_seconds:.1f} s "
                              f"(pid {self.proc.pid}, RSS {self.rss():.0f} MiB)")
                        return self
                time.sleep(0.2)
            raise RuntimeError(f"{self.name} not ready after 120 s:\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float:
        return tree_cpu_seconds(self.pid)

    def rss(self) -> float:
        return tree_rss_mib(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)  # the group of the process we started
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        print(f"{self.name}: stopped")


def base_env(tracking_uri: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CHURNLENS_", "MLFLOW_"))}
    env.update({
        "PATH": f"{VENV_BIN}:{env.get('PATH', '')}",
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_LOGGING_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def churnlens_server(home: Path, tracking_uri: str, scratch: Path, name: str,
                     workers: int = 1) -> Server:
    port = free_port()
    env = base_env(tracking_uri) | {
        "CHURNLENS_HOME": str(home),
        "CHURNLENS_API_KEYS": f"scorer:{SCORER_KEY},viewer:{VIEWER_KEY}",
        "CHURNLENS_RELOAD_INTERVAL": "0",
    }
    cmd = [str(VENV_BIN / "churnlens"), "serve", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers)]
    return Server(name, cmd, env, f"http://127.0.0.1:{port}/readyz",
                  scratch / f"{name}.log", scratch)


def mlflow_server(tracking_uri: str, scratch: Path) -> Server:
    port = free_port()
    cmd = [str(VENV_BIN / "mlflow"), "models", "serve", "-m", "models:/churnlens@champion",
           "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]
    return Server("mlflow models serve", cmd, base_env(tracking_uri),
                  f"http://127.0.0.1:{port}/ping", scratch / "mlflow-serve.log", scratch)


def base_url(server: Server) -> str:
    return server.ready_url.rsplit("/", 1)[0]
