"""``python -m devstack.images``: build every image from the one Dockerfile (``make images``).

The images are a table in pyproject.toml (``[tool.textserve.images]``): the service directory the
build copies beside ``common/``, the module it runs, its extras, its torch wheel and its pins.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Image:
    name: str
    source: str
    module: str
    extras: str
    torch: str
    constraints: str

    def build_command(self, registry: str, version: str) -> list[str]:
        args = {
            "SOURCE": self.source,
            "MODULE": self.module,
            "EXTRAS": self.extras,
            "TORCH": self.torch,
            "CONSTRAINTS": self.constraints,
        }
        command = ["docker", "build", "-f", "Dockerfile", "-t", f"{registry}/{self.name}:{version}"]
        for key, value in args.items():
            command += ["--build-arg", f"{key}={value}"]
        return [*command, "."]


def images(pyproject: Path = ROOT / "pyproject.toml") -> list[Image]:
    table = tomllib.loads(pyproject.read_text())["tool"]["textserve"]["images"]
    return [Image(name=name, **spec) for name, spec in table.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack.images", description=__doc__)
    parser.add_argument("--registry", default="ghcr.io/textserve")
    parser.add_argument("--version", default="0.1.0")
    parser.add_argument("--dry-run", action="store_true", help="print the docker commands only")
    parser.add_argument("names", nargs="*", help="images to build (default: all)")
    args = parser.parse_args(argv)
    for image in images():
        if args.names and image.name not in args.names:
            continue
        command = image.build_command(args.registry, args.version)
        print(shlex.join(command), flush=True)
        if not args.dry_run:
            subprocess.run(command, cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
