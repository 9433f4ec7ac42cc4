"""Small file helpers shared by every stage: atomic writes and ID lists."""

import contextlib
import csv
import hashlib
import json
import math
import os
import tempfile
from pathlib import Path

import pandas as pd

from .errors import InputError

# Cells read as "no measurement" in phenotype tables: such values are counted, never guessed.
MISSING_VALUES = {"", "na", "nan", "n/a", "none", "null", "."}


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it into place only if the block succeeds.

    A stage that fails half-way therefore never leaves a truncated output behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def file_digest(path):
    """The sha256 of a file's content."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_text(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def strict_json_value(value):
    """`value` with every NaN or infinite float replaced by None, so the JSON is standard."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: strict_json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json_value(item) for item in value]
    return value


def write_json(path, obj, sort_keys=True, indent=2):
    """Standard JSON: undefined values (NaN, infinities) are written as null. `sort_keys` False
    keeps the order the dicts hold their keys in."""
    text = json.dumps(strict_json_value(obj), indent=indent, sort_keys=sort_keys, allow_nan=False)
    write_text(path, text + "\n")


def write_tsv(path, frame, **kwargs):
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, **kwargs)


def check_unique_ids(path, ids, what="ID", lines=None):
    """Refuse a repeated ID, naming it and, where `lines` gives each ID's line, both lines."""
    seen = {}
    for i, value in enumerate(ids):
        if value in seen:
            where = f"lines {lines[seen[value]]} and {lines[i]}: " if lines is not None else ""
            raise InputError(path, f"{where}duplicate {what} {value!r}")
        seen[value] = i


def read_ids(path):
    """Read one accession ID per line; blank lines and '#' comments are skipped, duplicates refused."""
    ids, lines = [], []
    with open(path) as handle:
        for lineno, line in enumerate(handle, 1):
            value = line.strip()
            if value and not value.startswith("#"):
                ids.append(value)
                lines.append(lineno)
    if not ids:
        raise InputError(path, "no accession IDs")
    check_unique_ids(path, ids, lines=lines)
    return ids


def write_ids(path, ids):
    write_text(path, "".join(f"{i}\n" for i in ids))


def text_to_numbers(column):
    """A table column read as text, as numbers: each cell stripped, NaN where it holds none."""
    return pd.to_numeric(column.astype(str).str.strip(), errors="coerce")


def sniff_delimiter(path):
    """Tell a CSV from a TSV by its header line."""
    with open(path, newline="") as handle:
        header = handle.readline()
    if not header.strip():
        raise InputError(path, "empty file")
    try:
        return csv.Sniffer().sniff(header, delimiters=",\t;").delimiter
    except csv.Error:
        return "\t" if "\t" in header else ","
