//! The JS-SDK signature and the page URL it signs.
//!
//! WeChat's JS-SDK docs (appendix 1, "JS-SDK使用权限签名算法") define
//! `signature = hex(sha1("jsapi_ticket=…&noncestr=…&timestamp=…&url=…"))`: the four keys in
//! ASCII order, the values raw (no URL escaping), the URL without its `#` fragment. The URL must
//! be byte for byte what the page's `location.href.split('#')[0]` is, so it is never normalized
//! here (`url::Url` would, for example, turn `http://host?x` into `http://host/?x` and break
//! the signature); it is only checked.

use sha1::{Digest, Sha1};
use std::fmt::Write as _;

/// Longest page URL accepted for signing.
pub const MAX_PAGE_URL: usize = 4096;

/// The JS-SDK signature of `url` (its `#fragment`, if any, is dropped first).
pub fn sign(jsapi_ticket: &str, nonce_str: &str, timestamp: i64, url: &str) -> String {
    let url = without_fragment(url);
    let string1 = format!("jsapi_ticket={jsapi_ticket}&noncestr={nonce_str}&timestamp={timestamp}&url={url}");
    let digest = Sha1::digest(string1.as_bytes());
    let mut hex = String::with_capacity(40);
    for b in digest.iter() {
        write!(hex, "{b:02x}").expect("writing to a String cannot fail");
    }
    hex
}

fn without_fragment(url: &str) -> &str {
    url.split_once('#').map_or(url, |(page, _)| page)
}

/// A page URL that may be signed: an absolute `http(s)` URL with a host, at most
/// [`MAX_PAGE_URL`] bytes, without whitespace or control characters; its fragment is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageUrl(String);

/// Why a page URL cannot be signed (safe to show to the client).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PageUrlError(&'static str);

impl PageUrl {
    pub fn parse(raw: &str) -> Result<Self, PageUrlError> {
        if raw.len() > MAX_PAGE_URL {
            return Err(PageUrlError("url is longer than 4096 bytes."));
        }
        let page = without_fragment(raw);
        if page.is_empty() {
            return Err(PageUrlError("url must not be empty."));
        }
        if page.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(PageUrlError("url must not contain spaces or control characters."));
        }
        let parsed = url::Url::parse(page).map_err(|_| PageUrlError("url must be an absolute http(s) URL."))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
            return Err(PageUrlError("url must be an absolute http(s) URL."));
        }
        Ok(Self(page.to_owned()))
    }

    /// The URL as signed: as given, without its fragment.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A fresh random `nonceStr`: 16 letters and digits.
pub fn nonce() -> String {
    random_token(16)
}

pub(crate) fn random_token(len: usize) -> String {
    use rand::Rng;
    rand::rng().sample_iter(rand::distr::Alphanumeric).take(len).map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICKET: &str = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg";

    /// The worked example of WeChat's JS-SDK documentation, appendix 1.
    #[test]
    fn wechat_published_example() {
        let s = sign(TICKET, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value");
        assert_eq!(s, "0f9de62fce790f9a083d5c99e95740ceb90c27ed");
    }

    #[test]
    fn the_fragment_is_not_signed() {
        let plain = sign(TICKET, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value");
        let with = sign(TICKET, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value#/quiz?x=1");
        assert_eq!(plain, with);
        assert_ne!(plain, sign(TICKET, "Wm3WZYTPz0wzccnW", 1414587458, "http://mp.weixin.qq.com?params=value"));
    }

    #[test]
    fn page_urls() {
        let u = PageUrl::parse("https://baton.example/c/demo?from=r1#/q/3").unwrap();
        assert_eq!(u.as_str(), "https://baton.example/c/demo?from=r1");
        // Not normalized: this is the string the page signs with.
        assert_eq!(
            PageUrl::parse("http://mp.weixin.qq.com?params=value").unwrap().as_str(),
            "http://mp.weixin.qq.com?params=value"
        );
        for bad in ["", "#x", "/c/demo", "javascript:alert(1)", "ftp://x/y", "https://a b/", "https://x/\n", "http://"]
        {
            assert!(PageUrl::parse(bad).is_err(), "{bad:?}");
        }
        assert!(PageUrl::parse(&format!("https://x/{}", "a".repeat(MAX_PAGE_URL))).is_err());
    }

    #[test]
    fn nonces_are_fresh() {
        let (a, b) = (nonce(), nonce());
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
