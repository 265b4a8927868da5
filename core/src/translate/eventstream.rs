//! AWS event-stream framing (`application/vnd.amazon.eventstream`), what Bedrock's
//! ConverseStream answers with: each message is a prelude (total length, headers length,
//! the prelude's CRC32), headers, a JSON payload and the message's CRC32. Decoded here from
//! the raw body so that a Bedrock target's stream is read as bytes (`SseTranslator`), as
//! botocore's `EventStreamBuffer` reads it, both checksums checked.

use serde_json::Value;

use super::{malformed, Api};
use crate::Result;

/// A decoded message: an event (`{"<eventType>": payload}`, as boto3 yields it), or an
/// exception / error message the stream ends with.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Event(Value),
    /// `:message-type` exception (`:exception-type`, the payload) or error (`:error-code`,
    /// `:error-message`): what botocore raises as `EventStreamError`.
    Error {
        code: String,
        message: String,
    },
}

const PRELUDE: usize = 12;
/// The largest message botocore accepts (`_MAX_PAYLOAD_LENGTH` + headers): 24 MiB.
const MAX_MESSAGE: usize = 24 << 20;

#[derive(Debug, Default)]
pub struct EventStreamDecoder {
    pending: Vec<u8>,
}

impl EventStreamDecoder {
    /// Bytes as they arrive (any split); the messages they complete.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Message>) -> Result<()> {
        self.pending.extend_from_slice(bytes);
        let mut start = 0;
        while self.pending.len() - start >= PRELUDE {
            let buf = &self.pending[start..];
            let total = be32(&buf[0..4]) as usize;
            let headers_len = be32(&buf[4..8]) as usize;
            if crc32(&buf[0..8]) != be32(&buf[8..12]) {
                return Err(bad("prelude checksum mismatch"));
            }
            if total > MAX_MESSAGE || total < PRELUDE + headers_len + 4 {
                return Err(bad("message length out of range"));
            }
            if buf.len() < total {
                break;
            }
            let message = &buf[..total];
            if crc32(&message[..total - 4]) != be32(&message[total - 4..]) {
                return Err(bad("message checksum mismatch"));
            }
            let headers = &message[PRELUDE..PRELUDE + headers_len];
            let payload = &message[PRELUDE + headers_len..total - 4];
            out.push(decode(headers, payload)?);
            start += total;
        }
        self.pending.drain(..start);
        Ok(())
    }
}

fn bad(what: &str) -> crate::Error {
    malformed(Api::Bedrock, format!("event stream: {what}"))
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn decode(mut headers: &[u8], payload: &[u8]) -> Result<Message> {
    let (mut message_type, mut event_type, mut exception, mut code, mut text) =
        (None, None, None, None, None);
    while !headers.is_empty() {
        let name_len = headers[0] as usize;
        let name = headers.get(1..1 + name_len).ok_or_else(|| bad("header cut"))?;
        let kind = *headers.get(1 + name_len).ok_or_else(|| bad("header cut"))?;
        let rest = &headers[2 + name_len..];
        // Value lengths per type: 0/1 bool, 2 byte, 3 short, 4 int, 5 long, 6 bytes,
        // 7 string, 8 timestamp, 9 uuid.
        let (value, used) = match kind {
            0 | 1 => (None, 0),
            2 => (None, 1),
            3 => (None, 2),
            4 => (None, 4),
            5 | 8 => (None, 8),
            9 => (None, 16),
            6 | 7 => {
                let len = rest.get(0..2).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize);
                let len = len.ok_or_else(|| bad("header cut"))?;
                let value = rest.get(2..2 + len).ok_or_else(|| bad("header cut"))?;
                (Some(String::from_utf8_lossy(value).into_owned()), 2 + len)
            }
            _ => return Err(bad("unknown header type")),
        };
        if rest.len() < used {
            return Err(bad("header cut"));
        }
        headers = &rest[used..];
        match name {
            b":message-type" => message_type = value,
            b":event-type" => event_type = value,
            b":exception-type" => exception = value,
            b":error-code" => code = value,
            b":error-message" => text = value,
            _ => {}
        }
    }
    let body = || -> Result<Value> {
        if payload.is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_slice(payload).map_err(|e| bad(&format!("a payload that is not JSON: {e}")))
    };
    match message_type.as_deref() {
        Some("event") | None => {
            let kind = event_type.ok_or_else(|| bad("an event without :event-type"))?;
            let mut event = serde_json::Map::new();
            event.insert(kind, body()?);
            Ok(Message::Event(Value::Object(event)))
        }
        Some("exception") => {
            let message = body().ok().and_then(|b| {
                b.get("message").or_else(|| b.get("Message")).and_then(Value::as_str).map(str::to_string)
            });
            Ok(Message::Error {
                code: exception.unwrap_or_else(|| "UnknownException".into()),
                message: message.unwrap_or_default(),
            })
        }
        Some(_) => Ok(Message::Error {
            code: code.unwrap_or_else(|| "UnknownError".into()),
            message: text.unwrap_or_default(),
        }),
    }
}

/// CRC-32 (IEEE, as zlib's), what event-stream messages are checked with.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
            *slot = c;
        }
        t
    });
    !bytes.iter().fold(!0u32, |c, b| table[((c ^ *b as u32) & 0xFF) as usize] ^ (c >> 8))
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    /// One message as Bedrock frames it.
    pub(crate) fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
        let mut h = Vec::new();
        for (name, value) in headers {
            h.push(name.len() as u8);
            h.extend_from_slice(name.as_bytes());
            h.push(7);
            h.extend_from_slice(&(value.len() as u16).to_be_bytes());
            h.extend_from_slice(value.as_bytes());
        }
        let total = (PRELUDE + h.len() + payload.len() + 4) as u32;
        let mut m = total.to_be_bytes().to_vec();
        m.extend_from_slice(&(h.len() as u32).to_be_bytes());
        let prelude_crc = crc32(&m);
        m.extend_from_slice(&prelude_crc.to_be_bytes());
        m.extend_from_slice(&h);
        m.extend_from_slice(payload);
        let crc = crc32(&m);
        m.extend_from_slice(&crc.to_be_bytes());
        m
    }

    pub(crate) fn event(kind: &str, payload: &Value) -> Vec<u8> {
        let headers =
            [(":event-type", kind), (":content-type", "application/json"), (":message-type", "event")];
        frame(&headers, payload.to_string().as_bytes())
    }

    #[test]
    fn crc32_is_zlibs() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn messages_split_anywhere_decode_and_checksums_are_checked() {
        let mut body = event("messageStart", &json!({"role": "assistant"}));
        body.extend(event("contentBlockDelta", &json!({"contentBlockIndex": 0, "delta": {"text": "Hi"}})));
        let headers = [(":exception-type", "throttlingException"), (":message-type", "exception")];
        body.extend(frame(&headers, br#"{"message": "Too many requests"}"#));
        for step in [1, 5, 13, body.len()] {
            let (mut d, mut out) = (EventStreamDecoder::default(), Vec::new());
            for piece in body.chunks(step) {
                d.feed(piece, &mut out).unwrap();
            }
            assert!(d.pending.is_empty());
            assert_eq!(
                out,
                vec![
                    Message::Event(json!({"messageStart": {"role": "assistant"}})),
                    Message::Event(
                        json!({"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Hi"}}})
                    ),
                    Message::Error {
                        code: "throttlingException".into(),
                        message: "Too many requests".into()
                    },
                ],
                "split every {step} bytes"
            );
        }
        let mut corrupt = event("messageStop", &json!({"stopReason": "end_turn"}));
        let at = corrupt.len() - 6;
        corrupt[at] ^= 1;
        assert!(EventStreamDecoder::default().feed(&corrupt, &mut Vec::new()).is_err());
        let mut corrupt = event("messageStop", &json!({"stopReason": "end_turn"}));
        corrupt[9] ^= 1;
        assert!(EventStreamDecoder::default().feed(&corrupt, &mut Vec::new()).is_err());
    }
}
