"""The shadow call's deadline: short for a small request, twice production's for the largest batch accepted."""

from __future__ import annotations

import pytest

from api_gateway.core.config import GatewaySettings
from api_gateway.main import _shadow
from api_gateway.shadow import ShadowDeadline
from api_gateway.upstream import ClientOptions

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


def test_the_gateway_gives_a_mirrored_batch_its_factor_of_productions_deadline():
    settings = GatewaySettings(upstream_timeout_seconds=8.0, shadow_timeout_seconds=1.5, max_batch_tokens=4096)
    assert settings.shadow_timeout_factor == 2.0  # a copy runs beside staging's own traffic: twice production's
    shadow = _shadow(settings, ClientOptions.from_settings(settings))
    assert shadow.deadline == ShadowDeadline(base_seconds=1.5, full_seconds=16.0, full_tokens=4096)
    slower = settings.model_copy(update={"shadow_timeout_factor": 3.0})
    assert _shadow(slower, ClientOptions.from_settings(slower)).deadline.seconds(4096) == 24.0
