//! How the lessons' tests check a picture (`--svg`): its structure, read
//! with a real XML parser (roxmltree), and the refusals of a bad `--svg`
//! path, the same for every lesson that draws one.

use std::fs;
use std::path::Path;

use super::{assert_refused, entries, run};

/// What a picture holds, as a parser reads it.
#[derive(Debug)]
pub struct Parsed {
    pub title: String,
    pub desc: String,
    /// The `<title>` of every `rect` with this class, in document order.
    pub tips: Vec<(String, String)>,
    /// Every text element's text, in document order.
    pub texts: Vec<String>,
}

impl Parsed {
    /// The tooltips of the rectangles of `class`.
    pub fn of_class(&self, class: &str) -> Vec<&str> {
        self.tips
            .iter()
            .filter(|(c, _)| c.split(' ').any(|word| word == class))
            .map(|(_, tip)| tip.as_str())
            .collect()
    }
}

/// Parses `svg` as XML and checks what every picture has: an `svg` root
/// with a view box, a non-empty `<title>` and `<desc>` first, an opaque
/// background rectangle before anything else is drawn, and no script.
/// Panics with the parser's message otherwise.
pub fn parse(svg: &str) -> Parsed {
    let doc = roxmltree::Document::parse(svg)
        .unwrap_or_else(|e| panic!("the picture is not well-formed XML: {e}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg", "the root is not <svg>");
    assert!(
        root.attribute("viewBox").is_some(),
        "the picture has no viewBox"
    );
    let children: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    let text_of = |node: Option<&roxmltree::Node>| {
        node.and_then(|n| n.text()).unwrap_or_default().to_owned()
    };
    let names: Vec<&str> = children
        .iter()
        .take(3)
        .map(|n| n.tag_name().name())
        .collect();
    assert_eq!(
        names,
        ["title", "desc", "rect"],
        "title, desc, background first"
    );
    let (title, desc) = (text_of(children.first()), text_of(children.get(1)));
    assert!(!title.trim().is_empty() && !desc.trim().is_empty());
    assert_eq!(
        children[2].attribute("fill"),
        Some(support::svg::BACKGROUND),
        "an opaque background"
    );
    let mut tips = Vec::new();
    let mut texts = Vec::new();
    for node in doc.descendants() {
        assert_ne!(node.tag_name().name(), "script", "a script in a picture");
        match node.tag_name().name() {
            "rect" => {
                if let Some(class) = node.attribute("class") {
                    let tip = node
                        .children()
                        .find(|n| n.has_tag_name("title"))
                        .and_then(|n| n.text())
                        .unwrap_or_default();
                    tips.push((class.to_owned(), tip.to_owned()));
                }
            }
            "text" => texts.push(node.text().unwrap_or_default().to_owned()),
            _ => {}
        }
    }
    Parsed {
        title,
        desc,
        tips,
        texts,
    }
}

/// Checks every refusal of a bad `--svg` path for `lesson`, run with
/// `before` (its other flags, if any) then `--svg PATH`: a directory, a
/// trailing slash, an existing file without `--force`, a symbolic link
/// (even with `--force`), a FIFO, a directory that cannot be written, a
/// missing value, and `--force` without `--svg`. Each is one refusal, and
/// nothing is left behind or changed.
pub fn assert_svg_refusals(lesson: &str, bin: &str, before: &[&str]) {
    let cwd = tempfile::tempdir().expect("a temporary directory");
    let dir = cwd.path();
    let refused = |args: &[&str]| {
        let mut all: Vec<&str> = before.to_vec();
        all.extend_from_slice(args);
        assert_refused(lesson, &run(bin, &all, dir))
    };
    fs::create_dir(dir.join("sub")).unwrap();
    let err = refused(&["--svg", "sub"]);
    assert!(
        err.contains("--svg sub: ./sub is a directory, not a file"),
        "{err}"
    );
    let err = refused(&["--svg", "sub/"]);
    assert!(err.contains("--svg sub/: name a file"), "{err}");

    fs::write(dir.join("old.svg"), b"precious").unwrap();
    let err = refused(&["--svg", "old.svg"]);
    assert!(
        err.contains("./old.svg already exists. Add --force to replace it"),
        "{err}"
    );
    assert_eq!(fs::read(dir.join("old.svg")).unwrap(), b"precious");

    std::os::unix::fs::symlink("old.svg", dir.join("link.svg")).unwrap();
    let err = refused(&["--svg", "link.svg", "--force"]);
    assert!(
        err.contains("is a symbolic link, and --svg never writes"),
        "{err}"
    );
    assert_eq!(fs::read(dir.join("old.svg")).unwrap(), b"precious");

    nix::unistd::mkfifo(&dir.join("fifo.svg"), nix::sys::stat::Mode::S_IRWXU)
        .unwrap();
    let err = refused(&["--svg", "fifo.svg", "--force"]);
    assert!(
        err.contains("is a FIFO (named pipe), not a regular file"),
        "{err}"
    );

    // Root writes anywhere permissions allow nothing; the kernel's own
    // directories refuse even root.
    let unwritable = if nix::unistd::geteuid().is_root() {
        "/sys/kernel/me.svg".to_owned()
    } else {
        use std::os::unix::fs::PermissionsExt;
        let locked = dir.join("locked");
        fs::create_dir(&locked).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o500)).unwrap();
        locked.join("me.svg").to_string_lossy().into_owned()
    };
    let err = refused(&["--svg", &unwritable]);
    assert!(
        err.contains(&format!("--svg {unwritable}: cannot write")),
        "{err}"
    );

    let err = refused(&["--svg"]);
    assert!(err.contains("--svg needs a value after it"), "{err}");
    let err = refused(&["--force"]);
    assert!(
        err.contains("--force only makes sense with --svg FILE"),
        "{err}"
    );

    let mut left = entries(dir);
    left.sort();
    let expected = if nix::unistd::geteuid().is_root() {
        vec!["fifo.svg", "link.svg", "old.svg", "sub"]
    } else {
        vec!["fifo.svg", "link.svg", "locked", "old.svg", "sub"]
    };
    assert_eq!(left, expected, "a refused run left something behind");
    assert!(entries(&dir.join("sub")).is_empty());
}

/// Runs `bin` with `args` (ending in `--svg FILE` with FILE in a fresh
/// directory, given as `{}`), checks it ran cleanly and left exactly the
/// picture there, and returns the picture's text and the story.
pub fn run_with_svg(bin: &str, args: &[&str]) -> (String, String) {
    let cwd = tempfile::tempdir().expect("a temporary directory");
    let args: Vec<&str> = args
        .iter()
        .map(|a| if *a == "{}" { "me.svg" } else { a })
        .collect();
    let run = run(bin, &args, cwd.path());
    assert_eq!(
        run.outcome,
        support::ChildOutcome::Exited(0),
        "the lesson ({args:?}) failed:\n{}",
        run.stderr
    );
    assert_eq!(entries(cwd.path()), ["me.svg"], "only the picture is left");
    let svg = fs::read_to_string(cwd.path().join("me.svg")).expect("the picture");
    (svg, run.stdout)
}

/// `path`'s text, or an empty string if it does not exist yet.
pub fn read_or_empty(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// Checks that the book's copy of a picture, `figure`, is `drawn`; with
/// `INSTA_UPDATE=always` (as snapshots are updated) it writes it instead.
pub fn assert_book_figure(figure: &Path, drawn: &str) {
    if std::env::var("INSTA_UPDATE").as_deref() == Ok("always") {
        if read_or_empty(figure) != drawn {
            fs::write(figure, drawn)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", figure.display()));
        }
        return;
    }
    assert!(
        read_or_empty(figure) == drawn,
        "{} is not the picture the lesson's code draws from the recorded data: \
         update it with INSTA_UPDATE=always cargo test, review, and commit it",
        figure.display()
    );
}

/// Interrupts `bin --svg me.svg` at random moments (SIGINT or SIGTERM, see
/// [`super::interrupt_at_random`]): each run leaves nothing in its current
/// directory, or exactly the whole picture, never a part of it or its
/// temporary file.
pub fn assert_interrupted_svg_whole_or_nothing(lesson: &str, bin: &str) {
    let found = super::interrupt_at_random(
        bin,
        &["--svg", "me.svg"],
        super::interrupt_runs(),
        |_| {},
        |cwd| {
            let left = entries(cwd);
            let whole = left == ["me.svg"]
                && roxmltree::Document::parse(&read_or_empty(&cwd.join("me.svg")))
                    .is_ok();
            if left.is_empty() || whole {
                Vec::new()
            } else {
                vec![format!("left {left:?} in its current directory")]
            }
        },
    );
    eprintln!(
        "{lesson} --svg: {} runs, {} ended by the signal, {} leftovers",
        found.runs,
        found.signalled,
        found.leftovers.len()
    );
    assert!(found.leftovers.is_empty(), "{:#?}", found.leftovers);
}

/// A lesson's tests of its `--svg` flag that every drawing lesson shares:
/// `test_support::svg_flag_tests!(NAME, BIN)` checks that a picture interrupted
/// at a random moment is whole or absent, and that bad `--svg` paths are
/// refused.
#[macro_export]
macro_rules! svg_flag_tests {
    ($lesson:expr, $bin:expr) => {
        #[test]
        fn an_interrupted_picture_is_whole_or_absent() {
            $crate::testing::picture::assert_interrupted_svg_whole_or_nothing(
                $lesson, $bin,
            );
        }

        #[test]
        fn bad_svg_paths_are_refused() {
            $crate::testing::picture::assert_svg_refusals($lesson, $bin, &[]);
        }
    };
}
