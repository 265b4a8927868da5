//! Keeping credentials out of what costline prints: settings, logs, errors
//! and `Debug` output. A collector's base URL may carry a user and password
//! (`https://user:pass@host`) or a key in its query (`?token=...`); both are
//! replaced by `***` wherever the URL is shown.

/// What a secret is replaced by.
pub const MASK: &str = "***";

/// Query parameters whose values are credentials (compared case-insensitively,
/// also as a suffix: `x-api-key`, `access_token`).
const SECRET_PARAMS: [&str; 8] = ["key", "token", "secret", "password", "passwd", "signature", "sig", "auth"];

/// `url` with its userinfo and credential-like query values masked. Works on
/// strings that are not valid URLs too (an invalid base URL is printed in the
/// error that rejects it).
pub fn mask_url(url: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut masked = mask_userinfo(before_query);
    if let Some(query) = query {
        let (query, fragment) = match query.split_once('#') {
            Some((q, f)) => (q, Some(f)),
            None => (query, None),
        };
        masked.push('?');
        let params: Vec<String> = query.split('&').map(mask_param).collect();
        masked.push_str(&params.join("&"));
        if let Some(fragment) = fragment {
            masked.push('#');
            masked.push_str(fragment);
        }
    }
    masked
}

/// `scheme://user:pass@host/...` → `scheme://***@host/...`.
fn mask_userinfo(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => (&url[..i + 3], &url[i + 3..]),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rfind('@') {
        Some(at) => format!("{scheme}{MASK}@{}{path}", &authority[at + 1..]),
        None => url.to_string(),
    }
}

fn mask_param(param: &str) -> String {
    match param.split_once('=') {
        Some((name, value)) if !value.is_empty() && is_secret_name(name) => format!("{name}={MASK}"),
        _ => param.to_string(),
    }
}

fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|secret| name == *secret || name.ends_with(&format!("_{secret}")))
        || SECRET_PARAMS.iter().any(|secret| name.ends_with(&format!("-{secret}")))
        || name.ends_with("apikey")
}

/// An optional secret as it may be shown: `***` when set.
pub fn mask_key(key: Option<&str>) -> Option<&'static str> {
    key.map(|_| MASK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_masked() {
        assert_eq!(
            mask_url("https://alice:s3cret@collector.example/base"),
            "https://***@collector.example/base"
        );
        assert_eq!(mask_url("http://tok@127.0.0.1:8080"), "http://***@127.0.0.1:8080");
    }

    #[test]
    fn credential_query_values_are_masked_and_others_kept() {
        assert_eq!(
            mask_url("https://c.example/v?api_key=abc&region=eu&token=xyz&X-Api-Key=k#frag"),
            "https://c.example/v?api_key=***&region=eu&token=***&X-Api-Key=***#frag"
        );
        assert_eq!(
            mask_url("https://c.example/v?apikey=abc&monkey=1"),
            "https://c.example/v?apikey=***&monkey=1"
        );
    }

    #[test]
    fn urls_without_credentials_are_unchanged() {
        for url in ["https://c.example", "http://127.0.0.1:9/base/", "not a url", "https://c.example/a@b"] {
            assert_eq!(mask_url(url), url);
        }
    }

    #[test]
    fn invalid_urls_with_credentials_are_masked_too() {
        assert_eq!(mask_url("ftp://u:p@host"), "ftp://***@host");
        assert_eq!(mask_url("u:p@host?key=1"), "***@host?key=***");
    }
}
