"""Type stubs of the compiled core binding (`bindings-python/`)."""

from typing import Any, Mapping, Optional, Sequence

__version__: str

class CostlineError(Exception): ...
class PricesError(CostlineError): ...
class InvalidEventError(CostlineError, ValueError): ...
class UsageError(CostlineError): ...
class ConfigError(CostlineError): ...
class LedgerError(CostlineError): ...

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
) -> None: ...
def current_settings() -> dict[str, Any]: ...
def disabled_from_env() -> bool: ...
def parse_disabled(value: str) -> bool: ...
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
