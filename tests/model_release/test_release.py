"""Carrying a model from staging to production: versioned sync to a store, and a promotion that edits
the production overlay only with evidence (shadow agreement, evaluation, baseline), or rolls back.
Everything runs on copies: the repository's kubernetes/ tree and a model store in a temporary folder."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest

from api_gateway.shadow import compare
from baseline_generator.__main__ import main as generate_baseline
from model_release.__main__ import main
from model_release.evidence import labelled_from_metrics, mirrored_from_metrics, shadow_agreement
from model_release.overlays import Served
from model_release.store import sync
from serving_common.model_dir import read_metadata
from serving_common.schemas import SpamOutput, SpamResponse
from serving_common.tasks import SPAM

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path, model_dir):
    """A copy of kubernetes/, a store holding the candidate (the tiny model), and staging serving it."""
    shutil.copytree(ROOT / "kubernetes", tmp_path / "kubernetes")
    overlays = tmp_path / "kubernetes" / "overlays"
    store = tmp_path / "store"
    uri = sync(model_dir, str(store))
    staging = overlays / "staging" / "model-versions.yaml"
    text = staging.read_text()
    staging.write_text(re.sub(r"(spam-detector: )\S+", lambda m: m.group(1) + uri, text))
    return overlays, store, read_metadata(model_dir).version


def _with_production_store(overlays: Path, store: Path) -> None:
    """Point production's URIs at the temporary store (same versions), as a real store would hold them."""
    path = overlays / "production" / "model-versions.yaml"
    path.write_text(path.read_text().replace("s3://textserve-models", str(store)))


def _shadow_metrics(tmp_path: Path, production: str, staging: str, rows: int, agreeing: int) -> Path:
    """The gateway's own comparison code and metrics, fed verdicts for one version pair."""

    def response(version: str, labels: list[str]) -> SpamResponse:
        return SpamResponse(
            predictions=[
                SpamOutput(
                    label=label,
                    spam_probability=0.9 if label == "spam" else 0.1,
                    confidence="high",
                    truncated=False,
                    features={},
                )
                for label in labels
            ],
            model_name="spam-detector",
            model_version=version,
        )

    ours = ["spam"] * rows
    theirs = ["spam"] * agreeing + ["ham"] * (rows - agreeing)
    compare(SPAM, response(production, ours), response(staging, theirs))
    path = tmp_path / "metrics.txt"
    path.write_text(generate_latest().decode())
    return path


def _baseline(tmp_path: Path, model_dir: Path) -> str:
    reference = tmp_path / "reference.jsonl"
    reference.write_text("\n".join(json.dumps({"text": t}) for t in ["free prize call now", "lunch at noon?"] * 5))
    url = str(tmp_path / "baselines")
    assert (
        generate_baseline(["--model-dir", str(model_dir), "--baselines-url", url, "--reference", str(reference)]) == 0
    )
    return url


def _promote_args(overlays: Path, metrics: Path, baselines: str) -> list[str]:
    return [
        "promote",
        "--model",
        "spam-detector",
        "--overlays",
        str(overlays),
        "--metrics",
        str(metrics),
        "--baselines-url",
        baselines,
    ]


def test_sync_puts_a_model_under_its_version_and_never_overwrites(tmp_path, model_dir):
    store = tmp_path / "store"
    uri = sync(model_dir, str(store))
    version = read_metadata(model_dir).version
    assert uri == f"{store}/spam-detector/{version}"
    assert {p.name for p in Path(uri).iterdir()} == {p.name for p in model_dir.iterdir() if p.is_file()}
    assert sync(model_dir, str(store)) == uri  # the same version again: fine
    (Path(uri) / "metadata.json").write_text(json.dumps({"version": "v1-other"}))
    assert main(["sync", "--model-dir", str(model_dir), "--store", str(store)]) == 2


def test_the_overlays_name_versioned_uris():
    for env in ("staging", "production"):
        served = Served.read(ROOT / "kubernetes" / "overlays", env)
        for model, uri in served.uris.items():
            assert re.fullmatch(rf"s3://textserve-models/{model}/v\d+-[0-9a-f]{{12}}", uri), uri


def test_promote_refuses_without_evidence_and_changes_nothing(repo, tmp_path):
    overlays, store, _ = repo
    _with_production_store(overlays, store)
    production = overlays / "production" / "model-versions.yaml"
    before = production.read_text()
    code = main(
        [
            "promote",
            "--model",
            "spam-detector",
            "--overlays",
            str(overlays),
            "--baselines-url",
            str(tmp_path / "no-baselines"),
        ]
    )
    assert code == 2 and production.read_text() == before


def test_promote_with_evidence_edits_production_and_a_rollback_needs_none(repo, tmp_path, model_dir, capsys):
    overlays, store, candidate = repo
    _with_production_store(overlays, store)
    production = Served.read(overlays, "production")
    current = production.version("spam-detector")
    metrics = _shadow_metrics(tmp_path, current, candidate, rows=150, agreeing=145)
    baselines = _baseline(tmp_path, model_dir)
    figures_file = Path(store) / "spam-detector" / candidate / "metrics.json"
    figures = json.loads(figures_file.read_text())
    matrix = {"labels": ["negative", "positive"], "matrix": [[60, 5], [4, 44]]}
    figures["independent"] = [{"set": "emails_apart", "roc_auc": 0.94937, "f1": 0.871, "confusion_matrix": matrix}]
    figures_file.write_text(json.dumps(figures))
    args = _promote_args(overlays, metrics, baselines)
    assert main(args) == 0
    promoted = Served.read(overlays, "production")
    assert promoted.uris["spam-detector"] == f"{store}/spam-detector/{candidate}"
    assert promoted.uris["intent-classifier"] == production.uris["intent-classifier"]
    (entry,) = promoted.history
    assert (entry["from"], entry["to"], entry["forced"]) == (current, candidate, False)
    out = capsys.readouterr().out
    assert "shadow agreement on label: 145/150" in out and "evaluation (held-out split)" in out
    # An independent set by its headline figures, not its tables.
    assert "evaluation (independent set emails_apart): {'roc_auc': 0.9494, 'f1': 0.871}" in out
    assert "matrix" not in out

    rendered = subprocess.run(
        ["kubectl", "kustomize", str(overlays / "production")], capture_output=True, text=True, check=True
    ).stdout
    spam = next(
        d
        for d in yaml.safe_load_all(rendered)
        if d and d["metadata"]["name"] == "spam-detector" and d["kind"] == "InferenceService"
    )
    assert spam["spec"]["predictor"]["storageUris"][0]["uri"].endswith(f"/spam-detector/{candidate}")

    # Rolling back: the same command with the earlier version, which production served before.
    assert main(["promote", "--model", "spam-detector", "--version", current, "--overlays", str(overlays)]) == 0
    back = Served.read(overlays, "production")
    assert back.version("spam-detector") == current and len(back.history) == 2


def test_low_shadow_agreement_refuses_unless_forced(repo, tmp_path, model_dir):
    overlays, store, candidate = repo
    _with_production_store(overlays, store)
    current = Served.read(overlays, "production").version("spam-detector")
    baselines = _baseline(tmp_path, model_dir)
    # The counters are the process's own: rows compared by other tests add up, so this sample dominates.
    metrics = _shadow_metrics(tmp_path, current, candidate, rows=3000, agreeing=0)
    fields = shadow_agreement(metrics.read_text(), "spam-detector", current, candidate)
    agreed, total = fields["label"]
    assert total >= 3000 and agreed / total < 0.9
    args = _promote_args(overlays, metrics, baselines)
    assert main(args) == 2
    assert main([*args, "--force"]) == 0  # forced, and the history says so
    assert Served.read(overlays, "production").history[-1]["forced"] is True


def _feedback_metrics(tmp_path: Path, version: str, environment: str, right: int, wrong: int) -> Path:
    """Users' labels of a version's verdicts, counted by the gateway's own counter (this process's)."""
    from api_gateway import metrics as gateway_metrics

    gateway_metrics.FEEDBACK.labels(environment, "spam-detector", version, "spam", "spam").inc(right)
    gateway_metrics.FEEDBACK.labels(environment, "spam-detector", version, "spam", "ham").inc(wrong)
    path = tmp_path / "metrics.txt"
    path.write_text(generate_latest().decode())
    return path


def test_users_labels_are_weighed_once_both_versions_have_enough(repo, tmp_path, model_dir, capsys):
    overlays, store, candidate = repo
    _with_production_store(overlays, store)
    current = Served.read(overlays, "production").version("spam-detector")
    baselines = _baseline(tmp_path, model_dir)
    _shadow_metrics(tmp_path, current, candidate, rows=150, agreeing=148)
    # Few labels of staging's verdicts: shown, not compared, nothing blocked by them.
    _feedback_metrics(tmp_path, current, "production", right=190, wrong=10)
    metrics = _feedback_metrics(tmp_path, candidate, "staging", right=20, wrong=10)
    labelled = labelled_from_metrics(metrics.read_text(), "spam-detector", "staging", candidate)
    assert labelled.rows == 30 and labelled.accuracy == pytest.approx(2 / 3)
    args = [*_promote_args(overlays, metrics, baselines), "--min-labels", "100"]
    main(args)  # shadow agreement and the evaluation decide the outcome here; the labels only show
    out = capsys.readouterr().out
    assert "  ok       users' labels: staging 30, production 200 labelled rows; fewer than 100" in out
    # Enough of both, staging clearly less accurate (72.7 % against 95 %): missing evidence, refused.
    metrics = _feedback_metrics(tmp_path, candidate, "staging", right=60, wrong=20)
    assert main(args) == 2
    out = capsys.readouterr().out
    assert "  MISSING  users' labels: staging 72.7% accuracy, macro F1" in out
    assert "production 95.0% accuracy" in out and "(staging is more than 1% less accurate)" in out


def test_staging_failing_mirrored_calls_is_refused_though_its_answers_agree(repo, tmp_path, model_dir, capsys):
    """Agreement counts only the calls staging answered: a candidate that times out or errs on a share of
    production's traffic is refused on that share, whatever it answered."""
    from api_gateway import metrics as gateway_metrics

    overlays, store, candidate = repo
    _with_production_store(overlays, store)
    current = Served.read(overlays, "production").version("spam-detector")
    baselines = _baseline(tmp_path, model_dir)
    # This process's own counters, which other tests fed for the same versions: this test starts from none.
    counters = (gateway_metrics.SHADOW_REQUESTS, gateway_metrics.SHADOW_COMPARISONS, gateway_metrics.FEEDBACK)
    for counter in counters:
        counter.clear()
    calls = gateway_metrics.SHADOW_REQUESTS
    try:
        calls.labels("spam-detector", "shadowed", "").inc(3000)
        calls.labels("spam-detector", "dropped", "queue_full").inc(400)  # never sent: not staging's failure
        calls.labels("spam-detector", "dropped", "upstream_timeout").inc(40)
        calls.labels("spam-detector", "dropped", "upstream_failed").inc(10)
        metrics = _shadow_metrics(tmp_path, current, candidate, rows=3000, agreeing=3000)
        mirrored = mirrored_from_metrics(metrics.read_text(), "spam-detector")
        assert (mirrored.answered, mirrored.failed, mirrored.sent) == (3000, 50, 3050)
        assert main(_promote_args(overlays, metrics, baselines)) == 2  # 1.6 % failed
        out = capsys.readouterr().out
        failed = "shadow calls staging answered: 3000/3050, 50 failed (upstream_failed 10, upstream_timeout 40); "
        assert f"  MISSING  {failed}400 not sent, the queue full" in out and "(more than 1% failed)" in out
        assert Served.read(overlays, "production").version("spam-detector") == current  # nothing changed

        args = [*_promote_args(overlays, metrics, baselines), "--max-shadow-failures", "0.02"]
        code = main(args)
        out = capsys.readouterr().out
        assert code == 0, out  # the share allowed is the caller's
        assert f"  ok       {failed}400 not sent, the queue full" in out
        assert Served.read(overlays, "production").version("spam-detector") == candidate
    finally:
        for counter in counters:
            counter.clear()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "--model spam-detector"),  # no version: the one staging serves
        (["VERSION=v1-abc"], "--model spam-detector --version v1-abc"),
    ],
)
def test_make_promote_asks_for_a_version_only_when_given_one(args, expected):
    root = Path(__file__).resolve().parents[2]
    dry_run = subprocess.run(
        ["make", "-n", "promote", "MODEL=spam-detector", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    (command,) = [line for line in dry_run.splitlines() if "model_release promote" in line]
    assert command.split("promote", 1)[1].split("\\")[0].strip() == expected
    images = subprocess.run(["make", "-n", "images"], cwd=root, capture_output=True, text=True, check=True).stdout
    assert "--version 0.1.0" in images  # the images' own default tag
