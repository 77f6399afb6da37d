"""An append-only, hash-chained ledger of data sets, trainings, modules, deployments, decisions.

One JSON object per line. Each entry carries the hash of the entry before it, and its own
`hash` is the sha256 of its canonical JSON (sorted keys, no spaces, without the `hash` field),
so editing, removing or reordering any entry breaks the chain at a place `verify` can name.
Removing entries from the *end* leaves a valid shorter chain; a head file beside the ledger
(`<ledger>.head`: last seq and hash) catches that, and for stronger guarantees publish the head
hash somewhere the ledger's writer cannot edit (e.g. in a signed module or a ticket).

The ledger lives beside the DuckDB history file: `edgetwin.duckdb` -> `edgetwin.ledger.jsonl`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from edgetwin.core.errors import DataError

Kind = Literal["dataset", "training", "module", "deployment", "decision"]
KINDS: tuple[str, ...] = ("dataset", "training", "module", "deployment", "decision")
GENESIS = "0" * 64
FIELDS = ("seq", "ts", "kind", "subject", "payload", "prev_hash", "hash")


def canonical(obj: Mapping[str, Any]) -> bytes:
    """The bytes that are hashed: JSON with sorted keys and no whitespace."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of an entry without its `hash` field."""
    return hashlib.sha256(canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def ledger_path_for(db_path: str | Path) -> Path:
    """The ledger that sits beside a DuckDB history file."""
    p = Path(db_path)
    return p.with_name(p.stem + ".ledger.jsonl")


@dataclass(frozen=True)
class Problem:
    """The first bad entry `verify` found: its position (0-based line) and why."""

    line: int
    seq: int | None
    reason: Literal["edited", "removed", "reordered", "truncated", "malformed", "rewritten"]
    detail: str

    def __str__(self) -> str:
        where = f"entry seq={self.seq}" if self.seq is not None else f"line {self.line + 1}"
        return f"{where}: {self.reason}: {self.detail}"


@dataclass
class VerifyReport:
    """Result of `Ledger.verify`: `ok` and the first problem, if any."""

    entries: int
    head_hash: str
    problem: Problem | None = None
    checked_head: bool = False
    kinds: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.problem is None


class Ledger:
    """Append-only JSON-lines ledger. Appends are serialised with an exclusive file lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.head_path = self.path.with_name(self.path.name + ".head")

    @classmethod
    def beside(cls, db_path: str | Path) -> Ledger:
        return cls(ledger_path_for(db_path))

    # -- writing -----------------------------------------------------------------------------

    def append(
        self,
        kind: str,
        subject: str,
        payload: Mapping[str, Any] | None = None,
        ts: str | None = None,
    ) -> dict[str, Any]:
        """Append one entry and return it (with `seq`, `prev_hash` and `hash` filled in)."""
        if kind not in KINDS:
            raise DataError(f"ledger kind {kind!r}: use one of {', '.join(KINDS)}")
        if not subject:
            raise DataError(
                "ledger subject: must name what the entry is about (module, data set...)"
            )
        body = dict(payload or {})
        try:
            canonical(body)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"ledger payload for {subject!r} is not JSON-serialisable ({exc})"
            ) from exc
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                last = _last_entry(f)
                entry: dict[str, Any] = {
                    "seq": 0 if last is None else int(last["seq"]) + 1,
                    "ts": ts or datetime.now(UTC).isoformat(timespec="microseconds"),
                    "kind": kind,
                    "subject": subject,
                    "payload": body,
                    "prev_hash": GENESIS if last is None else str(last["hash"]),
                }
                entry["hash"] = entry_hash(entry)
                f.seek(0, os.SEEK_END)
                f.write(canonical(entry) + b"\n")
                f.flush()
                os.fsync(f.fileno())
                self._write_head(entry)
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        return entry

    def _write_head(self, entry: Mapping[str, Any]) -> None:
        tmp = self.head_path.with_name(self.head_path.name + ".tmp")
        tmp.write_text(json.dumps({"seq": entry["seq"], "hash": entry["hash"]}), encoding="utf-8")
        os.replace(tmp, self.head_path)

    # -- reading -----------------------------------------------------------------------------

    def entries(
        self, kind: str | None = None, subject: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Entries in file order (unverified; call `verify` to trust them)."""
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as f:
            for n, line in enumerate(f):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"ledger {self.path} line {n + 1}: not JSON ({exc})") from exc
                if (kind is None or entry.get("kind") == kind) and (
                    subject is None or entry.get("subject") == subject
                ):
                    yield entry

    def head(self) -> dict[str, Any] | None:
        """The recorded head (last seq and hash), or None when there is no head file."""
        if not self.head_path.exists():
            return None
        return dict(json.loads(self.head_path.read_text(encoding="utf-8")))

    def verify(self, expected_head: str | None = None) -> VerifyReport:
        """Walk the chain; name the first edited, removed, reordered or truncated entry.

        `expected_head` is a head hash published elsewhere; without it the head file beside
        the ledger is used to detect entries cut off the end.
        """
        lines = self.path.read_text(encoding="utf-8").splitlines() if self.path.exists() else []
        parsed: list[dict[str, Any] | None] = []
        for line in lines:
            try:
                obj = json.loads(line)
                parsed.append(obj if isinstance(obj, dict) and set(obj) == set(FIELDS) else None)
            except json.JSONDecodeError:
                parsed.append(None)
        seqs = {e["seq"] for e in parsed if e is not None and isinstance(e.get("seq"), int)}
        report = VerifyReport(entries=len(lines), head_hash=GENESIS)
        prev_hash = GENESIS
        for i, entry in enumerate(parsed):
            problem = _check_entry(i, entry, prev_hash, seqs)
            if problem is not None:
                report.problem = problem
                return report
            assert entry is not None
            prev_hash = str(entry["hash"])
            report.kinds[entry["kind"]] = report.kinds.get(entry["kind"], 0) + 1
        report.head_hash = prev_hash
        report.problem = self._check_head(len(parsed), prev_hash, expected_head, report)
        return report

    def _check_head(
        self, n: int, last_hash: str, expected_head: str | None, report: VerifyReport
    ) -> Problem | None:
        if expected_head is not None:
            report.checked_head = True
            if expected_head != last_hash:
                return Problem(
                    n - 1,
                    n - 1 if n else None,
                    "rewritten",
                    f"chain ends in {last_hash[:12]}…, but the published head is "
                    f"{expected_head[:12]}…: entries were cut off or the chain was re-hashed",
                )
            return None
        head = self.head()
        if head is None:
            return None
        report.checked_head = True
        want_seq = int(head["seq"])
        if n - 1 < want_seq:
            return Problem(
                n,
                n,
                "truncated",
                f"the head file records seq={want_seq}, the ledger ends at seq={n - 1}: "
                f"{want_seq - n + 1} entr{'y' if want_seq - n + 1 == 1 else 'ies'} removed from the end",
            )
        if n - 1 == want_seq and head["hash"] != last_hash:
            return Problem(
                n - 1,
                n - 1,
                "rewritten",
                "the last entry's hash differs from the head file: the chain was re-hashed",
            )
        return None


def _check_entry(
    i: int, entry: dict[str, Any] | None, prev_hash: str, seqs: set[int]
) -> Problem | None:
    """Check one entry at file position `i` against the chain so far."""
    if entry is None:
        return Problem(i, None, "malformed", "the line is not a ledger entry (edited by hand?)")
    seq = entry["seq"]
    if entry_hash(entry) != entry["hash"]:
        return Problem(i, seq, "edited", "its content does not match its hash")
    if seq != i:
        if isinstance(seq, int) and seq > i and i not in seqs:
            missing = [s for s in range(i, seq) if s not in seqs]
            return Problem(
                i, seq, "removed", f"entries seq={_ranges(missing)} are missing before it"
            )
        return Problem(i, seq, "reordered", f"found at position {i}, its seq says {seq}")
    if entry["prev_hash"] != prev_hash:
        # Each entry's own hash checks out, so the one before was edited and its hash recomputed.
        return Problem(
            i - 1,
            i - 1,
            "edited",
            f"edited and re-hashed: entry seq={i} records a different prev_hash for it",
        )
    return None


def _ranges(values: list[int]) -> str:
    if len(values) == 1:
        return str(values[0])
    return f"{values[0]}..{values[-1]}"


def _last_entry(f: Any) -> dict[str, Any] | None:
    """Read the last JSON line of an open binary file without reading the whole file."""
    f.seek(0, os.SEEK_END)
    end = f.tell()
    if end == 0:
        return None
    block = 4096
    pos = end
    tail = b""
    while pos > 0:
        step = min(block, pos)
        pos -= step
        f.seek(pos)
        tail = f.read(step) + tail
        stripped = tail.rstrip(b"\n")
        if b"\n" in stripped or pos == 0:
            last = stripped.rsplit(b"\n", 1)[-1]
            try:
                return dict(json.loads(last))
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"ledger {getattr(f, 'name', '?')}: the last line is not JSON ({exc}); "
                    "run `edgetwin trace verify` and repair the file before appending"
                ) from exc
        block *= 2
    return None
