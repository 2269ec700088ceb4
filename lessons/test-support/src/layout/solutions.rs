//! Solutions and stubs from one source. In an exercise file the reference
//! solution sits between two marker lines, and the stub just above it as a
//! comment:
//!
//! ```text
//!     // STUB: todo!("map the file")
//!     // SOLUTION BEGIN
//!     let file = File::open(path)?;
//!     // SOLUTION END
//! ```
//!
//! The handout drops every solution region and uncomments every stub line.
//! A region with no stub (imports only the solution needs) simply disappears.

use super::Result;

pub const STUB: &str = "// STUB:";
pub const BEGIN: &str = "// SOLUTION BEGIN";
pub const END: &str = "// SOLUTION END";

/// True if `source` has at least one solution region.
pub fn has_solutions(source: &str) -> bool {
    source.lines().any(|l| l.trim() == BEGIN)
}

/// How many stubs (exercises to fill in) `source` has.
pub fn count_stubs(source: &str) -> usize {
    source
        .lines()
        .filter(|l| l.trim_start().starts_with(STUB))
        .count()
}

/// The student's version of `source`: solutions removed, stubs uncommented.
pub fn strip_solutions(source: &str) -> Result<String> {
    let mut out = String::with_capacity(source.len());
    let mut inside: Option<usize> = None;
    for (index, line) in source.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        match (trimmed, inside) {
            (BEGIN, Some(opened)) => {
                return Err(format!(
                    "line {number}: SOLUTION BEGIN inside the region opened at line {opened}"
                ));
            }
            (BEGIN, None) => inside = Some(number),
            (END, Some(_)) => inside = None,
            (END, None) => {
                return Err(format!("line {number}: SOLUTION END without a BEGIN"));
            }
            (_, Some(_)) => {}
            (_, None) => match trimmed.strip_prefix(STUB) {
                Some(stub) => {
                    let indent = &line[..line.len() - line.trim_start().len()];
                    out.push_str(indent);
                    out.push_str(stub.trim_start());
                    out.push('\n');
                }
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            },
        }
    }
    if let Some(opened) = inside {
        return Err(format!("line {opened}: SOLUTION BEGIN is never closed"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXERCISE: &str = "\
use std::io;
// SOLUTION BEGIN
use std::fs::File;
// SOLUTION END

pub fn open(path: &str) -> io::Result<()> {
    // STUB: todo!(\"open {path}\")
    // SOLUTION BEGIN
    File::open(path)?;
    Ok(())
    // SOLUTION END
}
";

    #[test]
    fn solutions_become_stubs() {
        assert_eq!(
            strip_solutions(EXERCISE).unwrap(),
            "use std::io;\n\npub fn open(path: &str) -> io::Result<()> {\n    todo!(\"open {path}\")\n}\n"
        );
        assert!(has_solutions(EXERCISE));
        assert_eq!(count_stubs(EXERCISE), 1);
        assert!(!has_solutions(&strip_solutions(EXERCISE).unwrap()));
    }

    #[test]
    fn unbalanced_markers_are_errors_with_line_numbers() {
        assert!(
            strip_solutions("// SOLUTION BEGIN\n")
                .unwrap_err()
                .contains("line 1")
        );
        assert!(
            strip_solutions("x\n// SOLUTION END\n")
                .unwrap_err()
                .contains("line 2")
        );
        let nested = "// SOLUTION BEGIN\n// SOLUTION BEGIN\n// SOLUTION END\n// SOLUTION END\n";
        assert!(
            strip_solutions(nested)
                .unwrap_err()
                .contains("opened at line 1")
        );
    }
}
