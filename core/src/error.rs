//! The one error type of the core. Each binding maps it once to its language's
//! exception hierarchy (Python `costline.CostlineError` and subclasses).

use thiserror::Error;

#[derive(Debug, Clone, Error)]
pub enum Error {
    /// A price file or inline price table could not be read or is malformed.
    #[error("price file {source_name}: {message}")]
    Prices { source_name: String, message: String },

    /// An event (or a `track()` call) failed validation.
    #[error("invalid event: {0}")]
    InvalidEvent(String),

    /// A usage payload the provider sent had an unexpected shape.
    #[error("usage payload from {provider}: {message}")]
    Usage { provider: String, message: String },

    /// Bad configuration value (environment or `configure`).
    #[error("configuration: {0}")]
    Config(String),

    /// The ledger could not be opened, read or written.
    #[error("ledger {path}: {message}")]
    Ledger { path: String, message: String },

    /// Events could not be delivered to the collector (reported through
    /// `hooks`; export never raises into a caller). `status` is the HTTP
    /// status the collector answered with, if it answered.
    #[error("export: {message}")]
    Export { status: Option<u16>, message: String },

    /// A command-line usage error (bad flag, bad `--since`, ...).
    #[error("{0}")]
    Cli(String),

    /// The encoder for token estimation could not be built.
    #[error("tokenizer: {0}")]
    Tokens(String),

    /// A fallback target's API cannot express a feature the request uses (`translate`).
    #[error("fallback to {target} cannot express {feature}")]
    FallbackUnsupported { feature: String, target: String },

    /// A fallback chain's total deadline passed before another attempt could start.
    #[error("fallback deadline of {deadline_ms} ms passed after {attempts} attempts")]
    FallbackDeadline { attempts: u32, deadline_ms: u64 },

    /// A request, response or stream event to translate had an unexpected shape.
    #[error("translate {api}: {message}")]
    Translate { api: String, message: String },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Stable short code, used by bindings to choose an exception class.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Prices { .. } => "prices",
            Error::InvalidEvent(_) => "invalid_event",
            Error::Usage { .. } => "usage",
            Error::Config(_) => "config",
            Error::Ledger { .. } => "ledger",
            Error::Export { .. } => "export",
            Error::Cli(_) => "cli",
            Error::Tokens(_) => "tokens",
            Error::FallbackUnsupported { .. } => "fallback_unsupported",
            Error::FallbackDeadline { .. } => "fallback_deadline",
            Error::Translate { .. } => "translate",
        }
    }
}
