"""Real processes for the fault and production-shape tests: a private redis-server, gunicorn, and a
small HTTP client. Each process runs in its own session so it (and its children) stop together."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REDIS_SERVER = "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Process:
    name: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout: float = 20) -> int:
        if self.alive():
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        return self.process.returncode


def spawn(name: str, args, *, env: dict, log: Path, shell: bool = False) -> Process:
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        shell=shell,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Process(name, process, log)


@dataclass
class RedisServer:
    port: int
    folder: Path
    proc: Process | None = field(default=None)

    def start(self) -> "RedisServer":
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", str(self.folder)]
        self.proc = spawn("redis", args, env=dict(os.environ), log=self.folder / f"redis-{time.monotonic_ns()}.log")
        wait_until(self.answers, message=f"redis-server on {self.port}")
        return self

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        self.proc.stop(signal.SIGKILL)

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


def children(pid: int) -> list[int]:
    """The direct children of a process (a Celery worker's pool processes), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


class SMTPSink:
    """A mail server on 127.0.0.1 that keeps each message's Subject. With `hold_first`, the first
    connection is accepted and never greeted: its sender waits there (to be killed mid-send)."""

    def __init__(self, *, hold_first: bool = False):
        self.subjects: list[str] = []
        self.hold_first = hold_first
        self.held = threading.Event()
        self._held: list[socket.socket] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            if self.hold_first and not self.held.is_set():
                self._held.append(conn)
                self.held.set()
                continue
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket):
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 sink\r\n")
            for raw in lines:
                command = raw.decode(errors="replace").strip().upper()
                if command == "DATA":
                    conn.sendall(b"354 end with .\r\n")
                    message = []
                    for data in lines:
                        if data in (b".\r\n", b".\n"):
                            break
                        message.append(data.decode(errors="replace"))
                    subject = next((m[9:].strip() for m in message if m.startswith("Subject: ")), "")
                    self.subjects.append(subject)
                    conn.sendall(b"250 queued\r\n")
                elif command.startswith("QUIT"):
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")

    def close(self):
        self.server.close()
        for conn in self._held:
            conn.close()


def wait_until(predicate, *, timeout: float = 60, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {message}")


def start_gunicorn(*, env: dict, port: int, log: Path, workers: int = 1) -> Process:
    args = [sys.executable, "-m", "gunicorn", "revops_gov.wsgi", "--bind", f"127.0.0.1:{port}"]
    args += ["--workers", str(workers), "--timeout", "60"]
    web = spawn("web", args, env=env, log=log)
    wait_until(lambda: http(f"http://127.0.0.1:{port}/healthz")[0] in (200, 503), message="gunicorn")
    return web


def http(url: str, *, headers: dict | None = None, timeout: float = 10) -> tuple[int, str]:
    """(status, body); (0, reason) when nothing answers."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except OSError as exc:
        return 0, str(exc)


def post_json(url: str, body, *, headers: dict | None = None, timeout: float = 30) -> tuple[int, dict, dict]:
    """POST JSON: (status, decoded body, headers); (0, {"error": reason}, {}) when nothing answers."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, answer_headers = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        status, raw, answer_headers = exc.code, exc.read(), dict(exc.headers)
    except OSError as exc:
        return 0, {"error": str(exc)}, {}
    try:
        return status, json.loads(raw), answer_headers
    except ValueError:
        return status, {"body": raw[:500].decode(errors="replace")}, answer_headers


def http_json(url: str, **kwargs) -> tuple[int, dict]:
    status, body = http(url, **kwargs)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, {"body": body[:500]}
