"""A fake warehouse system: a real HTTP server on loopback that answers each book as
told, including the ways a real one goes wrong (garbage, 5xx, silence, trickling)."""

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    status: int = 200
    body: bytes | dict | list | None = None  # bytes go out as they are, the rest as JSON
    delay: float = 0  # seconds before anything is sent
    trickle: float = 0  # seconds between bytes of the body (or of the whole answer)
    trickle_headers: bool = False
    content_type: str = "application/json"

    def payload(self) -> bytes:
        return self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()


class WarehouseHandler(BaseHTTPRequestHandler):
    """Answers per the book id (the path's last part); 404 for any other book."""

    answers: dict[str, Answer] = {}
    seen: list[tuple[str, str | None]] = []

    def do_GET(self):
        self.seen.append((self.path, self.headers.get("Authorization")))
        answer = self.answers.get(self.path.rsplit("/", 1)[-1], Answer(404, {"error": "not found"}))
        time.sleep(answer.delay)
        payload = answer.payload()
        head = (
            f"HTTP/1.1 {answer.status} Answer\r\nContent-Type: {answer.content_type}\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        ).encode()
        try:
            if answer.trickle_headers:
                self._trickle(head + payload, answer.trickle)
            else:
                self.wfile.write(head)
                self.wfile.flush()
                self._trickle(payload, answer.trickle)
        except OSError:  # the client hung up, as it should at its deadline
            pass
        self.close_connection = True

    def _trickle(self, data: bytes, every: float):
        if not every:
            self.wfile.write(data)
            return
        for n in range(len(data)):
            self.wfile.write(data[n : n + 1])
            self.wfile.flush()
            time.sleep(every)

    def log_message(self, *args):
        pass

    @classmethod
    def requests_for(cls, book_id: str) -> int:
        return sum(1 for path, _ in cls.seen if path.endswith(f"/stock/{book_id}"))


@contextlib.contextmanager
def fake_warehouse() -> Iterator[tuple[str, type[WarehouseHandler]]]:
    """Serves on a free loopback port; yields its base URL and the handler class, whose
    ``answers`` the test sets and whose ``seen`` lists the requests."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), WarehouseHandler)
    WarehouseHandler.seen = []
    WarehouseHandler.answers = {}
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", WarehouseHandler
    finally:
        server.shutdown()
        server.server_close()
