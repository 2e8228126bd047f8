//! Masking digits in text citizens typed (nicknames), so that exports never carry a phone
//! number: people put their mobile number in a nickname ("张三13812345678") more often than one
//! would think.
//!
//! A *run* is a sequence of digits — ASCII `0-9` or full-width `０-９` — in which consecutive
//! digits may be separated by up to [`MAX_GAP`] separator characters (spaces, hyphens and
//! dashes, dots, and their full-width forms), so `138-1234-5678`, `138 1234 5678` and
//! `１３８ １２３４ ５６７８` are runs of 11 digits. In a run of 7 or more digits:
//! - a mainland mobile number (exactly 11 digits, `1[3-9]…`) keeps its first three and last
//!   four digits, the middle four become `*` (`13812345678` → `138****5678`), the usual way a
//!   Chinese service shows a number without revealing it;
//! - any other run (landlines, numbers with a country or area code, ID card numbers, several
//!   numbers written together) keeps only its last two digits (`22881234` → `******34`).
//!
//! Separators and every other character are kept as they are, so the text still reads the
//! same. Runs of fewer than seven digits (`选手24999`, a year, a house number) are left alone.
//! Afterwards the text holds no run of seven or more digits. Numbers written with Chinese
//! numerals (`幺三八…`) or other scripts' digits are not recognised.

use std::borrow::Cow;

/// A run shorter than this is left alone.
pub const MIN_RUN: usize = 7;
/// At most this many separators may stand between two digits of one run.
pub const MAX_GAP: usize = 3;

/// `s` with every phone-number-like run of digits masked (see the module docs); borrowed when
/// nothing needed masking.
pub fn mask_digits(s: &str) -> Cow<'_, str> {
    if s.chars().filter(|&c| digit(c).is_some()).count() < MIN_RUN {
        return Cow::Borrowed(s);
    }
    let mut chars: Vec<char> = s.chars().collect();
    let mut changed = false;
    let mut i = 0;
    while i < chars.len() {
        if digit(chars[i]).is_none() {
            i += 1;
            continue;
        }
        // The run starting here: positions of its digits.
        let mut run = vec![i];
        let mut next = i + 1;
        loop {
            let mut k = next;
            while k < chars.len() && k - next < MAX_GAP && separator(chars[k]) {
                k += 1;
            }
            match chars.get(k) {
                Some(&c) if digit(c).is_some() => {
                    run.push(k);
                    next = k + 1;
                }
                _ => break,
            }
        }
        if run.len() >= MIN_RUN {
            let values: Vec<u32> = run.iter().map(|&p| digit(chars[p]).unwrap_or(0)).collect();
            let mobile = values.len() == 11 && values[0] == 1 && (3..=9).contains(&values[1]);
            let masked = if mobile { 3..7 } else { 0..run.len() - 2 };
            for &p in &run[masked] {
                chars[p] = '*';
            }
            changed = true;
        }
        i = next;
    }
    if changed { Cow::Owned(chars.into_iter().collect()) } else { Cow::Borrowed(s) }
}

/// The value of an ASCII or full-width digit.
fn digit(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        '０'..='９' => Some(c as u32 - '０' as u32),
        _ => None,
    }
}

/// What people put between the digit groups of a number.
fn separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\u{a0}' | '\u{3000}' | '-' | '\u{2010}'
            ..='\u{2015}' | '\u{2212}' | '\u{fe63}' | '\u{ff0d}' | '.' | '\u{ff0e}' | '\u{30fb}' | '\u{b7}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> String {
        mask_digits(s).into_owned()
    }

    /// No run of seven or more digits (as [`mask_digits`] counts runs) is left.
    fn longest_run(s: &str) -> usize {
        let chars: Vec<char> = s.chars().collect();
        let (mut best, mut len, mut gap) = (0, 0, 0);
        for c in chars {
            if digit(c).is_some() {
                len += 1;
                gap = 0;
            } else if separator(c) && len > 0 && gap < MAX_GAP {
                gap += 1;
            } else {
                len = 0;
                gap = 0;
            }
            best = best.max(len);
        }
        best
    }

    #[test]
    fn mobile_numbers_keep_three_and_four() {
        assert_eq!(m("张三13812345678"), "张三138****5678");
        assert_eq!(m("13812345678"), "138****5678");
        assert_eq!(m("19912345678李"), "199****5678李");
        assert_eq!(m("a 15012345678 b"), "a 150****5678 b");
    }

    #[test]
    fn separated_digits_are_one_run() {
        assert_eq!(m("138-1234-5678"), "138-****-5678");
        assert_eq!(m("138 1234 5678"), "138 **** 5678");
        assert_eq!(m("王138 - 1234 - 5678"), "王138 - **** - 5678");
        assert_eq!(m("138.1234.5678"), "138.****.5678");
        assert_eq!(m("138—1234—5678"), "138—****—5678");
        assert_eq!(m("1 3 8 1 2 3 4 5 6 7 8"), "1 3 8 * * * * 5 6 7 8");
        // Four separators in a row end the run: two short runs, nothing masked.
        assert_eq!(m("138    12345"), "138    12345");
    }

    #[test]
    fn full_width_digits_count() {
        assert_eq!(m("张三１３８１２３４５６７８"), "张三１３８****５６７８");
        assert_eq!(m("１３８－１２３４－５６７８"), "１３８－****－５６７８");
        assert_eq!(m("１３８　1234　5678"), "１３８　****　5678");
        assert_eq!(m("电话２２８８１２３４"), "电话******３４");
    }

    #[test]
    fn other_long_runs_keep_the_last_two() {
        assert_eq!(m("22881234"), "******34");
        assert_eq!(m("1234567"), "*****67");
        assert_eq!(m("0731-22881234"), "****-******34");
        assert_eq!(m("+86 13812345678"), "+** *********78");
        assert_eq!(m("8613812345678"), "***********78");
        // 11 digits that are no mobile number (1 then 0-2, or not starting with 1).
        assert_eq!(m("12012345678"), "*********78");
        assert_eq!(m("23812345678"), "*********78");
        // An ID card number with its check letter.
        assert_eq!(m("43020219900101123X"), "***************23X");
    }

    #[test]
    fn short_runs_and_plain_text_stay() {
        for s in
            ["选手24999", "小明", "2026年6月1日", "123456", "12-34-56", "a1b2c3d4e5f6g7h8", "", "Tom, \"T\"", "=1+2"]
        {
            assert_eq!(m(s), s);
            assert!(matches!(mask_digits(s), Cow::Borrowed(_)), "{s}");
        }
        // Two numbers far apart are two runs.
        assert_eq!(m("13812345678和13987654321"), "138****5678和139****4321");
    }

    #[test]
    fn nothing_long_survives() {
        let pieces = ["1", "3", "8", "０", "９", "-", " ", "　", "－", "a", "张", ".", "  ", "---"];
        // Every string of up to 14 pieces from a deterministic walk.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut s = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 15) as usize;
            let mut x = state;
            for _ in 0..len {
                s.push_str(pieces[(x % pieces.len() as u64) as usize]);
                x /= pieces.len() as u64;
                if x == 0 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    x = state;
                }
            }
            let out = m(&s);
            assert!(longest_run(&out.replace('*', "x")) < MIN_RUN, "{s:?} -> {out:?}");
            assert_eq!(out.chars().count(), s.chars().count(), "{s:?}");
        }
    }
}
