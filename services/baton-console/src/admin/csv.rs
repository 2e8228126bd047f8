//! Questions from a spreadsheet: the CSV layout `POST /api/v1/console/campaigns/{cid}/questions`
//! reads (documented for organizers in `docs/questions-csv.md`).
//!
//! UTF-8 (Excel's "CSV UTF-8", whose byte-order mark is skipped), one header row naming the
//! columns (English or Chinese names, any order), then one question per row. Fields follow RFC
//! 4180: a field in double quotes may hold commas, line breaks and `""` for a quote. Every
//! problem is reported with the physical line of the file where its row starts, so a row whose
//! stem holds a line break still points at the right place in the file.

use super::{Row, RowError};
use baton_core::campaign::{JUDGE_OPTIONS, MAX_OPTIONS, Question, QuestionKind, Translation};
use baton_core::ids::QuestionId;

/// A column of the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Column {
    Id,
    Kind,
    Category,
    Difficulty,
    Stem,
    /// `option_a` … `option_h`: one option per column.
    Option(u8),
    /// Every option in one cell, separated by `|`.
    Options,
    Answer,
    Explanation,
    Source,
    StemEn,
    OptionsEn,
    ExplanationEn,
}

impl Column {
    /// The column a header cell names (case, spaces and `_`/`-` do not matter).
    fn parse(header: &str) -> Option<Column> {
        let key: String = header
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-' | '\u{3000}'))
            .flat_map(char::to_lowercase)
            .collect();
        if let Some(letter) = key.strip_prefix("option").or_else(|| key.strip_prefix("选项")) {
            let mut chars = letter.chars();
            if let (Some(c @ 'a'..='h'), None) = (chars.next(), chars.next()) {
                return Some(Column::Option(c as u8 - b'a'));
            }
        }
        Some(match key.as_str() {
            "id" | "题号" | "编号" => Column::Id,
            "kind" | "type" | "题型" => Column::Kind,
            "category" | "分类" | "类别" => Column::Category,
            "difficulty" | "难度" => Column::Difficulty,
            "stem" | "question" | "题干" | "题目" => Column::Stem,
            "options" | "选项" => Column::Options,
            "answer" | "答案" => Column::Answer,
            "explanation" | "解析" => Column::Explanation,
            "source" | "出处" | "依据" => Column::Source,
            "stemen" | "英文题干" => Column::StemEn,
            "optionsen" | "英文选项" => Column::OptionsEn,
            "explanationen" | "英文解析" => Column::ExplanationEn,
            _ => return None,
        })
    }

    /// The name problems call the column by.
    pub(super) fn name(self) -> String {
        match self {
            Column::Id => "id".into(),
            Column::Kind => "kind".into(),
            Column::Category => "category".into(),
            Column::Difficulty => "difficulty".into(),
            Column::Stem => "stem".into(),
            Column::Option(i) => format!("option_{}", char::from(b'a' + i)),
            Column::Options => "options".into(),
            Column::Answer => "answer".into(),
            Column::Explanation => "explanation".into(),
            Column::Source => "source".into(),
            Column::StemEn => "stem_en".into(),
            Column::OptionsEn => "options_en".into(),
            Column::ExplanationEn => "explanation_en".into(),
        }
    }
}

/// Columns every file has.
const REQUIRED: [Column; 8] = [
    Column::Id,
    Column::Kind,
    Column::Category,
    Column::Difficulty,
    Column::Stem,
    Column::Answer,
    Column::Explanation,
    Column::Source,
];

/// One record of the file: the line it starts on and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    line: u64,
    cells: Vec<String>,
}

/// The delimiter of the file: a comma, unless the header has none and semicolons or tabs
/// instead (what some spreadsheet locales write).
fn delimiter(text: &str) -> char {
    let header = text.lines().next().unwrap_or("");
    [',', ';', '\t'].into_iter().max_by_key(|d| (header.matches(*d).count(), *d == ',')).unwrap_or(',')
}

/// Splits the text into records (RFC 4180, with `\r\n`, `\n` or `\r` line ends). A quote left
/// open is an error at the line where its field starts.
fn records(text: &str, delim: char) -> Result<Vec<Record>, RowError> {
    let mut out = Vec::new();
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut line = 1u64;
    let mut start = 1u64;
    let mut quoted_from: Option<u64> = None;
    let mut after_quote = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted_from.is_some() {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => {
                    quoted_from = None;
                    after_quote = true;
                }
                '\r' => {
                    // A line break inside a field is kept as `\n`.
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    line += 1;
                    cell.push('\n');
                }
                '\n' => {
                    line += 1;
                    cell.push('\n');
                }
                other => cell.push(other),
            }
            continue;
        }
        match c {
            '"' if cell.trim().is_empty() && !after_quote => {
                cell.clear();
                quoted_from = Some(line);
            }
            c if c == delim => {
                cells.push(std::mem::take(&mut cell));
                after_quote = false;
            }
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                cells.push(std::mem::take(&mut cell));
                out.push(Record { line: start, cells: std::mem::take(&mut cells) });
                after_quote = false;
                line += 1;
                start = line;
            }
            // Text after a closing quote (`"a"b`) is kept, as spreadsheets do.
            other => cell.push(other),
        }
    }
    if let Some(from) = quoted_from {
        return Err(RowError::at(from, "", "a quoted field is never closed: a \" is missing"));
    }
    if !cell.is_empty() || !cells.is_empty() {
        cells.push(cell);
        out.push(Record { line: start, cells });
    }
    Ok(out)
}

/// The text of a file, or why it is not UTF-8.
fn text(bytes: &[u8]) -> Result<&str, RowError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(RowError::at(
            1,
            "",
            "the file is UTF-16 (Excel's \"Unicode Text\"); save it as \"CSV UTF-8 (Comma delimited)\" / \"CSV UTF-8（逗号分隔）\"",
        ));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() as u64;
        RowError::at(
            line,
            "",
            "the file is not UTF-8 text (Excel's plain \"CSV\" writes GBK in Chinese Windows); save it as \"CSV UTF-8 (Comma delimited)\" / \"CSV UTF-8（逗号分隔）\"",
        )
    })
}

/// The questions of a CSV file, row by row, each with the problems found in it, and whether
/// options come one per column (`option_a` …). Problems with the file as a whole (encoding,
/// header) come back alone, as nothing else can be read then.
pub(super) fn parse(bytes: &[u8]) -> Result<(Vec<Row>, bool), Vec<RowError>> {
    let text = text(bytes).map_err(|e| vec![e])?;
    let mut records = records(text, delimiter(text)).map_err(|e| vec![e])?.into_iter();
    let Some(header) = records.next() else {
        return Err(vec![RowError::at(1, "", "the file is empty: it needs a header row and a row per question")]);
    };
    let mut errors = Vec::new();
    let rows: Vec<Record> = records.filter(|r| r.cells.iter().any(|c| !c.trim().is_empty())).collect();
    let mut columns: Vec<Option<Column>> = Vec::new();
    for (i, name) in header.cells.iter().enumerate() {
        let col = Column::parse(name);
        if name.trim().is_empty() {
            if rows.iter().any(|r| r.cells.get(i).is_some_and(|c| !c.trim().is_empty())) {
                errors.push(RowError::at(header.line, "", format!("column {} has values but no name", i + 1)));
            }
        } else if col.is_none() {
            errors.push(RowError::at(
                header.line,
                name.trim(),
                "unknown column (see docs/questions-csv.md for the layout)",
            ));
        } else if columns.contains(&col) {
            errors.push(RowError::at(header.line, name.trim(), "the column appears twice"));
        }
        columns.push(col);
    }
    for required in REQUIRED {
        if !columns.contains(&Some(required)) {
            errors.push(RowError::at(header.line, required.name(), "the header has no such column"));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let letters = columns.iter().any(|c| matches!(c, Some(Column::Option(_))));
    let layout = Layout { columns };
    Ok((rows.iter().map(|r| layout.row(r)).collect(), letters))
}

/// The header of a file: which column each field is.
pub(super) struct Layout {
    columns: Vec<Option<Column>>,
}

impl Layout {
    fn cell<'a>(&self, r: &'a Record, col: Column) -> &'a str {
        self.columns.iter().position(|c| *c == Some(col)).and_then(|i| r.cells.get(i)).map_or("", |c| c.trim())
    }

    fn row(&self, r: &Record) -> Row {
        let mut errors: Vec<(String, String)> = Vec::new();
        if r.cells.len() > self.columns.len() {
            errors.push((
                String::new(),
                format!(
                    "the row has {} fields but the header names {}: is a comma inside a field not quoted?",
                    r.cells.len(),
                    self.columns.len()
                ),
            ));
        }
        let mut fail = |col: Column, message: String| errors.push((col.name(), message));
        let id_text = self.cell(r, Column::Id);
        let id = match QuestionId::parse(id_text) {
            Ok(id) => Some(id),
            Err(e) => {
                fail(Column::Id, e.0);
                None
            }
        };
        let kind_text = self.cell(r, Column::Kind);
        let kind = match kind_text.to_lowercase().as_str() {
            "single" | "单选" | "单选题" => Some(QuestionKind::Single),
            "multi" | "multiple" | "多选" | "多选题" => Some(QuestionKind::Multi),
            "judge" | "判断" | "判断题" => Some(QuestionKind::Judge),
            _ => {
                fail(
                    Column::Kind,
                    format!("{kind_text:?} is not a kind: use single, multi or judge (单选, 多选, 判断)"),
                );
                None
            }
        };
        let difficulty_text = self.cell(r, Column::Difficulty);
        let difficulty = match difficulty_text.parse::<u8>() {
            Ok(d) if (1..=3).contains(&d) => Some(d),
            _ => {
                fail(
                    Column::Difficulty,
                    format!("{difficulty_text:?} is not a difficulty: use 1 (easy), 2 or 3 (hard)"),
                );
                None
            }
        };

        // Cells that must be filled in; what is in them is checked with the whole campaign.
        for col in [Column::Category, Column::Stem, Column::Explanation, Column::Source] {
            if self.cell(r, col).is_empty() {
                fail(col, "is empty".into());
            }
        }

        // Options: one per column, or all in one cell; a true/false question's may be left out.
        let split = |s: &str| -> Vec<String> {
            if s.is_empty() { Vec::new() } else { s.split('|').map(|o| o.trim().to_owned()).collect() }
        };
        let mut lettered: Vec<(Column, &str)> = (0..MAX_OPTIONS as u8)
            .map(Column::Option)
            .filter(|c| self.columns.contains(&Some(*c)))
            .map(|c| (c, self.cell(r, c)))
            .collect();
        while lettered.last().is_some_and(|(_, v)| v.is_empty()) {
            lettered.pop();
        }
        if let Some((gap, _)) = lettered.iter().find(|(_, v)| v.is_empty()) {
            fail(*gap, "is empty while a later option is filled in: options go from option_a on, without gaps".into());
        }
        let lettered: Vec<String> = lettered.into_iter().map(|(_, v)| v.to_owned()).collect();
        let in_one = split(self.cell(r, Column::Options));
        let mut options = match (lettered.is_empty(), in_one.is_empty()) {
            (_, true) => lettered,
            (true, false) => in_one,
            (false, false) => {
                fail(Column::Options, "fill in either options or option_a, option_b, …, not both".into());
                Vec::new()
            }
        };
        if kind == Some(QuestionKind::Judge) && options.is_empty() {
            options = JUDGE_OPTIONS.iter().map(|o| (*o).to_owned()).collect();
        }

        let answer_text = self.cell(r, Column::Answer);
        let answer = match kind.map(|k| answer(answer_text, k, options.len())) {
            Some(Ok(a)) => Some(a),
            Some(Err(why)) => {
                fail(Column::Answer, why);
                None
            }
            None => None,
        };

        let (stem_en, options_en, explanation_en) =
            (self.cell(r, Column::StemEn), self.cell(r, Column::OptionsEn), self.cell(r, Column::ExplanationEn));
        let en = (!stem_en.is_empty() || !options_en.is_empty() || !explanation_en.is_empty()).then(|| {
            let mut options = split(options_en);
            if kind == Some(QuestionKind::Judge) && options.is_empty() {
                options = vec!["True".into(), "False".into()];
            }
            Translation { stem: stem_en.to_owned(), options, explanation: explanation_en.to_owned() }
        });

        let question = match (id.clone(), kind, difficulty, answer) {
            (Some(id), Some(kind), Some(difficulty), Some(answer)) if errors.is_empty() => Some(Question {
                id,
                kind,
                category: self.cell(r, Column::Category).to_owned(),
                difficulty,
                stem: self.cell(r, Column::Stem).to_owned(),
                options,
                answer,
                explanation: self.cell(r, Column::Explanation).to_owned(),
                source: self.cell(r, Column::Source).to_owned(),
                en,
            }),
            _ => None,
        };
        let id = id.map(|i| i.to_string()).or_else(|| (!id_text.is_empty()).then(|| id_text.to_owned()));
        let errors = errors
            .into_iter()
            .map(|(field, message)| RowError { line: Some(r.line), field, message, question_id: id.clone() })
            .collect();
        Row { line: r.line, id, question, errors }
    }

    /// The column a problem the campaign's validation found (`field` as in its path after the
    /// question: `options[2]`, `en.stem`, `answer`) is in.
    pub(super) fn field_name(letters: bool, field: &str) -> String {
        let base = field.split(['[', '.']).next().unwrap_or(field);
        if let Some(rest) = field.strip_prefix("en.") {
            return match rest.split('[').next().unwrap_or(rest) {
                "stem" => Column::StemEn.name(),
                "options" => Column::OptionsEn.name(),
                "explanation" => Column::ExplanationEn.name(),
                other => format!("{other}_en"),
            };
        }
        if base == "options" {
            if letters
                && let Some(i) = field.strip_prefix("options[").and_then(|r| r.strip_suffix(']'))
                && let Ok(i) = i.parse::<u8>()
            {
                return Column::Option(i).name();
            }
            return if letters { "option_a".into() } else { Column::Options.name() };
        }
        base.to_owned()
    }
}

/// The correct options of a question with `n` options, from what a person writes: letters
/// (`A`, `AC`, `A,C`, `a、c`; full-width letters too), 1-based numbers separated by commas or
/// spaces (`1`, `1,3`), or for a true/false question 正确/错误 (对/错, √/×, true/false, T/F).
/// Ascending, without repeats.
pub(super) fn answer(text: &str, kind: QuestionKind, n: usize) -> Result<Vec<u8>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("is empty: write the letters of the correct options, e.g. A or AC".into());
    }
    if kind == QuestionKind::Judge {
        match t.to_lowercase().as_str() {
            "正确" | "对" | "√" | "✓" | "✔" | "true" | "t" | "yes" | "y" | "是" => return Ok(vec![0]),
            "错误" | "错" | "×" | "✗" | "✘" | "x" | "false" | "f" | "no" | "n" | "否" => return Ok(vec![1]),
            _ => {}
        }
    }
    // Full-width letters and digits as their ASCII forms.
    let t: String = t
        .chars()
        .map(|c| match c {
            'Ａ'..='Ｚ' | 'ａ'..='ｚ' | '０'..='９' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            c => c,
        })
        .collect();
    let separators = [',', '，', '、', ' ', ';', '；', '|', '/'];
    let mut picked = Vec::new();
    if t.chars().all(|c| c.is_ascii_digit() || separators.contains(&c)) {
        for part in t.split(separators).filter(|p| !p.is_empty()) {
            let k: usize = part.parse().map_err(|_| format!("{part:?} is not an option number"))?;
            if k == 0 || k > n {
                return Err(format!("option {k} does not exist: the question has {n} options (numbers start at 1)"));
            }
            picked.push((k - 1) as u8);
        }
    } else {
        for c in t.chars().filter(|c| !separators.contains(c)) {
            let up = c.to_ascii_uppercase();
            if !up.is_ascii_uppercase() {
                return Err(format!("{text:?} is not an answer: write letters such as A or AC (or option numbers)"));
            }
            let k = usize::from(up as u8 - b'A');
            if k >= n {
                return Err(format!("option {up} does not exist: the question has {n} options"));
            }
            picked.push(k as u8);
        }
    }
    let mut sorted = picked.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != picked.len() {
        return Err(format!("{text:?} names an option twice"));
    }
    Ok(sorted)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "id,kind,category,difficulty,stem,option_a,option_b,option_c,option_d,answer,explanation,source";

    fn ok(text: &str) -> Vec<Row> {
        parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e:?}")).0
    }

    #[test]
    fn quoted_fields_hold_commas_quotes_and_line_breaks() {
        let recs = records("a,\"b,1\",\"say \"\"hi\"\"\"\r\n\"multi\nline\",x\n\nlast", ',').unwrap();
        assert_eq!(
            recs,
            [
                Record { line: 1, cells: vec!["a".into(), "b,1".into(), "say \"hi\"".into()] },
                Record { line: 2, cells: vec!["multi\nline".into(), "x".into()] },
                Record { line: 4, cells: vec!["".into()] },
                Record { line: 5, cells: vec!["last".into()] },
            ]
        );
        let e = records("a,\"never closed\nb,c\n", ',').unwrap_err();
        assert_eq!((e.line, e.message.contains("never closed")), (Some(1), true));
    }

    #[test]
    fn rows_become_questions_with_their_physical_lines() {
        let text = format!(
            "\u{feff}{HEADER}\r\n\
             law-9,single,law,1,\"毒品是指，哪些？\",鸦片,烟草,,,A,刑法。,刑法\r\n\
             law-10,multi,law,2,\"第一行\r\n第二行\",甲,乙,丙,丁,\"A,C\",因为。,法\r\n\
             ,,,,,,,,,,,\r\n\
             law-11,判断,law,3,吸毒违法。,,,,,错,治安。,治安管理处罚法\r\n"
        );
        let rows = ok(&text);
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 3, 6]);
        let q: Vec<&Question> = rows.iter().map(|r| r.question.as_ref().unwrap()).collect();
        assert_eq!(q[0].stem, "毒品是指，哪些？");
        assert_eq!(q[0].options, ["鸦片", "烟草"]);
        assert_eq!(q[0].answer, [0]);
        assert_eq!(q[1].stem, "第一行\n第二行");
        assert_eq!(q[1].answer, [0, 2]);
        assert_eq!(
            (q[2].kind, q[2].options.clone(), q[2].answer.clone()),
            (QuestionKind::Judge, vec!["正确".to_owned(), "错误".to_owned()], vec![1])
        );
    }

    #[test]
    fn chinese_headers_and_options_in_one_cell() {
        let rows = ok("题号,题型,分类,难度,题干,选项,答案,解析,出处,stem_en,options_en,explanation_en\n\
                       q-1,单选,law,1,问？,甲|乙|丙,2,因为。,法,Q?,A|B|C,Because.\n");
        let q = rows[0].question.as_ref().unwrap();
        assert_eq!((q.options.len(), q.answer.clone()), (3, vec![1]));
        assert_eq!(q.en.as_ref().unwrap().options, ["A", "B", "C"]);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line_and_column() {
        let text = format!(
            "{HEADER}\n\
             bad id!,single,law,1,问一？,甲,乙,,,A,因为。,法\n\
             q-2,single,law,9,\"问，二？\",甲,,丙,,E,因为。,\n\
             q-3,essay,law,1,问三？,甲,乙,,,A,因为。,法\n"
        );
        let rows = ok(&text);
        let errors: Vec<(Option<u64>, String)> =
            rows.iter().flat_map(|r| r.errors.iter().map(|e| (e.line, e.field.clone()))).collect();
        assert_eq!(
            errors,
            [
                (Some(2), "id".into()),
                (Some(3), "difficulty".into()),
                (Some(3), "source".into()),
                (Some(3), "option_b".into()),
                (Some(3), "answer".into()),
                (Some(4), "kind".into()),
            ]
        );
        assert!(rows.iter().all(|r| r.question.is_none()));
    }

    #[test]
    fn file_problems_are_reported_alone() {
        let e = parse(b"id,kind,stem,colour\n").unwrap_err();
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"colour") && fields.contains(&"answer") && fields.contains(&"source"), "{e:?}");
        let e = parse(b"id,kind\n\xd6\xd0\xce\xc4\n").unwrap_err();
        assert_eq!(e[0].line, Some(2));
        assert!(e[0].message.contains("UTF-8"), "{e:?}");
        assert!(parse(b"").unwrap_err()[0].message.contains("empty"));
    }

    #[test]
    fn answers_as_people_write_them() {
        use QuestionKind::*;
        assert_eq!(answer("A", Single, 4), Ok(vec![0]));
        assert_eq!(answer(" c ", Single, 4), Ok(vec![2]));
        assert_eq!(answer("CA", Multi, 4), Ok(vec![0, 2]));
        assert_eq!(answer("A、B，D", Multi, 4), Ok(vec![0, 1, 3]));
        assert_eq!(answer("ＡＣ", Multi, 4), Ok(vec![0, 2]));
        assert_eq!(answer("1,3", Multi, 4), Ok(vec![0, 2]));
        assert_eq!(answer("2", Single, 4), Ok(vec![1]));
        assert_eq!(answer("对", Judge, 2), Ok(vec![0]));
        assert_eq!(answer("×", Judge, 2), Ok(vec![1]));
        assert_eq!(answer("B", Judge, 2), Ok(vec![1]));
        assert!(answer("E", Single, 4).unwrap_err().contains("does not exist"));
        assert!(answer("5", Single, 4).unwrap_err().contains("does not exist"));
        assert!(answer("AA", Multi, 4).unwrap_err().contains("twice"));
        assert!(answer("", Single, 4).unwrap_err().contains("empty"));
        assert!(answer("甲", Single, 4).is_err());
    }

    #[test]
    fn validation_fields_name_the_columns() {
        assert_eq!(Layout::field_name(true, "options[2]"), "option_c");
        assert_eq!(Layout::field_name(false, "options[2]"), "options");
        assert_eq!(Layout::field_name(false, "en.options[1]"), "options_en");
        assert_eq!(Layout::field_name(true, "en.stem"), "stem_en");
        assert_eq!(Layout::field_name(true, "answer"), "answer");
        assert_eq!(Layout::field_name(true, ""), "");
    }

    /// The example in docs/questions-csv.md reads as the page says.
    #[test]
    fn the_documented_example_reads() {
        let page = include_str!("../../../../docs/questions-csv.md");
        let example = page.split("```csv\n").nth(1).and_then(|rest| rest.split("```").next()).expect("an example");
        let rows = ok(example);
        assert_eq!(rows.len(), 3);
        let q: Vec<&Question> = rows.iter().map(|r| r.question.as_ref().unwrap()).collect();
        assert_eq!((q[0].answer.clone(), q[1].answer.clone(), q[2].answer.clone()), (vec![0], vec![0, 1, 3], vec![1]));
        assert_eq!(q[2].stem, "朋友递来的\"提神饮料\"来历不明，可以放心喝。");
    }

    #[test]
    fn semicolons_are_taken_where_the_header_has_no_commas() {
        let rows = ok("id;kind;category;difficulty;stem;options;answer;explanation;source\n\
                       q-1;single;law;1;问，一？;甲|乙;A;因为。;法\n");
        assert_eq!(rows[0].question.as_ref().unwrap().stem, "问，一？");
    }
}
