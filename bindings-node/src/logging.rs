//! The core logs through the `log` crate; in Node its records go to stderr,
//! where a server's logs are collected. Warnings and errors by default;
//! `COSTLINE_LOG=debug` (or info, error, off) changes the level. Only the
//! core's own records are printed, never a dependency's.

use log::{LevelFilter, Log, Metadata, Record};

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("costline")
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let message = record.args().to_string();
            // Core messages already name costline; don't say it twice.
            let prefix = if message.starts_with("costline") { "" } else { "costline: " };
            eprintln!("{prefix}{message}");
        }
    }

    fn flush(&self) {}
}

static LOGGER: Stderr = Stderr;

pub fn install() {
    let level = match std::env::var("COSTLINE_LOG").unwrap_or_default().to_ascii_lowercase().as_str() {
        "off" => LevelFilter::Off,
        "error" => LevelFilter::Error,
        "info" => LevelFilter::Info,
        "debug" => LevelFilter::Debug,
        "trace" => LevelFilter::Trace,
        _ => LevelFilter::Warn,
    };
    // Another logger already installed (an embedding app's): leave it.
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}
