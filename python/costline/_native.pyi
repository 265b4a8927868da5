"""Type stubs of the compiled core binding (`bindings-python/`)."""

from decimal import Decimal
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

__version__: str

class CostlineError(Exception): ...
class PricesError(CostlineError): ...
class InvalidEventError(CostlineError, ValueError): ...
class UsageError(CostlineError): ...
class ConfigError(CostlineError): ...
class LedgerError(CostlineError): ...
class ExportError(CostlineError): ...

class BudgetExceededError(CostlineError):
    scope: str
    period: str
    limit_usd: Decimal
    spent_usd: Decimal
    reserved_usd: Decimal
    attempted_usd: Decimal
    agent: Optional[str]
    budget_name: str
    store_error: Optional[str]

class Reservation:
    enforce_stream: bool
    amount_usd: Optional[str]
    def settle(self, cost: Optional[str]) -> None: ...
    def release(self) -> None: ...

def configure_budgets(
    budgets: Optional[Sequence[Mapping[str, Any]]] = None,
    fail_mode: Optional[str] = None,
    store: Optional[str] = None,
    redis_url: Optional[str] = None,
) -> None: ...
def budgets_active() -> bool: ...
def budget_reserve(
    provider: str,
    operation: str,
    model: str,
    request: Optional[Mapping[str, Any]],
    stream: bool,
    run_id: Optional[str],
    agent: Optional[str],
    agent_path: Sequence[str],
    tags: Optional[Mapping[str, str]],
    base_tags: Optional[Mapping[str, str]],
    caps: Sequence[Tuple[str, str]],
) -> Optional[Reservation]: ...
def budget_forget_run(run_id: str, caps: Sequence[str]) -> None: ...
def budget_wait_settled(timeout_s: float) -> bool: ...
def budget_status() -> List[Dict[str, Any]]: ...
def set_budget_alert_hook(dispatch: Optional[Callable[[Dict[str, Any]], None]]) -> None: ...
def record(
    provider: str,
    operation: str,
    model: str,
    resolved_model: Optional[str],
    usage_parts: Optional[Sequence[Mapping[str, Any]]],
    latency_ms: int,
    stream: bool,
    status_name: str,
    error_type: Optional[str],
    run_id: Optional[str],
    agent: Optional[str],
    agent_path: Sequence[str],
    tags: Optional[Mapping[str, str]],
    base_tags: Optional[Mapping[str, str]] = None,
    estimate_request: Optional[Mapping[str, Any]] = None,
    estimate_output: Optional[str] = None,
    need_cost: bool = True,
    reservation: Optional[Reservation] = None,
) -> Optional[str]: ...
def track(
    provider: str,
    model: str,
    operation: str,
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int,
    cache_write_input_tokens: int,
    reasoning_tokens: int,
    latency_ms: int,
    stream: bool,
    status_name: str,
    error_type: Optional[str],
    resolved_model: Optional[str],
    run_id: Optional[str],
    agent: Optional[str],
    agent_path: Sequence[str],
    tags: Optional[Mapping[str, str]],
    base_tags: Optional[Mapping[str, str]] = None,
) -> tuple[str, Optional[str]]: ...
def merge_tags(*layers: Mapping[str, str]) -> dict[str, str]: ...
def _test_panic() -> None: ...
def cost(
    model: str,
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: Optional[int] = None,
    cache_write_input_tokens: Optional[int] = None,
    reasoning_tokens: Optional[int] = None,
    provider: Optional[str] = None,
) -> Optional[str]: ...
def count_tokens(text: str, model: str) -> int: ...
def new_id() -> str: ...
def prewarm() -> None: ...
def operation_for_path(provider: str, path: str) -> Optional[str]: ...
def catalog_version() -> str: ...
def flush(timeout_s: float) -> bool: ...
def shutdown(timeout_s: float) -> bool: ...
def after_fork() -> None: ...
def stats() -> dict[str, int]: ...
def cli_main(args: Sequence[str]) -> int: ...
def configure(
    *,
    ledger: Optional[str] = None,
    base_url: Optional[str] = None,
    api_key: Optional[str] = None,
    otlp_endpoint: Optional[str] = None,
    prices: Any = None,
    tags: Optional[Mapping[str, str]] = None,
    timeout_s: Optional[float] = None,
    backoff_s: Optional[Sequence[float]] = None,
    max_concurrent: Optional[int] = None,
    queue_size: Optional[int] = None,
    batch_size: Optional[int] = None,
    exit_timeout_s: Optional[float] = None,
    disabled: Optional[bool] = None,
    ca_bundle: Optional[str] = None,
) -> None: ...
def current_settings() -> dict[str, Any]: ...
def disabled_from_env() -> bool: ...
def parse_disabled(value: str) -> bool: ...
def set_error_hook(dispatch: Optional[Callable[[BaseException, Optional[dict[str, Any]]], None]]) -> None: ...
def preview_event(
    provider: str,
    operation: str,
    model: str,
    resolved_model: Optional[str],
    usage_parts: Sequence[Mapping[str, Any]],
) -> str: ...
def price_key(provider: str, model: str) -> Optional[str]: ...
def exit_shutdown(timeout_s: float) -> bool: ...
def before_fork() -> None: ...
def after_fork_parent() -> None: ...
def read_report(by: Sequence[str], since: Optional[str], timeout_s: float) -> str: ...
def read_events(since: Optional[str], limit: Optional[int], timeout_s: float) -> str: ...
def status() -> str: ...

class StreamObserver:
    """Reads usage, the resolved model and output text from stream items (Rust)."""

    resolved_model: Optional[str]
    def __init__(self, provider: str, operation: str, hide: bool) -> None: ...
    def observe(self, item: Any) -> bool: ...
    @property
    def parts(self) -> Optional[list[Any]]: ...
    @property
    def texts(self) -> list[str]: ...

class BodyScanner:
    """Reads usage from a response's raw bytes as they pass (Rust)."""

    def __init__(self, provider: str, sse: bool) -> None: ...
    def feed(self, chunk: bytes) -> None: ...
    def finish(self) -> tuple[list[dict[str, Any]], Optional[str], str]: ...
