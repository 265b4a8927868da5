//! The SQLite ledger. STUB: replaced by the pipeline helper.
