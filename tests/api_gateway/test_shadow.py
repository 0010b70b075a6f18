"""The shadow call's deadline: short for a small request, production's for the largest batch accepted."""

from __future__ import annotations

import pytest

from api_gateway.shadow import ShadowDeadline

DEADLINE = ShadowDeadline(base_seconds=2.0, full_seconds=10.0, full_tokens=32_768)


@pytest.mark.parametrize(
    ("tokens", "seconds"),
    [
        (0, 2.0),
        (130, 2.0),  # one e-mail at the spam default's 128 tokens: the short deadline
        (6_553, 2.0),  # a fifth of the largest batch: still the short deadline (10 s x 0.2 = 2 s)
        (16_384, 5.0),  # half the largest batch: half of production's deadline
        (32_768, 10.0),  # the largest batch: production's whole deadline, which the token limit is sized for
        (40_000, 10.0),  # never more than production's deadline
    ],
)
def test_a_mirrored_call_gets_the_share_of_the_deadline_its_tokens_are_of_the_largest_batch(tokens, seconds):
    assert DEADLINE.seconds(tokens) == pytest.approx(seconds)


def test_the_short_deadline_is_a_floor_even_when_it_is_the_longer_one():
    generous = ShadowDeadline(base_seconds=30.0, full_seconds=10.0, full_tokens=32_768)
    assert generous.seconds(32_768) == 30.0
