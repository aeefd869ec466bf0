"""A chat-completions server on loopback for the tests: behaviours switchable per test."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatServer:
    """Answers POST /v1/chat/completions. ``mode``: ok, slow, fail_then_ok, always_500,
    malformed. Counts requests (``requests``; per prompt in ``calls``) and the most requests
    in flight at once.

    ``fault(prompt, n, auth)`` (``n``: how many times this prompt has been asked, this one
    included; ``auth``: the Authorization header) picks a misbehaviour per request:
    ``None`` answers normally; a number hangs that many seconds (released early by
    `stop`), then answers normally; ``(status, payload)`` answers that status with
    ``payload`` (a str or bytes sent as is, anything else as JSON)."""

    def __init__(
        self,
        mode: str = "ok",
        delay: float = 0.05,
        failures: int = 2,
        responder=None,
        fault=None,
    ):
        self.responder = responder  # prompt -> reply text, instead of the echo
        self.fault = fault
        self.calls: Counter[str] = Counter()
        self._stopping = threading.Event()
        self.mode = mode
        self.delay = delay
        self.failures = failures
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.seen_auth: list[str | None] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                prompt = body["messages"][-1]["content"]
                auth = self.headers.get("Authorization")
                with server._lock:
                    server.requests += 1
                    n = server.requests
                    server.calls[prompt] += 1
                    asked = server.calls[prompt]
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    server.seen_auth.append(auth)
                try:
                    action = server.fault(prompt, asked, auth) if server.fault else None
                    if isinstance(action, tuple):
                        self._send(*action)
                        return
                    if action is not None:
                        server._stopping.wait(action)
                    time.sleep(server.delay if server.mode != "slow" else 2.0)
                    if server.mode == "always_500" or (
                        server.mode == "fail_then_ok" and n <= server.failures
                    ):
                        self._send(500, {"error": "boom"})
                        return
                    if server.mode == "malformed":
                        self._send(200, {"choices": []})
                        return
                    content = (
                        server.responder(prompt)
                        if server.responder
                        else f"echo: {prompt} (seed {body.get('seed')})"
                    )
                    self._send(
                        200,
                        {
                            "choices": [
                                {
                                    "message": {
                                        "role": "assistant",
                                        "content": content,
                                    }
                                }
                            ]
                        },
                    )
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _send(self, code, payload):
                if isinstance(payload, str):
                    payload = payload.encode()
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # clients that gave up
                pass

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
