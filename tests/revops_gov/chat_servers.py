"""Real local HTTP servers standing in for Slack's Web API, a Teams workflow and Slack's
response_url: they record what they receive and answer like the real services, including a
scripted 429 with Retry-After or a 500 first."""

import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class Received:
    path: str
    headers: dict
    body: dict


@dataclass
class ChatServer:
    url: str
    received: list[Received] = field(default_factory=list)
    script: list[tuple[int, dict, dict]] = field(default_factory=list)  # answered first, in order
    users: dict = field(default_factory=dict)  # Slack member id → users.info "user"

    def answer_next(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        self.script.append((status, headers or {}, body or {}))

    def to(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


@contextmanager
def chat_server():
    state = ChatServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if self.headers.get("Content-Type", "").startswith("application/json"):
                body = json.loads(raw or "{}")
            else:
                body = {k: v[0] for k, v in parse_qs(raw).items()}
            path = self.path.split("?")[0]
            state.received.append(Received(path=path, headers=dict(self.headers), body=body))
            if state.script:
                status, headers, answer = state.script.pop(0)
            elif path.endswith("/users.info"):
                user = state.users.get(body.get("user"))
                status, headers = 200, {}
                answer = {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}
            elif path.endswith("/chat.postMessage"):
                status, headers, answer = 200, {}, {"ok": True, "channel": body.get("channel"), "ts": "1700000000.0001"}
            else:
                status, headers, answer = 200, {}, {"ok": True}
            data = json.dumps(answer).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        thread.join(5)
