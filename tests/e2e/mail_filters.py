"""What the mail-filter suites (test_rspamd.py, test_spamassassin.py) share: the messages they check, a gateway that
never answers and one that answers a byte at a time, the gateway's own verdict on a raw message, and a user's move
piped to textserve_learn.py."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx

LEARN_SCRIPT = Path(__file__).resolve().parents[2] / "integrations" / "textserve_learn.py"


def message(subject: str, body: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Sender <sender@example.com>"
    mail["To"] = "you@example.org"
    mail["Subject"] = subject
    mail["Date"] = "Mon, 06 Jan 2025 08:30:00 +0000"
    mail["Message-ID"] = "<1@example.com>"
    mail.set_content(body)
    return mail.as_bytes()


SPAM = message(
    "You have been selected",
    "WINNER!! As a valued customer you have been selected to receive a $900 prize. Call 09061701461 now to claim, "
    "or reply with your bank details. Offer ends today.",
)
HAM = message(
    "Minutes of Tuesday's meeting",
    "Hello team,\n\nthe minutes of Tuesday's meeting are attached. Please review the action items before Friday "
    "and let me know if anything is missing.\n\nThanks,\nAnna",
)


def silent_port() -> Iterator[str]:
    """The URL of a port that accepts connections and never answers (a fixture's body)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        yield f"http://127.0.0.1:{silent.getsockname()[1]}"


def dripping_port(interval: float = 0.2) -> Iterator[str]:
    """The URL of a port that answers every request with a status line, then one header byte every ``interval``
    seconds for ever: never silent for long, never done (a fixture's body). A client that bounds each wait on the
    socket rather than the whole call would wait on it without end."""
    stop = threading.Event()

    def drip(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not stop.wait(interval):
                    conn.sendall(b"X")
            except OSError:  # the client gave up and closed
                return

    def serve(server: socket.socket) -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:  # closed at the end
                return
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        threading.Thread(target=serve, args=(server,), daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.getsockname()[1]}"
        finally:
            stop.set()
            server.shutdown(socket.SHUT_RDWR)


def direct(api: httpx.Client, raw: bytes) -> dict:
    """The gateway's verdict on the raw message in production, as the filters ask for it."""
    answer = api.post(
        "/api/v1/predict", content=raw, headers={"content-type": "message/rfc822", "X-Environment": "production"}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def learn(gateway_url: str, label: str, delivered: bytes) -> subprocess.CompletedProcess[bytes]:
    """``textserve_learn.py LABEL`` with the delivered message on its standard input, as Dovecot pipes it."""
    command = [sys.executable, str(LEARN_SCRIPT), label, "--url", gateway_url]
    return subprocess.run(command, input=delivered, capture_output=True, timeout=60, check=False)
