"""The run's reports: ``report.json`` (everything, machine-readable) and ``report.html`` (one page with
baseline-vs-live plots of every drifted signal), both self-contained."""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pyarrow as pa

from drift_detector.detectors import SignalResult


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True)


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def feature_plot(name: str, reference: pa.Table, live: pa.Table) -> str:
    ref, cur = reference[name].to_numpy(), live[name].to_numpy()
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins=30)
    fig, ax = plt.subplots(figsize=(4.5, 2.6))
    ax.hist(ref, bins=edges, density=True, alpha=0.55, label="baseline")
    ax.hist(cur, bins=edges, density=True, alpha=0.55, label="live")
    ax.set_title(name)
    ax.legend()
    return _png(fig)


def category_plot(column: str, reference: pa.Table, live: pa.Table) -> str:
    ref, cur = reference[column].to_pylist(), live[column].to_pylist()
    categories = sorted({c for c in ref + cur if c is not None})
    x = np.arange(len(categories))
    fig, ax = plt.subplots(figsize=(max(4.5, 0.6 * len(categories)), 2.6))
    ax.bar(x - 0.2, [ref.count(c) / len(ref) for c in categories], 0.4, label="baseline")
    ax.bar(x + 0.2, [cur.count(c) / len(cur) for c in categories], 0.4, label="live")
    ax.set_xticks(x, categories, rotation=30, ha="right")
    ax.set_title(f"{column} share")
    ax.legend()
    return _png(fig)


def embedding_plot(reference: pa.Table, live: pa.Table) -> str:
    """Both samples on the baseline's first two principal components."""
    ref = np.asarray(reference["embedding"].to_pylist(), dtype=np.float64)
    cur = np.asarray([e for e in live["embedding"].to_pylist() if e is not None], dtype=np.float64)
    mean = ref.mean(axis=0)
    _, _, components = np.linalg.svd(ref - mean, full_matrices=False)
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for data, label in ((ref, "baseline"), (cur, "live")):
        xy = (data - mean) @ components[:2].T
        ax.scatter(xy[:, 0], xy[:, 1], s=6, alpha=0.5, label=label)
    ax.set_title("embedding (baseline PCs 1-2)")
    ax.legend()
    return _png(fig)


def plots_for(results: list[SignalResult], reference: pa.Table, live: pa.Table) -> list[str]:
    images = []
    for result in results:
        if not result.drifted:
            continue
        if result.signal == "features":
            images += [feature_plot(name, reference, live) for name in result.drifted_features]
        elif result.signal == "embedding":
            images.append(embedding_plot(reference, live))
        else:
            images.append(category_plot(result.signal, reference, live))
    return images


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}.drift{color:#b00;font-weight:bold}.ok{color:#070}
.muted{color:#777}img{margin:.3em}"""


def render_html(report: dict[str, Any], images: dict[str, list[str]]) -> str:
    e = html.escape
    window = report["window"]
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>Drift report {e(window['end'])}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Drift report</h1><p>Window {e(window['start'])} to {e(window['end'])} "
        f"({report['window']['minutes']:g} min); p-value {report['settings']['p_value']}.</p>",
    ]
    for check in report["checks"]:
        title = f"{check['environment']} / {check['model']} {check.get('model_version') or ''}"
        if check["status"] != "ok":
            parts.append(f"<h2>{e(title)}</h2><p class='muted'>{e(check['status'])}: {e(check['detail'])}</p>")
            continue
        verdict = "<span class='drift'>DRIFT</span>" if check["drift"] else "<span class='ok'>no drift</span>"
        parts.append(f"<h2>{e(title)}: {verdict}</h2>")
        moved = ", ".join(check["drifted_signals"]) or "nothing"
        parts.append(
            f"<p>{check['samples']['live']} live rows vs {check['samples']['reference']} baseline rows "
            f"(baseline {e(check['baseline_version'])}). Moved: {e(moved)}.</p>"
        )
        parts.append(
            "<table><tr><th>signal</th><th>test</th><th>drift</th><th>p-value</th><th>threshold</th>"
            "<th>distance</th><th>note</th></tr>"
        )
        for s in check["signals"]:
            note = s["skipped"] or ", ".join(s["drifted_features"])
            parts.append(
                f"<tr><td>{e(s['signal'])}</td><td>{e(s['method'])}</td>"
                f"<td class='{'drift' if s['drifted'] else 'ok'}'>{'yes' if s['drifted'] else 'no'}</td>"
                f"<td>{s['p_value']:.3g}</td><td>{s['threshold']:.3g}</td><td>{s['distance']:.4g}</td><td>{e(note)}</td></tr>"
            )
        parts.append("</table>")
        parts += [f"<img src='{src}'>" for src in images.get(check["key"], [])]
    parts.append("</body></html>")
    return "\n".join(parts)
