"""Data sources: read the rows of any file people have, and recognise their format.

`read_records(source, key)` reads a `.jsonl`, `.json`, `.csv` or `.parquet` file, a folder
written by `datasets`' `save_to_disk`, or a hub dataset id (when the hub is reachable), all
through the `datasets` library, and returns plain row dicts, each with where it came from
('file:line' for JSONL and CSV, 'file[i]' otherwise) for error messages. `detect_format(...)`
names the format from the rows' fields: `messages` (chat), ShareGPT `conversations` with
`from`/`value` (sharegpt), `instruction`/`output` (alpaca), `text` or `prompt`/`completion`
(completion), `prompt`/`chosen`/`rejected` (preference). Every problem is one `ConfigError`
naming the key, the source (and row) and the fix. This module knows no config: `sweep.config`
uses it to resolve `data.format: auto`, `sweep.data` to read and validate rows.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import tempfile
from pathlib import Path
from typing import Any

from sweep.errors import ConfigError, Problem

FILE_TYPES = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
# how each format is recognised (the first match wins; the order matters: preference rows
# have a prompt, as prompt/completion rows do)
SHAPES = (
    ("chat", ("messages",), "messages"),
    ("sharegpt", ("conversations",), "conversations (ShareGPT from/value)"),
    ("preference", ("prompt", "chosen", "rejected"), "prompt/chosen/rejected"),
    ("alpaca", ("instruction", "output"), "instruction/input/output"),
    ("completion", ("prompt", "completion"), "prompt/completion"),
    ("completion", ("text",), "text"),
)
KNOWN = ("messages (chat), conversations with from/value (sharegpt), instruction/input/output "
         "(alpaca), text or prompt/completion (completion), prompt/chosen/rejected (preference)")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_CACHE: dict[tuple, list[tuple[dict[str, Any], str]]] = {}


def is_hub_id(source: str) -> bool:
    """A name that is no local path and looks like `owner/name` (or `name`) of a hub dataset."""
    return (not Path(source).expanduser().exists() and bool(_HUB_ID.match(source))
            and Path(source).suffix.lower() not in FILE_TYPES)


def short_name(source: str) -> str:
    """The file or folder name users recognise (the hub id as is)."""
    return source if is_hub_id(source) else Path(source).name


def read_records(source: str, key: str, split: str | None = None) -> list[tuple[dict[str, Any], str]]:
    """Every row of `source` as (dict, where), read with `datasets`; cached per file version.

    Args:
        source: a file, a `save_to_disk` folder, or a hub dataset id.
        key: the config key that named it (for messages), e.g. "data.path".
        split: the split of a folder or hub dataset holding several (None: "train").

    Raises:
        ConfigError: missing, empty, unreadable or unsupported source, naming it and the fix.
    """
    p = Path(source).expanduser()
    if p.exists():
        stat = p.stat()
        tag = (str(p.resolve()), split, stat.st_mtime_ns, stat.st_size)
        if p.is_dir():
            tag += tuple(sorted((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in p.rglob("*")
                                if f.is_file()))
    elif is_hub_id(source):
        tag = (source, split)
    else:
        raise ConfigError(Problem(key, source, "file not found; give an existing .jsonl, .json, .csv or "
                                  ".parquet file, a datasets save_to_disk folder, or a hub dataset id"))
    if tag not in _CACHE:
        records = _read(p, source, key, split)
        if not records:
            raise ConfigError(Problem(key, source, "the file is empty (no rows); add rows or point to another file"))
        if len(_CACHE) > 16:
            _CACHE.clear()
        _CACHE[tag] = records
    return list(_CACHE[tag])


def _read(p: Path, source: str, key: str, split: str | None) -> list[tuple[dict[str, Any], str]]:
    if p.is_dir():
        return _from_disk(p, key, split)
    if p.exists():
        kind = FILE_TYPES.get(p.suffix.lower())
        if kind is None:
            raise ConfigError(Problem(key, source, f"unsupported file type {p.suffix or '(none)'!r}; use "
                                      ".jsonl, .json, .csv, .parquet or a datasets save_to_disk folder"))
        if p.stat().st_size == 0:
            raise ConfigError(Problem(key, source, "the file is empty (no rows); add rows or point to another file"))
        return {"json": _json, "csv": _csv, "parquet": _parquet}[kind](p, key)
    return _hub(source, key, split)


def _datasets():
    import datasets

    datasets.disable_progress_bars()
    # its own error log would repeat, in many lines, what our ConfigError says in one
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)
    return datasets


def _load(builder: str, path: Path, **kwargs: Any) -> Any:
    """`datasets.load_dataset` of one local file, in memory, with a throw-away cache folder
    (nothing lands in ~/.cache; processes reading the same file never share a lock)."""
    ds = _datasets()
    with tempfile.TemporaryDirectory(prefix="sweep-data-") as cache:
        return ds.load_dataset(builder, data_files=str(path), split="train", cache_dir=cache,
                               keep_in_memory=True, **kwargs)


def _plain(value: Any) -> Any:
    """Arrow fills a field a row lacks with None: drop those (in messages too)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _rows(dataset: Any, where: list[str]) -> list[tuple[dict[str, Any], str]]:
    return [(_plain(r), w) for r, w in zip(dataset.to_list(), where, strict=True)]


def _json(p: Path, key: str) -> list[tuple[dict[str, Any], str]]:
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(Problem(key, str(p), f"not UTF-8 text (byte {exc.start}); save it as UTF-8")) from None
    array = text.lstrip().startswith("[")
    try:
        dataset = _load("json", p)
    except Exception:  # noqa: BLE001 - Python's parser names the bad line; rows whose fields
        # change type (which Arrow cannot put in one column) are then validated row by row
        return [(_plain(r), w) for r, w in parse_records(p, key)]
    if array:
        where = [f"{p}[{i}]" for i in range(len(dataset))]
    else:
        where = [f"{p}:{n}" for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if len(where) != len(dataset):
            where = [f"{p}[{i}]" for i in range(len(dataset))]
    return _rows(dataset, where)


def _csv(p: Path, key: str) -> list[tuple[dict[str, Any], str]]:
    try:
        with open(p, encoding="utf-8", newline="") as f:
            header = next(csv.reader(f), [])
    except UnicodeDecodeError as exc:
        raise ConfigError(Problem(key, str(p), f"not UTF-8 text (byte {exc.start}); save it as UTF-8")) from None
    if not [c for c in header if c.strip()]:
        raise ConfigError(Problem(key, str(p), "the CSV has no header row; the first line names the columns "
                                  "(e.g. instruction,input,output)"))
    ds = _datasets()
    try:  # every column as text: "007" stays "007", an answer "42" stays a string
        dataset = _load("csv", p, features=ds.Features({c: ds.Value("string") for c in header}))
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(Problem(key, str(p), f"cannot be read as CSV ({_first_line(exc)}); check the "
                                  "quoting and that every line has the header's columns")) from None
    return _rows(dataset, [f"{p}:{i + 2}" for i in range(len(dataset))])  # line 1 is the header


def _parquet(p: Path, key: str) -> list[tuple[dict[str, Any], str]]:
    try:
        dataset = _load("parquet", p)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(Problem(key, str(p), f"cannot be read as Parquet ({_first_line(exc)}); check the "
                                  "file, or convert it to JSONL")) from None
    return _rows(dataset, [f"{p}[{i}]" for i in range(len(dataset))])


def _pick_split(obj: Any, source: str, key: str, split: str | None) -> Any:
    """A Dataset from a Dataset or DatasetDict; `split` (default "train") names the part."""
    if not hasattr(obj, "keys"):
        return obj
    name = split or "train"
    if name not in obj:
        raise ConfigError(Problem(key, source, f"has splits {', '.join(obj.keys())} but no {name!r}; "
                                  "set data.split to one of them"))
    return obj[name]


def _from_disk(p: Path, key: str, split: str | None) -> list[tuple[dict[str, Any], str]]:
    ds = _datasets()
    try:
        obj = ds.load_from_disk(str(p), keep_in_memory=True)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(Problem(key, str(p), f"not a folder written by datasets' save_to_disk "
                                  f"({_first_line(exc)}); give a data file or such a folder")) from None
    dataset = _pick_split(obj, str(p), key, split)
    return _rows(dataset, [f"{p}[{i}]" for i in range(len(dataset))])


def _hub(source: str, key: str, split: str | None) -> list[tuple[dict[str, Any], str]]:
    ds = _datasets()
    try:
        obj = ds.load_dataset(source)
    except ConnectionError as exc:
        raise ConfigError(Problem(key, source, f"not a local file or folder, and the hub cannot be reached to "
                                  f"read it as a dataset id ({_first_line(exc)}); download it while online "
                                  "(it is then read from the cache) or give a local file")) from None
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(Problem(key, source, f"not a local file or folder, nor a hub dataset "
                                  f"({_first_line(exc)}); give an existing file or a hub dataset id")) from None
    dataset = _pick_split(obj, source, key, split)
    return _rows(dataset, [f"{source}[{i}]" for i in range(len(dataset))])


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]


def parse_records(path: Path, key: str, problems: Any = None) -> list[tuple[Any, str]]:
    """(record, 'file:line') pairs of a JSON array or a JSONL file, parsed by Python's `json`.

    Used where `datasets` cannot read a JSON file (to name the bad line) and for small side
    files (RAG passages). A bad JSONL line is added to `problems` (so all of them are reported
    together) or, without a collector, raised at once; a JSON array that does not parse is
    raised at once.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(Problem(key, str(path), f"not UTF-8 text (byte {exc.start}); save it as UTF-8")) from None
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(Problem(key, f"{path}:{exc.lineno}", f"not valid JSON ({exc.msg})")) from None
        return [(item, f"{path}[{i}]") for i, item in enumerate(items)]
    out: list[tuple[Any, str]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((json.loads(line), f"{path}:{n}"))
        except json.JSONDecodeError as exc:
            problem = (key, f"{path}:{n}", f"line is not valid JSON ({exc.msg}); one JSON object per line")
            if problems is None:
                raise ConfigError(Problem(*problem)) from None
            problems.add(*problem)
    return out


# --------------------------------------------------------------------------- formats


def shape_of(item: Any) -> tuple[str, str] | None:
    """(format, fields found) of one row, or None when no known format matches."""
    if not isinstance(item, dict):
        return None
    present = {k for k, v in item.items() if v is not None and v != ""}
    for fmt, fields, label in SHAPES:
        if all(f in present for f in fields):
            return fmt, label
    return None


def _fields(item: Any, source: str) -> str:
    if not isinstance(item, dict):
        return f"a {type(item).__name__}, not an object"
    noun = "columns" if Path(source).suffix.lower() in (".csv", ".parquet") else "fields"
    return f"{noun} " + (", ".join(sorted(map(str, item))) or "none")


def detect_format(records: list[tuple[Any, str]], source: str, key: str) -> str:
    """The one format every row has; mixed or unknown shapes name the row and what was found."""
    first: tuple[str, str, str] | None = None
    for item, where in records:
        shape = shape_of(item)
        if shape is None:
            raise ConfigError(Problem(key, where, f"row has {_fields(item, source)}: no known format ({KNOWN}); "
                                      "rename them or set data.format"))
        if first is None:
            first = (*shape, where)
        elif shape[0] != first[0]:
            raise ConfigError(Problem(key, where, f"row has {shape[1]} ({shape[0]}) but {first[2]} has "
                                      f"{first[1]} ({first[0]}); one format per file: split it, or set "
                                      "data.format to read every row as one format"))
    assert first is not None  # read_records never returns no rows
    return first[0]


def fingerprint(source: str) -> str:
    """A short content hash of a file or folder (what a resumed study must still read);
    a hub id is its own fingerprint."""
    p = Path(source).expanduser()
    if not p.exists():
        return source
    h = hashlib.sha256()
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    for f in files:
        h.update(str(f.relative_to(p) if p.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


__all__ = ["detect_format", "fingerprint", "is_hub_id", "parse_records", "read_records", "shape_of",
           "short_name"]
