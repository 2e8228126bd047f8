//! The share poster: a 750×1334 (phone portrait) SVG a participant saves or screenshots and
//! posts when WeChat's custom share card does not show.
//!
//! It shows the campaign title, the participant's nickname and a line of invitation, a QR
//! code of the participant's share link with "长按识别二维码，参加接力" under it, and the
//! relay code in large characters for anyone who cannot scan. The QR code is made by the
//! `qrcode` crate's SVG renderer (error correction level M, dark modules on white) and placed
//! with a four-module quiet zone at a whole number of pixels per module whenever that still
//! gives at least [`QR_MIN_PX`] pixels, so it stays sharp and scannable from a phone screen.
//!
//! All text is escaped (see [`crate::card`]); the output depends only on the input, so the
//! same input always gives the same bytes (cacheable, testable). Like the share card, it uses
//! no external fonts or images: system Chinese fonts are named in the font stack.
//!
//! Link previews, and WeChat's "识别图中二维码", need a raster image: to hand the poster out
//! as a PNG, render it on the server (e.g. with `resvg`) or in the page (draw it on a
//! `<canvas>` and use `toDataURL`).

use crate::card::{ACCENT, FONT_SANS, GREEN, GREEN_MID, baton_motif, escape, num, one_line, wrap_lines};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use std::fmt::Write as _;

/// What the poster shows. All text is plain text, never markup.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PosterInfo {
    /// The campaign's title.
    pub campaign_title: String,
    /// The participant's nickname (may be empty).
    pub nickname: String,
    /// The participant's share link, encoded in the QR code.
    pub share_url: String,
    /// The participant's relay code, printed in large characters.
    pub relay_code: String,
    /// The invitation, e.g. [`DEFAULT_LINE`] (used when this is blank).
    pub line: String,
}

/// The poster's width in pixels.
pub const POSTER_WIDTH: u32 = 750;
/// The poster's height in pixels.
pub const POSTER_HEIGHT: u32 = 1334;
/// The invitation shown when [`PosterInfo::line`] is blank.
pub const DEFAULT_LINE: &str = "我已完成禁毒知识答题，邀你一起接力！";
/// The caption under the QR code.
pub const SCAN_HINT: &str = "长按识别二维码，参加接力";
/// The smallest side of the QR code on the poster, quiet zone included, in pixels.
pub const QR_MIN_PX: u32 = 320;
/// Modules of quiet zone on each side of the QR code.
pub const QR_QUIET_ZONE: u32 = 4;

/// The square reserved for the QR code (the code is centred in it): left, top and side.
const QR_SLOT: (u32, u32, u32) = (175, 622, 400);
/// Colour of the QR code's dark modules: an almost black green, contrast above 14:1 on white.
const QR_DARK: &str = "#08281a";

/// Monospaced font stack for the relay code, for use inside a double-quoted attribute.
const FONT_MONO: &str = "'SF Mono',Menlo,Consolas,'Roboto Mono','Noto Sans Mono','DejaVu Sans Mono',monospace";

/// The poster for `p` as an SVG document (750×1334).
///
/// A share link too long for any QR code (over about 2,300 bytes) gets a note in the code's
/// place instead; the relay code is still printed.
pub fn poster_svg(p: &PosterInfo) -> String {
    let (w, h) = (POSTER_WIDTH, POSTER_HEIGHT);
    let title = one_line(&p.campaign_title);
    let nickname = one_line(&p.nickname);
    let line = match one_line(&p.line) {
        l if l.is_empty() => DEFAULT_LINE.to_owned(),
        l => l,
    };

    let mut s = String::with_capacity(24 * 1024);
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\">",
        escape(&title)
    );
    let _ = write!(s, "<title>{}</title>", escape(&title));

    // Background, and the green header with a soft curve at its foot.
    let _ = write!(s, "<rect width=\"{w}\" height=\"{h}\" fill=\"#f6f3ec\"/>");
    let _ = write!(s, "<path d=\"M0 0H750V468Q375 548 0 468Z\" fill=\"{GREEN}\"/>");
    let _ = write!(
        s,
        "<circle cx=\"700\" cy=\"40\" r=\"190\" fill=\"none\" stroke=\"{GREEN_MID}\" stroke-width=\"34\" \
         opacity=\"0.4\"/>\
         <circle cx=\"700\" cy=\"40\" r=\"118\" fill=\"none\" stroke=\"{GREEN_MID}\" stroke-width=\"12\" \
         opacity=\"0.3\"/>\
         <circle cx=\"30\" cy=\"330\" r=\"90\" fill=\"none\" stroke=\"{GREEN_MID}\" stroke-width=\"14\" \
         opacity=\"0.25\"/>"
    );

    let _ = write!(s, "<g font-family=\"{FONT_SANS}\" text-anchor=\"middle\">");
    // Badge.
    let _ = write!(
        s,
        "<rect x=\"235\" y=\"70\" width=\"280\" height=\"46\" rx=\"23\" fill=\"{ACCENT}\"/>\
         <text x=\"375\" y=\"102\" font-size=\"24\" font-weight=\"700\" fill=\"{GREEN}\" \
         letter-spacing=\"2\">禁毒知识 · 网络接力</text>"
    );
    // Campaign title: one or two lines.
    let title_lines = wrap_lines(&title, 622.0, 54.0, 2);
    let mut y = if title_lines.len() > 1 { 200.0 } else { 232.0 };
    for l in &title_lines {
        let _ = write!(
            s,
            "<text x=\"375\" y=\"{}\" font-size=\"54\" font-weight=\"700\" fill=\"#ffffff\">{}</text>",
            num(y),
            escape(l)
        );
        y += 70.0;
    }
    s.push_str("</g>");
    s.push_str(&baton_motif(604.0, 330.0, 0.72));

    // The card: a soft shadow, then white; ticket notches at the divider.
    s.push_str("<rect x=\"40\" y=\"408\" width=\"670\" height=\"860\" rx=\"32\" fill=\"#0f5132\" opacity=\"0.08\"/>");
    s.push_str("<rect x=\"40\" y=\"400\" width=\"670\" height=\"860\" rx=\"32\" fill=\"#ffffff\"/>");

    // Avatar: the nickname's first character on an amber disc straddling the card's edge.
    let initial = nickname.chars().next().map(|c| c.to_uppercase().collect::<String>()).unwrap_or_else(|| "接".into());
    let _ = write!(
        s,
        "<circle cx=\"375\" cy=\"400\" r=\"52\" fill=\"{ACCENT}\" stroke=\"#ffffff\" stroke-width=\"8\"/>\
         <text x=\"375\" y=\"417\" font-family=\"{FONT_SANS}\" font-size=\"46\" font-weight=\"700\" \
         fill=\"#ffffff\" text-anchor=\"middle\">{}</text>",
        escape(&initial)
    );

    let _ = write!(s, "<g font-family=\"{FONT_SANS}\" text-anchor=\"middle\">");
    let name = if nickname.is_empty() { "禁毒接力者".to_owned() } else { nickname };
    let name = wrap_lines(&name, 560.0, 36.0, 1).pop().unwrap_or_default();
    let _ = write!(
        s,
        "<text x=\"375\" y=\"492\" font-size=\"36\" font-weight=\"700\" fill=\"{GREEN}\">{}</text>",
        escape(&name)
    );
    let line_lines = wrap_lines(&line, 580.0, 28.0, 2);
    let mut y = if line_lines.len() > 1 { 538.0 } else { 552.0 };
    for l in &line_lines {
        let _ = write!(s, "<text x=\"375\" y=\"{}\" font-size=\"28\" fill=\"#3d4b45\">{}</text>", num(y), escape(l));
        y += 38.0;
    }
    s.push_str("</g>");

    // The QR code, framed by four green corner marks.
    let (sx, sy, side) = QR_SLOT;
    s.push_str(&corner_marks(sx as f64 - 16.0, sy as f64 - 16.0, side as f64 + 32.0));
    match qr_art(p.share_url.trim()) {
        Some(qr) => s.push_str(&qr.place(sx, sy, side)),
        None => {
            let _ = write!(
                s,
                "<rect x=\"{sx}\" y=\"{sy}\" width=\"{side}\" height=\"{side}\" fill=\"#f6f3ec\"/>\
                 <text x=\"375\" y=\"{}\" font-family=\"{FONT_SANS}\" font-size=\"26\" fill=\"#6c757d\" \
                 text-anchor=\"middle\">链接过长，无法生成二维码</text>",
                sy + side / 2
            );
        }
    }

    // Caption, divider, relay code.
    let _ = write!(
        s,
        "<text x=\"375\" y=\"1082\" font-family=\"{FONT_SANS}\" font-size=\"30\" font-weight=\"700\" \
         fill=\"#1f2d27\" text-anchor=\"middle\" letter-spacing=\"2\">{SCAN_HINT}</text>"
    );
    s.push_str(
        "<line x1=\"76\" y1=\"1116\" x2=\"674\" y2=\"1116\" stroke=\"#d9d2c3\" stroke-width=\"2\" \
         stroke-dasharray=\"10 8\"/>\
         <circle cx=\"40\" cy=\"1116\" r=\"18\" fill=\"#f6f3ec\"/>\
         <circle cx=\"710\" cy=\"1116\" r=\"18\" fill=\"#f6f3ec\"/>",
    );
    let _ = write!(
        s,
        "<text x=\"375\" y=\"1162\" font-family=\"{FONT_SANS}\" font-size=\"24\" fill=\"#6c757d\" \
         text-anchor=\"middle\" letter-spacing=\"4\">我的接力码</text>"
    );
    let code = display_code(&one_line(&p.relay_code));
    let code_px = code_font_px(&code);
    let _ = write!(
        s,
        "<text x=\"375\" y=\"1230\" font-family=\"{FONT_MONO}\" font-size=\"{}\" font-weight=\"700\" \
         fill=\"{GREEN}\" text-anchor=\"middle\" letter-spacing=\"{}\">{}</text>",
        num(code_px),
        num((code_px * 0.1).round()),
        escape(&code)
    );

    // Footer.
    let _ = write!(
        s,
        "<text x=\"375\" y=\"1308\" font-family=\"{FONT_SANS}\" font-size=\"24\" fill=\"{GREEN}\" \
         text-anchor=\"middle\" letter-spacing=\"6\">珍爱生命 · 远离毒品</text>"
    );
    let _ = write!(s, "<rect x=\"0\" y=\"1326\" width=\"{w}\" height=\"8\" fill=\"{GREEN}\"/>");
    let _ = write!(s, "<rect x=\"300\" y=\"1326\" width=\"150\" height=\"8\" fill=\"{ACCENT}\"/>");
    s.push_str("</svg>\n");
    s
}

/// Four L-shaped corner marks around the square at (`x`, `y`) with side `side`.
fn corner_marks(x: f64, y: f64, side: f64) -> String {
    let (l, r, b) = (28.0, x + side, y + side);
    let d = format!(
        "M{x0} {y1}V{y}H{x1}M{r0} {y}H{r}V{y1}M{r} {b0}V{b}H{r0}M{x1} {b}H{x}V{b0}",
        x = num(x),
        y = num(y),
        r = num(r),
        b = num(b),
        x0 = num(x),
        x1 = num(x + l),
        y1 = num(y + l),
        r0 = num(r - l),
        b0 = num(b - l),
    );
    format!(
        "<path d=\"{d}\" fill=\"none\" stroke=\"{GREEN}\" stroke-width=\"6\" stroke-linecap=\"round\" \
         stroke-linejoin=\"round\"/>"
    )
}

/// A QR code ready to place: its side in modules (quiet zone included) and the path of its
/// dark modules in module units, offset by the quiet zone.
#[derive(Debug, Clone, PartialEq, Eq)]
struct QrArt {
    modules: u32,
    path: String,
}

/// The QR code of `data` at error correction level M, or `None` if `data` is too long.
fn qr_art(data: &str) -> Option<QrArt> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).ok()?;
    let width = code.width() as u32;
    let rendered = code.render::<svg::Color<'_>>().quiet_zone(false).module_dimensions(1, 1).build();
    // The renderer draws every dark module into one `<path d="…">` (in module units here).
    // Should a future version draw otherwise, draw the same path from the module matrix.
    let path = path_data(&rendered).map(str::to_owned).unwrap_or_else(|| modules_path(&code));
    Some(QrArt { modules: width + 2 * QR_QUIET_ZONE, path })
}

/// The `d` attribute of the first `<path>` in `svg`, if any.
fn path_data(svg: &str) -> Option<&str> {
    let at = svg.find("<path")?;
    let rest = &svg[at..];
    let start = rest.find(" d=\"")? + 4;
    let len = rest[start..].find('"')?;
    Some(&rest[start..start + len]).filter(|d| !d.is_empty())
}

/// The dark modules of `code` as one path, a rectangle per horizontal run, in module units.
fn modules_path(code: &QrCode) -> String {
    let w = code.width();
    let colors = code.to_colors();
    let mut d = String::new();
    for y in 0..w {
        let mut x = 0;
        while x < w {
            if colors[y * w + x] == qrcode::Color::Dark {
                let run = (x..w).take_while(|&k| colors[y * w + k] == qrcode::Color::Dark).count();
                let _ = write!(d, "M{x} {y}h{run}v1H{x}Z");
                x += run;
            } else {
                x += 1;
            }
        }
    }
    d
}

impl QrArt {
    /// Pixels per module: a whole number when that still reaches [`QR_MIN_PX`] within the
    /// slot (sharp edges on every screen), else whatever fills the slot.
    fn scale(&self, slot: u32) -> f64 {
        let whole = slot / self.modules;
        if whole >= 1 && whole * self.modules >= QR_MIN_PX { whole as f64 } else { slot as f64 / self.modules as f64 }
    }

    /// The code as an SVG group centred in the square slot at (`x`, `y`) of side `slot`: a
    /// white square (the quiet zone) under the dark modules.
    fn place(&self, x: u32, y: u32, slot: u32) -> String {
        let scale = self.scale(slot);
        let side = scale * self.modules as f64;
        let off = ((slot as f64 - side) / 2.0).floor().max(0.0);
        let q = QR_QUIET_ZONE;
        format!(
            "<g id=\"qr\" transform=\"translate({tx} {ty}) scale({s})\" shape-rendering=\"crispEdges\">\
             <rect width=\"{n}\" height=\"{n}\" fill=\"#ffffff\"/>\
             <path transform=\"translate({q} {q})\" fill=\"{QR_DARK}\" d=\"{d}\"/></g>",
            tx = num(x as f64 + off),
            ty = num(y as f64 + off),
            s = num(scale),
            n = self.modules,
            d = escape(&self.path),
        )
    }
}

/// The relay code as printed: a code of 8 to 16 letters and digits is shown in capitals
/// (codes are read case-insensitively) in groups of five, or four, for reading aloud.
fn display_code(code: &str) -> String {
    let n = code.chars().count();
    if !(8..=16).contains(&n) || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return code.to_owned();
    }
    let group = if n.is_multiple_of(5) { 5 } else { 4 };
    let upper: Vec<char> = code.to_ascii_uppercase().chars().collect();
    upper.chunks(group).map(|g| g.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
}

/// Font size for the relay code so that it fits 580 px: 60 px for a code of up to 11 signs.
fn code_font_px(code: &str) -> f64 {
    // A monospaced sign is about 0.6 em, plus 0.1 em of letter spacing; wide signs 1.1 em.
    let ems: f64 = code.chars().map(|c| if c.is_ascii() { 0.7 } else { 1.1 }).sum();
    if ems <= 0.0 { 60.0 } else { (580.0 / ems).clamp(20.0, 60.0).floor() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> PosterInfo {
        PosterInfo {
            campaign_title: "全民禁毒网络接力大赛".into(),
            nickname: "小林".into(),
            share_url: "https://baton.example.cn/r/7k3mz9qx2p".into(),
            relay_code: "7k3mz9qx2p".into(),
            line: DEFAULT_LINE.into(),
        }
    }

    /// The QR group of a poster: translation, pixels per module, side in modules, and the
    /// dark rectangles (module units, quiet zone included) read back from the path.
    struct Placed {
        tx: f64,
        ty: f64,
        scale: f64,
        modules: u32,
        dark: Vec<(f64, f64, f64, f64)>,
    }

    fn numbers(s: &str) -> Vec<f64> {
        s.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .filter(|t| !t.is_empty())
            .map(|t| t.parse().unwrap())
            .collect()
    }

    /// Reads the axis-aligned rectangles of a path made of `M x y`, `h`, `v`, `H`, `V`, `Z`.
    fn rects(d: &str, dx: f64, dy: f64) -> Vec<(f64, f64, f64, f64)> {
        let mut out = Vec::new();
        let (mut x, mut y) = (0.0, 0.0);
        let mut pts: Vec<(f64, f64)> = Vec::new();
        let mut flush = |pts: &mut Vec<(f64, f64)>| {
            if pts.len() > 1 {
                let x0 = pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
                let x1 = pts.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
                let y0 = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
                let y1 = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
                out.push((x0 + dx, y0 + dy, x1 + dx, y1 + dy));
            }
            pts.clear();
        };
        for (i, c) in d.char_indices() {
            if !c.is_ascii_alphabetic() {
                continue;
            }
            let end = d[i + 1..].find(|c: char| c.is_ascii_alphabetic()).map_or(d.len(), |k| i + 1 + k);
            let args = numbers(&d[i + 1..end]);
            match c {
                'M' => {
                    flush(&mut pts);
                    (x, y) = (args[0], args[1]);
                }
                'h' => x += args[0],
                'v' => y += args[0],
                'H' => x = args[0],
                'V' => y = args[0],
                'Z' | 'z' => {}
                other => panic!("unexpected path command {other}"),
            }
            pts.push((x, y));
        }
        flush(&mut pts);
        out
    }

    fn placed(svg: &str) -> Placed {
        let doc = roxmltree::Document::parse(svg).expect("poster parses as XML");
        let g = doc.descendants().find(|n| n.attribute("id") == Some("qr")).expect("QR group");
        let t = numbers(g.attribute("transform").unwrap());
        let (tx, ty, scale) = (t[0], t[1], t[2]);
        let square = g.children().find(|n| n.has_tag_name("rect")).unwrap();
        let modules: u32 = square.attribute("width").unwrap().parse().unwrap();
        assert_eq!(square.attribute("height"), square.attribute("width"));
        assert_eq!(square.attribute("fill"), Some("#ffffff"));
        let path = g.children().find(|n| n.has_tag_name("path")).unwrap();
        let off = numbers(path.attribute("transform").unwrap());
        let dark = rects(path.attribute("d").unwrap(), off[0], off[1]);
        Placed { tx, ty, scale, modules, dark }
    }

    /// Rasterises the QR group the way a screen shows it, `px_per_unit` device pixels per
    /// poster pixel, with a white margin, sampling each pixel at its centre; decodes it.
    fn decode(svg: &str, px_per_unit: f64) -> (rqrr::MetaData, String) {
        let p = placed(svg);
        let margin = 24usize;
        let side_px = (p.scale * p.modules as f64 * px_per_unit).ceil() as usize;
        let size = side_px + 2 * margin;
        let img = rqrr::PreparedImage::prepare_from_greyscale(size, size, |x, y| {
            let u = (x as f64 - margin as f64 + 0.5) / px_per_unit / p.scale;
            let v = (y as f64 - margin as f64 + 0.5) / px_per_unit / p.scale;
            let dark = p.dark.iter().any(|&(x0, y0, x1, y1)| u >= x0 && u < x1 && v >= y0 && v < y1);
            if dark { 8 } else { 255 }
        });
        let mut img = img;
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code found");
        grids[0].decode().expect("QR code decodes")
    }

    #[test]
    fn qr_code_decodes_to_the_share_url() {
        let p = info();
        let svg = poster_svg(&p);
        for zoom in [1.0, 0.5, 2.0] {
            let (meta, content) = decode(&svg, zoom);
            assert_eq!(content, p.share_url, "zoom {zoom}");
            assert_eq!(meta.ecc_level, 0, "error correction level M");
        }
    }

    #[test]
    fn qr_code_is_large_sharp_and_has_a_quiet_zone() {
        let svg = poster_svg(&info());
        let p = placed(&svg);
        let side = p.scale * p.modules as f64;
        assert!(side >= QR_MIN_PX as f64, "QR side {side}");
        assert_eq!(p.scale.fract(), 0.0, "whole pixels per module");
        assert_eq!((p.tx.fract(), p.ty.fract()), (0.0, 0.0));
        // Inside the poster and inside its slot.
        let (sx, sy, slot) = QR_SLOT;
        assert!(p.tx >= sx as f64 && p.ty >= sy as f64);
        assert!(p.tx + side <= (sx + slot) as f64 && p.ty + side <= (sy + slot) as f64);
        // Dark modules only inside the quiet zone.
        let (lo, hi) = (QR_QUIET_ZONE as f64, (p.modules - QR_QUIET_ZONE) as f64);
        assert!(!p.dark.is_empty());
        for &(x0, y0, x1, y1) in &p.dark {
            assert!(x0 >= lo && y0 >= lo && x1 <= hi && y1 <= hi, "{x0} {y0} {x1} {y1}");
        }
    }

    #[test]
    fn long_share_urls_still_scan() {
        let url = format!("https://baton.example.cn/r/7k3mz9qx2p?from=poster&campaign={}", "x".repeat(200));
        let p = PosterInfo { share_url: url.clone(), ..info() };
        let svg = poster_svg(&p);
        let placed = placed(&svg);
        assert!(placed.scale * placed.modules as f64 >= QR_MIN_PX as f64);
        assert_eq!(decode(&svg, 1.0).1, url);
        // Past what any QR code holds: a note instead, and still a valid poster with the code.
        let p = PosterInfo { share_url: "https://x.cn/".to_owned() + &"y".repeat(4000), ..info() };
        let svg = poster_svg(&p);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert!(doc.descendants().all(|n| n.attribute("id") != Some("qr")));
        assert!(svg.contains("无法生成二维码") && svg.contains("7K3MZ 9QX2P"));
    }

    #[test]
    fn renderer_path_is_used_and_matches_the_module_matrix() {
        let code = QrCode::with_error_correction_level(b"https://baton.example.cn/r/7k3mz9qx2p", EcLevel::M).unwrap();
        let rendered = code.render::<svg::Color<'_>>().quiet_zone(false).module_dimensions(1, 1).build();
        let from_renderer = path_data(&rendered).expect("the renderer draws one path");
        let cells = |d: &str| {
            let mut set = std::collections::BTreeSet::new();
            for (x0, y0, x1, y1) in rects(d, 0.0, 0.0) {
                for y in y0 as u32..y1 as u32 {
                    for x in x0 as u32..x1 as u32 {
                        set.insert((x, y));
                    }
                }
            }
            set
        };
        assert_eq!(cells(from_renderer), cells(&modules_path(&code)));
        assert_eq!(qr_art("https://baton.example.cn/r/7k3mz9qx2p").unwrap().path, from_renderer);
    }

    #[test]
    fn poster_shows_everything() {
        let svg = poster_svg(&info());
        let doc = roxmltree::Document::parse(&svg).expect("poster parses as XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.attribute("width"), Some("750"));
        assert_eq!(root.attribute("height"), Some("1334"));
        assert_eq!(root.attribute("viewBox"), Some("0 0 750 1334"));
        let texts: Vec<&str> = doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text()).collect();
        for want in ["全民禁毒网络接力大赛", "小林", DEFAULT_LINE, SCAN_HINT, "7K3MZ 9QX2P", "我的接力码"]
        {
            assert!(texts.contains(&want), "{want} in {texts:?}");
        }
        assert!(svg.contains("PingFang SC") && svg.contains("Microsoft YaHei") && svg.contains("Noto Sans CJK SC"));
        assert!(!svg.contains("href") && !svg.contains("<image") && !svg.contains("@import"));
        // The relay code is large.
        let code = doc.descendants().find(|n| n.text() == Some("7K3MZ 9QX2P")).unwrap();
        assert!(code.attribute("font-size").unwrap().parse::<f64>().unwrap() >= 48.0);
    }

    #[test]
    fn same_input_same_bytes() {
        assert_eq!(poster_svg(&info()), poster_svg(&info()));
        let other = PosterInfo { nickname: "小王".into(), ..info() };
        assert_ne!(poster_svg(&info()), poster_svg(&other));
    }

    #[test]
    fn hostile_text_stays_text() {
        let bad = "\"><script>alert(1)</script> & ' ]]> <!-- \u{1}";
        let p = PosterInfo {
            campaign_title: bad.into(),
            nickname: bad.into(),
            share_url: format!("https://baton.example.cn/r/x?q={bad}"),
            relay_code: bad.into(),
            line: bad.into(),
        };
        let svg = poster_svg(&p);
        assert!(!svg.contains("<script") && !svg.contains("]]>") && !svg.contains("<!--"));
        assert!(!svg.contains('\u{1}'));
        let doc = roxmltree::Document::parse(&svg).expect("hostile poster parses as XML");
        assert!(doc.descendants().all(|n| !n.has_tag_name("script")));
        let texts: Vec<&str> = doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text()).collect();
        let clean = "\"><script>alert(1)</script> & ' ]]> <!--";
        // The relay code line shows it whole; the others may wrap or shorten it.
        assert!(texts.contains(&clean), "{texts:?}");
        assert!(texts.iter().any(|t| t.starts_with("\"><script>")));
        // The QR code carries the URL byte for byte.
        assert_eq!(decode(&svg, 1.0).1, p.share_url);
    }

    #[test]
    fn blank_fields_get_defaults() {
        let p = PosterInfo { nickname: " ".into(), line: String::new(), ..info() };
        let svg = poster_svg(&p);
        assert!(svg.contains("禁毒接力者") && svg.contains(DEFAULT_LINE));
        roxmltree::Document::parse(&svg).unwrap();
    }

    #[test]
    fn relay_codes_print_readably() {
        assert_eq!(display_code("7k3mz9qx2p"), "7K3MZ 9QX2P");
        assert_eq!(display_code("abcd1234"), "ABCD 1234");
        assert_eq!(display_code("abc"), "abc");
        assert_eq!(display_code("接力码"), "接力码");
        assert_eq!(code_font_px("7K3MZ 9QX2P"), 60.0);
        assert!(code_font_px(&"W".repeat(30)) * 0.7 * 30.0 <= 580.0);
    }
}
