"""The table of configuration keys in config/README.md, generated from config.schema.yaml (the
descriptions) and config.yaml (the defaults), so docs and schema cannot drift apart:
`python -m gpgcn.config_reference` rewrites it, and a test checks it is current."""

import json
import sys
from pathlib import Path

import yaml

from .io import write_text

# Maps keyed by name (an input, a strategy): one row for the whole map.
KEYED_MAPS = {"input.checksums", "strategies"}
BEGIN = "<!-- keys: generated from config.schema.yaml by `python -m gpgcn.config_reference` -->"
END = "<!-- end of keys -->"


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


def update_readme(repo):
    readme = repo / "config" / "README.md"
    text = readme.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    write_text(readme, text[:start] + generated_block(repo) + text[end:])


if __name__ == "__main__":
    update_readme(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
