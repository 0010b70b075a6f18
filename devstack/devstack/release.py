"""Carrying a model from staging to production with evidence: ``python -m devstack.release``.

- ``sync``: upload a model directory to the model store under its version
  (``<store>/<model>/<version>/``, the version ``make models`` wrote into metadata.json). Versions are
  never overwritten: a directory that already exists with other contents is refused.
- ``promote``: set production's storage URI of a model to the version staging serves (or to
  ``--version``), in ``kubernetes/overlays/production/model-versions.yaml``, as a change to review and
  commit (GitOps). It refuses, unless ``--force``, when any evidence for that version is missing:
  the shadow agreement (staging's verdicts on production's traffic, from a gateway's ``/metrics``),
  the evaluation in the version's ``metrics.json`` (its held-out figures, and the independent sets
  where it has them), and a drift baseline for it. Rolling back is the same command with an earlier
  version: a version production served before (it is in the file's history) needs no new evidence.

Exit status: 0 done, 2 refused (nothing was changed).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import fsspec
import httpx
import yaml

from serving_common.baseline import BaselineStore
from serving_common.model_dir import METADATA_FILE, read_metadata

OVERLAYS = Path("kubernetes/overlays")
VERSIONS_FILE = "model-versions.yaml"


class Refused(Exception):
    """The step cannot be taken as asked; the message says why."""


@dataclass(frozen=True)
class Served:
    """What one environment's overlay serves."""

    path: Path
    uris: dict[str, str]
    history: list[dict]

    @classmethod
    def read(cls, overlays: Path, environment: str) -> Served:
        path = overlays / environment / VERSIONS_FILE
        spec = yaml.safe_load(path.read_text())["spec"]
        return cls(path, dict(spec["uris"]), list(spec.get("history") or []))

    def version(self, model: str) -> str:
        if model not in self.uris:
            raise Refused(f"{self.path} serves no model {model!r} (it has {sorted(self.uris)})")
        return self.uris[model].rstrip("/").rsplit("/", 1)[1]

    def store(self, model: str) -> str:
        return self.uris[model].rstrip("/").rsplit("/", 2)[0]


def sync(model_dir: Path, store: str) -> str:
    """Upload ``model_dir`` to ``<store>/<name>/<version>/``; returns that URI."""
    metadata = read_metadata(model_dir)
    fs, root = fsspec.core.url_to_fs(store)
    target = f"{root.rstrip('/')}/{metadata.name}/{metadata.version}"
    files = sorted(p for p in model_dir.iterdir() if p.is_file())
    if fs.exists(f"{target}/{METADATA_FILE}"):
        with fs.open(f"{target}/{METADATA_FILE}") as fh:
            if json.load(fh).get("version") != metadata.version:
                raise Refused(f"{target} holds another model; versions are never overwritten")
    fs.makedirs(target, exist_ok=True)
    for path in files:  # metadata.json last: a version without it is incomplete
        if path.name != METADATA_FILE:
            fs.put_file(str(path), f"{target}/{path.name}")
    fs.put_file(str(model_dir / METADATA_FILE), f"{target}/{METADATA_FILE}")
    return f"{store.rstrip('/')}/{metadata.name}/{metadata.version}"


def shadow_agreement(metrics_text: str, model: str, production: str, staging: str) -> dict[str, tuple[int, int]]:
    """(agreed, compared) per field for one version pair, from a gateway's Prometheus text."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    pattern = re.compile(r"^gateway_shadow_comparisons_total\{([^}]*)\} ([0-9.e+]+)$")
    for line in metrics_text.splitlines():
        match = pattern.match(line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if (labels.get("model_name"), labels.get("production_version"), labels.get("staging_version")) != (
            model,
            production,
            staging,
        ):
            continue
        field = counts[labels["field"]]
        field[1] += int(float(match.group(2)))
        if labels["outcome"] == "agree":
            field[0] += int(float(match.group(2)))
    return {field: (agreed, total) for field, (agreed, total) in counts.items()}


def _read_metrics(source: str) -> str:
    if source.startswith(("http://", "https://")):
        return httpx.get(source, timeout=10).raise_for_status().text
    return Path(source.removeprefix("file://")).read_text()


@dataclass(frozen=True)
class Evidence:
    missing: list[str]
    found: list[str]


def gather_evidence(
    model: str,
    version: str,
    production_version: str,
    store: str,
    *,
    metrics: str | None,
    baselines_url: str,
    min_rows: int,
    min_agreement: float,
) -> Evidence:
    missing, found = [], []
    # 1. Shadow agreement: staging's verdicts on production's own traffic.
    if metrics is None:
        missing.append("shadow agreement: no --metrics source (a gateway's /metrics URL or a saved copy)")
    else:
        fields = shadow_agreement(_read_metrics(metrics), model, production_version, version)
        if not fields:
            missing.append(f"shadow agreement: no comparisons of {version} against production's {production_version}")
        for field, (agreed, total) in sorted(fields.items()):
            share = agreed / total if total else 0.0
            line = f"shadow agreement on {field}: {agreed}/{total} = {share:.1%}"
            if total < min_rows:
                missing.append(f"{line} (fewer than {min_rows} rows compared)")
            elif share < min_agreement:
                missing.append(f"{line} (below {min_agreement:.0%})")
            else:
                found.append(line)
    # 2. Evaluation of that version, as make models wrote it.
    fs, root = fsspec.core.url_to_fs(f"{store.rstrip('/')}/{model}/{version}/metrics.json")
    if not fs.exists(root):
        missing.append(f"evaluation: {store}/{model}/{version}/metrics.json not found (sync the model directory)")
    else:
        with fs.open(root) as fh:
            figures = json.load(fh)
        held_out = figures.get("held_out") or {}
        if not held_out:
            missing.append("evaluation: metrics.json has no held-out figures")
        else:
            shown = {k: round(v, 4) for k, v in held_out.items() if isinstance(v, float)}
            found.append(f"evaluation (held-out split): {shown}")
        if figures.get("independent"):
            found.append(f"evaluation (independent sets): {figures['independent']}")
    # 3. A drift baseline, so the first drift run after the promotion has something to compare with.
    if BaselineStore(baselines_url).exists(model, version):
        found.append(f"baseline: {baselines_url}/{model}/{version}")
    else:
        missing.append(f"baseline: none for {model} {version} under {baselines_url} (run the baseline generator)")
    return Evidence(missing, found)


def set_uri(path: Path, model: str, uri: str, entry: dict) -> None:
    """Rewrite one model's URI and append a history entry, keeping the file's comments and layout."""
    text = path.read_text()
    line = re.compile(rf"^(\s+{re.escape(model)}:\s*)(\S+)\s*$", re.MULTILINE)
    if len(line.findall(text)) != 1:
        raise Refused(f"{path}: expected one line '{model}: <uri>'")
    text = line.sub(lambda m: m.group(1) + uri, text)
    entry_line = "    - " + json.dumps(entry, sort_keys=True)
    if re.search(r"^  history: \[\]\s*$", text, re.MULTILINE):
        text = re.sub(r"^  history: \[\]\s*$", "  history:\n" + entry_line, text, flags=re.MULTILINE)
    else:
        text = text.rstrip("\n") + "\n" + entry_line + "\n"
    path.write_text(text)
    yaml.safe_load(path.read_text())  # still YAML


def promote(args: argparse.Namespace) -> int:
    staging, production = Served.read(args.overlays, "staging"), Served.read(args.overlays, "production")
    current = production.version(args.model)
    version = args.version or staging.version(args.model)
    store = production.store(args.model)
    if version == current:
        print(f"{args.model}: production already serves {version}; nothing to do")
        return 0
    served_before = any(
        h.get("model") == args.model and version in (h.get("from"), h.get("to")) for h in production.history
    )
    if served_before:
        print(f"{args.model}: {version} was served in production before: rolling back needs no new evidence")
        evidence = Evidence([], [f"history: production served {version} before"])
    else:
        evidence = gather_evidence(
            args.model,
            version,
            current,
            store,
            metrics=args.metrics,
            baselines_url=args.baselines_url,
            min_rows=args.min_shadow_rows,
            min_agreement=args.min_agreement,
        )
    for line in evidence.found:
        print(f"  ok       {line}")
    for line in evidence.missing:
        print(f"  MISSING  {line}")
    if evidence.missing and not args.force:
        print(f"refused: {args.model} {current} -> {version} lacks evidence (--force overrides); nothing changed")
        return 2
    uri = f"{store}/{args.model}/{version}"
    entry = {
        "model": args.model,
        "from": current,
        "to": version,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "forced": bool(evidence.missing),
    }
    set_uri(production.path, args.model, uri, entry)
    print(f"{production.path}: {args.model} {current} -> {version} ({uri}). Review, commit and apply:")
    print(f"  git commit -am 'Promote {args.model} {version}' && kubectl apply -k {production.path.parent}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack.release", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("sync", help="upload a model directory to the store under its version")
    up.add_argument("--model-dir", type=Path, required=True)
    up.add_argument("--store", default="s3://textserve-models", help="model store URL (fsspec)")
    pro = commands.add_parser("promote", help="point production at a version, with evidence")
    pro.add_argument("--model", required=True)
    pro.add_argument("--version", default=None, help="default: the version staging serves; an earlier one rolls back")
    pro.add_argument("--metrics", default=None, help="a gateway's /metrics URL (or a saved copy) with shadow counts")
    pro.add_argument("--baselines-url", default="s3://textserve-models/baselines")
    pro.add_argument("--min-shadow-rows", type=int, default=100)
    pro.add_argument("--min-agreement", type=float, default=0.9)
    pro.add_argument("--force", action="store_true", help="promote even when evidence is missing (recorded)")
    pro.add_argument("--overlays", type=Path, default=OVERLAYS)
    args = parser.parse_args(argv)
    try:
        if args.command == "sync":
            print(sync(args.model_dir, args.store))
            return 0
        return promote(args)
    except Refused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
