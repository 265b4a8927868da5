//! Where a member of a JSON document is written: the line and column a price file's
//! error points to. `serde_json::Value` keeps no positions, so the (already valid)
//! text is scanned again along the member's path; this runs only on an error.

/// One step of a path into a JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    Key(String),
    Index(usize),
}

/// Line and column (1-based; the column counts characters) of the deepest member of
/// `path` found in `text`: of its key for an object member, of the value for a list
/// item. A member given twice is the last one, as the parser keeps it. `None` when
/// `text` is not the valid JSON the caller parsed.
pub(super) fn locate(text: &str, path: &[Step]) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut at = skip_ws(bytes, 0);
    let mut found = at;
    for step in path {
        let member = match (bytes.get(at)?, step) {
            (b'{', Step::Key(want)) => object_member(text, at, want)?,
            (b'[', Step::Index(want)) => list_item(bytes, at, *want)?,
            _ => None,
        };
        let Some((marker, value)) = member else { break };
        found = marker;
        at = value;
    }
    Some(line_and_column(text, found))
}

/// The last member named `want` of the object at `open`: (its key, its value).
fn object_member(text: &str, open: usize, want: &str) -> Option<Option<(usize, usize)>> {
    let bytes = text.as_bytes();
    let mut at = skip_ws(bytes, open + 1);
    let mut last = None;
    while *bytes.get(at)? == b'"' {
        let key_end = string_end(bytes, at)?;
        let key: String = serde_json::from_str(&text[at..key_end]).ok()?;
        let value = skip_ws(bytes, skip_ws(bytes, key_end) + 1);
        if key == want {
            last = Some((at, value));
        }
        at = next_member(bytes, value)?;
    }
    Some(last)
}

/// Item `want` of the list at `open`: (its value, its value).
fn list_item(bytes: &[u8], open: usize, want: usize) -> Option<Option<(usize, usize)>> {
    let mut at = skip_ws(bytes, open + 1);
    let mut index = 0;
    while *bytes.get(at)? != b']' {
        if index == want {
            return Some(Some((at, at)));
        }
        at = next_member(bytes, at)?;
        index += 1;
    }
    Some(None)
}

/// From a value to the start of the next member or item (or the closing bracket).
fn next_member(bytes: &[u8], value: usize) -> Option<usize> {
    let after = skip_ws(bytes, skip_value(bytes, value)?);
    Some(if bytes.get(after) == Some(&b',') { skip_ws(bytes, after + 1) } else { after })
}

fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(|b| b.is_ascii_whitespace()) {
        at += 1;
    }
    at
}

/// Just past the string whose opening quote is at `open`.
fn string_end(bytes: &[u8], open: usize) -> Option<usize> {
    let mut at = open + 1;
    loop {
        match *bytes.get(at)? {
            b'\\' => at += 2,
            b'"' => return Some(at + 1),
            _ => at += 1,
        }
    }
}

/// Just past the value starting at `start`.
fn skip_value(bytes: &[u8], start: usize) -> Option<usize> {
    match *bytes.get(start)? {
        b'"' => string_end(bytes, start),
        b'{' | b'[' => {
            let (mut depth, mut at) = (0usize, start);
            loop {
                match *bytes.get(at)? {
                    b'"' => at = string_end(bytes, at)?,
                    b'{' | b'[' => {
                        depth += 1;
                        at += 1;
                    }
                    b'}' | b']' => {
                        depth -= 1;
                        at += 1;
                        if depth == 0 {
                            return Some(at);
                        }
                    }
                    _ => at += 1,
                }
            }
        }
        _ => {
            let mut at = start;
            while bytes.get(at).is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
            {
                at += 1;
            }
            Some(at)
        }
    }
}

fn line_and_column(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Step {
        Step::Key(k.to_string())
    }

    const TEXT: &str = r#"{
  "models": {
    "a": {"input": "1", "output": [1, {"x": "]}\"{"}]},
    "b.c": {
      "input": "1",
      "service_tiers": {"flex": {"context_tiers": [
        {"above_input_tokens": 5, "input": "é"},
        {"above_input_tokens": 9, "input": "bad"}
      ]}}
    }
  }
}"#;

    #[test]
    fn finds_keys_and_list_items_past_strings_with_brackets_and_escapes() {
        assert_eq!(locate(TEXT, &[key("models"), key("b.c"), key("input")]), Some((5, 7)));
        let deep = [
            key("models"),
            key("b.c"),
            key("service_tiers"),
            key("flex"),
            key("context_tiers"),
            Step::Index(1),
            key("input"),
        ];
        assert_eq!(locate(TEXT, &deep), Some((8, 35)));
    }

    #[test]
    fn a_missing_member_points_at_the_deepest_one_found() {
        assert_eq!(locate(TEXT, &[key("models"), key("a"), key("nope")]), Some((3, 5)));
        assert_eq!(locate(TEXT, &[key("models"), key("b.c"), key("input"), key("x")]), Some((5, 7)));
    }

    #[test]
    fn the_last_of_duplicate_keys_is_the_one_parsed() {
        assert_eq!(locate("{\"m\": 1,\n \"m\": 2}", &[key("m")]), Some((2, 2)));
    }
}
