"""A real local CRM webhook receiver for the decision tests."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from approvals.decisions.webhooks import EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

SECRET = "crm-webhook-secret-0123456789"


class Receiver:
    """A CRM endpoint on 127.0.0.1: records every POST; `script` is a list of status codes to
    answer in turn (then 200), `hang` seconds to sleep before answering the first request."""

    def __init__(self):
        self.received: list[dict] = []
        self.script: list[int] = []
        self.hang = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                entry = {
                    "at": time.monotonic(),
                    "body": json.loads(body),
                    "raw": body,
                    "event_id": self.headers[EVENT_HEADER],
                    "timestamp": self.headers[TIMESTAMP_HEADER],
                    "signature": self.headers[SIGNATURE_HEADER],
                }
                entry["verified"] = verify(SECRET, body, entry["timestamp"], entry["signature"])
                receiver.received.append(entry)
                if receiver.hang:
                    hang, receiver.hang = receiver.hang, 0.0
                    time.sleep(hang)
                status = receiver.script.pop(0) if receiver.script else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"no")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/revops"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def crm():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def sf_integration(db, crm, admin):
    """The Salesforce integration, its webhook pointing at the local CRM receiver; (integration, raw token)."""
    from revops_gov import services

    integration, raw = services.integration_create(name="salesforce-prod", system="salesforce")
    services.integration_webhook_set(integration=integration, url=crm.url, secret=SECRET, by=admin)
    integration.refresh_from_db()
    return integration, raw
