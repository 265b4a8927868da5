//! Attribution fields of an event (tags, agent names, run id) made safe to
//! store: tag layers merged in one place, and values that break the wire
//! format's bounds truncated (with a note) rather than losing the event.

use std::collections::BTreeMap;

use crate::event::{MAX_AGENT_DEPTH, MAX_NAME_LEN, MAX_TAGS, MAX_TAG_VALUE_LEN};

pub type Tags = BTreeMap<String, String>;

/// Merge tag layers, lowest precedence first: a key in a later layer wins.
/// The one place tags are merged (process → client → run frames → call).
pub fn merge_tags<'a>(layers: impl IntoIterator<Item = &'a Tags>) -> Tags {
    let mut merged = Tags::new();
    for layer in layers {
        for (k, v) in layer {
            merged.insert(k.clone(), v.clone());
        }
    }
    merged
}

/// Bring tags within the wire format's bounds: empty keys dropped, keys and
/// values truncated, at most `MAX_TAGS` kept (the first in key order). Each
/// fix adds a note.
pub fn sanitize_tags(tags: &mut Tags, notes: &mut Vec<String>) {
    tags.retain(|k, _| {
        let keep = !k.is_empty();
        if !keep {
            notes.push("a tag with an empty key was dropped".into());
        }
        keep
    });
    let too_long: Vec<String> = tags.keys().filter(|k| k.len() > MAX_NAME_LEN).cloned().collect();
    for key in too_long {
        let value = tags.remove(&key).unwrap_or_default();
        notes.push(format!("a tag key longer than {MAX_NAME_LEN} bytes was truncated"));
        tags.entry(truncate(&key, MAX_NAME_LEN).to_string()).or_insert(value);
    }
    for (key, value) in tags.iter_mut() {
        if value.len() > MAX_TAG_VALUE_LEN {
            notes.push(format!(
                "tag {:?}: value longer than {MAX_TAG_VALUE_LEN} bytes truncated",
                truncate(key, 64)
            ));
            let cut = truncate(value, MAX_TAG_VALUE_LEN).len();
            value.truncate(cut);
        }
    }
    if tags.len() > MAX_TAGS {
        notes.push(format!("more than {MAX_TAGS} tags: the first {MAX_TAGS} in key order were kept"));
        let extra: Vec<String> = tags.keys().skip(MAX_TAGS).cloned().collect();
        for key in extra {
            tags.remove(&key);
        }
    }
}

/// A name field (model, agent, run id...) within `MAX_NAME_LEN` bytes.
pub fn sanitize_name(field: &str, value: &mut String, notes: &mut Vec<String>) {
    if value.len() > MAX_NAME_LEN {
        notes.push(format!("{field} longer than {MAX_NAME_LEN} bytes was truncated"));
        let cut = truncate(value, MAX_NAME_LEN).len();
        value.truncate(cut);
    }
}

/// An agent path within `MAX_AGENT_DEPTH` levels (the outermost kept) and
/// each name within bounds.
pub fn sanitize_path(path: &mut Vec<String>, notes: &mut Vec<String>) {
    if path.len() > MAX_AGENT_DEPTH {
        notes.push(format!("agent_path deeper than {MAX_AGENT_DEPTH} was cut"));
        path.truncate(MAX_AGENT_DEPTH);
    }
    for name in path.iter_mut() {
        sanitize_name("an agent name", name, notes);
    }
}

/// The longest prefix of `s` within `max` bytes that ends on a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_layers_win() {
        let a: Tags = [("k".into(), "a".into()), ("x".into(), "1".into())].into();
        let b: Tags = [("k".into(), "b".into())].into();
        let merged = merge_tags([&a, &b]);
        assert_eq!(merged["k"], "b");
        assert_eq!(merged["x"], "1");
    }

    #[test]
    fn oversized_tags_are_truncated_with_notes() {
        let mut tags: Tags = (0..70).map(|i| (format!("k{i:02}"), "v".into())).collect();
        tags.insert("big".into(), "é".repeat(2000));
        tags.insert(String::new(), "x".into());
        let mut notes = Vec::new();
        sanitize_tags(&mut tags, &mut notes);
        assert_eq!(tags.len(), MAX_TAGS);
        assert!(tags.get("big").is_some_and(|v| v.len() <= MAX_TAG_VALUE_LEN));
        assert_eq!(notes.len(), 3, "{notes:?}");
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
