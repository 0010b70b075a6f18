"""The overlays' ``model-versions.yaml``: which version of each model an environment serves, and the history
of production's promotions. Edited through a round-trip YAML parser, so comments and layout survive."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from model_release import Refused

OVERLAYS = Path("kubernetes/overlays")
VERSIONS_FILE = "model-versions.yaml"


def _yaml() -> YAML:
    yaml = YAML()  # round-trip
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


@dataclass(frozen=True)
class Served:
    """What one environment's overlay serves."""

    path: Path
    uris: dict[str, str]
    history: list[dict[str, Any]]

    @classmethod
    def read(cls, overlays: Path, environment: str) -> Served:
        path = overlays / environment / VERSIONS_FILE
        spec = _yaml().load(path.read_text(encoding="utf-8"))["spec"]
        history = [dict(entry) for entry in spec.get("history") or []]
        return cls(path, {str(k): str(v) for k, v in spec["uris"].items()}, history)

    def version(self, model: str) -> str:
        if model not in self.uris:
            raise Refused(f"{self.path} serves no model {model!r} (it has {sorted(self.uris)})")
        return self.uris[model].rstrip("/").rsplit("/", 1)[1]

    def store(self, model: str) -> str:
        return self.uris[model].rstrip("/").rsplit("/", 2)[0]

    def served_before(self, model: str, version: str) -> bool:
        return any(h.get("model") == model and version in (h.get("from"), h.get("to")) for h in self.history)


def set_uri(path: Path, model: str, uri: str, entry: dict[str, Any]) -> None:
    """Point ``model`` at ``uri`` and append ``entry`` to the history, keeping comments and layout."""
    yaml = _yaml()
    document = yaml.load(path.read_text(encoding="utf-8"))
    spec = document["spec"]
    if model not in spec["uris"]:
        raise Refused(f"{path} serves no model {model!r}")
    spec["uris"][model] = uri
    history = spec.get("history")
    if not history:  # `history: []` is a flow sequence: start a block one, entries one per item
        comment = spec.ca.items.get("history")
        history = CommentedSeq()
        history.fa.set_block_style()
        spec["history"] = history
        if comment:
            spec.ca.items["history"] = comment
    history.append(CommentedMap(entry))
    with path.open("w", encoding="utf-8") as fh:
        yaml.dump(document, fh)
