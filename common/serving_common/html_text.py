"""The text a reader of an HTML body sees (:func:`html_to_text`), read with the standard library's lenient
``html.parser`` in time linear in the markup: what a reader cannot see (inline styles, the ``hidden`` attribute,
classes and ids a style sheet hides) is kept apart, script and style dropped, block elements on their own lines.
"""

from __future__ import annotations

import html
import itertools
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

_BLANK_LINES = re.compile(r"\n\s*\n+")

# Inline styles that make an element's content invisible to the reader. Hidden text is how spam pads itself
# with other mail's words (at the start of a body it pushes the visible spam out of the tokens the model reads:
# with two ham messages hidden before them, 28 of the 41 independent spam e-mails the model caught were read as
# ham; docs/models.md) and how newsletters carry a "preheader" meant for the inbox list only. Text moved off the
# screen (``left:-9999px``, ``text-indent:-1000em``: a thousand pixels or a hundred ems out at least) is hidden too.
_ZERO = r"(?:0+(?:\.0*)?|\.0+)"
_OFF_SCREEN = r"-(?:\d{4,}(?:\.\d*)?(?:px|pt)?|\d{3,}(?:\.\d*)?r?em)"
_INVISIBLE_STYLE = re.compile(
    r"(?:^|[;\s])(?:display\s*:\s*none|visibility\s*:\s*hidden|mso-hide\s*:\s*all"
    rf"|(?:font-size|opacity)\s*:\s*{_ZERO}(?:px|pt|em|rem|%)?\s*(?:!important\s*)?(?:;|$)"
    rf"|(?:left|top|text-indent|margin-left|margin-top)\s*:\s*{_OFF_SCREEN}\s*(?:!important\s*)?(?:;|$))",
    re.IGNORECASE,
)
_FAR_NEGATIVE = re.compile(r":\s*-\d{3}")  # what an off-screen position starts with
# Elements that never have content or an end tag (HTML's void elements): hiding one hides nothing.
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
)
# A style sheet's rule that hides what a simple selector names (``.preheader``, ``span.x``, ``#id``): the elements
# of that class or id are as invisible as with the style inline. Selectors that depend on an element's place
# (``div .x``, ``:first-child``) and rules under an at-rule (``@media``: conditional, a narrow screen's layout) are
# not followed. Class and id names are matched without regard to case.
_SIMPLE_SELECTOR = re.compile(r"(?:[a-z][a-z0-9]*|\*)?(?P<kind>[.#])(?P<name>-?[_a-z][\w-]*)")
_BRACE = re.compile(r"[{}]")
# What any hiding attribute or style above names: markup without one of these words (or a far negative position,
# ``_FAR_NEGATIVE``) hides nothing.
_HIDING_WORDS = ("hidden", "display", "visibility", "mso-hide", "font-size", "opacity")
_SHOWN, _INVISIBLE, _DROPPED = 0, 1, 2  # what an open element does to the text inside it


class _TextOfHtml(HTMLParser):
    """Visible text of an HTML document: script and style dropped, content a reader cannot see (in an element
    with the ``hidden`` attribute or an inline ``display:none``, ``visibility:hidden``, ``mso-hide:all``, or a
    zero font size or opacity, or of a class or id a style sheet gives one of those: ``hidden``) kept apart in
    ``invisible``, block elements on their own lines.

    Open elements are kept on a stack so that a hidden element's end tag ends its hiding. An end tag closes the
    open elements above its match (as browsers close an unclosed ``<p>`` or ``<li>``), and one with no open match
    is ignored, found in constant time by a count per tag, so the work stays linear in the markup."""

    BLOCKS = frozenset(
        {"p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "title", "hr"}
    )
    DROPPED = frozenset({"script", "style"})

    def __init__(
        self, may_hide: bool = True, hidden: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
    ) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.invisible: list[str] = []
        # Markup that names none of the hiding attributes and styles cannot hide anything: then only script and
        # style elements are tracked (two thirds of the corpus' HTML bodies).
        self._may_hide = may_hide
        self._hidden_classes, self._hidden_ids = hidden  # named by the document's style sheets
        # The open elements, compactly (2 MiB of unclosed tags is 700,000 of them): each name stored once, and
        # what each element does to its text in a byte array.
        self._open_tags: list[str] = []
        self._open_kinds = bytearray()
        self._open_count: dict[str, int] = {}
        self._inside = [0, 0, 0]  # open elements of each kind (_SHOWN, _INVISIBLE, _DROPPED)

    def feed(self, data: str) -> None:
        """Parse ``data`` at once, as ``HTMLParser.feed`` has since Python 2. Later security releases keep a feed
        pending until the unparsed buffer has doubled (CVE-2026-15308, against many small feeds each rescanning the
        buffer; Debian's 3.11 carries it): ``_feed_in_linear_time`` feeds a few times at most and reads what was left
        unparsed after each feed, which pending data would hide (a comment left open then hid the rest of the text)."""
        self.rawdata += data
        self.goahead(False)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self.chunks.append("\n")
        if tag in _VOID:
            return
        if tag in self.DROPPED:
            kind = _DROPPED
        elif not self._may_hide:
            return
        else:
            kind = _INVISIBLE if attrs and self._invisible(attrs) else _SHOWN
        tag = sys.intern(tag)
        self._open_tags.append(tag)
        self._open_kinds.append(kind)
        self._open_count[tag] = self._open_count.get(tag, 0) + 1
        self._inside[kind] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS:
            self.chunks.append("\n")
        if not self._open_count.get(tag):
            return
        opened = ""
        while opened != tag:
            opened = self._open_tags.pop()
            self._open_count[opened] -= 1
            self._inside[self._open_kinds.pop()] -= 1

    def dropping(self) -> str | None:
        """The script or style element whose content is being read (and dropped), if any: html.parser reads no tag
        inside one, so it is the last element opened."""
        return self._open_tags[-1] if self._inside[_DROPPED] else None

    def handle_data(self, data: str) -> None:
        if self._inside[_DROPPED]:
            return
        (self.invisible if self._inside[_INVISIBLE] else self.chunks).append(data)

    def _invisible(self, attrs: list[tuple[str, str | None]]) -> bool:
        for name, value in attrs:
            if name == "hidden" or (name == "style" and value is not None and _INVISIBLE_STYLE.search(value)):
                return True
            if value is None:
                continue
            if name == "class" and self._hidden_classes and not self._hidden_classes.isdisjoint(value.lower().split()):
                return True
            if name == "id" and value.strip().lower() in self._hidden_ids:
                return True
        return False


def _style_sheets(lowered: str) -> Iterator[str]:
    """The content of each ``<style>`` element of lower-cased markup (to the end when one is not closed)."""
    position = 0
    while (start := lowered.find("<style", position)) != -1:
        opened = lowered.find(">", start)
        if opened == -1:
            return
        closed = lowered.find("</style", opened)
        yield lowered[opened + 1 : closed if closed != -1 else len(lowered)]
        if closed == -1:
            return
        position = closed + 7


def _without_comments(css: str) -> str:
    parts, position = [], 0
    while (start := css.find("/*", position)) != -1:
        parts.append(css[position:start])
        end = css.find("*/", start + 2)
        if end == -1:
            return "".join(parts)
        position = end + 2
        parts.append(" ")
    parts.append(css[position:])
    return "".join(parts)


def _rules(css: str) -> Iterator[tuple[str, str]]:
    """(selectors, declarations) of a style sheet's top-level rules; at-rules (``@media``) and what they hold left
    out. One pass over its braces: the work is linear in the sheet, however its braces are (un)balanced."""
    depth = start = body = 0
    prelude = ""
    for brace in _BRACE.finditer(css):
        if brace.group() == "{":
            if depth == 0:
                prelude, body = css[start : brace.start()], brace.end()
            depth += 1
        elif depth == 0:  # a stray closing brace
            start = brace.end()
        else:
            depth -= 1
            if depth == 0:
                if not prelude.lstrip().startswith("@"):
                    yield prelude, css[body : brace.start()]
                start = brace.end()


def _hidden_by_style_sheets(lowered: str) -> tuple[frozenset[str], frozenset[str]]:
    """The classes and ids that the document's style sheets make invisible (``_SIMPLE_SELECTOR``)."""
    classes: set[str] = set()
    ids: set[str] = set()
    for sheet in _style_sheets(lowered):
        for selectors, declarations in _rules(_without_comments(sheet)):
            if not _INVISIBLE_STYLE.search(declarations.strip()):
                continue
            for selector in selectors.split(","):
                simple = _SIMPLE_SELECTOR.fullmatch(selector.strip())
                if simple is not None:
                    (classes if simple["kind"] == "." else ids).add(simple["name"])
    return frozenset(classes), frozenset(ids)


# A tag, found in linear time: it cannot contain "<", so a search that fails stops at the next one.
_TAG = re.compile(r"<[^<>]*>")
# A "<" that opens nothing (followed by anything but a letter, "/", "!" or "?") is text to html.parser, and it reads
# each one on its own: 2 MiB of them took 3.3 s, of "< " 2.2 s, where 2 MiB of ordinary markup takes 0.5 s. Each is
# fed as a character the document does not hold (one of Unicode's noncharacters, which no text should hold), which
# html.parser reads as part of the text around it as "<" would be, and turned back into "<" in what is read.
_LONE_LT = re.compile(r"<(?=[^a-zA-Z/!?])")
_STAND_INS = tuple(chr(c) for c in range(0xFDD0, 0xFDF0))
# How many constructs left open to the end of a document (a comment, a tag, a declaration) are read as html.parser
# reads them at its close; the rest of such a document is read with its tags stripped.
MAX_UNTERMINATED = 8
# How much of a message's HTML html.parser reads, its HTML parts together (:class:`HtmlBudget`): tags (start and end
# tags, comments, declarations) and characters; the rest is read as shown, with its tags stripped. html.parser takes
# 2-5 us a tag and 1-2 us an attribute: 2 MiB of "<a>" (700,000 tags) took 1.5-3 s of the gateway's worker thread, in
# one HTML part or in a thousand, and one tag of 500,000 attributes 0.7-1.2 s, where the SpamAssassin corpus' HTML
# holds at most 2,299 tags (its 99th percentile 1,077) in at most 82 KB (mail clients clip messages past 100 KB).
MAX_TAGS = 20_000
MAX_HTML_CHARS = 512 * 1024
_OPENS = re.compile(r"<[a-zA-Z/!?]")  # what html.parser reads as the start of a tag, once lone "<"s are replaced


@dataclass
class HtmlBudget:
    """What html.parser may still read of one message's HTML."""

    tags: int = MAX_TAGS
    chars: int = MAX_HTML_CHARS

    def cut(self, markup: str) -> tuple[str, str]:
        """``markup`` cut where the budget ends (before a tag, never inside one), and that much of it spent: (what
        html.parser reads, the rest)."""
        end = len(markup)
        if markup.count("<") > self.tags:
            nth = next(itertools.islice(_OPENS.finditer(markup), self.tags, None), None)
            end = nth.start() if nth is not None else end
        if end > self.chars:
            end = self.chars
            opened = markup.rfind("<", 0, end)
            if opened > markup.rfind(">", 0, end):  # inside a tag: before it
                end = opened
        read = markup[:end]
        self.tags -= min(self.tags, read.count("<"))
        self.chars -= len(read)
        return read, markup[end:]


def _stripped(markup: str, lone_lt: str | None) -> str:
    """The text of markup read with its tags stripped (where html.parser does not read it)."""
    if lone_lt is not None:  # what stands for a "<" in the markup (_LONE_LT)
        markup = markup.replace(lone_lt, "<")
    return html.unescape(_TAG.sub(" ", markup))


_DROPPED_START = re.compile(f"<({'|'.join(_TextOfHtml.DROPPED)})(?=[\\s/>])", re.IGNORECASE)
_DROPPED_END = {name: re.compile(f"</{name}", re.IGNORECASE) for name in _TextOfHtml.DROPPED}


def _without_dropped(markup: str, inside: str | None) -> str:
    """Markup without its script and style elements' content, in one forward pass; ``inside`` names the one the markup
    starts in, if any. One left open runs to the end, as html.parser reads it."""
    kept, position = [], 0
    while True:
        if inside is None:
            start = _DROPPED_START.search(markup, position)
            kept.append(markup[position : start.start() if start else len(markup)])
            if start is None:
                return "".join(kept)
            inside, position = start.group(1).lower(), start.end()
        else:
            end = _DROPPED_END[inside].search(markup, position)
            if end is None:
                return "".join(kept)
            inside, position = None, end.start()  # the end tag is stripped with the other tags


def _feed_in_linear_time(parser: _TextOfHtml, markup: str, lone_lt: str | None, budget: HtmlBudget) -> None:
    """Feed the whole markup and close, as ``feed(markup); close()`` does, in linear time.

    ``html.parser`` stops at a construct with no end (``<!--`` with no ``-->``, a tag with no ``>``, an unclosed
    quote) and keeps the rest; its ``close()`` then reads that construct up to the next ``>`` (or ``<``) as text
    and parses on, which searches to the end of the document again at every later ``<``: quadratic (60 KB of
    ``<a\n`` took 28 s). Here each construct left open is read as that ``close()`` reads it, the first
    ``MAX_UNTERMINATED`` of them one search each, and the rest of a document with more is read with its tags
    stripped; so is the markup past what ``budget`` has left, as shown and without script and style.
    (CPython 3.11.13 and later fixed the search by reading such markup otherwise, gh-135462: a comment left open
    hides the rest. Read here, the text is the same on the images' Python as on the one that trained.)"""
    markup, past = budget.cut(markup)
    parser.feed(markup)
    for _ in range(MAX_UNTERMINATED):
        rest = parser.rawdata  # what html.parser kept: the construct it could not finish, to the end
        if not rest.startswith("<"):
            break
        end = rest.find(">", 1) + 1 or rest.find("<", 1)
        end = end if end > 0 else 1
        parser.rawdata = ""
        parser.handle_data(html.unescape(rest[:end]))
        parser.feed(rest[end:])
    else:
        rest = parser.rawdata
        if rest.startswith("<"):
            parser.rawdata = ""
            parser.handle_data(_stripped(rest, lone_lt))
    parser.close()
    if past:
        # Past the budget the text is read as shown, whatever elements were open at the cut: read inside them, a
        # hiding element opened before the cut would hide the text a reader sees after it, which no one reading the
        # message whole could do; read as shown, it adds only text a sender could have shown anyway.
        parser.chunks.append(_stripped(_without_dropped(past, parser.dropping()), lone_lt))


def html_to_text(markup: str, budget: HtmlBudget | None = None) -> str:
    """The text a reader of the HTML sees. A document whose text is all invisible is read whole (its hidden text
    is all there is to classify, and refusing it would refuse a message a mail client shows as blank). ``budget``:
    what html.parser may read, shared by a message's HTML parts (without one, the document has its own)."""
    lowered = markup.lower()
    may_hide = any(word in lowered for word in _HIDING_WORDS) or _FAR_NEGATIVE.search(lowered) is not None
    hidden = _hidden_by_style_sheets(lowered) if may_hide and "<style" in lowered else (frozenset(), frozenset())
    lone_lt = next((c for c in _STAND_INS if c not in markup), None) if "<" in markup else None
    parser = _TextOfHtml(may_hide=may_hide, hidden=hidden)
    try:
        fed = _LONE_LT.sub(lone_lt, markup) if lone_lt is not None else markup
        _feed_in_linear_time(parser, fed, lone_lt, budget if budget is not None else HtmlBudget())
    except Exception:  # html.parser is lenient; anything it still cannot take is read as text
        return _stripped(markup, None)
    visible = _read(parser.chunks, lone_lt)
    if visible or not parser.invisible:
        return visible
    return _read(parser.invisible, lone_lt)


def _read(chunks: list[str], lone_lt: str | None) -> str:
    text = "".join(chunks)
    if lone_lt is not None:
        text = text.replace(lone_lt, "<")
    return _BLANK_LINES.sub("\n\n", text).strip()
