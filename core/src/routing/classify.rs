//! How hard a request looks, from its shape alone: a required quality level (1 basic ..
//! 4 expert) and how sure the rules are about it. Deterministic: the same request always
//! gets the same answer; no model is asked.
//!
//! The rules (docs/routing.md repeats them for users):
//!
//! | signal | strong when | weak when |
//! |---|---|---|
//! | code | a fenced block (three backticks) | 2+ code-like markers (`def `, `function `, `#include`, `SELECT `, `=>`, `};`, `import `, `class `) |
//! | math | LaTeX (`\frac`, `\int`, `\sum`, `$$`, `\begin{`) | a math word, whole (prove, proof, theorem, lemma, integral, derivative, equation(s), matrix/matrices) |
//! | tools | the request defines tools or functions | — |
//! | structured output | `response_format` is `json_schema` | `response_format` is `json_object` |
//! | length | more than 4,000 prompt tokens (2 points past 32,000) | — |
//! | turns | 8 or more messages | — |
//!
//! Each signal found adds one point (length past 32,000 tokens two); the level is 1 + points,
//! capped at 4. Confidence starts at 0.9 and drops 0.1 for each weak signal (a guess from
//! keywords), and is 0.6 for a prompt under 16 tokens with no signal (too little text to
//! judge); it never goes below 0.5.

use serde::Serialize;
use serde_json::Value;

use super::quality::LEVELS;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difficulty {
    /// 1 basic, 2 standard, 3 advanced, 4 expert.
    pub level: u8,
    /// 0.5 ..= 0.9: how sure the rules are of `level`.
    pub confidence: f64,
    /// The signals found, e.g. `code (fenced block)`, `tools (2)`.
    pub signals: Vec<String>,
}

const LONG_PROMPT: u64 = 4_000;
const VERY_LONG_PROMPT: u64 = 32_000;
const SHORT_PROMPT: u64 = 16;
const MANY_MESSAGES: usize = 8;
const BASE_CONFIDENCE: f64 = 0.9;
const WEAK_SIGNAL_PENALTY: f64 = 0.1;
const SHORT_PROMPT_CONFIDENCE: f64 = 0.6;
const MIN_CONFIDENCE: f64 = 0.5;

const CODE_MARKERS: [&str; 8] = ["def ", "function ", "#include", "SELECT ", "=>", "};", "import ", "class "];
const LATEX_MARKERS: [&str; 5] = ["\\frac", "\\int", "\\sum", "$$", "\\begin{"];
const MATH_WORDS: [&str; 10] = [
    "prove",
    "proof",
    "theorem",
    "lemma",
    "integral",
    "derivative",
    "equation",
    "equations",
    "matrix",
    "matrices",
];

/// Classify an OpenAI-shaped chat request whose prompt counts `prompt_tokens`.
pub fn classify(request: &Value, prompt_tokens: u64) -> Difficulty {
    let mut points: u32 = 0;
    let mut weak = 0u32;
    let mut signals = Vec::new();
    let text = TextSignals::of(request);

    if text.fenced {
        points += 1;
        signals.push("code (fenced block)".to_string());
    } else if text.code_markers.count_ones() >= 2 {
        points += 1;
        weak += 1;
        signals.push("code (keywords)".to_string());
    }
    if text.latex {
        points += 1;
        signals.push("math (LaTeX)".to_string());
    } else if text.math_word {
        points += 1;
        weak += 1;
        signals.push("math (keywords)".to_string());
    }
    let tools = count_array(request, "tools") + count_array(request, "functions");
    if tools > 0 {
        points += 1;
        signals.push(format!("tools ({tools})"));
    }
    match request.pointer("/response_format/type").and_then(Value::as_str) {
        Some("json_schema") => {
            points += 1;
            signals.push("structured output (json_schema)".to_string());
        }
        Some("json_object") => {
            points += 1;
            weak += 1;
            signals.push("structured output (json_object)".to_string());
        }
        _ => {}
    }
    if prompt_tokens > VERY_LONG_PROMPT {
        points += 2;
        signals.push(format!("very long prompt ({prompt_tokens} tokens)"));
    } else if prompt_tokens > LONG_PROMPT {
        points += 1;
        signals.push(format!("long prompt ({prompt_tokens} tokens)"));
    }
    let messages = count_array(request, "messages");
    if messages >= MANY_MESSAGES {
        points += 1;
        signals.push(format!("many turns ({messages} messages)"));
    }

    let level = (1 + points).min(LEVELS as u32) as u8;
    let confidence = if signals.is_empty() && prompt_tokens < SHORT_PROMPT {
        SHORT_PROMPT_CONFIDENCE
    } else {
        (BASE_CONFIDENCE - WEAK_SIGNAL_PENALTY * weak as f64).max(MIN_CONFIDENCE)
    };
    // Keep one decimal: 0.9 - 0.1 - 0.1 must print (and compare) as 0.7.
    let confidence = (confidence * 10.0).round() / 10.0;
    Difficulty { level, confidence, signals }
}

fn count_array(request: &Value, key: &str) -> usize {
    request.get(key).and_then(Value::as_array).map_or(0, Vec::len)
}

/// What the text of the messages (string contents and text parts) shows.
///
/// The rules read the messages' texts joined by newlines. No marker holds a newline and a
/// newline separates words, so each text is scanned on its own, with the same result and
/// without the copy.
#[derive(Default)]
struct TextSignals {
    fenced: bool,
    /// Bit i: `CODE_MARKERS[i]` occurs.
    code_markers: u32,
    latex: bool,
    /// A whole word, lowercased, is one of `MATH_WORDS`.
    math_word: bool,
}

impl TextSignals {
    fn of(request: &Value) -> TextSignals {
        let mut signals = TextSignals::default();
        for message in request.get("messages").and_then(Value::as_array).into_iter().flatten() {
            match message.get("content") {
                Some(Value::String(s)) => signals.scan(s),
                Some(Value::Array(parts)) => {
                    for part in parts {
                        if let Some(s) = part.get("text").and_then(Value::as_str) {
                            signals.scan(s);
                        }
                    }
                }
                _ => {}
            }
        }
        signals
    }

    fn scan(&mut self, text: &str) {
        self.fenced = self.fenced || text.contains("```");
        for (i, marker) in CODE_MARKERS.iter().enumerate() {
            if self.code_markers & (1 << i) == 0 && text.contains(marker) {
                self.code_markers |= 1 << i;
            }
        }
        self.latex = self.latex || LATEX_MARKERS.iter().any(|m| text.contains(m));
        self.math_word = self.math_word || has_math_word(text);
    }
}

/// A whole word of `text`, lowercased, is a math word ("improve" is not "prove").
fn has_math_word(text: &str) -> bool {
    if !text.is_ascii() {
        // Unicode lowercasing can change a word's length and letters; take the general road.
        let lower = text.to_lowercase();
        return lower.split(|c: char| !c.is_alphanumeric()).any(|word| MATH_WORDS.contains(&word));
    }
    // ASCII: lowercasing is per byte and alphanumeric is [0-9A-Za-z]; no copy needed.
    let mut word = [0u8; 10];
    text.as_bytes().split(|b| !b.is_ascii_alphanumeric()).any(|w| {
        if !(5..=10).contains(&w.len()) {
            return false;
        }
        for (lower, b) in word.iter_mut().zip(w) {
            *lower = b.to_ascii_lowercase();
        }
        MATH_WORDS.iter().any(|m| m.as_bytes() == &word[..w.len()])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(text: &str) -> Value {
        json!({"messages": [{"role": "user", "content": text}]})
    }

    #[test]
    fn a_short_plain_question_is_basic_with_low_confidence() {
        let d = classify(&user("Analyse this refund request."), 5);
        assert_eq!((d.level, d.confidence), (1, 0.6));
        assert!(d.signals.is_empty());
    }

    #[test]
    fn a_plain_question_of_some_length_is_basic_and_confident() {
        let d =
            classify(&user("Summarise the customer's message below in two friendly sentences please."), 40);
        assert_eq!((d.level, d.confidence), (1, 0.9));
    }

    #[test]
    fn a_fenced_code_block_raises_one_level_with_full_confidence() {
        let d = classify(&user("Fix this:\n```rust\nfn main() {}\n```"), 40);
        assert_eq!((d.level, d.confidence), (2, 0.9));
        assert_eq!(d.signals, ["code (fenced block)"]);
    }

    #[test]
    fn code_keywords_raise_a_level_but_lower_confidence() {
        let d = classify(&user("why does import os then def main(): fail"), 40);
        assert_eq!((d.level, d.confidence), (2, 0.8));
    }

    #[test]
    fn math_words_count_only_as_whole_words() {
        let d = classify(&user("Prove that the sum of two even numbers is even."), 40);
        assert_eq!((d.level, d.confidence), (2, 0.8));
        assert_eq!(d.signals, ["math (keywords)"]);
        let d = classify(&user("Please improve the wording of this polite reply to a customer."), 40);
        assert_eq!((d.level, d.confidence), (1, 0.9));
    }

    #[test]
    fn math_words_are_found_in_any_case_in_non_ascii_text_and_never_across_messages() {
        let d = classify(&user("Gödel's THEOREM, s'il vous plaît."), 40);
        assert_eq!(d.signals, ["math (keywords)"]);
        let split =
            json!({"messages": [{"role": "user", "content": "pro"}, {"role": "user", "content": "ve"}]});
        assert!(classify(&split, 40).signals.is_empty());
        let parts = json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "=> #inc"}, {"type": "text", "text": "lude"}]}]});
        assert!(classify(&parts, 40).signals.is_empty(), "one marker only: #include spans two parts");
    }

    #[test]
    fn latex_counts_as_math() {
        let d = classify(&user("Simplify $$\\frac{a}{b}$$ for me"), 40);
        assert_eq!(d.level, 2);
        assert_eq!(d.signals, ["math (LaTeX)"]);
    }

    #[test]
    fn tools_structured_output_and_code_make_an_expert_task() {
        let mut request = user("```py\nx = 1\n```");
        request["tools"] = json!([{"type": "function", "function": {"name": "f"}}]);
        request["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "x"}});
        let d = classify(&request, 40);
        assert_eq!((d.level, d.confidence), (4, 0.9));
    }

    #[test]
    fn length_and_turns_count() {
        assert_eq!(classify(&user("x"), 5_000).level, 2);
        assert_eq!(classify(&user("x"), 40_000).level, 3);
        let many: Vec<Value> =
            (0..8).map(|i| json!({"role": "user", "content": format!("turn {i}")})).collect();
        assert_eq!(classify(&json!({"messages": many}), 40).level, 2);
    }

    #[test]
    fn levels_are_capped_at_expert() {
        let mut request = user("```\nx\n```\n$$\\int x$$");
        request["tools"] = json!([{}]);
        request["response_format"] = json!({"type": "json_schema"});
        assert_eq!(classify(&request, 40_000).level, 4);
    }
}
