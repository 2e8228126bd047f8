//! Silent sign-in with `snsapi_base`: WeChat sends the browser back with a single-use `code`
//! (valid 5 minutes) without asking the user anything; the server trades it for the user's
//! openid ([`crate::WeChat::openid_for_code`]).

use url::form_urlencoded::byte_serialize;

/// WeChat's authorize endpoint (on `open.weixin.qq.com`, not the API host).
pub const AUTHORIZE_URL: &str = "https://open.weixin.qq.com/connect/oauth2/authorize";

/// Longest code accepted.
pub const MAX_CODE_LEN: usize = 128;

/// Errcodes of the code exchange that mean the code is no good: invalid (40029), already used
/// (40163), expired (42003).
pub const CODE_REJECTED: [i64; 3] = [40029, 40163, 42003];

/// `https://open.weixin.qq.com/connect/oauth2/authorize?appid=…&redirect_uri=…&response_type=code&scope=snsapi_base&state=…#wechat_redirect`.
///
/// WeChat matches this URL strictly: the parameters stay in this order and the fragment is
/// required. `redirect_uri` and `state` are URL-encoded (as PHP's `urlencode`, which WeChat's
/// documentation uses); WeChat accepts a `state` of at most 128 letters and digits.
pub fn authorize_url(app_id: &str, redirect_uri: &str, state: &str) -> String {
    let enc = |s: &str| byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "{AUTHORIZE_URL}?appid={}&redirect_uri={}&response_type=code&scope=snsapi_base&state={}#wechat_redirect",
        enc(app_id),
        enc(redirect_uri),
        enc(state)
    )
}

/// Whether `code` looks like a code WeChat could have issued: 1 to [`MAX_CODE_LEN`] printable
/// ASCII characters, no spaces.
pub fn code_shape_ok(code: &str) -> bool {
    !code.is_empty() && code.len() <= MAX_CODE_LEN && code.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorize_url_is_wechats_shape() {
        let u = authorize_url("wx0123456789abcdef", "https://baton.example/c/demo?from=r1&x=a b", "s123");
        assert_eq!(
            u,
            "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx0123456789abcdef\
             &redirect_uri=https%3A%2F%2Fbaton.example%2Fc%2Fdemo%3Ffrom%3Dr1%26x%3Da+b\
             &response_type=code&scope=snsapi_base&state=s123#wechat_redirect"
        );
    }

    #[test]
    fn code_shapes() {
        assert!(code_shape_ok("061Abc2w3wTgIb0YmI2w3QzDAr1Abc2c"));
        assert!(code_shape_ok(&"a".repeat(MAX_CODE_LEN)));
        for bad in ["", " ", "a b", "код", "a\n", "\u{7f}"] {
            assert!(!code_shape_ok(bad), "{bad:?}");
        }
        assert!(!code_shape_ok(&"a".repeat(MAX_CODE_LEN + 1)));
    }
}
