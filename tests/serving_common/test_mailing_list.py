"""A mailing list's subject tag and footer are taken off the messages it delivered, and nothing else is: the
footers are those the list software of the SpamAssassin corpus writes (Mailman, with SourceForge's sponsor, a
list's own footer after a signature line, Yahoo! Groups), on messages built as a list delivers them."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from serving_common.email_message import parse_email
from serving_common.mailing_list import MAX_FOOTER_CHARS, list_names, strip_footer, strip_subject_tag

TEXT = "Has anyone got the new kernel building on a Thinkpad?\n\nI get a link error in the sound driver.\n\nJohn"

MAILMAN = {
    "List-Id": "Exmh users <exmh-users.redhat.com>",
    "List-Post": "<mailto:exmh-users@redhat.com>",
    "List-Unsubscribe": "<https://listman.redhat.com/mailman/listinfo/exmh-users>, "
    "<mailto:exmh-users-request@redhat.com?subject=unsubscribe>",
}
MAILMAN_FOOTER = (
    "\n\n\n\n_______________________________________________\nExmh-users mailing list\nExmh-users@redhat.com\n"
    "https://listman.redhat.com/mailman/listinfo/exmh-users\n"
)
SOURCEFORGE = {
    "List-Id": "<spamassassin-talk.lists.sourceforge.net>",
    "List-Post": "<mailto:spamassassin-talk@lists.sourceforge.net>",
}
SOURCEFORGE_FOOTER = (
    "\n\n\n-------------------------------------------------------\nThis sf.net email is sponsored by:ThinkGeek\n"
    "Welcome to geek heaven.\nhttp://thinkgeek.com/sf\n_______________________________________________\n"
    "Spamassassin-talk mailing list\nSpamassassin-talk@lists.sourceforge.net\n"
    "https://lists.sourceforge.net/lists/listinfo/spamassassin-talk\n"
)
ILUG = {"List-Id": "Irish Linux Users' Group <ilug.linux.ie>", "List-Post": "<mailto:ilug@linux.ie>"}
ILUG_FOOTER = (
    "\n\n-- \nIrish Linux Users' Group: ilug@linux.ie\nhttp://www.linux.ie/mailman/listinfo/ilug for (un)subscription "
    "information.\nList maintainer: listmaster@linux.ie\n"
)
YAHOO = {"Mailing-List": "list forteana@yahoogroups.com; contact forteana-owner@yahoogroups.com"}
YAHOO_FOOTER = (
    "\n\n------------------------ Yahoo! Groups Sponsor ---------------------~-->\nFree web hosting, no ads!\n"
    "http://us.click.yahoo.com/abc\n---------------------------------------------------------------------~->\n\n"
    "To unsubscribe from this group, send an email to:\nforteana-unsubscribe@egroups.com\n\n\n\n"
    "Your use of Yahoo! Groups is subject to http://docs.yahoo.com/info/terms/\n"
)


def _fields(fields: dict[str, str]):
    """Header fields by name, case-insensitive, as the parser looks them up."""
    return {name.lower(): value for name, value in fields.items()}.get


def _delivered(fields: dict[str, str], subject: str, body: str) -> bytes:
    message = EmailMessage()
    message["From"] = "John <john@example.com>"
    message["To"] = "list@example.com"
    message["Subject"] = subject
    for name, value in fields.items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()


@pytest.mark.parametrize(
    ("fields", "footer"),
    [(MAILMAN, MAILMAN_FOOTER), (SOURCEFORGE, SOURCEFORGE_FOOTER), (ILUG, ILUG_FOOTER), (YAHOO, YAHOO_FOOTER)],
    ids=["mailman", "sourceforge-sponsor", "signature-line", "yahoo-groups"],
)
def test_a_lists_tag_and_footer_are_taken_off_what_it_delivered(fields, footer):
    parsed = parse_email(_delivered(fields, "Re: [ilug] kernel build on a Thinkpad", TEXT + footer))
    assert parsed.subject == "Re: kernel build on a Thinkpad"
    assert parsed.body.rstrip() == TEXT


def test_a_message_that_names_no_list_is_read_as_it_is():
    # The same footer and tag, but no List-Id, List-Post or Mailing-List field: nothing says a list delivered it.
    raw = _delivered({}, "[ilug] kernel build", TEXT + ILUG_FOOTER)
    parsed = parse_email(raw)
    assert parsed.subject == "[ilug] kernel build"
    assert "Irish Linux Users' Group" in parsed.body


def test_the_senders_own_separators_and_signature_stay():
    body = (
        "Results so far:\n==========================\nmodule A: ok\nmodule B: fails\n==========================\n\n"
        "-- \nJohn Smith, Build team\n"
    )
    parsed = parse_email(_delivered(MAILMAN, "build results", body + MAILMAN_FOOTER))
    assert parsed.body.rstrip() == body.rstrip()


def test_a_lists_short_name_must_be_a_word_of_its_own():
    # List "dev": a signature that mentions a developer is the sender's; the footer that names dev@ is the list's.
    fields = _fields({"List-Id": "<dev.lists.example.org>", "List-Post": "<mailto:dev@lists.example.org>"})
    body = f"{TEXT}\n-- \nJohn Smith, senior developer\n"
    footer = "_" * 47 + "\ndev mailing list\ndev@lists.example.org\n"
    assert strip_footer(body, list_names(fields)) == body
    assert strip_footer(body + footer, list_names(fields)) == body.rstrip()


def test_a_footer_is_only_a_short_block_at_the_end():
    # A block that names the list but is longer than any footer is the sender's text (a digest, a long quote).
    long_block = "-- \n" + ("Posted to exmh-users@redhat.com by the archive robot.\n" * 40)
    assert len(long_block) > MAX_FOOTER_CHARS
    assert strip_footer(TEXT + "\n" + long_block, list_names(_fields(MAILMAN))) == TEXT + "\n" + long_block


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("[ILUG] Lunch", "Lunch"),
        ("Re: [ILUG] Lunch", "Re: Lunch"),
        ("RE: Fwd: [SAtalk] rules", "RE: Fwd: rules"),
        ("Re[2]: [dev] patch", "Re[2]: patch"),
        ("[SAdev] [Bug 813] add Bayesian filtering", "[Bug 813] add Bayesian filtering"),
        ("Lunch [ILUG]", "Lunch [ILUG]"),  # not in front: the sender's
        ("[ILUG]", "[ILUG]"),  # nothing else to read: kept
    ],
)
def test_the_first_tag_in_front_of_the_subject_is_the_lists(subject, expected):
    assert strip_subject_tag(subject) == expected


def test_the_subject_tag_is_found_as_the_backtracking_pattern_found_it():
    """The tag pattern reads each ``Re:`` prefix one way only; it takes off what the pattern it replaced, which
    could read the whitespace around ``[2]`` two ways, took off."""
    import random
    import re

    from serving_common.mailing_list import _SUBJECT_TAG

    backtracking = re.compile(r"^((?:\s*(?:re|fwd?|aw|sv|tr)\s*(?:\[\d+\])?\s*:)*)\s*\[[^\[\]\n]{1,60}\]\s*", re.I)
    pieces = [
        "re", "RE", "Fw", "fwd", "d", "aw", "sv", "tr", " ", "  ", "\t", "\n", ":", "[", "]", "[1]", "[12]", "1",
        "x", "[ilug]", "[a b]", "[" + "y" * 60 + "]", "[" + "y" * 61 + "]", "\u00a0",
    ]  # fmt: skip
    rng = random.Random(5)
    for _ in range(20_000):
        subject = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 9)))
        ours, theirs = _SUBJECT_TAG.match(subject), backtracking.match(subject)
        assert (ours and (ours.span(), ours.groups())) == (theirs and (theirs.span(), theirs.groups())), repr(subject)


def test_a_subject_of_many_replies_and_no_tag_is_read_at_once():
    # 30 "Re :" and no tag took the backtracking pattern minutes, 240 (near what a header's 1,000 characters hold)
    # longer than the universe has run: each "Re :" doubled the ways to fail.
    subject = "Re :" * 240 + " lunch"
    assert strip_subject_tag(subject) == subject.strip()
    parsed = parse_email(_delivered(ILUG, subject, TEXT))
    assert parsed.subject == subject and parsed.body.strip() == TEXT


def test_the_lists_names_come_from_its_fields_not_its_administrative_addresses():
    names = list_names(_fields(MAILMAN))
    assert {"exmh-users@redhat.com", "exmh-users", "exmh-users.redhat.com"} <= names
    assert "listman.redhat.com/mailman/listinfo/exmh-users" in names
    assert not any("request" in name for name in names)
    # Links alone (List-Unsubscribe, as bulk senders add it) do not make a message a list's.
    assert list_names(_fields({"List-Unsubscribe": MAILMAN["List-Unsubscribe"]})) == frozenset()
