//! Which provider an OpenAI-compatible endpoint belongs to, from the host of the
//! client's `base_url`. The OpenAI drop-ins speak to many services through the same
//! SDK; the event's `provider` (and so the catalog entries that price it: `azure/...`,
//! `groq/...`) is the service's, not "openai".
//!
//! A host costline does not know (a self-hosted vLLM or Ollama server, a private
//! gateway, the local mock) gives `None`: the call keeps the drop-in's own provider,
//! and a model name the catalog does not have is recorded with
//! `cost_source = "unknown"` (or priced from the user's `COSTLINE_PRICES`).

/// Hosts, matched exactly or as a domain suffix, and the provider name recorded.
/// Names follow the catalog's (litellm's) provider prefixes.
const HOSTS: &[(&str, &str)] = &[
    ("api.openai.com", "openai"),
    (".openai.azure.com", "azure"),
    (".cognitiveservices.azure.com", "azure"),
    (".services.ai.azure.com", "azure_ai"),
    (".models.ai.azure.com", "azure_ai"),
    ("api.groq.com", "groq"),
    ("api.together.xyz", "together_ai"),
    ("api.together.ai", "together_ai"),
    ("api.fireworks.ai", "fireworks_ai"),
    ("api.deepseek.com", "deepseek"),
    ("api.x.ai", "xai"),
    ("openrouter.ai", "openrouter"),
    ("api.mistral.ai", "mistral"),
    ("generativelanguage.googleapis.com", "google"),
];

/// The provider serving `base_url`, or `None` for hosts costline does not know.
pub fn provider_for_base_url(base_url: &str) -> Option<&'static str> {
    let host = host_of(base_url)?;
    HOSTS.iter().find_map(|(pattern, provider)| {
        let matches = match pattern.strip_prefix('.') {
            Some(domain) => host.ends_with(pattern) || host == domain,
            None => host == *pattern || host.ends_with(&format!(".{pattern}")),
        };
        matches.then_some(*provider)
    })
}

/// The lowercase host of a URL (scheme, user info, port and path removed).
fn host_of(url: &str) -> Option<String> {
    let rest = url.trim().split_once("://").map_or(url.trim(), |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = if host_port.starts_with('[') {
        host_port.split(']').next().map(|h| h.trim_start_matches('['))?
    } else {
        host_port.split(':').next()?
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatible_hosts_name_their_provider() {
        for (url, provider) in [
            ("https://api.openai.com/v1", "openai"),
            ("https://my-res.openai.azure.com/openai/deployments/gpt4o", "azure"),
            ("https://my-res.cognitiveservices.azure.com/", "azure"),
            ("https://api.groq.com/openai/v1", "groq"),
            ("https://api.together.xyz/v1", "together_ai"),
            ("https://api.fireworks.ai/inference/v1", "fireworks_ai"),
            ("https://api.deepseek.com", "deepseek"),
            ("https://api.deepseek.com/v1", "deepseek"),
            ("https://api.x.ai/v1", "xai"),
            ("https://openrouter.ai/api/v1", "openrouter"),
            ("https://API.GROQ.COM:443/openai/v1", "groq"),
            ("https://user:pw@api.x.ai/v1", "xai"),
        ] {
            assert_eq!(provider_for_base_url(url), Some(provider), "{url}");
        }
    }

    #[test]
    fn self_hosted_and_lookalike_hosts_are_unknown() {
        for url in [
            "http://localhost:11434/v1",
            "http://127.0.0.1:8000/v1",
            "http://[::1]:8000/v1",
            "http://vllm.internal:8000/v1",
            "https://api.groq.com.evil.example/v1",
            "https://notopenrouter.ai/v1",
            "https://openai.azure.com.example/v1",
            "",
        ] {
            assert_eq!(provider_for_base_url(url), None, "{url}");
        }
    }
}
