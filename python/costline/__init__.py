"""costline: the cost meter for LLM applications, in-process.

from costline.openai import OpenAI
import costline

with costline.run("triage", tags={"customer": "acme"}) as r:
    OpenAI().chat.completions.create(model="gpt-4o", messages=[...])
print(r.cost_usd)
"""

from __future__ import annotations

from . import _native
from ._api import Tracked, cost, count_tokens, track
from ._budgets import Budget, BudgetAlert, BudgetExceededError, budget_status
from ._context import Run, run, with_agent
from ._instrument import instrument
from ._ledger import Report, events, report, status
from ._native import (
    ConfigError,
    CostlineError,
    ExportError,
    FallbackDeadlineError,
    FallbackUnsupportedError,
    InvalidEventError,
    LedgerError,
    PricesError,
    RoutingError,
    UsageError,
)
from ._routed import RoutingInfo, decide
from ._routed_client import AsyncCostline, Costline
from ._runtime import configure, flush, settings, shutdown

__version__: str = _native.__version__

__all__ = [
    "AsyncCostline",
    "Costline",
    "RoutingError",
    "RoutingInfo",
    "decide",
    "Budget",
    "BudgetAlert",
    "BudgetExceededError",
    "ConfigError",
    "CostlineError",
    "ExportError",
    "FallbackDeadlineError",
    "FallbackUnsupportedError",
    "InvalidEventError",
    "LedgerError",
    "PricesError",
    "Report",
    "Run",
    "Tracked",
    "UsageError",
    "__version__",
    "configure",
    "cost",
    "count_tokens",
    "events",
    "flush",
    "instrument",
    "budget_status",
    "report",
    "run",
    "settings",
    "shutdown",
    "status",
    "track",
    "with_agent",
]
