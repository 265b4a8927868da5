//! The `costline` command line. STUB: replaced by the pipeline helper.

/// Run the CLI with `args` (without the program name). Returns the exit code;
/// output goes to stdout, errors to stderr.
pub fn main(_args: Vec<String>) -> i32 {
    0
}
