"""A reader of W&B's offline run files (`run-<id>.wandb`), with no W&B server and no W&B reader.

The .wandb transaction log is a LevelDB-style log (github.com/google/leveldb doc/log_format.md)
behind a 7-byte W&B header; each logical record is a serialized ``wandb_internal_pb2.Record``.
wandb 0.31 no longer ships the Python ``DataStore``, so the (small) format is read here directly.
Only the protobuf classes of the installed ``wandb`` are used, imported when a file is read.
"""

from __future__ import annotations

import json
import logging
import struct
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["read_offline_run"]

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<4sHB")  # ident ":W&B", magic 0xBEE1, version
_CHUNK = struct.Struct("<IHB")  # crc32 (IEEE, seeded with the type byte), length, type
_BLOCK = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_TYPE_CRC = [zlib.crc32(bytes([t])) & 0xFFFFFFFF for t in range(256)]


def _iter_payloads(data: bytes) -> Iterator[bytes]:
    """Yield the logical records of a W&B LevelDB log; skip corrupt blocks, stop at a torn tail."""
    if len(data) < _HEADER.size:
        raise ValueError("not a W&B transaction log (file too short)")
    ident, magic, version = _HEADER.unpack_from(data, 0)
    if ident != b":W&B" or magic != 0xBEE1:
        raise ValueError("not a W&B transaction log (bad header)")
    if version != 0:
        warnings.warn(f"unknown .wandb format version {version}; trying anyway", stacklevel=3)
    pos, pending, n = _HEADER.size, None, len(data)
    while pos + _CHUNK.size <= n:
        left = _BLOCK - pos % _BLOCK
        if left < _CHUNK.size:  # block trailer
            pos += left
            continue
        crc, length, kind = _CHUNK.unpack_from(data, pos)
        start, end = pos + _CHUNK.size, pos + _CHUNK.size + length
        if kind == 0 and length == 0 and crc == 0:  # zero padding / preallocated space
            pos += left
            pending = None
            continue
        if end > n:  # torn write at the end (run still going or crashed)
            break
        payload = data[start:end]
        if length + _CHUNK.size > left or (zlib.crc32(payload, _TYPE_CRC[kind]) & 0xFFFFFFFF) != crc:
            log.warning("corrupt chunk at byte %d; skipping to next block", pos)
            pos += left
            pending = None
            continue
        pos = end
        if kind == _FULL:
            pending = None
            yield payload
        elif kind == _FIRST:
            pending = bytearray(payload)
        elif kind == _MIDDLE and pending is not None:
            pending += payload
        elif kind == _LAST and pending is not None:
            yield bytes(pending + payload)
            pending = None
        else:  # orphan MIDDLE/LAST or unknown type
            pending = None


def _json(value_json: str) -> Any:
    try:
        return json.loads(value_json)
    except (ValueError, TypeError):
        return value_json


def _item_path(item: Any) -> list[str]:
    return [item.key] if item.key else list(item.nested_key)


def _set_path(d: dict, path: list[str], value: Any) -> None:
    for key in path[:-1]:
        nxt = d.get(key)
        if not isinstance(nxt, dict):
            nxt = d[key] = {}
        d = nxt
    if path:
        d[path[-1]] = value


def _del_path(d: dict, path: list[str]) -> None:
    for key in path[:-1]:
        d = d.get(key)
        if not isinstance(d, dict):
            return
    if path:
        d.pop(path[-1], None)


def _apply_updates(target: dict, rec: Any) -> None:
    for item in rec.update:
        _set_path(target, _item_path(item), _json(item.value_json))
    for item in rec.remove:
        _del_path(target, _item_path(item))


def read_offline_run(run_file: Path) -> dict[str, Any]:
    """Parse a ``run-<id>.wandb`` file (or a run folder containing one) back into plain Python.

    Returns ``{"run_id", "project", "entity", "group", "name", "tags", "config", "history",
    "summary", "artifacts", "exit_code", "n_records"}``: ``config``/``summary`` are the final
    (nested) dicts after all updates, ``history`` one dict per logged step, ``artifacts`` one dict
    per logged artifact (name, type, digest, aliases, metadata, files) and ``exit_code`` ``None`` if
    the run never finished.  Tolerates torn tails and corrupt blocks.
    """
    from google.protobuf.message import DecodeError
    from wandb.proto import wandb_internal_pb2 as pb

    run_file = Path(run_file)
    if run_file.is_dir():
        candidates = sorted(run_file.glob("run-*.wandb"))
        if not candidates:
            raise FileNotFoundError(f"no run-*.wandb file in {run_file}")
        run_file = candidates[0]
    out: dict[str, Any] = {
        "run_id": None,
        "project": None,
        "entity": None,
        "group": None,
        "name": None,
        "tags": [],
        "config": {},
        "history": [],
        "summary": {},
        "artifacts": [],
        "exit_code": None,
        "n_records": 0,
    }
    for payload in _iter_payloads(run_file.read_bytes()):
        rec = pb.Record()
        try:
            rec.ParseFromString(payload)
        except DecodeError:
            log.warning("undecodable record in %s; skipped", run_file)
            continue
        out["n_records"] += 1
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            r = rec.run
            out["run_id"] = r.run_id or out["run_id"]
            out["project"] = r.project or out["project"]
            out["entity"] = r.entity or out["entity"]
            out["group"] = r.run_group or out["group"]
            out["name"] = r.display_name or out["name"]
            out["tags"] = list(r.tags) or out["tags"]
            _apply_updates(out["config"], r.config)
            _apply_updates(out["summary"], r.summary)
        elif kind == "config":
            _apply_updates(out["config"], rec.config)
        elif kind == "history":
            row: dict[str, Any] = {}
            for item in rec.history.item:
                _set_path(row, _item_path(item), _json(item.value_json))
            out["history"].append(row)
        elif kind == "summary":
            _apply_updates(out["summary"], rec.summary)
        elif kind == "artifact":
            a = rec.artifact
            out["artifacts"].append(
                {
                    "name": a.name,
                    "type": a.type,
                    "digest": a.digest,
                    "aliases": list(a.aliases),
                    "metadata": _json(a.metadata) if a.metadata else {},
                    "files": [
                        {"path": e.path, "digest": e.digest, "size": e.size, "local_path": e.local_path}
                        for e in a.manifest.contents
                    ],
                }
            )
        elif kind == "exit":
            out["exit_code"] = rec.exit.exit_code
    return out
