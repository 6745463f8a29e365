"""A real OpenID Connect provider for the tests (oidc-provider-mock, a Flask app served on a local
port in a thread), and a token endpoint in front of it that can tamper with the ID token.

`provider.put_user(sub, email=..., groups=[...])` sets what the provider says about a person;
`sign_in(client, provider, sub)` walks the real authorization code flow with a Django test client:
our /oidc/authenticate/ → the provider's authorize form (submitted as the person would) → our
callback, which exchanges the code at the provider's token endpoint.
"""

import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import jwt
import oidc_provider_mock
import werkzeug.serving
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass
class Provider:
    issuer: str
    app: object

    def put_user(self, sub: str, **claims) -> None:
        response = httpx.put(f"{self.issuer}/users/{sub}", json=claims)
        assert response.status_code == 204, response.text

    def signing_key(self):
        """The provider's own private key (to forge tokens it would sign: wrong audience, issuer)."""
        from oidc_provider_mock._storage import storage

        with self.app.test_request_context("/"):
            self.app.preprocess_request()
            return jwt.PyJWK(storage.jwk.as_dict(is_private=True)).key


@contextmanager
def running_provider(*, access_token_max_age=timedelta(hours=1)):
    app = oidc_provider_mock.app(require_nonce=True, access_token_max_age=access_token_max_age)
    server = werkzeug.serving.make_server("localhost", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Provider(issuer=f"http://localhost:{server.server_port}", app=app)
    finally:
        server.shutdown()
        thread.join(5)


@contextmanager
def tampering_token_endpoint(provider: Provider, *, key, tamper=lambda claims: claims):
    """A token endpoint that forwards to the provider's and re-signs the ID token it answers
    with `key` after `tamper(claims)`; the header (alg, kid) is kept, as a forger would."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            upstream = httpx.post(
                f"{provider.issuer}/oauth2/token",
                content=body,
                headers={"Content-Type": self.headers["Content-Type"]},
            )
            answer = upstream.json()
            if "id_token" in answer:
                header = jwt.get_unverified_header(answer["id_token"])
                claims = jwt.decode(answer["id_token"], options={"verify_signature": False})
                kid = {"kid": header["kid"]} if "kid" in header else None
                answer["id_token"] = jwt.encode(tamper(claims), key, algorithm=header["alg"], headers=kid)
            data = json.dumps(answer).encode()
            self.send_response(upstream.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("localhost", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_port}/token"
    finally:
        server.shutdown()
        thread.join(5)


def attacker_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def provider_authorize(authorize_url: str, sub: str) -> str:
    """The person at the provider's form: signs in as `sub`; returns where the provider sends the
    browser back (our callback, with code and state)."""
    response = httpx.post(authorize_url, data={"sub": sub}, follow_redirects=False)
    assert response.status_code == 302, response.text[:500]
    return response.headers["location"]


def local_path(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path, parts.query, ""))


def start(client, next_url: str | None = None) -> str:
    """Our sign-in button: the provider's authorize URL it redirects to."""
    response = client.get("/oidc/authenticate/" + (f"?{urlencode({'next': next_url})}" if next_url else ""))
    assert response.status_code == 302, response
    return response["Location"]


def sign_in(client, sub: str):
    """The whole flow; returns our callback's response."""
    callback = provider_authorize(start(client), sub)
    return client.get(local_path(callback))


def with_query(url: str, **params) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | params
    return urlunsplit(parts._replace(query=urlencode(query)))


def query_of(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def without(url: str, *names: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items() if k not in names}
    return urlunsplit(parts._replace(query=urlencode(query)))
