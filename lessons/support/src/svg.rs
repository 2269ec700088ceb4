//! Pictures of a run (`--svg FILE`): a tiny SVG writer and the one way a
//! lesson hands its picture to the learner.
//!
//! The few elements a lesson draws (rectangles, lines, text) are written by
//! hand: the lessons' dependencies are fixed to the system-call crates, and
//! the whole of what a picture needs is escaping text and attributes, which
//! [`escape`] does. Every picture is plain SVG with a `<title>` and a
//! `<desc>`, on an opaque light background (an `<img>` cannot see the
//! book's theme, so the picture brings its own), with text no smaller than
//! [`MIN_FONT`] in a [`WIDTH`]-unit-wide view box, so that it stays legible
//! on a 390-px phone screen.
//!
//! [`Output`] is where the picture goes: standard output for `--svg -`, or
//! a file written atomically through [`crate::keep::Keeper`] (refusing a
//! link, a FIFO, a directory, or an existing file without `--force`).

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::keep::Keeper;

/// The width of every picture's view box, in user units (the book's column
/// shows it at about 360 px on a phone).
pub const WIDTH: f64 = 480.0;

/// The smallest font size a picture uses: 13 units of 480 show at 9.75 px
/// in a 360-px column.
pub const MIN_FONT: f64 = 13.0;

/// The background every picture is drawn on (the book's figures use it too).
pub const BACKGROUND: &str = "#fdfdfd";

/// `text` made safe for XML text and attribute values: `&`, `<`, `>`, `"`
/// and `'` as entities; a newline, tab or other control character (which
/// XML 1.0 forbids, or a drawing would lose) as a visible `\n`, `\t` or
/// `\xNN`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// A number as an attribute value: at most one decimal, no trailing `.0`.
pub fn num(value: f64) -> String {
    // Integer arithmetic only: `round` and `trunc` would link libm into the
    // lessons, a library process-maps' story would then list.
    let value = if value.is_finite() { value } else { 0.0 };
    let half = if value < 0.0 { -0.5 } else { 0.5 };
    let tenths = (value * 10.0 + half) as i64;
    match (tenths / 10, (tenths % 10).abs()) {
        (whole, 0) => format!("{whole}"),
        (0, tenth) if tenths < 0 => format!("-0.{tenth}"),
        (whole, tenth) => format!("{whole}.{tenth}"),
    }
}

/// `text` cut to at most `max` characters, its end replaced by `...` when
/// cut (labels in a fixed space).
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(3)).collect();
    format!("{kept}...")
}

/// `text` cut so that, escaped, it takes at most `max` bytes (`...` added
/// when cut): a bound on a picture's size whatever the names hold.
pub fn shorten_escaped(text: &str, max: usize) -> String {
    if escape(text).len() <= max {
        return text.to_owned();
    }
    let mut kept = String::new();
    let mut used = 3;
    for c in text.chars() {
        let mut buffer = [0u8; 4];
        used += escape(c.encode_utf8(&mut buffer)).len();
        if used > max {
            break;
        }
        kept.push(c);
    }
    format!("{kept}...")
}

/// Where text sits relative to its `x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// A text's look: size, anchor, weight, colour, monospace or not.
#[derive(Debug, Clone, Copy)]
pub struct Font {
    pub size: f64,
    pub anchor: Anchor,
    pub bold: bool,
    pub mono: bool,
    pub fill: &'static str,
}

impl Font {
    /// The body text: [`MIN_FONT`], dark grey, at its start.
    pub const BODY: Font = Font {
        size: MIN_FONT,
        anchor: Anchor::Start,
        bold: false,
        mono: false,
        fill: "#222",
    };

    /// The same font at another size (never under [`MIN_FONT`]).
    pub const fn size(self, size: f64) -> Font {
        Font {
            size: if size < MIN_FONT { MIN_FONT } else { size },
            ..self
        }
    }
    pub const fn bold(self) -> Font {
        Font { bold: true, ..self }
    }
    pub const fn mono(self) -> Font {
        Font { mono: true, ..self }
    }
    pub const fn anchored(self, anchor: Anchor) -> Font {
        Font { anchor, ..self }
    }
    pub const fn fill(self, fill: &'static str) -> Font {
        Font { fill, ..self }
    }
}

/// A rectangle to draw: where, its colours, a `class` naming what it
/// stands for (tests count them), and a `tip` that becomes its `<title>`
/// (a tooltip, read by screen readers). Text is escaped when written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rect<'a> {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub fill: &'a str,
    pub stroke: Option<&'a str>,
    pub class: Option<&'a str>,
    pub tip: Option<&'a str>,
}

/// An SVG document being written, [`WIDTH`] units wide; its height grows
/// with what is drawn and is set by [`Svg::finish`].
#[derive(Debug)]
pub struct Svg {
    body: String,
    title: String,
    desc: String,
}

impl Svg {
    /// A picture with this `<title>` and `<desc>` (escaped here).
    pub fn new(title: &str, desc: &str) -> Svg {
        Svg {
            body: String::new(),
            title: escape(title),
            desc: escape(desc),
        }
    }

    /// A rectangle (see [`Rect`]).
    pub fn rect(&mut self, rect: Rect<'_>) {
        let _ = write!(
            self.body,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}""#,
            num(rect.x),
            num(rect.y),
            num(rect.width.max(0.0)),
            num(rect.height.max(0.0)),
            escape(rect.fill)
        );
        if let Some(stroke) = rect.stroke {
            let _ = write!(self.body, r#" stroke="{}""#, escape(stroke));
        }
        if let Some(class) = rect.class {
            let _ = write!(self.body, r#" class="{}""#, escape(class));
        }
        match rect.tip {
            Some(tip) => {
                let _ = writeln!(self.body, "><title>{}</title></rect>", escape(tip));
            }
            None => self.body.push_str("/>\n"),
        }
    }

    /// A straight line.
    pub fn line(
        &mut self,
        (x1, y1): (f64, f64),
        (x2, y2): (f64, f64),
        stroke: &str,
        dashed: bool,
    ) {
        let _ = writeln!(
            self.body,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"{}/>"#,
            num(x1),
            num(y1),
            num(x2),
            num(y2),
            escape(stroke),
            if dashed {
                r#" stroke-dasharray="4 3""#
            } else {
                ""
            }
        );
    }

    /// One line of text (escaped here), its baseline at `y`.
    pub fn text(&mut self, x: f64, y: f64, font: Font, text: &str) {
        let anchor = match font.anchor {
            Anchor::Start => "",
            Anchor::Middle => r#" text-anchor="middle""#,
            Anchor::End => r#" text-anchor="end""#,
        };
        let _ = writeln!(
            self.body,
            r#"<text x="{}" y="{}" font-size="{}" fill="{}"{anchor}{}{}>{}</text>"#,
            num(x),
            num(y),
            num(font.size.max(MIN_FONT)),
            escape(font.fill),
            if font.bold {
                r#" font-weight="bold""#
            } else {
                ""
            },
            if font.mono {
                r#" font-family="monospace""#
            } else {
                ""
            },
            escape(text)
        );
    }

    /// A legend: one swatch of each `(fill, meaning)` pair, a row each from
    /// `y` down, the meaning in `font`; returns the `y` below the last row.
    pub fn legend(&mut self, y: f64, font: Font, entries: &[(&str, &str)]) -> f64 {
        let mut y = y;
        for &(fill, meaning) in entries {
            self.rect(Rect {
                x: 16.0,
                y,
                width: 14.0,
                height: 14.0,
                fill,
                stroke: Some("#777"),
                ..Rect::default()
            });
            self.text(38.0, y + 12.0, font, meaning);
            y += 20.0;
        }
        y
    }

    /// The document, `height` units tall: the XML declaration, the root
    /// with its view box, title, desc, the opaque background, then what
    /// was drawn.
    pub fn finish(self, height: f64) -> String {
        let height = num(height.max(1.0));
        let width = num(WIDTH);
        let mut out = String::with_capacity(self.body.len() + 600);
        let _ = write!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" \
             width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" \
             font-size=\"{}\" role=\"img\">\n<title>{}</title>\n<desc>{}</desc>\n\
             <rect x=\"0.5\" y=\"0.5\" width=\"{}\" height=\"{}\" rx=\"10\" fill=\"{BACKGROUND}\" \
             stroke=\"#999\"/>\n",
            num(MIN_FONT),
            self.title,
            self.desc,
            num(WIDTH - 1.0),
            num(height.parse::<f64>().unwrap_or(1.0) - 1.0),
        );
        out.push_str(&self.body);
        out.push_str("</svg>\n");
        out
    }
}

/// Where `--svg` sends the picture: standard output (`-`), or a file
/// prepared before the story starts, so that a bad path is refused at once
/// and nothing of the picture is left if the lesson stops halfway.
#[derive(Debug)]
pub enum Output {
    Stdout,
    File(Keeper),
}

impl Output {
    /// Prepares `--svg VALUE`: `-` is standard output; anything else a
    /// file, refused (one sentence, saying why and what to do) when it is a
    /// directory, a link, a FIFO or a device, when it exists and `force` is
    /// false, or when its directory cannot be written.
    pub fn prepare(value: &OsStr, force: bool) -> Result<Output, String> {
        if value == "-" {
            return Ok(Output::Stdout);
        }
        let path = Path::new(value);
        let shown = crate::errors::shown(path);
        let name = match path.file_name() {
            Some(name) if !value.to_string_lossy().ends_with('/') => name,
            _ => {
                return Err(format!(
                    "--svg {shown}: name a file to write the picture to, such as me.svg \
                     (or - for standard output)."
                ));
            }
        };
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let name = name.to_string_lossy();
        Keeper::prepare(dir, &name, force)
            .map(Output::File)
            .map_err(|why| {
                let why = why
                    .replace("--keep", "--svg")
                    .replace("choose another directory", "choose another file name");
                format!("--svg {shown}: {why}")
            })
    }

    /// True for `--svg -`: the picture is the whole of standard output, so
    /// the lesson leaves its story out.
    pub fn is_stdout(&self) -> bool {
        matches!(self, Output::Stdout)
    }

    /// Writes the picture: to standard output, or into place atomically.
    /// Returns the file's path, or `None` for standard output.
    pub fn write(self, svg: &str) -> Result<Option<PathBuf>, String> {
        match self {
            Output::Stdout => {
                crate::out::text(svg);
                Ok(None)
            }
            Output::File(keeper) => keeper
                .write(svg.as_bytes())
                .map(Some)
                .map_err(|why| format!("--svg: {why}")),
        }
    }
}

/// `--svg FILE` and `--force` as parsed: the file (or `-`), and whether
/// an existing file may be replaced. Refuses `--force` without `--svg`.
pub fn requested(
    cli: &crate::cli::Cli,
    svg: Option<OsString>,
    force: bool,
) -> crate::Result<Option<(OsString, bool)>> {
    match svg {
        None if force => Err(cli.refuse(
            "--force only makes sense with --svg FILE: it allows replacing FILE",
        )),
        None => Ok(None),
        Some(value) => Ok(Some((value, force))),
    }
}

/// Runs the lesson with its picture, if one was asked for: the output is
/// prepared first (a bad path is refused before the story starts); then
/// the story runs, except for `--svg -`, where the picture is the whole of
/// standard output; then the picture is drawn from this run's data and
/// written, and the story names the file.
pub fn with_picture(
    cli: &crate::cli::Cli,
    request: Option<(OsString, bool)>,
    story: impl FnOnce() -> crate::Result,
    picture: impl FnOnce() -> crate::Result<String>,
) -> crate::Result {
    let Some((value, force)) = request else {
        return story();
    };
    let output = Output::prepare(&value, force).map_err(|why| cli.refuse(why))?;
    if !output.is_stdout() {
        story()?;
    }
    let drawn = picture()?;
    if output
        .write(&drawn)
        .map_err(|why| cli.refuse(why))?
        .is_some()
    {
        let shown = crate::errors::shown(Path::new(&value));
        crate::say!("\nThe picture of this run is in {shown}.");
    }
    Ok(())
}

/// The lines of a recorded run, the data a book's picture is drawn from:
/// `#` lines are comments, and blank lines say nothing.
pub fn recorded_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_escaped() {
        assert_eq!(
            escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;"
        );
        assert_eq!(escape("two\nlines\tand\u{7}"), "two\\nlines\\tand\\x07");
        assert_eq!(escape("libc.so.6 (deleted)"), "libc.so.6 (deleted)");
    }

    #[test]
    fn numbers_have_at_most_one_decimal() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(2.25), "2.3");
        assert_eq!(num(-0.04), "0");
        assert_eq!(num(f64::NAN), "0");
        assert_eq!(shorten("abcdefgh", 6), "abc...");
        assert_eq!(shorten("abc", 6), "abc");
        assert_eq!(shorten_escaped("<<<<", 12), "<<...");
        assert_eq!(shorten_escaped("<<<<", 10), "<...");
        assert_eq!(shorten_escaped("abc", 3), "abc");
    }

    #[test]
    fn a_document_has_its_title_desc_and_background_first() {
        let mut svg = Svg::new("T <1>", "D & d");
        svg.text(10.0, 20.0, Font::BODY.size(9.0), "x");
        let doc = svg.finish(100.0);
        let title = doc.find("<title>T &lt;1&gt;</title>").unwrap();
        let desc = doc.find("<desc>D &amp; d</desc>").unwrap();
        let background = doc.find(BACKGROUND).unwrap();
        let text = doc.find("<text").unwrap();
        assert!(title < desc && desc < background && background < text);
        assert!(doc.contains(r#"font-size="13""#), "never under MIN_FONT");
        assert!(doc.contains(r#"viewBox="0 0 480 100""#));
    }
}
