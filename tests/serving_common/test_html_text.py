"""The text a reader of an HTML body sees: what is hidden, dropped and kept, and reading in linear time."""

from __future__ import annotations

import pytest

from serving_common.html_text import MAX_HTML_CHARS, MAX_TAGS, MAX_UNTERMINATED, html_to_text


def test_html_to_text_keeps_block_boundaries():
    assert html_to_text("<p>one</p><p>two</p>").split() == ["one", "two"]
    assert html_to_text("a &amp; b &lt;c&gt;") == "a & b <c>"


@pytest.mark.parametrize(
    "hidden",
    [
        '<div style="display:none">',
        '<div style="COLOR: black; DISPLAY: none !important">',
        "<span style='visibility: hidden'>",
        '<span style="font-size:0">',
        '<span style="font-size: 0px;">',
        '<span style="line-height:1;font-size:0.0pt">',
        '<div style="opacity:0">',
        '<td style="mso-hide:all">',
        "<p hidden>",
        '<div style="position:absolute; left:-9999px">',
        '<span style="text-indent: -1000em">',
        '<div style="margin-left:-5000px !important;">',
    ],
)
def test_html_to_text_leaves_out_what_a_reader_cannot_see(hidden):
    tag = hidden[1:].split()[0].rstrip(">")
    markup = f"<p>Claim your prize now</p>{hidden}Dear team, the minutes are attached</{tag}><p>Call today</p>"
    assert html_to_text(markup).split() == ["Claim", "your", "prize", "now", "Call", "today"]


@pytest.mark.parametrize(
    "style",
    [
        "font-size:0.5em",
        "font-size:10px",
        "opacity:0.8",
        "display:block",
        "max-font-size:0",
        "font-size:",
        "margin-left:-20px",  # a layout's nudge, not off the screen
        "position:relative; top:-999px",
        "left:-10em",
    ],
)
def test_html_to_text_keeps_small_and_faint_text(style):
    assert html_to_text(f'<span style="{style}">still read</span>') == "still read"


@pytest.mark.parametrize(
    ("sheet", "element"),
    [
        (".pad{display:none}", '<div class="pad">'),
        ("SPAN.Pad { Visibility: Hidden }", '<span class="note PAD">'),
        ("#pad{font-size:0px;}", '<p id="pad">'),
        ("h1, .x, .pad { opacity: 0 !important }", '<td class="pad">'),
        ("/* a comment { } */ .pad{ /* hide */ display : none }", '<div class="pad">'),
        ("}} .pad{display:none}", '<div class="pad">'),  # stray braces before the rule
    ],
)
def test_html_to_text_leaves_out_what_a_style_sheet_hides(sheet, element):
    """Spam hides text by class as well as inline: a style sheet's rule for a class or id hides its elements."""
    tag = element[1:].split()[0]
    markup = (
        f"<html><head><style type='text/css'>{sheet}</style></head><body><p>Claim your prize now</p>"
        f"{element}Dear team, the minutes are attached</{tag}><p>Call today</p></body></html>"
    )
    assert html_to_text(markup).split() == ["Claim", "your", "prize", "now", "Call", "today"]


@pytest.mark.parametrize(
    "sheet",
    [
        "@media only screen and (max-width: 480px) { .pad { display: none } }",  # a narrow screen's layout only
        "div .pad { display: none }",  # depends on the element's place: not followed
        ".pad:hover { display: none }",
        ".pad { color: red } .other { display: none }",
        ".pad { font-size: 10px }",
    ],
)
def test_html_to_text_keeps_what_a_style_sheet_does_not_simply_hide(sheet):
    markup = f"<style>{sheet}</style><p>Claim</p><div class='pad'>still read</div>"
    assert html_to_text(markup).split() == ["Claim", "still", "read"]


def test_style_sheets_without_ends_read_in_one_pass():
    # Unclosed style elements, comments and braces: each scan goes forward only (quadratic work would take minutes).
    start = "<style>.pad{display:none}</style>"  # a hiding rule: the sheets are read
    for rest in ("<style>" + "/*" * 200_000, "<style>" + "{" * 200_000 + "}" * 200_000, "<style>x" * 200_000):
        assert html_to_text(f"{start}<p>shown</p>{rest}<p>end</p>") == "shown"


def test_a_hidden_elements_end_tag_closes_what_it_left_open_and_stray_end_tags_are_ignored():
    markup = "</div></span><div style='display:none'><p>hidden<li>also<b>hidden</div>shown<i>too</b></p>"
    assert html_to_text(markup) == "showntoo"
    nested = "<div style='display:none'><div>inner</div>still hidden</div>visible"
    assert html_to_text(nested) == "visible"


def test_html_that_is_all_hidden_is_read_whole():
    """Nothing to classify otherwise: a message a mail client shows blank is read by its hidden text."""
    assert html_to_text("<div style='display:none'>only <b>this</b></div><script>not()</script>") == "only this"


def test_many_unmatched_and_unclosed_tags_read_in_one_pass():
    # An end tag with no open match is skipped without searching the open elements, so markup built to make
    # each end tag search them all still parses (quadratic work here would take minutes).
    each = MAX_TAGS // 4  # all read by html.parser
    markup = "<b>" * each + "</i>" * each + "<div style='display:none'>" + "<span>x" * each + "</div>end"
    assert html_to_text(markup) == "end"


@pytest.mark.parametrize("left_open", ["<!--", "<a b='", "<a\n", "</a", "<![CDATA[", "<?x", "<!x"])
def test_constructs_left_open_to_the_end_read_in_linear_time(left_open):
    # Each construct with no end sent html.parser's close() to the end of the document again: 60 KB of "<a\n" took
    # 28 s, these 100,000 would take hours. Read as close() reads them: as text, up to the next ">" or "<".
    assert html_to_text("<p>shown</p>" + left_open * 100_000) == "shown\n" + (left_open * 100_000).strip()


def test_a_construct_left_open_is_text_up_to_its_next_angle_bracket_and_markup_after_it_is_parsed():
    # As in three SpamAssassin spam messages, whose text after such a comment is what they say.
    assert html_to_text("<p>shown</p><!--#rotate>Buy <b>now</b> &amp; save") == "shown\n<!--#rotate>Buy now & save"
    assert html_to_text("text <a href=http://x.example/ tail") == "text <a href=http://x.example/ tail"


def test_past_max_unterminated_constructs_the_rest_is_read_without_its_tags():
    markup = "<p>a</p>" + "<!-- <i>w</i> " * (MAX_UNTERMINATED + 2)
    read_as_text = "<!-- <i>w " * MAX_UNTERMINATED
    assert html_to_text(markup) == "a\n" + read_as_text + "<!--  w  <!--  w"


def test_past_max_tags_the_rest_is_read_as_shown_without_its_tags(monkeypatch):
    """html.parser reads a document's first MAX_TAGS tags (2-5 us each: 2 MiB of "<a>" took 1.5-3 s); the rest is
    read with its tags stripped, as shown: a hiding element opened before the cut does not hide what follows it."""
    from serving_common import html_text

    read_tags = []
    handle_starttag = html_text._TextOfHtml.handle_starttag
    monkeypatch.setattr(
        html_text._TextOfHtml,
        "handle_starttag",
        lambda self, tag, attrs: read_tags.append(tag) or handle_starttag(self, tag, attrs),
    )
    flood = "<b>x</b>" * MAX_TAGS
    markup = f"<p>start</p><div style='display:none'>hidden {flood}</div><p>shown &amp; <i>seen</i></p>"
    text = html_to_text(markup)
    assert len(read_tags) <= MAX_TAGS
    assert text.startswith("start\n")
    assert "hidden" not in text
    assert text.split()[-3:] == ["shown", "&", "seen"]
    # Up to the bound, the document is read as html.parser reads it.
    assert html_to_text("<p>a</p>" + "<b>x</b>" * (MAX_TAGS // 2 - 1)) == "a\n" + "x" * (MAX_TAGS // 2 - 1)


def test_past_max_html_chars_the_rest_is_read_as_shown_and_a_tag_is_not_cut(monkeypatch):
    """html.parser reads MAX_HTML_CHARS of a document (1-2 us an attribute: one tag of 500,000 took 0.7-1.2 s); a tag
    the bound falls in is left to the rest, whole."""
    from serving_common import html_text

    fed = []
    feed = html_text._TextOfHtml.feed
    monkeypatch.setattr(html_text._TextOfHtml, "feed", lambda self, data: fed.append(len(data)) or feed(self, data))
    markup = "<p>start</p><div hidden>" + "<a " + "b=1 " * (MAX_HTML_CHARS // 4) + ">end</a> &amp; more</div>"
    assert html_to_text(markup).split() == ["start", "end", "&", "more"]
    assert sum(fed) < 30
    long_text = "<p>" + "word " * (MAX_HTML_CHARS // 5) + "<i>cut</i></p>"
    assert html_to_text(long_text).split() == ["word"] * (MAX_HTML_CHARS // 5) + ["cut"]


def test_past_max_tags_script_and_style_are_dropped():
    # Cut inside a style element (html.parser reads no tags in one; the cut counts its "<b"s all the same) ...
    style = "<p>before</p><style>" + ".x{}<b>" * MAX_TAGS + "</STYLE ><p>after</p><style>left open <i>x</i>"
    assert html_to_text(style).split() == ["before", "after"]
    # ... and script elements past it.
    script = "<i>x</i>" * MAX_TAGS + "<script type=x>var a = '<b>no</b>';</script>shown<script>open"
    assert html_to_text(script).split()[-1] == "shown"
    assert "no" not in html_to_text(script)


def test_lone_lts_do_not_count_as_tags():
    many = "1 < 2 " * (MAX_TAGS + 10)
    assert html_to_text(f"<div hidden>{many}</div><p>shown</p>") == "shown"


def _random_markup(rng, pieces: int) -> str:
    alphabet = [
        *("<p>", "</p>", "<b>", "</b>", "<br>", "<a href='", "<a href=x ", '<img alt="', "<i class=pad>", "</i>"),
        *('<div style="display:none">', "<div hidden>", "</div>", "<span id=pre>", "</span>", "<style>"),
        *(".pad{display:none}", "#pre{visibility:hidden}", "</style>", "<script>", "</script>", "<!--", "-->"),
        *("<!", "<?", "</", "</ ", "<", "<<", "< ", "<1", "<=", "<é", ">", "&", "&amp", "&lt", "&lt;", "&#60", ";"),
        *("=", '"', "'", " ", "\n", "x", "word", "é", "\ufdd0", "<![CDATA[", "]]>"),
    ]
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, pieces)))


def test_a_lt_that_opens_nothing_reads_as_html_parser_reads_it(monkeypatch):
    """A "<" that opens nothing is text to html.parser, read one at a time (2 MiB of them took 3.3 s); it is fed as
    a noncharacter the document does not hold, read with the text around it, and turned back. On random markup of
    tags, hiding styles and sheets, comments, declarations, references and such "<"s, in text, in attribute values,
    in constructs left open and past MAX_UNTERMINATED of them, and past MAX_TAGS tags, the text read is the text
    read without the stand-in, character for character."""
    import random

    from serving_common import html_text

    rng = random.Random(13)
    documents = [_random_markup(rng, 40) for _ in range(3000)]
    # and past MAX_UNTERMINATED constructs left open, where the rest is read with its tags stripped
    documents += ["<!--<p>" * (MAX_UNTERMINATED + 1) + _random_markup(rng, 20) for _ in range(1000)]
    # and past MAX_TAGS, where the rest is read as shown with its tags stripped
    documents += ["<i>x</i>" * (MAX_TAGS // 2 - 5) + _random_markup(rng, 40) for _ in range(20)]
    read = [html_to_text(d) for d in documents]
    monkeypatch.setattr(html_text, "_STAND_INS", ())
    assert [html_to_text(d) for d in documents] == read


def test_lone_lts_are_read_with_the_text_around_them(monkeypatch):
    from serving_common import html_text

    calls = []
    handle_data = html_text._TextOfHtml.handle_data
    monkeypatch.setattr(
        html_text._TextOfHtml, "handle_data", lambda self, data: calls.append(data) or handle_data(self, data)
    )
    assert html_to_text("<p>a " + "< " * 100_000 + "b</p>") == "a " + "< " * 100_000 + "b"
    assert len(calls) < 10
    # A document that holds every stand-in is read one "<" at a time, to the same text.
    every = "".join(html_text._STAND_INS)
    assert html_to_text(f"<p>{every} <<1 <b>x</b></p>") == f"{every} <<1 x"
