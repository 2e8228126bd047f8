//! The campaign page and its share card.
//!
//! [`head_tags`] are what a link preview reads — `<title>`, `description`, Open Graph, the
//! Twitter card and the `itemprop` microdata WeChat's own preview reads — plus the campaign's
//! id (`<meta name="baton:campaign">`) and the invite code the visitor came with
//! (`<meta name="baton:invite-code">`). [`app_page`] puts them into the citizen web app's page
//! (what `GET /c/{campaign_id}` serves when the app was built); [`campaign_page`] is a small,
//! complete HTML5 page of its own with the same head and a readable Simplified Chinese body
//! (title, description, a note that the quiz needs JavaScript), for when it was not.
//!
//! [`card_image_svg`] draws the 500×400 share image: title, subtitle and a relay-baton motif,
//! made of shapes only.
//!
//! Every string that reaches the output is escaped (`escape`): titles and descriptions
//! come from organizers and the invite code from a URL, so all of them are treated as
//! hostile. [`campaign_page`] makes no request to another host (no CDN fonts or scripts) and
//! has no script at all. Its output is also well-formed XML (void elements are self-closed, only the five XML entities are
//! used), which the tests exploit to check its structure with an XML parser.
//!
//! The helpers shared with [`crate::poster`] (escaping, font stacks, line breaking and the
//! baton motif) live here as `pub(crate)` items.

use std::fmt::Write as _;

/// What the campaign page and its share card show. All text is plain text, never markup.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CardInfo {
    /// The campaign's title, e.g. `全民禁毒网络接力大赛`.
    pub title: String,
    /// One or two sentences about the campaign (line breaks are kept in the page body).
    pub description: String,
    /// The canonical absolute URL of this page (`og:url`, `<link rel="canonical">`).
    pub page_url: String,
    /// The absolute URL of the share image (`og:image`). Link previews, WeChat's included,
    /// want a PNG or JPEG here, at least 300×300.
    pub image_url: String,
    /// The invite (relay) code the visitor came with, as found in the URL: untrusted.
    pub invite_code: Option<String>,
    /// The campaign's id (`<meta name="baton:campaign">`: the web app's campaign at `/`).
    pub campaign_id: Option<String>,
}

/// Width of the share image drawn by [`card_image_svg`].
pub const CARD_IMAGE_WIDTH: u32 = 500;
/// Height of the share image drawn by [`card_image_svg`].
pub const CARD_IMAGE_HEIGHT: u32 = 400;

/// The campaign's deep green.
pub(crate) const GREEN: &str = "#0f5132";
/// A lighter green for decoration on the deep green.
pub(crate) const GREEN_MID: &str = "#198754";
/// A pale green for secondary text on the deep green.
pub(crate) const GREEN_PALE: &str = "#d1e7dd";
/// The warm accent (amber).
pub(crate) const ACCENT: &str = "#f0a30a";

/// Sans-serif font stack with the common Chinese system fonts (iOS/macOS, Windows,
/// Android/Linux); for use inside a double-quoted attribute.
pub(crate) const FONT_SANS: &str =
    "'PingFang SC','Hiragino Sans GB','Microsoft YaHei','Noto Sans CJK SC','Source Han Sans SC',sans-serif";

/// The campaign page for `c`: a complete HTML5 document, UTF-8, `lang="zh-CN"`.
pub fn campaign_page(c: &CardInfo) -> String {
    let title = escape(&one_line(&c.title));
    let body_description = escape(c.description.trim());

    let mut h = String::with_capacity(4096);
    h.push_str("<!DOCTYPE html>\n");
    h.push_str("<html lang=\"zh-CN\" itemscope=\"itemscope\" itemtype=\"https://schema.org/WebPage\">\n<head>\n");
    h.push_str("<meta charset=\"utf-8\" />\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1, viewport-fit=cover\" />\n");
    h.push_str("<meta name=\"format-detection\" content=\"telephone=no\" />\n");
    let _ = writeln!(h, "<meta name=\"theme-color\" content=\"{GREEN}\" />");
    h.push_str(&head_tags(c));
    let _ = writeln!(h, "<style>{PAGE_CSS}</style>");
    h.push_str("</head>\n<body>\n<main id=\"app\" class=\"shell\">\n");
    h.push_str("<p class=\"badge\">禁毒知识 · 网络接力</p>\n");
    let _ = writeln!(h, "<h1>{title}</h1>");
    if !body_description.is_empty() {
        let _ = writeln!(h, "<p class=\"desc\">{body_description}</p>");
    }
    h.push_str(
        "<p class=\"note\">答题页面正在加载……如果长时间没有反应，请确认浏览器已开启 JavaScript，\
         或在微信中重新打开本链接。</p>\n",
    );
    h.push_str(
        "<noscript><p class=\"note strong\">本次答题需要启用 JavaScript。\
         请在浏览器设置中开启后刷新本页。</p></noscript>\n",
    );
    h.push_str("<p class=\"foot\">珍爱生命 · 远离毒品</p>\n");
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

/// The `<head>` elements a link preview reads: `<title>`, `description`, the canonical URL,
/// Open Graph, the Twitter card, WeChat's `itemprop` microdata, and the invite code the visitor
/// came with (`<meta name="baton:invite-code">`) and the campaign's id (`baton:campaign`). One element per line, every value escaped.
pub fn head_tags(c: &CardInfo) -> String {
    let title = escape(&one_line(&c.title));
    let description = escape(&one_line(&c.description));
    let page_url = escape(c.page_url.trim());
    let image_url = escape(c.image_url.trim());
    let mut h = String::with_capacity(2048);
    let _ = writeln!(h, "<title>{title}</title>");
    let _ = writeln!(h, "<meta name=\"description\" content=\"{description}\" />");
    let _ = writeln!(h, "<link rel=\"canonical\" href=\"{page_url}\" />");
    // Open Graph.
    h.push_str("<meta property=\"og:type\" content=\"website\" />\n");
    h.push_str("<meta property=\"og:locale\" content=\"zh_CN\" />\n");
    let _ = writeln!(h, "<meta property=\"og:title\" content=\"{title}\" />");
    let _ = writeln!(h, "<meta property=\"og:description\" content=\"{description}\" />");
    let _ = writeln!(h, "<meta property=\"og:url\" content=\"{page_url}\" />");
    let _ = writeln!(h, "<meta property=\"og:image\" content=\"{image_url}\" />");
    let _ = writeln!(h, "<meta property=\"og:image:alt\" content=\"{title}\" />");
    // Twitter card.
    h.push_str("<meta name=\"twitter:card\" content=\"summary_large_image\" />\n");
    let _ = writeln!(h, "<meta name=\"twitter:title\" content=\"{title}\" />");
    let _ = writeln!(h, "<meta name=\"twitter:description\" content=\"{description}\" />");
    let _ = writeln!(h, "<meta name=\"twitter:image\" content=\"{image_url}\" />");
    // Microdata, as WeChat's link preview reads it.
    let _ = writeln!(h, "<meta itemprop=\"name\" content=\"{title}\" />");
    let _ = writeln!(h, "<meta itemprop=\"description\" content=\"{description}\" />");
    let _ = writeln!(h, "<meta itemprop=\"image\" content=\"{image_url}\" />");
    if let Some(id) = c.campaign_id.as_deref() {
        let _ = writeln!(h, "<meta name=\"baton:campaign\" content=\"{}\" />", escape(id));
    }
    if let Some(code) = c.invite_code.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let _ = writeln!(h, "<meta name=\"baton:invite-code\" content=\"{}\" />", escape(code));
    }
    h
}

/// The web app's page shell (its built `index.html`) carrying the card's [`head_tags`]: they
/// replace the shell's own `<title>`, or go before `</head>` when it has none. The shell is
/// trusted (it is built with the server); only the card's values are escaped.
pub fn app_page(shell: &str, c: &CardInfo) -> String {
    let tags = head_tags(c);
    let mut out = String::with_capacity(shell.len() + tags.len());
    if let (Some(a), Some(b)) = (shell.find("<title>"), shell.find("</title>"))
        && a < b
    {
        out.push_str(&shell[..a]);
        out.push_str(tags.trim_end());
        out.push_str(&shell[b + "</title>".len()..]);
        return out;
    }
    match shell.find("</head>") {
        Some(at) => {
            out.push_str(&shell[..at]);
            out.push_str(&tags);
            out.push_str(&shell[at..]);
        }
        None => {
            out.push_str(&tags);
            out.push_str(shell);
        }
    }
    out
}

/// Styles of the fallback body: system fonts only, readable on a small phone.
/// (No `<` or `&` in here, so the page stays well-formed XML.)
const PAGE_CSS: &str = "html{-webkit-text-size-adjust:100%;text-size-adjust:100%}\
body{margin:0;background:#f6f3ec;color:#1f2d27;\
font-family:-apple-system,'PingFang SC','Hiragino Sans GB','Microsoft YaHei','Noto Sans CJK SC',sans-serif;\
line-height:1.7}\
.shell{max-width:34rem;margin:0 auto;padding:2.5rem 1.25rem 2rem;box-sizing:border-box}\
.badge{display:inline-block;margin:0;padding:.2rem .8rem;border-radius:1rem;background:#0f5132;color:#fff;\
font-size:.85rem;letter-spacing:.1em}\
h1{margin:1rem 0 .75rem;color:#0f5132;font-size:1.6rem;line-height:1.35;overflow-wrap:anywhere}\
.desc{margin:0 0 1.25rem;font-size:1.05rem;white-space:pre-line;overflow-wrap:anywhere}\
.note{margin:0 0 1rem;padding:.75rem 1rem;border-left:4px solid #f0a30a;background:#fff;border-radius:.25rem;\
color:#4a5a53;font-size:.95rem}\
.strong{color:#842029}\
.foot{margin-top:2rem;color:#0f5132;font-size:.9rem;letter-spacing:.2em;text-align:center}";

/// A 500×400 share image as an SVG document: `title` in large type, `subtitle` under it,
/// and a relay-baton motif. Long texts are wrapped (two lines each) and shortened with `…`.
pub fn card_image_svg(title: &str, subtitle: &str) -> String {
    let (w, h) = (CARD_IMAGE_WIDTH, CARD_IMAGE_HEIGHT);
    let mut s = String::with_capacity(4096);
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{label}\">",
        label = escape(&one_line(title)),
    );
    let _ = write!(s, "<title>{}</title>", escape(&one_line(title)));
    // Background: deep green, with two soft rings and a running track along the bottom.
    let _ = write!(s, "<rect width=\"{w}\" height=\"{h}\" fill=\"{GREEN}\"/>");
    let _ = write!(
        s,
        "<circle cx=\"470\" cy=\"40\" r=\"150\" fill=\"none\" stroke=\"{GREEN_MID}\" stroke-width=\"28\" \
         opacity=\"0.45\"/>\
         <circle cx=\"470\" cy=\"40\" r=\"92\" fill=\"none\" stroke=\"{GREEN_MID}\" stroke-width=\"10\" \
         opacity=\"0.35\"/>"
    );
    let _ = write!(
        s,
        "<path d=\"M0 352 Q250 300 500 338 L500 400 L0 400 Z\" fill=\"#0b3d26\"/>\
         <path d=\"M0 352 Q250 300 500 338\" fill=\"none\" stroke=\"#ffffff\" stroke-width=\"2\" \
         stroke-dasharray=\"14 10\" opacity=\"0.5\"/>"
    );
    // Accent bar and texts.
    let _ = write!(s, "<rect x=\"48\" y=\"58\" width=\"56\" height=\"6\" rx=\"3\" fill=\"{ACCENT}\"/>");
    // The largest size at which the title fits one line, else two lines at 40 px.
    let title = one_line(title);
    let (title_px, title_lines) = [44.0, 40.0, 36.0]
        .into_iter()
        .map(|px| (px, wrap_lines(&title, 404.0, px, 1)))
        .find(|(px, l)| l.len() == 1 && text_width(&l[0], *px) <= 404.0 && !l[0].ends_with('…'))
        .unwrap_or_else(|| (40.0, wrap_lines(&title, 404.0, 40.0, 2)));
    let mut y = 128.0;
    let _ = write!(s, "<g font-family=\"{FONT_SANS}\" fill=\"#ffffff\">");
    for line in &title_lines {
        let _ = write!(
            s,
            "<text x=\"48\" y=\"{}\" font-size=\"{}\" font-weight=\"700\">{}</text>",
            num(y),
            num(title_px),
            escape(line)
        );
        y += title_px * 1.32;
    }
    y += 4.0;
    for line in wrap_lines(&one_line(subtitle), 300.0, 22.0, 2) {
        let _ = write!(
            s,
            "<text x=\"48\" y=\"{}\" font-size=\"22\" fill=\"{GREEN_PALE}\">{}</text>",
            num(y),
            escape(&line)
        );
        y += 32.0;
    }
    s.push_str("</g>");
    // The baton, passed on: lower right, above the track.
    s.push_str(&baton_motif(418.0, 288.0, 1.0));
    s.push_str("</svg>\n");
    s
}

/// A relay baton in flight (a striped amber tube with speed lines trailing to its left),
/// centred on (`cx`, `cy`), about 170×90 at `scale` 1. Shapes only, no text.
pub(crate) fn baton_motif(cx: f64, cy: f64, scale: f64) -> String {
    let mut s = String::with_capacity(1024);
    let _ = write!(s, "<g transform=\"translate({} {}) scale({})\">", num(cx), num(cy), num(scale));
    // Speed lines.
    for (i, (x, y, len)) in [(-96.0, -16.0, 46.0), (-110.0, 4.0, 60.0), (-92.0, 24.0, 40.0)].iter().enumerate() {
        let opacity = ["0.9", "0.7", "0.5"][i];
        let _ = write!(
            s,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{ACCENT}\" stroke-width=\"6\" \
             stroke-linecap=\"round\" opacity=\"{opacity}\"/>",
            num(*x),
            num(*y),
            num(x + len),
            num(*y)
        );
    }
    // The tube, tilted upwards in the direction of the run.
    s.push_str("<g transform=\"rotate(-24)\">");
    let _ = write!(s, "<rect x=\"-50\" y=\"-15\" width=\"112\" height=\"30\" rx=\"15\" fill=\"{ACCENT}\"/>");
    s.push_str("<rect x=\"-50\" y=\"-15\" width=\"112\" height=\"11\" rx=\"5.5\" fill=\"#ffffff\" opacity=\"0.28\"/>");
    for x in [-20.0, 6.0, 32.0] {
        let _ =
            write!(s, "<rect x=\"{}\" y=\"-15\" width=\"8\" height=\"30\" fill=\"#ffffff\" opacity=\"0.9\"/>", num(x));
    }
    s.push_str("<rect x=\"-50\" y=\"-15\" width=\"112\" height=\"30\" rx=\"15\" fill=\"none\" stroke=\"#b36b00\" stroke-width=\"2\"/>");
    s.push_str("</g></g>");
    s
}

/// Escapes `s` for XML/HTML text and double- or single-quoted attribute values, and drops
/// the characters that are not allowed (or are parse errors) in XML 1.0 or HTML: control
/// characters other than tab, line feed and carriage return, and Unicode noncharacters.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_unsafe_char(c) => {}
            c => out.push(c),
        }
    }
    out
}

fn is_unsafe_char(c: char) -> bool {
    let u = c as u32;
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || (0xFDD0..=0xFDEF).contains(&u) || (u & 0xFFFE) == 0xFFFE
}

/// `s` on one line: runs of whitespace (line breaks included) become one space, trimmed.
/// Characters that [`escape`] drops are dropped first, so they leave no stray space behind.
pub(crate) fn one_line(s: &str) -> String {
    let clean: String = s.chars().filter(|c| !is_unsafe_char(*c)).collect();
    clean.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Formats a coordinate: integers without a decimal point, others with at most 3 decimals.
pub(crate) fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e9 {
        format!("{}", v as i64)
    } else {
        let t = format!("{v:.3}");
        t.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Estimated advance of `c` in em. Wide (CJK, kana, Hangul, full-width, emoji) and any other
/// non-ASCII character count as 1 em, which errs on the wide side; ASCII by rough class.
pub(crate) fn char_em(c: char) -> f64 {
    match c {
        ' ' => 0.3,
        'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '!' | '\'' | '|' | '`' => 0.32,
        'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '{' | '}' | '-' | '"' | '/' | '\\' => 0.42,
        'm' | 'w' | 'M' | 'W' | '@' => 0.9,
        'A'..='Z' | '0'..='9' | '#' | '%' | '&' | '+' | '=' | '<' | '>' | '?' | '~' | '_' | '$' => 0.66,
        c if c.is_ascii() => 0.56,
        _ => 1.0,
    }
}

/// Estimated width of `s` in pixels at `font_px`.
pub(crate) fn text_width(s: &str, font_px: f64) -> f64 {
    s.chars().map(char_em).sum::<f64>() * font_px
}

/// Characters that may not start a line in Chinese typesetting; they stay on the line before.
fn is_closing_punct(c: char) -> bool {
    "，。、；：！？）」』》〉】”’…,.;:!?)]}%".contains(c)
}

/// Breaks one-line text into at most `max_lines` lines no wider than `max_px` (estimated) at
/// `font_px`. CJK text breaks between any two characters (closing punctuation is kept with
/// the character before it); Latin words break at spaces where they can. Text that does not
/// fit is shortened with `…`.
pub(crate) fn wrap_lines(text: &str, max_px: f64, font_px: f64, max_lines: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut lines: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() && lines.len() < max_lines {
        while i < chars.len() && chars[i] == ' ' {
            i += 1;
        }
        let start = i;
        let mut width = 0.0;
        while i < chars.len() {
            let w = char_em(chars[i]) * font_px;
            // Closing punctuation may hang past the line's end rather than start the next line.
            if width + w > max_px && i > start && !is_closing_punct(chars[i]) {
                break;
            }
            width += w;
            i += 1;
        }
        let mut end = i;
        // Inside a Latin word: go back to the last space of the line, if there is one.
        if i < chars.len()
            && is_word_char(chars[i])
            && is_word_char(chars[i - 1])
            && let Some(sp) = (start + 1..i).rev().find(|&k| chars[k] == ' ')
        {
            end = sp;
            i = sp + 1;
        }
        let line: String = chars[start..end].iter().collect();
        lines.push(line.trim_end().to_owned());
    }
    if i < chars.len()
        && chars[i..].iter().any(|c| *c != ' ')
        && let Some(last) = lines.last_mut()
    {
        *last = ellipsize(last, max_px, font_px);
    }
    lines.retain(|l| !l.is_empty());
    lines
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '\'' | '.' | '@')
}

/// `line` with `…` appended, dropping characters from its end until it fits `max_px`.
fn ellipsize(line: &str, max_px: f64, font_px: f64) -> String {
    let mut chars: Vec<char> = line.trim_end().chars().collect();
    while !chars.is_empty() && text_width(&chars.iter().collect::<String>(), font_px) + font_px > max_px {
        chars.pop();
    }
    while chars.last().is_some_and(|c| *c == ' ' || is_closing_punct(*c)) {
        chars.pop();
    }
    let mut out: String = chars.into_iter().collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "\"><script>alert(1)</script>";

    fn info() -> CardInfo {
        CardInfo {
            title: "全民禁毒网络接力大赛".into(),
            description: "答禁毒知识题，传递接力棒。\n十天，全城一起。".into(),
            page_url: "https://baton.example.cn/c/demo".into(),
            image_url: "https://baton.example.cn/c/demo/card.png".into(),
            invite_code: Some("7k3mz9qx2p".into()),
            campaign_id: Some("demo".into()),
        }
    }

    fn hostile() -> CardInfo {
        let h = format!("{HOSTILE} & ' ]]> <!-- \u{0}\u{1b}x");
        CardInfo {
            title: h.clone(),
            description: h.clone(),
            page_url: format!("javascript:{h}"),
            image_url: h.clone(),
            invite_code: Some(h.clone()),
            campaign_id: Some(h),
        }
    }

    /// The page is well-formed XML by construction: parse it and index its elements.
    fn parse(html: &str) -> roxmltree::Document<'_> {
        let opts = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
        roxmltree::Document::parse_with_options(html, opts).expect("page parses as XML")
    }

    fn meta<'a>(doc: &'a roxmltree::Document<'a>, attr: &str, name: &str) -> Vec<&'a str> {
        doc.descendants()
            .filter(|n| n.has_tag_name("meta") && n.attribute(attr) == Some(name))
            .map(|n| n.attribute("content").unwrap_or(""))
            .collect()
    }

    #[test]
    fn page_has_every_preview_field() {
        let html = campaign_page(&info());
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"zh-CN\""));
        let doc = parse(&html);
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "html");
        assert_eq!(root.attribute("lang"), Some("zh-CN"));
        assert!(doc.descendants().any(|n| n.has_tag_name("meta") && n.attribute("charset") == Some("utf-8")));
        assert_eq!(meta(&doc, "name", "viewport").len(), 1);
        let title = doc.descendants().find(|n| n.has_tag_name("title")).unwrap();
        assert_eq!(title.text(), Some("全民禁毒网络接力大赛"));
        let one = "答禁毒知识题，传递接力棒。 十天，全城一起。";
        assert_eq!(meta(&doc, "name", "description"), [one]);
        for (attr, name, want) in [
            ("property", "og:title", "全民禁毒网络接力大赛"),
            ("property", "og:description", one),
            ("property", "og:image", "https://baton.example.cn/c/demo/card.png"),
            ("property", "og:url", "https://baton.example.cn/c/demo"),
            ("property", "og:type", "website"),
            ("name", "twitter:card", "summary_large_image"),
            ("name", "twitter:title", "全民禁毒网络接力大赛"),
            ("name", "twitter:description", one),
            ("name", "twitter:image", "https://baton.example.cn/c/demo/card.png"),
            ("itemprop", "name", "全民禁毒网络接力大赛"),
            ("itemprop", "description", one),
            ("itemprop", "image", "https://baton.example.cn/c/demo/card.png"),
            ("name", "baton:invite-code", "7k3mz9qx2p"),
            ("name", "baton:campaign", "demo"),
        ] {
            assert_eq!(meta(&doc, attr, name), [want], "{attr}={name}");
        }
        // No script: the page stands alone (the web app's page is `app_page`).
        assert!(!doc.descendants().any(|n| n.has_tag_name("script")));
        // Fallback body in Chinese: title, description (line break kept), JavaScript note.
        let body = doc.descendants().find(|n| n.has_tag_name("body")).unwrap();
        let text: String = body.descendants().filter_map(|n| n.text()).collect();
        assert!(text.contains("全民禁毒网络接力大赛"));
        assert!(text.contains("答禁毒知识题，传递接力棒。\n十天，全城一起。"));
        assert!(text.contains("JavaScript"));
        assert!(doc.descendants().any(|n| n.has_tag_name("noscript")));
    }

    #[test]
    fn page_without_invite_or_campaign() {
        let c = CardInfo { invite_code: None, campaign_id: None, ..info() };
        let html = campaign_page(&c);
        let doc = parse(&html);
        assert!(meta(&doc, "name", "baton:invite-code").is_empty());
        assert!(meta(&doc, "name", "baton:campaign").is_empty());
        // A blank invite code is no invite code.
        let c = CardInfo { invite_code: Some("  ".into()), ..info() };
        assert!(!campaign_page(&c).contains("baton:invite-code"));
    }

    #[test]
    fn page_makes_no_external_requests() {
        let html = campaign_page(&info());
        let doc = parse(&html);
        for n in doc.descendants().filter(|n| n.is_element()) {
            for a in ["src", "href"] {
                if let Some(v) = n.attribute(a) {
                    // Only the canonical link names an absolute URL, and it loads nothing.
                    let is_canonical = n.attribute("rel") == Some("canonical");
                    assert!(is_canonical || v.starts_with('/'), "{} {a}={v}", n.tag_name().name());
                }
            }
        }
        assert!(!html.contains("@import") && !html.contains("url("));
    }

    #[test]
    fn hostile_text_is_inert() {
        let c = hostile();
        let html = campaign_page(&c);
        // The markup the attacker wrote never appears as markup...
        assert!(!html.contains("<script>"));
        assert!(!html.contains("\"><script>alert"));
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<!--"));
        assert!(!html.contains("]]>"));
        assert!(!html.contains('\u{0}') && !html.contains('\u{1b}'));
        // ...only as text: every value reads back exactly as given (minus control characters).
        let doc = parse(&html);
        let clean = format!("{HOSTILE} & ' ]]> <!-- x");
        let title = doc.descendants().find(|n| n.has_tag_name("title")).unwrap();
        assert_eq!(title.text(), Some(clean.as_str()));
        assert_eq!(meta(&doc, "name", "baton:invite-code"), [clean.as_str()]);
        assert_eq!(meta(&doc, "property", "og:title"), [clean.as_str()]);
        assert_eq!(meta(&doc, "itemprop", "image"), [clean.as_str()]);
        assert_eq!(meta(&doc, "name", "baton:campaign"), [clean.as_str()]);
        // No script element, and no element came in.
        assert_eq!(doc.descendants().filter(|n| n.has_tag_name("script")).count(), 0);
        let tags: Vec<&str> = doc.descendants().filter(|n| n.is_element()).map(|n| n.tag_name().name()).collect();
        let known = ["html", "head", "meta", "title", "link", "style", "body", "main", "p", "h1", "noscript"];
        assert!(tags.iter().all(|t| known.contains(t)), "{tags:?}");
        // Every attribute stays inside its quotes: no event handler attributes appeared.
        assert!(doc.descendants().flat_map(|n| n.attributes()).all(|a| !a.name().starts_with("on")));
    }

    #[test]
    fn page_is_deterministic_and_small() {
        assert_eq!(campaign_page(&info()), campaign_page(&info()));
        assert!(campaign_page(&info()).len() < 6 * 1024);
    }

    #[test]
    fn card_image_is_an_escaped_svg() {
        let svg = card_image_svg("全民禁毒网络接力大赛", "答题 · 学习 · 接力");
        let doc = roxmltree::Document::parse(&svg).expect("svg parses");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.attribute("width"), Some("500"));
        assert_eq!(root.attribute("height"), Some("400"));
        assert_eq!(root.attribute("viewBox"), Some("0 0 500 400"));
        let text: Vec<&str> = doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text()).collect();
        assert!(text.contains(&"全民禁毒网络接力大赛"));
        assert!(text.contains(&"答题 · 学习 · 接力"));
        assert!(svg.contains("PingFang SC") && svg.contains("Microsoft YaHei") && svg.contains("Noto Sans CJK SC"));
        assert!(!svg.contains("href") && !svg.contains("@import") && !svg.contains("<image"));
        assert_eq!(svg, card_image_svg("全民禁毒网络接力大赛", "答题 · 学习 · 接力"));

        let bad = "<b>&\"'</b> ]]> \u{7}";
        let svg = card_image_svg(bad, bad);
        let doc = roxmltree::Document::parse(&svg).expect("hostile svg parses");
        assert!(!svg.contains("<b>") && !svg.contains("]]>"));
        let texts: Vec<&str> = doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text()).collect();
        assert!(texts.contains(&"<b>&\"'</b> ]]>"), "{texts:?}");
        assert!(doc.descendants().all(|n| !n.has_tag_name("b")));
    }

    #[test]
    fn long_titles_wrap_and_shorten() {
        let long = "全民禁毒网络接力大赛暨第二十届青少年禁毒知识竞赛线上答题活动正式开始啦";
        let lines = wrap_lines(long, 404.0, 44.0, 2);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with('…'));
        for l in &lines {
            assert!(text_width(l, 44.0) <= 404.0, "{l}");
        }
        // Short text: one line, untouched.
        assert_eq!(wrap_lines("禁毒知识", 404.0, 44.0, 2), ["禁毒知识"]);
        // Closing punctuation never starts a line.
        let lines = wrap_lines("一二三四五，六七八九十", 5.0 * 20.0, 20.0, 3);
        assert_eq!(lines, ["一二三四五，", "六七八九十"]);
        // Latin words break at spaces.
        let lines = wrap_lines("Say no to drugs together", 10.0 * 20.0, 20.0, 3);
        assert!(lines.iter().all(|l| !l.starts_with(' ') && !l.ends_with(' ')), "{lines:?}");
        assert_eq!(lines.join(" "), "Say no to drugs together");
        assert!(wrap_lines("", 100.0, 20.0, 2).is_empty());
    }

    #[test]
    fn app_page_carries_the_card_in_the_shell() {
        let shell = "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\" />\n\
                     <title>app</title>\n<script>var x = 1;</script>\n\
                     <script type=\"module\" src=\"/assets/index-1.js\"></script>\n</head>\n<body><div id=\"app\"></div></body></html>\n";
        let page = app_page(shell, &info());
        assert_eq!(page.matches("<title>").count(), 1);
        assert!(page.contains("<title>全民禁毒网络接力大赛</title>"));
        assert!(!page.contains("<title>app</title>"));
        assert!(page.contains("<meta name=\"baton:invite-code\" content=\"7k3mz9qx2p\" />"));
        // The shell's own scripts and body are kept as they were.
        assert!(page.contains("<script>var x = 1;</script>") && page.contains("src=\"/assets/index-1.js\""));
        assert!(page.ends_with("<body><div id=\"app\"></div></body></html>\n"));
        let head = &page[..page.find("</head>").unwrap()];
        assert!(head.contains("property=\"og:image\" content=\"https://baton.example.cn/c/demo/card.png\""));

        // Hostile card values stay inert in the shell too.
        let bad = app_page(shell, &hostile());
        assert!(!bad.contains("<script>alert(1)</script>"), "{bad}");
        assert_eq!(bad.matches("<script").count(), 2, "only the shell's scripts");

        // A shell without a title gets the tags before </head>; one without a head, first.
        let untitled = app_page("<html><head></head><body></body></html>", &info());
        assert!(untitled.find("<title>").unwrap() < untitled.find("</head>").unwrap());
        assert!(app_page("<p>x</p>", &info()).starts_with("<title>"));
    }

    #[test]
    fn escaping() {
        assert_eq!(escape("a<b>&\"'c"), "a&lt;b&gt;&amp;&quot;&#39;c");
        assert_eq!(escape("x\u{0}\u{8}\u{b}\u{7f}\u{85}\u{fffe}\u{fdd0}\u{1ffff}y\t\n"), "xy\t\n");
        assert_eq!(escape("禁毒 ✓ 😀"), "禁毒 ✓ 😀");
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.5), "12.5");
        assert_eq!(num(1.0 / 3.0), "0.333");
        assert_eq!(num(-4.0), "-4");
    }
}
