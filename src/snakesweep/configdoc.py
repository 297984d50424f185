"""config/README.md from the config schema: the schema is the one place where keys are documented.

    python -m snakesweep.configdoc            # rewrite config/README.md below its introduction
    python -m snakesweep.configdoc --check    # exit 1 when the file is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .io import load_yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
README = ROOT / "config/README.md"
MARK = "<!-- Generated from workflow/schemas/config.schema.yaml by `python -m snakesweep.configdoc`. -->"


def _default(value) -> str:
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=True).strip()
    return text.removesuffix("\n...").strip()


def _describe(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def sections(schema: dict, prefix: str = "") -> list[str]:
    """One section per object of the schema: its description and a table of its leaf keys."""
    out, nested = [], []
    for name, spec in schema.get("properties", {}).items():
        dotted = prefix + name
        if spec.get("type") == "object" and "properties" in spec and dotted != "split.fractions":
            nested.append((dotted, spec))
    rows = [(prefix + n, s) for n, s in schema.get("properties", {}).items()
            if (prefix + n) not in {d for d, _ in nested}]
    if prefix:
        out.append(f"## `{prefix[:-1]}`\n\n{_describe(schema.get('description', ''))}\n\n"
                   "| key | default | meaning |\n| --- | --- | --- |\n"
                   + "".join(f"| `{k}` | `{_default(s.get('default'))}` | {_describe(s.get('description', ''))} |\n"
                             for k, s in rows))
    for dotted, spec in nested:
        out += sections(spec, dotted + ".")
    return out


def render(readme: str, schema: dict) -> str:
    intro = readme.split(MARK)[0].rstrip() + "\n\n"
    return intro + MARK + "\n\n" + "\n".join(sections(schema))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report whether config/README.md is current")
    args = ap.parse_args(argv)
    current = README.read_text()
    wanted = render(current, load_yaml(SCHEMA, "config schema"))
    if args.check:
        if current != wanted:
            print(f"{README} is out of date: run python -m snakesweep.configdoc", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
