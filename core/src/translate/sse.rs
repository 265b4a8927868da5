//! A target's event stream translated from its raw bytes: each `data:` line (a Bedrock
//! target: each AWS event-stream message, `eventstream`) is parsed once, read for metering (the usage, the model that answered and the output text, as
//! `usage::body::BodyScanner` reads a body the caller reads itself) and translated into
//! the source's chunks. A language layer that can read the target's response bytes hands
//! them here instead of letting the target's SDK build an object per event that would
//! only be turned back into JSON for the translation.

use serde_json::Value;

use super::eventstream::{EventStreamDecoder, Message};
use super::{malformed, Api, ResponseContext, StreamTranslator};
use crate::usage::body::{BodyScanner, Scanned, MAX_KEPT_BYTES};
use crate::Result;

pub struct SseTranslator {
    target: Api,
    translator: StreamTranslator,
    scanner: Option<BodyScanner>,
    /// The bytes of a line not complete yet.
    pending: Vec<u8>,
    /// An event's `data:` lines that are not JSON yet on their own (the SSE format lets
    /// one event's data span lines, joined by newlines; the providers send one line).
    data: Vec<u8>,
    /// The error event the target sent, which ends the stream (its SDK raises it).
    error: Option<Value>,
    /// A Bedrock target's body: AWS event-stream messages, not SSE lines.
    frames: Option<EventStreamDecoder>,
}

impl SseTranslator {
    /// A translator of `target`'s event stream (its raw body) into `source`'s chunks.
    pub fn new(source: Api, target: Api, ctx: ResponseContext) -> SseTranslator {
        SseTranslator {
            target,
            translator: StreamTranslator::new(source, target, ctx),
            scanner: Some(BodyScanner::new(target.name(), true)),
            pending: Vec::new(),
            data: Vec::new(),
            error: None,
            frames: (target == Api::Bedrock).then(EventStreamDecoder::default),
        }
    }

    /// Bytes of the body as they arrive (any split); the source chunks of the events
    /// they complete. A line that is not JSON is an error; an error event ends the
    /// stream: it is kept for the language layer to raise as the target's SDK does
    /// ([`error_event`](Self::error_event)), and what follows it is not read.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        if self.error.is_some() {
            return Ok(out);
        }
        if let Some(frames) = self.frames.as_mut() {
            let mut messages = Vec::new();
            frames.feed(bytes, &mut messages)?;
            for message in messages {
                if self.error.is_some() {
                    break;
                }
                match message {
                    Message::Event(event) => self.event(event, &mut out)?,
                    // Kept as `{"error": {"code", "message"}}` for the language layer to
                    // raise as botocore does (`EventStreamError`).
                    Message::Error { code, message } => {
                        let error = serde_json::json!({"error": {"code": code, "message": message}});
                        if let Some(scanner) = self.scanner.as_mut() {
                            scanner.event(&error);
                        }
                        self.error = Some(error);
                    }
                }
            }
            return Ok(out);
        }
        if self.pending.is_empty() {
            let consumed = self.lines(bytes, &mut out)?;
            self.keep(&bytes[consumed..]);
        } else {
            let mut buffer = std::mem::take(&mut self.pending);
            buffer.extend_from_slice(bytes);
            let consumed = self.lines(&buffer, &mut out)?;
            self.keep(&buffer[consumed..]);
        }
        Ok(out)
    }

    /// The body ended: the events of its last line, then the source's closing chunks.
    pub fn finish(&mut self) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        if self.frames.is_none() {
            let rest = std::mem::take(&mut self.pending);
            self.line(&rest, &mut out)?;
            self.line(b"", &mut out)?; // the end of the body ends its last event
        }
        if self.error.is_none() {
            out.extend(self.translator.finish());
        }
        Ok(out)
    }

    /// The error event (its JSON) that ended the stream, if one did.
    pub fn error_event(&self) -> Option<&Value> {
        self.error.as_ref()
    }

    /// What metering reads, once: the usage parts, the model that answered, the output
    /// text (for an estimate when no usage came) and the stream's error, if it had one.
    pub fn metered(&mut self) -> Scanned {
        self.scanner.take().map(BodyScanner::finish).unwrap_or_default()
    }

    fn keep(&mut self, rest: &[u8]) {
        // A single line this long is not an event of a chat stream.
        if self.pending.len() + rest.len() <= MAX_KEPT_BYTES {
            self.pending.extend_from_slice(rest);
        }
    }

    /// Every complete line of `bytes`; returns how many bytes they took.
    fn lines(&mut self, bytes: &[u8], out: &mut Vec<Value>) -> Result<usize> {
        let mut consumed = 0;
        while self.error.is_none() {
            let Some(offset) = bytes[consumed..].iter().position(|b| *b == b'\n') else {
                break;
            };
            let line = &bytes[consumed..consumed + offset];
            consumed += offset + 1;
            self.line(line, out)?;
        }
        Ok(consumed)
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<Value>) -> Result<()> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            // The blank line that ends an event: its data must be whole by now.
            if self.data.is_empty() {
                return Ok(());
            }
            let data = std::mem::take(&mut self.data);
            let event: Value = serde_json::from_slice(&data)
                .map_err(|e| malformed(self.target, format!("a stream event that is not JSON: {e}")))?;
            return self.event(event, out);
        }
        let Some(data) = line.strip_prefix(b"data:") else {
            return Ok(()); // `event:`, `id:`, comments
        };
        if !self.data.is_empty() {
            self.data.push(b'\n');
            self.data.extend_from_slice(data.strip_prefix(b" ").unwrap_or(data));
            return match serde_json::from_slice::<Value>(&self.data) {
                Ok(event) => {
                    self.data.clear();
                    self.event(event, out)
                }
                Err(_) => Ok(()), // more lines to come
            };
        }
        let data = data.trim_ascii();
        if data.is_empty() || data == b"[DONE]" {
            return Ok(());
        }
        match serde_json::from_slice::<Value>(data) {
            Ok(event) => self.event(event, out),
            Err(_) => {
                self.data.extend_from_slice(data);
                Ok(())
            }
        }
    }

    fn event(&mut self, event: Value, out: &mut Vec<Value>) -> Result<()> {
        if let Some(scanner) = self.scanner.as_mut() {
            scanner.event(&event);
        }
        if event.get("error").is_some_and(|e| !e.is_null())
            || event.get("type").and_then(Value::as_str) == Some("error")
        {
            self.error = Some(event);
            return Ok(());
        }
        out.extend(self.translator.push(&event)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn anthropic_sse() -> Vec<u8> {
        let events = [
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                "model": "claude-haiku-4-5-20251001", "content": [], "stop_reason": null,
                "usage": {"input_tokens": 10, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " there"}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 7}}),
            json!({"type": "message_stop"}),
        ];
        let mut body = Vec::new();
        for e in events {
            body.extend(
                format!("event: {}\r\ndata: {}\r\n\r\n", e["type"].as_str().unwrap(), e).into_bytes(),
            );
        }
        body
    }

    fn ctx() -> ResponseContext {
        ResponseContext::from_value(&json!({"model": "claude-haiku-4-5", "include_usage": true})).unwrap()
    }

    /// The events one by one through the value translator: what the bytes must give.
    fn by_value() -> Vec<Value> {
        let mut t = StreamTranslator::new(Api::OpenAi, Api::Anthropic, ctx());
        let mut out = Vec::new();
        for line in String::from_utf8(anthropic_sse()).unwrap().lines() {
            if let Some(data) = line.strip_prefix("data: ") {
                out.extend(t.push(&serde_json::from_str(data).unwrap()).unwrap());
            }
        }
        out.extend(t.finish());
        out
    }

    #[test]
    fn raw_bytes_split_anywhere_translate_as_the_parsed_events_do() {
        let body = anthropic_sse();
        let expected = by_value();
        for step in [1, 7, 64, body.len()] {
            let mut t = SseTranslator::new(Api::OpenAi, Api::Anthropic, ctx());
            let mut out = Vec::new();
            for piece in body.chunks(step) {
                out.extend(t.feed(piece).unwrap());
            }
            out.extend(t.finish().unwrap());
            assert_eq!(out, expected, "split every {step} bytes");
            assert!(out.iter().any(|c| c["choices"][0]["delta"]["content"] == "Hello"));
        }
    }

    #[test]
    fn the_bytes_are_metered_as_they_are_translated() {
        let mut t = SseTranslator::new(Api::OpenAi, Api::Anthropic, ctx());
        t.feed(&anthropic_sse()).unwrap();
        t.finish().unwrap();
        let scanned = t.metered();
        assert_eq!(
            scanned.parts,
            vec![json!({"input_tokens": 10, "output_tokens": 1}), json!({"output_tokens": 7})]
        );
        assert_eq!(scanned.resolved_model.as_deref(), Some("claude-haiku-4-5-20251001"));
        assert_eq!(scanned.output_text, "Hello there");
        assert_eq!(scanned.error_type, None);
        assert_eq!(t.metered(), Scanned::default(), "metered once");
    }

    #[test]
    fn an_error_event_ends_the_stream_kept_for_the_sdk_to_raise_and_is_metered_as_one() {
        let mut t = SseTranslator::new(Api::OpenAi, Api::Anthropic, ctx());
        let body = anthropic_sse();
        let (first, _) = body.split_at(body.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4);
        let error = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
        let mut bytes = first.to_vec();
        bytes.extend(format!("event: error\ndata: {error}\n\n").into_bytes());
        bytes.extend_from_slice(&body[first.len()..]);
        let out = t.feed(&bytes).unwrap();
        assert_eq!(out.len(), 1, "the chunks before the error, nothing after: {out:?}");
        assert_eq!(t.error_event(), Some(&error));
        assert!(t.feed(&body).unwrap().is_empty() && t.finish().unwrap().is_empty());
        assert_eq!(t.metered().error_type.as_deref(), Some("APIError"));
    }

    #[test]
    fn an_event_that_is_not_json_is_an_error() {
        let mut t = SseTranslator::new(Api::OpenAi, Api::Anthropic, ctx());
        assert!(t.feed(b"data: {not json\n").unwrap().is_empty(), "an event's data may span lines");
        assert!(t.feed(b"\n").is_err());
        let mut t = SseTranslator::new(Api::OpenAi, Api::Anthropic, ctx());
        t.feed(b"data: {not json").unwrap();
        assert!(t.finish().is_err(), "the body's end ends the event");
    }

    #[test]
    fn an_events_data_on_several_lines_is_joined() {
        let mut t = SseTranslator::new(Api::OpenAi, Api::Anthropic, ctx());
        let start = b"data: {\"type\": \"message_start\",\ndata: \"message\": {\"id\": \"msg_1\", \"model\": \"m\",\ndata: \"usage\": {\"input_tokens\": 3}}}\n\n";
        let out = t.feed(start).unwrap();
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0]["id"], "msg_1");
        assert!(t.finish().is_ok());
    }

    #[test]
    fn mistral_and_gemini_bodies_are_metered_and_a_gemini_error_chunk_ends_the_stream() {
        let chunk = |content: &str, usage: Value| {
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "mistral-small-2506",
                "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}], "usage": usage})
        };
        let usage = json!({"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12});
        let body = format!(
            "data: {}\r\n\r\ndata: {}\r\n\r\ndata: [DONE]\r\n\r\n",
            chunk("Hi", Value::Null),
            chunk(" there", usage.clone())
        );
        let mut t = SseTranslator::new(Api::OpenAi, Api::Mistral, ctx());
        let mut out = t.feed(body.as_bytes()).unwrap();
        out.extend(t.finish().unwrap());
        assert!(out.iter().any(|c| c["choices"][0]["delta"]["content"] == " there"), "{out:?}");
        let scanned = t.metered();
        assert_eq!(scanned.parts, vec![usage]);
        assert_eq!(scanned.resolved_model.as_deref(), Some("mistral-small-2506"));
        assert_eq!(scanned.output_text, "Hi there");

        let part = |text: &str, output: u64| {
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}],
                "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": output},
                "modelVersion": "gemini-2.5-flash-001"})
        };
        let error = json!({"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}});
        let body = format!("data: {}\n\ndata: {}\n\ndata: {}\n\n", part("Hi", 0), error, part(" there", 2));
        let mut t = SseTranslator::new(Api::OpenAi, Api::Gemini, ctx());
        let out = t.feed(body.as_bytes()).unwrap();
        assert!(out.iter().any(|c| c["choices"][0]["delta"]["content"] == "Hi"), "{out:?}");
        assert_eq!(t.error_event(), Some(&error));
        assert!(t.finish().unwrap().is_empty(), "nothing after the error");
        let scanned = t.metered();
        assert_eq!(scanned.output_text, "Hi");
        assert_eq!(scanned.parts, vec![json!({"promptTokenCount": 10, "candidatesTokenCount": 0})]);
    }

    #[test]
    fn a_bedrock_event_stream_body_translates_as_its_events_and_is_metered() {
        use crate::translate::eventstream::tests::{event, frame};
        let events = [
            json!({"messageStart": {"role": "assistant"}}),
            json!({"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Hello"}}}),
            json!({"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": " there"}}}),
            json!({"contentBlockStop": {"contentBlockIndex": 0}}),
            json!({"messageStop": {"stopReason": "end_turn"}}),
            json!({"metadata": {"usage": {"inputTokens": 10, "outputTokens": 2, "totalTokens": 12},
                "metrics": {"latencyMs": 5}}}),
        ];
        let mut body = Vec::new();
        for e in &events {
            let (kind, payload) = e.as_object().unwrap().iter().next().unwrap();
            body.extend(event(kind, payload));
        }
        let mut by_value = StreamTranslator::new(Api::OpenAi, Api::Bedrock, ctx());
        let mut expected = Vec::new();
        for e in &events {
            expected.extend(by_value.push(e).unwrap());
        }
        expected.extend(by_value.finish());
        let mut t = SseTranslator::new(Api::OpenAi, Api::Bedrock, ctx());
        let mut out = Vec::new();
        for piece in body.chunks(7) {
            out.extend(t.feed(piece).unwrap());
        }
        out.extend(t.finish().unwrap());
        // Bedrock gives no id nor time: each translator makes them up.
        for chunk in out.iter_mut().chain(expected.iter_mut()) {
            chunk["id"] = Value::Null;
            chunk["created"] = Value::Null;
        }
        assert_eq!(out, expected);
        let scanned = t.metered();
        assert_eq!(scanned.parts, vec![json!({"inputTokens": 10, "outputTokens": 2, "totalTokens": 12})]);
        assert_eq!(scanned.output_text, "Hello there");

        // An exception message ends the stream, kept for botocore's error.
        let mut t = SseTranslator::new(Api::OpenAi, Api::Bedrock, ctx());
        let mut body = event("messageStart", &json!({"role": "assistant"}));
        let headers = [(":exception-type", "modelStreamErrorException"), (":message-type", "exception")];
        body.extend(frame(&headers, br#"{"message": "boom"}"#));
        body.extend(event("messageStop", &json!({"stopReason": "end_turn"})));
        let out = t.feed(&body).unwrap();
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(
            t.error_event(),
            Some(&json!({"error": {"code": "modelStreamErrorException", "message": "boom"}}))
        );
        assert!(t.finish().unwrap().is_empty());
    }
}
