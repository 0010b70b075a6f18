"""What a mailing list adds to a message it delivers: a tag in front of the subject (``[ilug] ...``) and a footer
under the body (``____`` / ``<list> mailing list`` / a ``listinfo`` link, or a sponsor's block). Both are the
list's, not the sender's, and say nothing of whether the message is spam; the spam model reads the message
without them.

Why (docs/models.md, "Mailing-list wrappers"): in the SpamAssassin corpus three ham messages in four came
through a mailing list and one spam in eight, so a model that reads the wrappers learns "list → ham". On the
validation split, the list-delivered spam the default missed were caught once their tag and footer were
removed, and the footer filled the 32 tokens the model reads of a long message's end.

Only messages that name their list in their header fields (``List-Id``, ``List-Post`` or ``Mailing-List``) are
changed, and only what can be told apart as the list's: the first bracketed tag of the subject (after any
``Re:``/``Fwd:``), and the last block of the body after a separator line (``-- ``, or a run of eight or more
``-``, ``_``, ``=``, ``~`` or ``*``) that is short and names the list (its address, its name, its id or the
host of one of its links), with a sponsor's block just above it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

# The list fields read: what names the list (a message with none of them is left as it is) and its links.
NAMING_FIELDS = ("list-id", "list-post", "mailing-list")
LINK_FIELDS = ("list-unsubscribe", "list-subscribe", "list-archive", "list-help")
# A footer (with the sponsor's block above it) longer than this is not taken for one: Mailman's is about 150
# characters, SourceForge's sponsor and footer together about 600.
MAX_FOOTER_CHARS = 1_500

# Each "Re:" in front of the tag can be read one way only: the spaces after an optional "[2]" belong to it. Written
# "\s*(?:\[\d+\])?\s*:", the spaces of every "Re :" could go to either "\s*", and a subject of 30 of them and no
# tag took the parser minutes to fail (2**30 ways). Possessive quantifiers would do too, but they matched wrongly
# in Python before 3.11.5 (gh-100061, gh-106052).
_SUBJECT_TAG = re.compile(r"^((?:\s*(?:re|fwd?|aw|sv|tr)\s*(?:\[\d+\]\s*)?:)*)\s*\[[^\[\]\n]{1,60}\]\s*", re.I)
_RUN = re.compile(r"([-_=~*])\1{7}")  # eight of one of these characters in a row
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL_HOST_PATH = re.compile(r"https?://([^\s<>,;]+)", re.I)
_LIST_ID = re.compile(r"<([^<>\s]+)>")


def list_names(field: Callable[[str], str | None]) -> frozenset[str]:
    """What in a footer names the message's list, lower-cased: its addresses and their names, its id and its first
    label, and its links less their scheme. Empty when no field names a list: the message did not come through one.
    ``field(name)`` is the decoded value of a header field, or None."""
    naming = [value for name in NAMING_FIELDS if (value := field(name))]
    if not naming:
        return frozenset()
    names: set[str] = set()
    for value in naming + [value for name in LINK_FIELDS if (value := field(name))]:
        value = value.lower()
        for address in _ADDRESS.findall(value.replace("mailto:", " ")):
            local = address.split("@", 1)[0].split("+", 1)[0]
            if not local.endswith(("-request", "-owner", "-admin")):  # a list's own, not its name
                names.add(address)
                if len(local) >= 3:
                    names.add(local)
        names.update(url.rstrip("/>") for url in _URL_HOST_PATH.findall(value))
        for list_id in _LIST_ID.findall(value):
            if "@" not in list_id and ":" not in list_id:
                names.add(list_id)
                if len(first := list_id.split(".", 1)[0]) >= 3:
                    names.add(first)
    return frozenset(names)


def strip_subject_tag(subject: str) -> str:
    """The subject less its first bracketed tag (``Re: [ilug] Lunch`` → ``Re: Lunch``)."""
    stripped = _SUBJECT_TAG.sub(lambda m: f"{m.group(1).strip()} " if m.group(1).strip() else "", subject, count=1)
    return stripped.strip() or subject


def strip_footer(body: str, names: Iterable[str]) -> str:
    """The body less the list's footer: the block after the last separator line that names the list, within the
    last :data:`MAX_FOOTER_CHARS` characters, and a block just above it that names a sponsor."""
    names = tuple(names)
    # Only the end can hold a footer: a line looked at lies within MAX_FOOTER_CHARS of it.
    head, end = body[: -2 * MAX_FOOTER_CHARS], body[-2 * MAX_FOOTER_CHARS :]
    lines = end.rstrip().split("\n")
    tail = 0  # characters below the line looked at
    cut = None
    for i in range(len(lines) - 1, -1, -1):
        tail += len(lines[i]) + 1
        if tail > MAX_FOOTER_CHARS:
            break
        if _is_separator(lines[i]) and i + 1 < len(lines):
            below = "\n".join(lines[i + 1 :] if cut is None else lines[i + 1 : cut]).lower()
            if cut is None and any(_names(name, below) for name in names):
                cut = i
            elif cut is not None and "sponsor" in f"{lines[i]}\n{below}".lower():
                cut = i  # the list's sponsor, above its footer
            elif cut is not None:
                break
    if cut is None:
        return body
    return (head + "\n".join(lines[:cut])).rstrip()


def _names(name: str, text: str) -> bool:
    """``name`` in ``text`` as a word of its own or the start of one (``forteana-unsubscribe@``, not ``developer``
    for ``dev``)."""
    return re.search(rf"(?<![\w.-]){re.escape(name)}(?!\w)", text) is not None


def _is_separator(line: str) -> bool:
    """A signature line (``-- ``) or a rule: a run of eight or more ``-``, ``_``, ``=``, ``~`` or ``*``."""
    return line.rstrip() == "--" or _RUN.search(line) is not None


def strip_list_wrapper(subject: str | None, body: str, field: Callable[[str], str | None]) -> tuple[str | None, str]:
    """``subject`` and ``body`` as their sender wrote them, when the message names the list that delivered it."""
    names = list_names(field)
    if not names:
        return subject, body
    return (strip_subject_tag(subject) if subject else subject), strip_footer(body, names)
