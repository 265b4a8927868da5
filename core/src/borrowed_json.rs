//! A request body as the token estimator reads it, over either of its two forms:
//! a `serde_json::Value` (a body recorded for later, Node's JSON text, the
//! tests), or a [`BorrowedJson`] borrowed from the language layer's own objects.
//!
//! Why two: a budget-guarded call measures its prompt before it is sent, on
//! the caller's thread. Turning the SDK's dicts into a `Value` tree copied
//! every key and string and built a B-tree per object, then freed it all:
//! most of what a guarded Python call added. A `BorrowedJson` borrows the strings
//! where the language layer keeps them and holds each object's fields in
//! order in one vector; the estimator reads both forms through [`Json`].

use std::borrow::Cow;

use serde_json::Value;

/// What the estimator needs of a JSON value.
pub trait Json: Sized {
    fn get(&self, key: &str) -> Option<&Self>;
    fn as_str(&self) -> Option<&str>;
    fn as_array(&self) -> Option<&[Self]>;
    fn as_u64(&self) -> Option<u64>;
    fn is_number(&self) -> bool;
    fn is_null(&self) -> bool;
    fn is_object(&self) -> bool;
    /// An object's fields, in no particular order (empty for a non-object).
    fn fields(&self) -> impl Iterator<Item = (&str, &Self)>;
    /// The value as compact JSON text, as `serde_json` writes a `Value` (keys sorted).
    fn compact(&self) -> String;

    fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The value at a path of object keys.
    fn at(&self, path: &[&str]) -> Option<&Self> {
        path.iter().try_fold(self, |value, key| value.get(key))
    }
}

impl Json for Value {
    fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }
    fn as_str(&self) -> Option<&str> {
        Value::as_str(self)
    }
    fn as_array(&self) -> Option<&[Value]> {
        Value::as_array(self).map(Vec::as_slice)
    }
    fn as_u64(&self) -> Option<u64> {
        Value::as_u64(self)
    }
    fn is_number(&self) -> bool {
        Value::is_number(self)
    }
    fn is_null(&self) -> bool {
        Value::is_null(self)
    }
    fn is_object(&self) -> bool {
        Value::is_object(self)
    }
    fn fields(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.as_object().into_iter().flatten().map(|(k, v)| (k.as_str(), v))
    }
    fn compact(&self) -> String {
        self.to_string()
    }
}

/// A JSON value whose strings are borrowed where they can be.
#[derive(Debug, Clone, PartialEq)]
pub enum BorrowedJson<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Cow<'a, str>),
    Array(Vec<BorrowedJson<'a>>),
    /// Fields in the order given; a repeated key keeps its last value.
    Object(Vec<(Cow<'a, str>, BorrowedJson<'a>)>),
}

impl<'a> BorrowedJson<'a> {
    /// A view of a `Value`, borrowing its strings.
    pub fn of(value: &'a Value) -> BorrowedJson<'a> {
        match value {
            Value::Null => BorrowedJson::Null,
            Value::Bool(b) => BorrowedJson::Bool(*b),
            Value::Number(n) => BorrowedJson::Number(n.clone()),
            Value::String(s) => BorrowedJson::String(Cow::Borrowed(s)),
            Value::Array(items) => BorrowedJson::Array(items.iter().map(BorrowedJson::of).collect()),
            Value::Object(map) => BorrowedJson::Object(
                map.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), BorrowedJson::of(v))).collect(),
            ),
        }
    }

    /// The same value as an owned `Value`.
    pub fn to_value(&self) -> Value {
        match self {
            BorrowedJson::Null => Value::Null,
            BorrowedJson::Bool(b) => Value::Bool(*b),
            BorrowedJson::Number(n) => Value::Number(n.clone()),
            BorrowedJson::String(s) => Value::String(s.to_string()),
            BorrowedJson::Array(items) => Value::Array(items.iter().map(BorrowedJson::to_value).collect()),
            BorrowedJson::Object(fields) => {
                Value::Object(fields.iter().map(|(k, v)| (k.to_string(), v.to_value())).collect())
            }
        }
    }
}

impl Json for BorrowedJson<'_> {
    fn get(&self, key: &str) -> Option<&Self> {
        match self {
            // The last one wins, as when a JSON parser reads a repeated key.
            BorrowedJson::Object(fields) => fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn as_str(&self) -> Option<&str> {
        match self {
            BorrowedJson::String(s) => Some(s),
            _ => None,
        }
    }
    fn as_array(&self) -> Option<&[Self]> {
        match self {
            BorrowedJson::Array(items) => Some(items),
            _ => None,
        }
    }
    fn as_u64(&self) -> Option<u64> {
        match self {
            BorrowedJson::Number(n) => n.as_u64(),
            _ => None,
        }
    }
    fn is_number(&self) -> bool {
        matches!(self, BorrowedJson::Number(_))
    }
    fn is_null(&self) -> bool {
        matches!(self, BorrowedJson::Null)
    }
    fn is_object(&self) -> bool {
        matches!(self, BorrowedJson::Object(_))
    }
    fn fields(&self) -> impl Iterator<Item = (&str, &Self)> {
        let fields = match self {
            BorrowedJson::Object(fields) => fields.as_slice(),
            _ => &[],
        };
        fields.iter().map(|(k, v)| (k.as_ref(), v))
    }
    fn compact(&self) -> String {
        // Rare (nested tool schemas): through a Value, so the text is exactly the Value's.
        self.to_value().to_string()
    }
}

/// JSON text read straight into a `BorrowedJson`: strings without escapes are
/// borrowed from the text (Node's request crosses as JSON text).
impl<'de> serde::Deserialize<'de> for BorrowedJson<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Visitor)
    }
}

struct Visitor;

impl<'de> serde::de::Visitor<'de> for Visitor {
    type Value = BorrowedJson<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(BorrowedJson::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(BorrowedJson::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(BorrowedJson::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(BorrowedJson::Number(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(n).map_or(BorrowedJson::Null, BorrowedJson::Number))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(BorrowedJson::String(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(BorrowedJson::String(Cow::Owned(s.to_string())))
    }
    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(BorrowedJson::String(Cow::Owned(s)))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(BorrowedJson::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some((key, value)) = map.next_entry::<Cow<'de, str>, BorrowedJson<'de>>()? {
            fields.push((key, value));
        }
        Ok(BorrowedJson::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_view_reads_as_its_value() {
        let value = json!({"a": [1, "x", null, true], "b": {"c": 2.5}, "d": "e"});
        let body = BorrowedJson::of(&value);
        assert_eq!(body.to_value(), value);
        assert_eq!(body.compact(), value.compact());
        assert_eq!(body.at(&["b", "c"]).map(Json::is_number), Some(true));
        assert_eq!(body.get("d").and_then(Json::as_str), Some("e"));
        assert_eq!(body.get("a").and_then(Json::as_array).map(<[_]>::len), Some(4));
        let mut keys: Vec<_> = body.fields().map(|(k, _)| k).collect();
        keys.sort();
        assert_eq!(keys, ["a", "b", "d"]);
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        let body = BorrowedJson::Object(vec![
            (Cow::Borrowed("k"), BorrowedJson::String(Cow::Borrowed("first"))),
            (Cow::Borrowed("k"), BorrowedJson::String(Cow::Borrowed("last"))),
        ]);
        assert_eq!(body.get("k").and_then(Json::as_str), Some("last"));
        assert_eq!(body.compact(), r#"{"k":"last"}"#);
    }
    #[test]
    fn json_text_reads_as_its_value() {
        let text =
            r#"{"m":[{"role":"user","content":"caf\u00e9 \"quoted\""}],"n":-3,"f":1.5,"t":true,"z":null}"#;
        let value: Value = serde_json::from_str(text).unwrap();
        let body: BorrowedJson = serde_json::from_str(text).unwrap();
        assert_eq!(body.to_value(), value);
        assert!(matches!(
            body.get("m").and_then(|m| m.as_array()).map(|m| &m[0]),
            Some(BorrowedJson::Object(_))
        ));
    }
}
