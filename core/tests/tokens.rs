//! costline's token counts against the stock tiktoken-rs encoders, which are the reference:
//! token for token on ordinary and randomly generated text, rank for rank on the vocabulary
//! tables, and within the documented tolerance on pathological input.

use std::path::PathBuf;

use costline_core::tokens::{self, Encoding};
use serde_json::{json, Value};
use tiktoken_rs::CoreBPE;

fn stock(encoding: Encoding) -> &'static CoreBPE {
    match encoding {
        Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
        Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
    }
}

fn ours(encoding: Encoding) -> &'static tokens::Encoder {
    tokens::encoder(encoding).expect("embedded encoder builds")
}

fn assert_same_tokens(encoding: Encoding, text: &str) {
    let expected = stock(encoding).encode_ordinary(text);
    let actual = ours(encoding).encode(text);
    assert_eq!(actual, expected, "{} tokens differ for {text:?}", encoding.name());
    assert_eq!(ours(encoding).count(text), expected.len());
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const ORDINARY_TEXTS: &[&str] = &[
    "hello world",
    "Hello, World! How's it going? I'm fine; we'll see, they've said, you're right, he'd know.",
    "IT'S LOUD. WE'LL SHOUT. I'M HERE. They'Re MiXeD.",
    "The quick brown fox jumps over the lazy dog.\n\nSecond paragraph\r\nwith CRLF\r\n\r\nand more.",
    "def f(x):\n    return x ** 2  # square\n\n\tif x:\n\t\tpass\n        \n",
    "{\"model\": \"gpt-4o\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"n\": 1}",
    "Prices: $1,234.56 (2024-11-23) at 12:30:45; 3.14159265358979; 1e-9; 0x7fffffff; 100000000000",
    "https://example.com/path/to/page?query=1&b=two#frag and mailto:someone@example.org",
    "日本語のテキストです。東京は日本の首都で、人口は約1400万人です。",
    "中文文本测试，包括标点符号。这是一个相当长的句子没有任何标点符号以便测试长片段的处理情况",
    "ภาษาไทยเป็นภาษาที่ไม่มีการเว้นวรรคระหว่างคำ การตัดคำจึงยาก",
    "Русский текст: Привет, мир! Ёжик в тумане.",
    "العربية: مرحبا بالعالم",
    "Emoji 😀👍🏽👨‍👩‍👧‍👦 and flags 🇫🇷🇯🇵, symbols ©®™ ∑∫√ ≠ ≤ ≥",
    "combining: e\u{301} a\u{308} n\u{303} and Z\u{335}\u{321}a\u{336}l\u{338}g\u{337}o\u{334}",
    "  leading spaces, trailing spaces   ",
    "a\u{a0}non-breaking\u{a0}\u{a0}space and ideographic\u{3000}\u{3000}space",
    "\n\n\n   \n\t\n  x",
    "   ",
    " ",
    "\n",
    "x",
    "<|endoftext|> is ordinary text here <|fim_prefix|>",
    "Supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis",
    "aGVsbG8gd29ybGQgdGhpcyBpcyBiYXNlNjQgZW5jb2RlZCB0ZXh0IGZvciB0ZXN0aW5n==",
    "---------------------------------------------------------------- ================",
    "| col | col |\n|-----|-----|\n| 1   | 2   |\n",
    "'s 't 're 've 'm 'll 'd 'S 'T 'RE 'VE 'M 'LL 'D 'x",
];

#[test]
fn ordinary_text_matches_stock_tiktoken_token_for_token() {
    for encoding in Encoding::ALL {
        for text in ORDINARY_TEXTS {
            assert_same_tokens(encoding, text);
        }
        assert_same_tokens(encoding, &ORDINARY_TEXTS.join(" "));
    }
}

#[test]
fn the_roles_counted_as_one_token_are_one_token_in_both_vocabularies() {
    for encoding in [Encoding::O200kBase, Encoding::Cl100kBase] {
        for role in tokens::ONE_TOKEN_ROLES {
            assert_eq!(stock(encoding).encode_ordinary(role).len(), 1, "{role} in {encoding:?}");
        }
    }
}

#[test]
fn known_counts() {
    assert_eq!(tokens::count("hello world", "gpt-4o"), 2);
    assert_eq!(tokens::count("hello world", "gpt-4"), 2);
    assert_eq!(tokens::count("", "gpt-4o"), 0);
    for (text, model) in [
        ("The quick brown fox jumps over the lazy dog.", "gpt-4o"),
        ("The quick brown fox jumps over the lazy dog.", "gpt-3.5-turbo"),
        ("日本語のテキストです。", "gpt-4.1-mini"),
        ("日本語のテキストです。", "text-embedding-3-small"),
    ] {
        let encoding = tokens::encoding_for_model(model);
        assert_eq!(tokens::count(text, model), stock(encoding).encode_ordinary(text).len(), "{model}");
    }
}

#[test]
fn random_text_matches_stock_tiktoken_token_for_token() {
    // Fragments chosen to hit every branch of both split patterns and their edges: letters of
    // each case, marks, digits, contractions, punctuation, every kind of whitespace, newlines.
    let fragments = [
        "a", "b", "z", "A", "Q", "é", "É", "ß", "ǅ", "ʰ", "中", "ア", "ก", "\u{301}", "\u{e31}", "0", "7",
        "٣", "½", "'s", "'T", "'ll", "'", "\"", ".", ",", "!", "?", "/", "-", "_", "(", ")", "{", "$", "€",
        "😀", "\u{200d}", " ", " ", " ", "  ", "\t", "\n", "\r", "\r\n", "\u{a0}", "\u{3000}", "\u{2028}",
        "\u{b}", "\u{c}", "the", " the", "ing", "tion", "123", "2024",
    ];
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    for round in 0..3000 {
        let length = 1 + random.below(if round % 10 == 0 { 200 } else { 24 });
        let text: String = (0..length).map(|_| *random.pick(&fragments)).collect();
        for encoding in Encoding::ALL {
            assert_same_tokens(encoding, &text);
        }
    }
}

#[test]
fn long_pretokens_up_to_the_cap_match_stock_tiktoken() {
    // Single pre-tokens of hundreds to thousands of bytes: the heap merge's territory.
    let mut random = Random(42);
    let letters: Vec<char> = "abcdefghijklmnopqrstuvwxyzéàü".chars().collect();
    for length in [100, 255, 256, 257, 700, 1500, 3000] {
        let word: String = (0..length).map(|_| *random.pick(&letters)).collect();
        let cut = word.char_indices().map(|(i, _)| i).take_while(|&i| i <= tokens::MAX_PRETOKEN_BYTES).last();
        let word = &word[..cut.unwrap_or(word.len())];
        for encoding in Encoding::ALL {
            assert_same_tokens(encoding, word);
            assert_same_tokens(encoding, &format!("x {word} y"));
        }
    }
    for encoding in Encoding::ALL {
        assert_same_tokens(encoding, &"ab".repeat(900));
        assert_same_tokens(encoding, &" ".repeat(1000));
        assert_same_tokens(encoding, &format!("{}x", " ".repeat(1000)));
        assert_same_tokens(encoding, &"\n".repeat(1000));
        assert_same_tokens(encoding, &"-".repeat(1000));
        assert_same_tokens(encoding, &"中文".repeat(300));
    }
}

#[test]
fn pathological_runs_stay_within_a_token_per_chunk_of_stock() {
    // Long runs of one character are cut into MAX_PRETOKEN_BYTES chunks (linear time; wall
    // time is measured by the bench, not asserted here). The count stays within one token per
    // chunk of tiktoken's.
    for text in ["a".repeat(100_000), " ".repeat(100_000), "\u{e9}".repeat(100_000), "ab".repeat(50_000)] {
        let chunks = text.len().div_ceil(tokens::MAX_PRETOKEN_BYTES);
        for encoding in Encoding::ALL {
            let expected = stock(encoding).encode_ordinary(&text).len();
            let actual = tokens::count_with(encoding, &text);
            assert!(
                actual.abs_diff(expected) <= chunks,
                "{}: {actual} vs {expected} for {} x {:?}",
                encoding.name(),
                text.chars().count(),
                text.chars().next().unwrap()
            );
        }
    }
}

#[test]
fn a_pretoken_over_the_cap_counts_as_its_chunks_counted_alone() {
    // The documented rule, exactly: cut at MAX_PRETOKEN_BYTES (backing up to a character
    // boundary), merge each chunk on its own. Repeated chunks are replayed, not re-merged;
    // the result must be the same either way.
    let mut random = Random(7);
    let random_letters: String = (0..10_000).map(|_| (b'a' + random.below(26) as u8) as char).collect();
    for text in [
        "a".repeat(10_000),
        " ".repeat(10_000),
        "\u{e9}".repeat(5_000),
        "\u{20ac}".repeat(4_000),
        random_letters,
    ] {
        for encoding in Encoding::ALL {
            let mut expected = Vec::new();
            let mut rest = text.as_str();
            while !rest.is_empty() {
                let mut cut = rest.len().min(tokens::MAX_PRETOKEN_BYTES);
                while !rest.is_char_boundary(cut) {
                    cut -= 1;
                }
                expected.extend(stock(encoding).encode_ordinary(&rest[..cut]));
                rest = &rest[cut..];
            }
            assert_eq!(ours(encoding).encode(&text), expected, "{} {:?}...", encoding.name(), &text[..8]);
        }
    }
}

#[test]
fn embedded_tables_equal_the_stock_vocabularies() {
    for encoding in Encoding::ALL {
        let tokens = tokens::tokens_in_rank_order(encoding);
        let bpe = stock(encoding);
        for (rank, token) in tokens.iter().enumerate() {
            let expected = bpe.decode_bytes(&[rank as u32]).expect("rank exists in stock");
            assert_eq!(*token, expected.as_slice(), "{} rank {rank}", encoding.name());
        }
        // The next rank is not an ordinary token in the stock vocabulary either.
        let next = tokens.len() as u32;
        assert!(bpe.decode_bytes(&[next]).map_or(true, |b| b.starts_with(b"<|")), "{}", encoding.name());
    }
}

#[test]
fn prewarm_and_concurrent_counts_agree() {
    let text = ORDINARY_TEXTS.join("\n");
    let expected = stock(Encoding::O200kBase).encode_ordinary(&text).len();
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let text = text.clone();
            std::thread::spawn(move || {
                if i % 2 == 0 {
                    tokens::prewarm();
                }
                tokens::count(&text, "gpt-4o")
            })
        })
        .collect();
    tokens::prewarm();
    tokens::prewarm();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), expected);
    }
    assert_eq!(tokens::count(&text, "gpt-4o"), expected);
}

// ---- build once, prewarm, fork ----------------------------------------------------------

/// Set in a copy of this test binary started by `run_in_fresh_process`.
const FRESH_PROCESS: &str = "COSTLINE_TOKENS_FRESH_PROCESS";

/// Run the test `name` alone in a new process of this test binary, where no encoder has been
/// built yet (in this process other tests may have built them already). Returns false in that
/// new process, where the test body should run.
fn run_in_fresh_process(name: &str) -> bool {
    if std::env::var_os(FRESH_PROCESS).is_some() {
        return false;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--test-threads=1", "--nocapture"])
        .env(FRESH_PROCESS, "1")
        .output()
        .unwrap();
    assert!(
        output.status.success() && String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "{name} failed in its own process:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    true
}

#[test]
fn counts_during_prewarm_wait_for_its_build_instead_of_repeating_it() {
    if run_in_fresh_process("counts_during_prewarm_wait_for_its_build_instead_of_repeating_it") {
        return;
    }
    tokens::prewarm();
    let threads: Vec<_> = ["gpt-4o", "gpt-4", "gpt-4o", "gpt-3.5-turbo", "claude-sonnet-4-5"]
        .into_iter()
        .map(|model| std::thread::spawn(move || tokens::count("hello world", model)))
        .collect();
    tokens::prewarm();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), 2);
    }
    for encoding in Encoding::ALL {
        // The prewarm thread may still be finishing cl100k; wait for it through a count.
        assert_eq!(tokens::count_with(encoding, "hello world"), 2);
        assert_eq!(tokens::encoder_builds_started(encoding), 1, "{}", encoding.name());
    }
}

#[cfg(unix)]
#[test]
fn a_child_forked_while_prewarm_builds_counts_without_waiting_for_it() {
    if run_in_fresh_process("a_child_forked_while_prewarm_builds_counts_without_waiting_for_it") {
        return;
    }
    tokens::prewarm();
    // Let the prewarm thread get going: building takes several milliseconds, so the fork below
    // lands in the middle of it, and the child inherits a build whose thread it does not have.
    std::thread::sleep(std::time::Duration::from_millis(1));
    // SAFETY: the child only counts (allocation, atomics, its own thread) and leaves with _exit.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        let code = if tokens::count("hello world", "gpt-4o") == 2 { 0 } else { 1 };
        // SAFETY: ends the child without running the parent's exit handlers or test harness.
        unsafe { libc::_exit(code) };
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        let mut status = 0;
        // SAFETY: waits for our own child; `status` is a valid out pointer.
        let done = unsafe { libc::waitpid(child, &mut status, libc::WNOHANG) };
        if done == child {
            break status;
        }
        if std::time::Instant::now() > deadline {
            // SAFETY: kills our own child.
            unsafe { libc::kill(child, libc::SIGKILL) };
            panic!("the forked child never finished counting: deadlocked on the parent's build");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status}");
    // The parent is unaffected: its own build completes and counts.
    assert_eq!(tokens::count("hello world", "gpt-4o"), 2);
}

// ---- cross-language vectors --------------------------------------------------------------

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/tokens.json")
}

/// Texts and models of tests/vectors/tokens.json, which the Python and Node suites replay.
fn vector_inputs() -> Vec<(String, &'static str)> {
    let mut inputs: Vec<(String, &'static str)> = vec![
        ("hello world".into(), "gpt-4o"),
        ("hello world".into(), "gpt-4"),
        (String::new(), "gpt-4o"),
        ("The quick brown fox jumps over the lazy dog.".into(), "gpt-4o-mini"),
        ("The quick brown fox jumps over the lazy dog.".into(), "gpt-3.5-turbo"),
        ("Hello, World! How's it going? I'M FINE, they'll say.".into(), "openai/gpt-4.1"),
        ("def f(x):\n    return x ** 2  # square\n\n".into(), "gpt-5"),
        ("{\"role\": \"user\", \"content\": \"hi\"}".into(), "o3-mini"),
        ("Prices: $1,234.56 on 2024-11-23 at 12:30:45".into(), "azure/gpt-4o"),
        ("日本語のテキストです。東京は日本の首都です。".into(), "gpt-4o"),
        ("日本語のテキストです。東京は日本の首都です。".into(), "text-embedding-3-large"),
        ("Emoji 😀👍🏽 and symbols ©®™ ∑∫√".into(), "chatgpt-4o-latest"),
        ("  spaces   before\n\n\n  and\tafter   ".into(), "gpt-4-turbo"),
        ("<|endoftext|> counts as ordinary text".into(), "gpt-4o"),
        ("Bonjour le monde, ça va très bien.".into(), "claude-sonnet-4-5"),
        ("Bonjour le monde, ça va très bien.".into(), "gemini-2.5-pro"),
        ("embedding input".into(), "text-embedding-ada-002"),
        ("fine tuned".into(), "ft:gpt-4o-mini-2024-07-18:acme:support:abc123"),
        ("fine tuned".into(), "ft:gpt-3.5-turbo-0125:acme::xyz"),
        ("unknown model falls back to o200k".into(), "some-unknown-model"),
    ];
    let paragraph = ORDINARY_TEXTS.join("\n");
    inputs.push((paragraph.clone(), "gpt-4o"));
    inputs.push((paragraph, "gpt-4"));
    inputs
}

#[test]
fn token_vectors_hold_stock_counts_and_replay() {
    let data = std::fs::read_to_string(vectors_path()).expect("tests/vectors/tokens.json");
    let vectors: Vec<Value> = serde_json::from_str(&data).expect("valid JSON");
    assert!(!vectors.is_empty());
    for vector in &vectors {
        let text = vector["text"].as_str().unwrap();
        let model = vector["model"].as_str().unwrap();
        let expected = vector["tokens"].as_u64().unwrap() as usize;
        // The file's numbers are the stock encoder's...
        let stock_count = stock(tokens::encoding_for_model(model)).encode_ordinary(text).len();
        assert_eq!(stock_count, expected, "vector {model} {text:?} is not the stock count");
        // ...and costline reproduces them.
        assert_eq!(tokens::count(text, model), expected, "{model} {text:?}");
    }
}

/// Rewrites tests/vectors/tokens.json from the stock tiktoken-rs encoders:
/// `cargo test -p costline-core --test tokens -- --ignored write_token_vectors`.
#[test]
#[ignore]
fn write_token_vectors() {
    let vectors: Vec<Value> = vector_inputs()
        .into_iter()
        .map(|(text, model)| {
            let count = stock(tokens::encoding_for_model(model)).encode_ordinary(&text).len();
            json!({"text": text, "model": model, "tokens": count})
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&vectors).unwrap();
    out.push('\n');
    std::fs::write(vectors_path(), out).unwrap();
}
