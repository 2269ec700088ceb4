//! Finding the graded tests and their points. (What an exercise file may
//! contain is xtask's to check: `grade::scan`, with a Rust parser.)

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
}
