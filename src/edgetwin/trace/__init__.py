"""The trace room: an append-only, hash-chained ledger of data, trainings, modules, decisions."""

from edgetwin.trace.ledger import KINDS, Ledger, Problem, VerifyReport, entry_hash, ledger_path_for
from edgetwin.trace.records import (
    module_ref,
    record_dataset,
    record_decision,
    record_deployment,
    record_module,
    record_training,
)

__all__ = [
    "KINDS",
    "Ledger",
    "Problem",
    "VerifyReport",
    "entry_hash",
    "ledger_path_for",
    "module_ref",
    "record_dataset",
    "record_decision",
    "record_deployment",
    "record_module",
    "record_training",
]
