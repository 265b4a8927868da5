//! What a request path says about a call: which operation it is (or that it is not
//! metered), and, for providers that put the model in the URL (Gemini, Bedrock), which
//! model. Shared by every language layer, which sees the request URL before it is sent.

/// The operation a request path stands for, or `None` for paths that are not
/// metered (listing models, files, `messages/count_tokens`, Gemini's `countTokens`...).
pub fn operation_for_path(provider: &str, path: &str) -> Option<&'static str> {
    // Query and fragment are not the path (the Mistral SDK marks streams `#stream`).
    let path = path.split(['?', '#']).next().unwrap_or(path).trim_end_matches('/');
    let last = |suffix: &str| path.ends_with(suffix);
    match provider {
        "anthropic" => {
            if last("/messages/count_tokens") {
                None
            } else if last("/messages") {
                Some("messages")
            } else if last("/complete") {
                Some("completions")
            } else {
                None
            }
        }
        // `.../models/{model}:{method}`; `countTokens` and model listings are free.
        "google" => match path.rsplit_once(':').map(|(_, method)| method) {
            Some("generateContent" | "streamGenerateContent") => Some("generate_content"),
            Some("embedContent" | "batchEmbedContents") => Some("embeddings"),
            _ => None,
        },
        // `/model/{modelId}/{action}`; `count-tokens` is free.
        "bedrock" => match path.rsplit_once('/').map(|(_, action)| action) {
            Some("converse" | "converse-stream") => Some("converse"),
            Some("invoke" | "invoke-with-response-stream") => Some("invoke"),
            _ => None,
        },
        _ => {
            if last("/chat/completions") {
                Some("chat")
            } else if last("/responses") {
                Some("responses")
            } else if last("/embeddings") {
                Some("embeddings")
            } else if last("/completions") {
                Some("completions")
            } else {
                None
            }
        }
    }
}

/// The model a request path names, for providers that put it there: Gemini
/// (`.../models/gemini-2.5-flash:generateContent`, Vertex's
/// `.../publishers/google/models/...`) and Bedrock (`/model/{modelId}/converse`,
/// the id percent-encoded: `us.anthropic.claude-...-v1%3A0`, or an ARN).
/// `None` for other providers and paths without a model.
pub fn model_for_path(provider: &str, path: &str) -> Option<String> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    match provider {
        "google" => {
            let (_, rest) = path.rsplit_once("models/")?;
            let model = rest.split(':').next()?;
            (!model.is_empty() && !model.contains('/')).then(|| percent_decode(model))
        }
        "bedrock" => {
            let (_, rest) = path.split_once("/model/")?;
            let model = rest.split('/').next()?;
            (!model.is_empty()).then(|| percent_decode(model))
        }
        _ => None,
    }
}

/// `%XX` escapes decoded; anything malformed is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex =
                std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(byte) = hex {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemini_methods_map_to_operations_and_count_tokens_is_free() {
        let base = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash";
        assert_eq!(
            operation_for_path("google", &format!("{base}:generateContent")),
            Some("generate_content")
        );
        assert_eq!(
            operation_for_path("google", &format!("{base}:streamGenerateContent?alt=sse")),
            Some("generate_content")
        );
        assert_eq!(operation_for_path("google", &format!("{base}:embedContent")), Some("embeddings"));
        assert_eq!(operation_for_path("google", &format!("{base}:batchEmbedContents")), Some("embeddings"));
        assert_eq!(operation_for_path("google", &format!("{base}:countTokens")), None);
        assert_eq!(operation_for_path("google", "v1beta/models"), None);
    }

    #[test]
    fn bedrock_actions_map_to_operations_and_count_tokens_is_free() {
        let base = "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0";
        assert_eq!(operation_for_path("bedrock", &format!("{base}/converse")), Some("converse"));
        assert_eq!(operation_for_path("bedrock", &format!("{base}/converse-stream")), Some("converse"));
        assert_eq!(operation_for_path("bedrock", &format!("{base}/invoke")), Some("invoke"));
        assert_eq!(
            operation_for_path("bedrock", &format!("{base}/invoke-with-response-stream")),
            Some("invoke")
        );
        assert_eq!(operation_for_path("bedrock", &format!("{base}/count-tokens")), None);
    }

    #[test]
    fn mistral_speaks_openais_paths() {
        assert_eq!(operation_for_path("mistral", "https://api.mistral.ai/v1/chat/completions"), Some("chat"));
        assert_eq!(operation_for_path("mistral", "https://api.mistral.ai/v1/embeddings"), Some("embeddings"));
        assert_eq!(
            operation_for_path("mistral", "https://api.mistral.ai/v1/fim/completions"),
            Some("completions")
        );
        assert_eq!(operation_for_path("mistral", "https://api.mistral.ai/v1/models"), None);
        assert_eq!(
            operation_for_path("mistral", "https://api.mistral.ai/v1/chat/completions#stream"),
            Some("chat")
        );
    }

    #[test]
    fn models_are_read_from_gemini_and_bedrock_paths() {
        assert_eq!(
            model_for_path("google", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
                .as_deref(),
            Some("gemini-2.5-flash")
        );
        assert_eq!(
            model_for_path(
                "google",
                "/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-pro:generateContent"
            )
            .as_deref(),
            Some("gemini-2.5-pro")
        );
        assert_eq!(
            model_for_path("bedrock", "/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse")
                .as_deref(),
            Some("us.anthropic.claude-3-5-haiku-20241022-v1:0")
        );
        assert_eq!(model_for_path("bedrock", "/model/bad%zz/invoke").as_deref(), Some("bad%zz"));
        assert_eq!(model_for_path("bedrock", "/model/x%3/invoke").as_deref(), Some("x%3"));
        assert_eq!(model_for_path("openai", "/v1/chat/completions"), None);
    }
}
