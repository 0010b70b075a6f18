#!/usr/bin/env python3
"""A mail user's verdict on a delivered message, sent to textserve as the true label of its prediction.

When a user moves a message to Junk (or out of it), the mail server pipes the message to this script, as Dovecot's
IMAPSieve pipes it to ``rspamc learn_spam`` or ``sa-learn --spam``:

    textserve_learn.py spam < message.eml        # or: textserve_learn.py ham
    textserve_learn.py spam --with-message ...   # the message too, so the label can train the next model

The prediction is found by textserve's request id in the topmost header the mail filter added at delivery: Rspamd's
X-Spamd-Result, in the options of its TEXTSERVE_SPAM or TEXTSERVE_HAM symbol (integrations/rspamd; its
milter_headers module with ``extended_spam_headers = true``), or SpamAssassin's X-Spam-TextServe
(integrations/spamassassin). Both filters remove any such header the sender wrote. The label goes to
``POST /api/v1/feedback`` in the environment that answered (``--environment``, production by default) at ``--url``
(``TEXTSERVE_URL``, default http://127.0.0.1:8080), with the API key in ``TEXTSERVE_API_KEY`` when the gateway
requires one (a key with the ``feedback`` permission). The gateway's answer is printed.

Exit status: 0 the label was taken; 1 the message carries no textserve verdict (nothing sent); 2 textserve refused
the label or could not be reached. Only the Python standard library is used: it runs on any mail host.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.request
from email.parser import BytesHeaderParser
from email.policy import default

# TEXTSERVE_SPAM(4.97)[p=0.9943,version=v2-b3838b2f4c8d,request_id=129cbedadb73494b918eb496d8b38068]
RSPAMD_VERDICT = re.compile(r"TEXTSERVE_(?:SPAM|HAM)\([^)]*\)\[([^\]]*)\]")
# spam p=0.9943 version=v2-b3838b2f4c8d request_id=129cbedadb73494b918eb496d8b38068
SPAMASSASSIN_VERDICT = re.compile(r"^(?:spam|ham) .*\brequest_id=(\S+)")


def request_id(message: bytes) -> str | None:
    """The request id textserve answered this message with, from the topmost X-Spamd-Result (Rspamd) or
    X-Spam-TextServe (SpamAssassin) header."""
    headers = BytesHeaderParser(policy=default).parsebytes(message)
    rspamd = RSPAMD_VERDICT.search(str(headers.get("X-Spamd-Result") or ""))
    if rspamd is not None:
        options = dict(option.split("=", 1) for option in rspamd.group(1).split(",") if "=" in option)
        return options.get("request_id") or None
    spamassassin = SPAMASSASSIN_VERDICT.search(" ".join(str(headers.get("X-Spam-TextServe") or "").split()))
    return spamassassin.group(1) if spamassassin is not None else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="textserve_learn.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("label", choices=["spam", "ham"], help="the user's verdict")
    parser.add_argument("--url", default=os.environ.get("TEXTSERVE_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--environment", default="production")
    parser.add_argument("--with-message", action="store_true", help="send the message too (raw_email)")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)

    message = sys.stdin.buffer.read()
    rid = request_id(message)
    if rid is None:
        print("textserve_learn.py: no textserve verdict in X-Spamd-Result or X-Spam-TextServe", file=sys.stderr)
        return 1
    body: dict[str, str] = {"request_id": rid, "label": args.label}
    if args.with_message:
        body["raw_email"] = message.decode("utf-8", "replace")
    headers = {"Content-Type": "application/json", "X-Environment": args.environment}
    if os.environ.get("TEXTSERVE_API_KEY"):
        headers["Authorization"] = f"Bearer {os.environ['TEXTSERVE_API_KEY']}"
    request = urllib.request.Request(
        f"{args.url.rstrip('/')}/api/v1/feedback", data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as answer:
            print(answer.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        print(f"textserve_learn.py: HTTP {exc.code}: {exc.read().decode(errors='replace')}", file=sys.stderr)
    except (urllib.error.URLError, TimeoutError) as exc:
        print(f"textserve_learn.py: {args.url} unreachable: {exc}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
