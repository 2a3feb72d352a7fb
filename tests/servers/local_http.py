"""What the HTTP servers the tests start in their own process share."""

from __future__ import annotations

import http.server
import threading


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A keep-alive handler that logs nothing and answers without delay."""

    protocol_version = "HTTP/1.1"
    # One buffered write per response, without Nagle's delay: otherwise each
    # request of a kept-alive connection waits for a delayed ACK (~40 ms).
    wbufsize = -1
    disable_nagle_algorithm = True

    def log_message(self, format, *args) -> None:
        pass

    def handle_expect_100(self) -> bool:
        # The interim answer must leave at once: a client that sent
        # 'Expect: 100-continue' (boto3 on uploads) waits for it, a second.
        answered = super().handle_expect_100()
        self.wfile.flush()
        return answered


def serve_in_thread(
    handler: type[http.server.BaseHTTPRequestHandler],
) -> http.server.ThreadingHTTPServer:
    """A threaded server of ``handler`` on a free port of 127.0.0.1, running."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
