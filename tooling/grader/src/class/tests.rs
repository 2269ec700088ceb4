use super::*;

fn result(lesson: &str, name: &str, points: u32, verdict: Verdict) -> TestResult {
    TestResult {
        test: GradedTest {
            lesson: lesson.into(),
            name: name.into(),
            points,
        },
        verdict,
        elapsed: Duration::ZERO,
    }
}

fn exercise(lesson: &str, function: &str, tests: &[&str]) -> Exercise {
    Exercise {
        lesson: lesson.into(),
        function: function.into(),
        title: format!("Exercise: {function}"),
        hint: None,
        tests: tests.iter().map(|t| (*t).to_owned()).collect(),
    }
}

#[test]
fn one_broken_lesson_does_not_label_the_whole_row() {
    let broken = Verdict::DidNotRun("does not compile:\nerror[E0308]".into());
    let results = vec![
        result("file-mapping", "a", 2, Verdict::Passed),
        result("file-mapping", "b", 1, Verdict::Failed("yours: 1".into())),
        result("sigbus", "c", 3, broken.clone()),
        result("sigbus", "d", 1, broken),
        result(
            "page-cache",
            "e",
            1,
            Verdict::TimedOut(Duration::from_secs(2)),
        ),
    ];
    let (status, reason) = status_of(&results);
    assert_eq!(status, "partly-graded");
    assert_eq!(
        reason,
        "sigbus does not compile; test page-cache::e did not finish in 2 s"
    );
    assert_eq!(lesson_status(&results, "file-mapping").0, "graded");
    assert_eq!(lesson_status(&results, "sigbus").0, "did-not-compile");
    assert_eq!(lesson_status(&results, "page-cache").0, "timed-out");
    let row = Row {
        student: "ada".into(),
        commit: "c0ffee".into(),
        results,
        status,
        reason,
    };
    let exercises = [
        exercise("file-mapping", "f", &["a", "b"]),
        exercise("sigbus", "g", &["c", "d"]),
        exercise("page-cache", "h", &["e"]),
    ];
    let csv = csv(&[row], &exercises);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].ends_with(",status,reason,status:file-mapping,status:sigbus,status:page-cache"),
        "{csv}"
    );
    assert!(
        lines[1].starts_with("ada,c0ffee,2,0,0,0,2,8,partly-graded,"),
        "{csv}"
    );
    assert!(
        lines[1].ends_with(",graded,did-not-compile,timed-out"),
        "{csv}"
    );
}

#[test]
fn an_environment_error_is_no_score() {
    let results = vec![result(
        "file-mapping",
        "a",
        2,
        Verdict::DidNotRun("TMPDIR is full".into()),
    )];
    let row = Row {
        student: "bob".into(),
        commit: String::new(),
        results,
        status: ENVIRONMENT_ERROR.into(),
        reason: "cannot grade here: TMPDIR is full".into(),
    };
    let csv = csv(&[row], &[exercise("file-mapping", "f", &["a"])]);
    let line = csv.lines().nth(1).unwrap();
    assert_eq!(
        line,
        "bob,,,,,2,environment-error,cannot grade here: TMPDIR is full,environment-error"
    );
    let report = "{\"status\":\"environment-error\",\"message\":\"TMPDIR gone\",\"tests\":[]}";
    assert_eq!(environment_problem(report).as_deref(), Some("TMPDIR gone"));
    assert_eq!(environment_problem("{\"status\":\"graded\"}"), None);
}

#[test]
fn csv_fields_are_quoted_and_never_formulas() {
    assert_eq!(field("alice"), "alice");
    assert_eq!(field("a,b"), "\"a,b\"");
    assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(field("=cmd()"), "'=cmd()");
}

#[test]
fn every_formula_start_is_neutralised() {
    for start in ["=", "+", "-", "@", "\t", "\r"] {
        let text = format!("{start}HYPERLINK(\"x\")");
        let cell = field(&text);
        // Quoted or not, the cell's text begins with the apostrophe.
        let shown = cell.strip_prefix('"').unwrap_or(&cell);
        assert!(shown.starts_with('\''), "{text:?} became {cell:?}");
    }
    assert_eq!(field("\tx"), "'\tx");
    assert_eq!(field("\rx"), "\"'\rx\"");
    assert_eq!(field("a\tb"), "a\tb");
}
