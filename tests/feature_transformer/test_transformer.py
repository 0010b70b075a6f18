import asyncio
import threading

import numpy as np
import pytest

from feature_transformer.settings import TransformerSettings
from feature_transformer.transformer import INLINE_PREPARE_CHARS, TextTransformer
from serving_common.errors import InvalidInput
from serving_common.model_dir import TOKENIZER_FILE, validate_model_dir
from serving_common.pipeline import TextPipeline
from serving_common.postprocess import confidence_level, softmax
from serving_common.settings import load_settings
from serving_common.tasks import SPAM
from serving_common.tokenization import TextEncoder
from serving_common.v2_binary import Message, Tensor


@pytest.fixture(scope="module")
def transformer(model_dir):
    metadata = validate_model_dir(model_dir)
    encoder = TextEncoder.from_file(model_dir / TOKENIZER_FILE, 512)
    return TextTransformer("spam-detector", TextPipeline(metadata, encoder), TransformerSettings())


def test_softmax_rows_sum_to_one():
    p = softmax(np.array([[1000.0, 0.0], [0.0, 0.0]]))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert p[0, 0] == pytest.approx(1.0) and p[1, 0] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("p", "threshold", "level"),
    [
        (0.99, 0.5, "high"),
        (0.80, 0.5, "medium"),
        (0.55, 0.5, "low"),
        (0.01, 0.5, "high"),
        (0.3, 0.5, "low"),
        (0.95, 0.2, "high"),
        (0.10, 0.2, "medium"),
    ],
)
def test_confidence_is_relative_to_the_threshold(p, threshold, level):
    assert confidence_level(p, threshold) == level


def test_verdicts_use_the_stored_threshold(model_dir):
    metadata = validate_model_dir(model_dir).model_copy(update={"decision_threshold": 0.9})
    logits = np.log(np.array([[0.2, 0.8], [0.05, 0.95]]))
    a, b = SPAM.verdicts(logits, metadata)
    (label_a, p_a), (label_b, p_b) = (a.label, a.spam_probability), (b.label, b.spam_probability)
    assert (label_a, label_b) == ("ham", "spam")  # 0.8 is under a 0.9 threshold
    assert p_a == pytest.approx(0.8) and p_b == pytest.approx(0.95)


async def test_preprocess_builds_v2_tensors_padded_to_the_longest(transformer):
    request = await transformer.preprocess(
        {"instances": [{"text": "short"}, {"text": "a much longer message with many more words in it"}]},
        {"x-request-id": "abc"},
    )
    ids = request.get_input_by_name("input_ids").as_numpy()
    mask = request.get_input_by_name("attention_mask").as_numpy()
    assert ids.shape == mask.shape and ids.shape[0] == 2
    assert mask[0].sum() < mask[1].sum() == ids.shape[1]  # padded to the longest, not to 512
    assert request.id == "abc"


async def test_long_texts_are_truncated_at_max_length_and_flagged(transformer):
    request = await transformer.preprocess({"instances": [{"text": "word " * 2000}]}, {})
    assert request.get_input_by_name("input_ids").as_numpy().shape[1] == 512
    logits = np.zeros((1, 2), dtype=np.float32)
    answer = Message([Tensor("logits", logits)], model_name="spam-detector", model_version="v")
    result = transformer.postprocess(answer, {})
    assert result["predictions"][0]["truncated"] is True
    assert result["predictions"][0]["features"]["word_count"] == 2000


async def test_a_large_call_is_prepared_off_the_event_loop_while_small_ones_are_answered(transformer, monkeypatch):
    """The large call's preparation waits until a small call has been prepared: on the event loop it would wait
    for ever (the small call could not run), on a worker thread the small call goes first."""
    small_done = threading.Event()
    prepare = transformer.pipeline.prepare

    def prepare_after_the_small_call(bodies, subjects=None):
        if len(bodies) > 1:
            assert small_done.wait(timeout=30), "the small call was not answered while the large one was prepared"
        return prepare(bodies, subjects)

    monkeypatch.setattr(transformer.pipeline, "prepare", prepare_after_the_small_call)
    text = "a long e-mail about the quarterly meter readings " * 40
    large = {"instances": [{"text": text}] * (INLINE_PREPARE_CHARS // len(text) + 1)}

    async def small() -> None:
        await transformer.preprocess({"instances": [{"text": "lunch at noon?"}]}, {})
        small_done.set()

    large_request, _ = await asyncio.wait_for(asyncio.gather(transformer.preprocess(large, {}), small()), 60)
    inline = await transformer.preprocess({"instances": [{"text": text}]}, {})  # under the bound: on the loop
    large_ids = large_request.get_input_by_name("input_ids").as_numpy()
    assert len(large_ids) == len(large["instances"])
    assert (large_ids == inline.get_input_by_name("input_ids").as_numpy()).all()  # the same tokens either way


@pytest.mark.parametrize(
    "payload", [{}, {"instances": []}, {"instances": [{"text": 5}]}, {"instances": [{"text": "  "}]}]
)
async def test_bad_bodies_are_invalid_input(transformer, payload):
    with pytest.raises(InvalidInput):
        await transformer.preprocess(payload, {})


@pytest.mark.parametrize(
    ("payload", "loc", "message"),
    [
        ({}, ["instances"], "instances: Field required"),
        ({"instances": [{"text": 5}]}, ["instances", 0, "text"], "instances.0.text: Input should be a valid string"),
        (
            {"instances": [{"text": "the secret code is 4411", "subject": 7}]},
            ["instances", 0, "subject"],
            "instances.0.subject: ",
        ),
    ],
)
async def test_a_bad_body_says_where_and_what_as_the_gateway_does_without_echoing_the_text(
    transformer, payload, loc, message
):
    with pytest.raises(InvalidInput) as caught:
        await transformer.preprocess(payload, {})
    assert caught.value.message.startswith(message)
    assert caught.value.details["errors"][0]["loc"] == loc
    assert "secret code" not in caught.value.message + str(caught.value.details)


def test_inference_log_flag_overrides_the_setting(monkeypatch):
    from feature_transformer.__main__ import transformer_parser
    from feature_transformer.settings import TransformerSettings

    monkeypatch.setenv("FEATURE_TRANSFORMER_INFERENCE_LOG", "true")
    monkeypatch.setenv("FEATURE_TRANSFORMER_PREDICTOR_REQUEST_TIMEOUT_SECONDS", "7")
    parser = transformer_parser()
    assert load_settings(TransformerSettings, parser.parse_args(["--inference_log", "off"])).inference_log is False
    given = load_settings(TransformerSettings, parser.parse_args(["--predictor_host", "p:1", "--http_port", "9"]))
    assert given.inference_log is True
    # KServe's own flags land in the same object; an unset one leaves the environment's value.
    assert (given.predictor_host, given.http_port, given.predictor_request_timeout_seconds) == ("p:1", 9, 7)
    assert given.predictor_config().predictor_host == "p:1"
