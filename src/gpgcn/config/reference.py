"""The tables the docs take from a single source: the configuration keys in config/README.md,
from config.schema.yaml (the descriptions) and config.yaml (the defaults), and the strategies
in docs/strategies.md, from the strategy registry. `python -m gpgcn.config.reference` rewrites
both, and a test checks they are current."""

import json
import sys
from pathlib import Path

import yaml

from ..io import write_text

# Maps keyed by name (an input, a strategy): one row for the whole map.
KEYED_MAPS = {"input.checksums", "strategies"}
BEGIN = "<!-- keys: generated from config.schema.yaml by `python -m gpgcn.config.reference` -->"
END = "<!-- end of keys -->"
STRATEGIES_BEGIN = "<!-- strategies: generated from gpgcn.gcn.strategies by `python -m gpgcn.config.reference` -->"
STRATEGIES_END = "<!-- end of strategies -->"


def config_keys(schema, prefix=""):
    """(dotted key, schema node) of every leaf key, in the schema's order."""
    for name, node in schema["properties"].items():
        key = f"{prefix}{name}"
        if "properties" in node and key not in KEYED_MAPS:
            yield from config_keys(node, f"{key}.")
        else:
            yield key, node


def default_value(defaults, key):
    value = defaults
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return ""
        value = value[part]
    if value == "":
        return ""
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def key_table(schema, defaults):
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    for key, node in config_keys(schema):
        rows.append(f"| `{key}` | {default_value(defaults, key)} | {node['description']} |")
    return "\n".join(rows)


def generated_block(repo):
    schema = yaml.safe_load((repo / "config.schema.yaml").read_text())
    defaults = yaml.safe_load((repo / "config.yaml").read_text())
    return f"{BEGIN}\n{key_table(schema, defaults)}\n{END}"


def strategies_block():
    from ..gcn.strategies import STRATEGIES

    rows = ["| strategy (rule) | what runs in parallel | runs on | launch |", "| --- | --- | --- | --- |"]
    for name, strategy in STRATEGIES.items():
        rows.append(
            f"| `{name}` (`train_{name}`) | {strategy.parallel} | {', '.join(strategy.devices)} | {strategy.launch} |"
        )
    return f"{STRATEGIES_BEGIN}\n" + "\n".join(rows) + f"\n{STRATEGIES_END}"


def replace_block(path, begin, end, block):
    text = path.read_text()
    start, stop = text.index(begin), text.index(end) + len(end)
    write_text(path, text[:start] + block + text[stop:])


def update_docs(repo):
    replace_block(repo / "config" / "README.md", BEGIN, END, generated_block(repo))
    replace_block(repo / "docs" / "strategies.md", STRATEGIES_BEGIN, STRATEGIES_END, strategies_block())


if __name__ == "__main__":
    update_docs(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
