//! Reports over the ledger. STUB: replaced by the pipeline helper.
