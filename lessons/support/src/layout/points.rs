//! Finding the graded tests and their points, and the rules an exercise
//! file must keep for its tests to be worth anything.

use super::Result;

/// A graded test: the lesson, the test's name, and what it is worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradedTest {
    pub lesson: String,
    pub name: String,
    pub points: u32,
}

/// The `(test name, points)` pairs of a graded test file, in file order.
/// Each `#[test]` carries its points on a `// points: N` line above it.
pub fn parse_points(source: &str) -> Result<Vec<(String, u32)>> {
    let mut found: Vec<(String, u32)> = Vec::new();
    let mut points: Option<u32> = None;
    let mut is_test = false;
    for (index, line) in source.lines().enumerate() {
        let line = line.trim();
        if let Some(value) = line.strip_prefix("// points:") {
            let value = value.trim();
            points = Some(value.parse().map_err(|_| {
                format!(
                    "line {}: '// points: {value}' is not a whole number of points",
                    index + 1
                )
            })?);
        } else if line == "#[test]" {
            is_test = true;
        } else if let Some(rest) = line.strip_prefix("fn ").filter(|_| is_test) {
            let name = rest.split('(').next().unwrap_or_default().trim().to_owned();
            let Some(value) = points.take() else {
                return Err(format!(
                    "line {}: graded test '{name}' has no '// points: N' line above its #[test]",
                    index + 1
                ));
            };
            if found.iter().any(|(n, _)| *n == name) {
                return Err(format!(
                    "line {}: a second test named '{name}'",
                    index + 1
                ));
            }
            found.push((name, value));
            is_test = false;
        } else if line.starts_with("fn ") {
            points = None;
        }
    }
    Ok(found)
}

/// Words an exercise file may not contain, because code written with them
/// can run before a test's checks do (before `main`, or inside every
/// allocation), pull in code the grader never sees, or make the build hang.
/// They are matched with all white space removed, so spacing cannot hide one.
const FORBIDDEN: &[(&str, &str)] = &[
    (
        "link_section",
        "places code where the loader runs it before main",
    ),
    (
        "init_array",
        "places code where the loader runs it before main",
    ),
    ("export_name", "can replace a symbol the test harness uses"),
    ("no_mangle", "can replace a symbol the test harness uses"),
    ("#[link(", "links a library the grader never sees"),
    (
        "global_allocator",
        "runs code inside every allocation of the test",
    ),
    ("global_asm", "assembles code outside any function"),
    (
        "asm!",
        "assembles code, which can place more code before main",
    ),
    ("include!", "pulls in code from another file"),
    ("include_str!", "pulls in another file"),
    ("include_bytes!", "pulls in another file"),
    ("#[path", "pulls in a module from another file"),
    (
        "long_running_const_eval",
        "lets a constant compute forever while building",
    ),
];

/// The words an exercise file may not contain, for people to read.
pub fn forbidden_words() -> impl Iterator<Item = &'static str> {
    FORBIDDEN.iter().map(|(word, _)| *word)
}

/// Problems with an exercise file that make its tests untrustworthy: each
/// names the word, the line and why it is not allowed.
pub fn forbidden_constructs(source: &str) -> Vec<String> {
    let squeeze = |text: &str| -> String {
        text.chars().filter(|c| !c.is_whitespace()).collect()
    };
    // Comments are blanked first (their line breaks kept), so that neither
    // `include_str /**/ !` nor `#/**/[path` can split a word.
    let source = &without_comments(source);
    let mut problems = Vec::new();
    for (index, line) in source.lines().enumerate() {
        let squeezed = squeeze(line);
        for (word, why) in FORBIDDEN {
            if squeezed.contains(word) {
                problems.push(format!(
                    "line {}: `{word}` is not allowed in an exercise file: it {why}",
                    index + 1
                ));
            }
        }
    }
    // A word split over lines, or a module declared in another file
    // (`mod x;`), which the grader would never see.
    let whole = squeeze(source);
    for (word, why) in FORBIDDEN {
        if whole.contains(word)
            && !problems.iter().any(|p| p.contains(&format!("`{word}`")))
        {
            problems.push(format!(
                "`{word}` (split over lines) is not allowed in an exercise file: it {why}"
            ));
        }
    }
    let tokens = tokens(source);
    for window in tokens.windows(3) {
        if window[0] == "mod" && is_identifier(&window[1]) && window[2] == ";" {
            problems.push(format!(
                "`mod {};` is not allowed in an exercise file: it pulls in code from another \
                 file; write the module inline (`mod {} {{ ... }}`) or in this file",
                window[1], window[1]
            ));
        }
    }
    problems
}

/// `source` with every comment (`//`, and `/* */` nested) replaced by
/// spaces, line breaks kept. String and character literals are kept as
/// they are, and a `//` inside one starts no comment.
pub fn without_comments(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('#') || next == Some('"'))
            && !chars[..i]
                .last()
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string r#"..."#: it ends at a quote and as many hashes.
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            let end = (j + 1..chars.len())
                .find(|&k| {
                    chars[k] == '"'
                        && (1..=hashes).all(|h| chars.get(k + h) == Some(&'#'))
                })
                .map_or(chars.len(), |k| k + 1 + hashes);
            out.extend(&chars[i..end]);
            i = end;
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(chars.len());
            out.extend(&chars[i..end]);
            i = end;
        } else if c == '\'' {
            // A character literal ('x', '\n', '"'), or a lifetime ('a).
            let end = if next == Some('\\') {
                (i + 2..chars.len())
                    .find(|&k| chars[k] == '\'')
                    .map_or(chars.len(), |k| k + 1)
            } else if chars.get(i + 2) == Some(&'\'') {
                i + 3
            } else {
                i + 1
            };
            out.extend(&chars[i..end]);
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The source's identifiers and punctuation, white space aside (run it on
/// source without comments).
fn tokens(source: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            let mut word = c.to_string();
            while let Some(&next) = chars.peek() {
                if next.is_alphanumeric() || next == '_' {
                    word.push(next);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(word);
        } else if !c.is_whitespace() {
            tokens.push(c.to_string());
        }
    }
    tokens
}

fn is_identifier(word: &str) -> bool {
    word.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRADED: &str = "\
// points: 2
#[test]
fn first() {}

fn helper() {}

// points: 3
#[test]
fn second() {}
";

    #[test]
    fn points_are_read_from_the_line_above_each_test() {
        assert_eq!(
            parse_points(GRADED).unwrap(),
            [("first".into(), 2), ("second".into(), 3)]
        );
    }

    #[test]
    fn a_test_without_points_is_an_authoring_error() {
        let error = parse_points("#[test]\nfn lonely() {}\n").unwrap_err();
        assert!(error.contains("'lonely' has no '// points: N'"), "{error}");
        assert!(parse_points("// points: many\n#[test]\nfn x() {}\n").is_err());
        assert!(
            parse_points(
                "// points: 1\n#[test]\nfn x() {}\n// points: 1\n#[test]\nfn x() {}\n"
            )
            .is_err()
        );
    }

    #[test]
    fn code_that_runs_before_the_checks_is_refused() {
        let evil = "#[used]\n#[unsafe(link_section = \".init_array\")]\nstatic X: fn() = f;\n";
        let problems = forbidden_constructs(evil);
        assert!(
            problems[0].starts_with("line 2: `link_section`"),
            "{problems:?}"
        );
        assert!(!forbidden_constructs("#[global_allocator]\n").is_empty());
        assert!(!forbidden_constructs("include!(\"/tmp/x.rs\");\n").is_empty());
        assert!(
            forbidden_constructs("pub fn sum(x: &[u8]) -> u64 { 0 }\n").is_empty()
        );
        // Spacing, line breaks and other files cannot hide one.
        assert!(!forbidden_constructs("let s = include_str !(\"f\");\n").is_empty());
        assert!(!forbidden_constructs("let s = include_str\n!(\"f\");\n").is_empty());
        assert!(
            !forbidden_constructs("#[path = \"../x.rs\"]\nmod early;\n").is_empty()
        );
        assert!(!forbidden_constructs("mod\n  early\n;\n").is_empty());
        assert!(
            !forbidden_constructs("#[allow(long_running_const_eval)]\n").is_empty()
        );
        assert!(!forbidden_constructs("#[link(name = \"evil\")]\n").is_empty());
        // Comments cannot split a word, and strings cannot hide a comment.
        assert!(!forbidden_constructs("include_str /**/ !(\"f\")\n").is_empty());
        assert!(
            !forbidden_constructs("#/* a /* nested */ one */[path = \"x\"]\n")
                .is_empty()
        );
        assert!(!forbidden_constructs("mod /**/ evil /**/;\n").is_empty());
        assert!(
            !forbidden_constructs("let s = \"//\"; #[path = \"x\"] mod y;\n")
                .is_empty()
        );
        assert!(!forbidden_constructs("let c = '\"'; #[path = \"x\"]\n").is_empty());
        assert!(!forbidden_constructs("let s = r#\"//\"#; mod y;\n").is_empty());
        assert!(!forbidden_constructs("core::arch::asm!(\"nop\");\n").is_empty());
        // A word in a comment is no code; an inline module is fine.
        assert!(forbidden_constructs("// include! would be wrong here\n").is_empty());
        assert!(
            forbidden_constructs("mod helpers {\n    pub fn x() {}\n}\n").is_empty()
        );
    }
}
