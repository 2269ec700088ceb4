//! The picture of a process's address space (`--svg FILE`), drawn from
//! plain data: the parsed maps, the ELF segments of the executable and of
//! libc placed on the mappings they became, and libc's Rss and Pss. The
//! same code draws a live run and the recorded run the book shows
//! ([`AddressSpace::from_recording`]).
//!
//! Every mapping is a row on one axis, in address order, coloured by kind
//! and labelled with its permissions; an unmapped gap between two mappings
//! is a thin row labelled with its size, so a 4 KiB page and a 128 TiB gap
//! are both visible. Past [`COMPACT_FROM`] mappings the rows shrink to
//! thin bars without labels (each keeps its tooltip), so that a process
//! with 10,000 mappings still draws in bounded size and time.

use std::fmt::Write as _;

use support::svg::{Anchor, Font, Rect, Svg, WIDTH, shorten, shorten_escaped};

use crate::maps::{self, Kind, Mapping};
use crate::{Target, libc_code, place_segments, program_headers, relro_range};

/// From this many mappings on, rows are drawn thin and unlabelled.
pub const COMPACT_FROM: usize = 300;

/// The longest name shown in a tooltip (names may be 4,096 bytes long), in
/// characters; in a compact picture, in bytes once escaped.
const TIP_NAME: usize = 80;
const TIP_NAME_COMPACT: usize = 32;

/// What the picture shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressSpace {
    /// Whose map it is, for the title (`this process`, `process 1234`).
    pub whose: String,
    pub mappings: Vec<Mapping>,
    /// The executable's path as the maps name it, if known.
    pub executable: Option<String>,
    /// The ELF objects whose segments are drawn: the executable and libc.
    pub objects: Vec<Object>,
    /// libc's code mapping's name and its Rss and Pss in kB, from smaps.
    pub libc_rss_pss: Option<(String, u64, u64)>,
}

/// An ELF file's loadable segments, placed on the addresses they became.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Object {
    /// Its file name (`libc.so.6`).
    pub name: String,
    /// Each segment: its flags (`r-x`) and the address range of the
    /// mappings that now hold it.
    pub segments: Vec<(String, u64, u64)>,
    /// Its `PT_GNU_RELRO` range at its load address, if it has one.
    pub relro: Option<(u64, u64)>,
}

impl AddressSpace {
    /// Reads the target's map, the segments of its executable and of its
    /// libc, and libc's Rss and Pss. Parts that cannot be read (another
    /// user's executable, smaps) are left out, and the picture says so.
    pub fn live(target: Target) -> Result<AddressSpace, crate::MapsError> {
        let mappings = crate::read_maps(target)?;
        let executable = crate::executable_path(target);
        let mut objects = Vec::new();
        let exe_file = target.proc_path("exe");
        let libc = libc_code(&mappings).map(|m| m.pathname.clone());
        let sources = executable
            .iter()
            .map(|path| (exe_file.clone(), path.clone()))
            .chain(libc.iter().map(|path| (path.clone(), path.clone())));
        for (file, path) in sources {
            let Ok(headers) = program_headers(&file) else {
                continue;
            };
            let placed = place_segments(&headers, &mappings, &path);
            let relro = relro_range(&headers, &placed).map(|r| (r.start, r.end));
            let segments = placed
                .iter()
                .filter_map(|p| {
                    let start = p.mappings.iter().map(|m| m.start).min()?;
                    let end = p.mappings.iter().map(|m| m.end).max()?;
                    let s = p.segment;
                    let flags: String =
                        [(s.read, 'r'), (s.write, 'w'), (s.exec, 'x')]
                            .iter()
                            .map(|&(on, c)| if on { c } else { '-' })
                            .collect();
                    Some((flags, start, end))
                })
                .collect();
            let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
            objects.push(Object {
                name,
                segments,
                relro,
            });
        }
        let libc_rss_pss = libc_code(&mappings).and_then(|m| {
            let smaps = crate::read_smaps(target).ok()?;
            let fields = maps::smaps_fields(&smaps, m.start)?;
            let field =
                |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
            let name = m.file_name().unwrap_or("libc").to_owned();
            Some((name, field("Rss")?, field("Pss")?))
        });
        let whose = match target {
            Target::This => "this process".to_owned(),
            Target::Pid(pid) => format!("process {pid}"),
        };
        Ok(AddressSpace {
            whose,
            mappings,
            executable,
            objects,
            libc_rss_pss,
        })
    }

    /// The data as text: `# key value` lines, then the maps lines as the
    /// kernel writes them. [`AddressSpace::from_recording`] reads it back.
    pub fn recording(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# whose {}", self.whose);
        if let Some(exe) = &self.executable {
            let _ = writeln!(out, "# executable {exe}");
        }
        for object in &self.objects {
            for (flags, start, end) in &object.segments {
                let _ = writeln!(
                    out,
                    "# segment {} {flags} {start:x} {end:x}",
                    object.name
                );
            }
            if let Some((start, end)) = object.relro {
                let _ = writeln!(out, "# relro {} {start:x} {end:x}", object.name);
            }
        }
        if let Some((name, rss, pss)) = &self.libc_rss_pss {
            let _ = writeln!(out, "# rss-pss {name} {rss} {pss}");
        }
        for mapping in &self.mappings {
            let _ = writeln!(out, "{mapping}");
        }
        out
    }

    /// Reads what [`AddressSpace::recording`] wrote.
    pub fn from_recording(text: &str) -> Result<AddressSpace, String> {
        let mut space = AddressSpace::default();
        let mut maps_text = String::new();
        let hex =
            |s: &str| u64::from_str_radix(s, 16).map_err(|_| format!("not hex: {s}"));
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("# ") else {
                maps_text.push_str(line);
                maps_text.push('\n');
                continue;
            };
            let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
            let words: Vec<&str> = value.split(' ').collect();
            let object = |space: &mut AddressSpace, name: &str| -> usize {
                match space.objects.iter().position(|o| o.name == name) {
                    Some(at) => at,
                    None => {
                        space.objects.push(Object {
                            name: name.to_owned(),
                            ..Object::default()
                        });
                        space.objects.len() - 1
                    }
                }
            };
            match (key, words.as_slice()) {
                ("whose", _) => space.whose = value.to_owned(),
                ("executable", _) => space.executable = Some(value.to_owned()),
                ("segment", [name, flags, start, end]) => {
                    let at = object(&mut space, name);
                    let segment = ((*flags).to_owned(), hex(start)?, hex(end)?);
                    space.objects[at].segments.push(segment);
                }
                ("relro", [name, start, end]) => {
                    let at = object(&mut space, name);
                    space.objects[at].relro = Some((hex(start)?, hex(end)?));
                }
                ("rss-pss", [name, rss, pss]) => {
                    let kb = |s: &str| {
                        s.parse::<u64>().map_err(|_| format!("not kB: {s}"))
                    };
                    space.libc_rss_pss =
                        Some(((*name).to_owned(), kb(rss)?, kb(pss)?));
                }
                _ => {} // a comment
            }
        }
        space.mappings = maps::parse_maps(&maps_text).map_err(|e| e.to_string())?;
        Ok(space)
    }
}

/// The colour of a kind, and the legend's word for it.
fn colour(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Executable => ("#f6c28b", "executable"),
        Kind::SharedLibrary => ("#a9cdf0", "library"),
        Kind::File | Kind::DeletedFile => ("#d9d9d9", "other file"),
        Kind::Heap => ("#a5d6a7", "heap"),
        Kind::Stack => ("#fff176", "stack"),
        Kind::Kernel => ("#ceb5e8", "kernel-provided"),
        Kind::Anonymous => ("#ffffff", "anonymous"),
        Kind::SharedAnonymous | Kind::Memfd | Kind::SharedMemory => {
            ("#f4a7c0", "shared memory")
        }
        Kind::UnknownPseudo | Kind::Other => ("#d9d9d9", "other file"),
    }
}

const LEGEND: [Kind; 8] = [
    Kind::Executable,
    Kind::SharedLibrary,
    Kind::Heap,
    Kind::Anonymous,
    Kind::SharedMemory,
    Kind::Stack,
    Kind::Kernel,
    Kind::File,
];

/// A size in the largest unit that keeps it at least 1: `4 KiB`, `128 TiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value >= 10.0 || value == (value as u64) as f64 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

// Columns, in view-box units.
const ADDRESS_END: f64 = 134.0;
const SEGMENT_X: f64 = 140.0;
const SEGMENT_WIDTH: f64 = 40.0;
const BAR_X: f64 = 186.0;
const BAR_WIDTH: f64 = 78.0;
const LABEL_X: f64 = 270.0;
/// Characters of a label that fit between LABEL_X and the right edge.
const LABEL_CHARS: usize = 27;

/// Draws the picture.
pub fn draw(space: &AddressSpace) -> String {
    let exe = space.executable.as_deref();
    let count = space.mappings.len();
    let compact = count >= COMPACT_FROM;
    let mut svg = Svg::new(
        &format!("The address space of {}", space.whose),
        &format!(
            "{count} mappings of {} from /proc/PID/maps, lowest address first, each \
             coloured by kind and labelled with its permissions; unmapped gaps are \
             compressed and labelled with their size. The ELF segments of the \
             executable and libc stand beside the mappings they became; a bar compares \
             libc's Rss and Pss.",
            space.whose
        ),
    );
    let body = Font::BODY;
    svg.text(
        WIDTH / 2.0,
        26.0,
        body.size(16.0).bold().anchored(Anchor::Middle),
        &format!("The address space of {}", space.whose),
    );
    svg.text(
        WIDTH / 2.0,
        46.0,
        body.anchored(Anchor::Middle).fill("#444"),
        &format!("{count} mappings, lowest address at the top"),
    );
    // The legend: two columns of four.
    let mut y = 62.0;
    for (index, kind) in LEGEND.iter().enumerate() {
        let (fill, word) = colour(*kind);
        let x = if index % 2 == 0 { 16.0 } else { 248.0 };
        let row_y = y + (index / 2) as f64 * 20.0;
        svg.rect(Rect {
            x,
            y: row_y,
            width: 22.0,
            height: 14.0,
            fill,
            stroke: Some("#666"),
            ..Rect::default()
        });
        svg.text(x + 28.0, row_y + 12.0, body, word);
    }
    y += 4.0 * 20.0 + 8.0;
    svg.text(
        ADDRESS_END,
        y + 4.0,
        body.bold().anchored(Anchor::End),
        "address",
    );
    svg.text(SEGMENT_X, y + 4.0, body.bold(), "ELF");
    svg.text(BAR_X, y + 4.0, body.bold(), "mapping");
    svg.text(LABEL_X, y + 4.0, body.bold(), "perms, name");
    y += 12.0;

    // Rows: a gap row before a mapping that does not start where the last ended.
    let mut rows: Vec<(f64, f64)> = Vec::with_capacity(count); // (top, bottom) per mapping
    let mut last_end: Option<u64> = None;
    for mapping in &space.mappings {
        if let Some(end) = last_end
            && mapping.start > end
        {
            let gap = mapping.start - end;
            if compact {
                y += 2.0;
            } else {
                let mid = BAR_X + BAR_WIDTH / 2.0;
                svg.line((mid, y), (mid, y + 18.0), "#888", true);
                svg.text(
                    LABEL_X,
                    y + 14.0,
                    body.fill("#555"),
                    &format!("gap: {}", human(gap)),
                );
                y += 18.0;
            }
        }
        let height = if compact {
            3.0
        } else {
            let pages = (mapping.size() / 4096).max(1);
            (18.0 + 2.0 * f64::from(pages.ilog2())).clamp(18.0, 40.0)
        };
        let kind = mapping.kind(exe);
        let (fill, word) = colour(kind);
        let name = display_name(mapping, kind);
        let tip = format!(
            "{:x}-{:x} {} {} {}: {}",
            mapping.start,
            mapping.end,
            mapping.perms,
            human(mapping.size()),
            word,
            if compact {
                shorten_escaped(&name, TIP_NAME_COMPACT)
            } else {
                shorten(&name, TIP_NAME)
            }
        );
        svg.rect(Rect {
            x: BAR_X,
            y,
            width: BAR_WIDTH,
            height,
            fill,
            stroke: (!compact).then_some("#555"),
            class: Some("mapping"),
            tip: Some(&tip),
        });
        if !compact {
            let base = y + height / 2.0 + 4.5;
            svg.text(
                ADDRESS_END,
                base,
                body.mono().anchored(Anchor::End),
                &format!("{:x}", mapping.start),
            );
            let relro = space.objects.iter().filter_map(|o| o.relro).any(|(s, e)| {
                s <= mapping.start && mapping.start < e && mapping.end <= e
            });
            let label = format!(
                "{}{} {}",
                mapping.perms,
                if relro { " RELRO" } else { "" },
                if name.is_empty() {
                    "(no name)".to_owned()
                } else {
                    name
                }
            );
            svg.text(LABEL_X, base, body, &shorten(&label, LABEL_CHARS));
        }
        rows.push((y, y + height));
        y += height;
        last_end = Some(mapping.end);
    }
    if count == 0 {
        svg.text(16.0, y + 18.0, body, "(no mappings)");
        y += 24.0;
    }
    if !compact {
        draw_segments(&mut svg, space, &rows);
    }
    y += 16.0;
    y = draw_rss_pss(&mut svg, space, y);
    svg.finish(y + 12.0)
}

/// A mapping's name as a label: its file name for a file under a path, or
/// the whole name (`[heap]`, `/memfd:x (deleted)`).
fn display_name(mapping: &Mapping, kind: Kind) -> String {
    let by_file_name = matches!(
        kind,
        Kind::Executable | Kind::SharedLibrary | Kind::File | Kind::DeletedFile
    );
    match mapping.file_name().filter(|_| by_file_name) {
        Some(name) if mapping.pathname.ends_with(" (deleted)") => {
            format!("{name} (deleted)")
        }
        Some(name) => name.to_owned(),
        None => mapping.pathname.clone(),
    }
}

/// Each object's segments as brackets beside the rows they became.
fn draw_segments(svg: &mut Svg, space: &AddressSpace, rows: &[(f64, f64)]) {
    for object in &space.objects {
        for (flags, start, end) in &object.segments {
            let covered: Vec<&(f64, f64)> = space
                .mappings
                .iter()
                .zip(rows)
                .filter(|(m, _)| *start <= m.start && m.end <= *end)
                .map(|(_, row)| row)
                .collect();
            let (Some(first), Some(last)) = (covered.first(), covered.last()) else {
                continue;
            };
            let tip = format!(
                "{}: a PT_LOAD segment ({flags}), now {} mapping{}",
                object.name,
                covered.len(),
                if covered.len() == 1 { "" } else { "s" }
            );
            svg.rect(Rect {
                x: SEGMENT_X,
                y: first.0 + 1.0,
                width: SEGMENT_WIDTH,
                height: last.1 - first.0 - 2.0,
                fill: "#eef3f8",
                stroke: Some("#1f5fa8"),
                class: Some("segment"),
                tip: Some(&tip),
            });
            let mid = (first.0 + last.1) / 2.0 + 4.5;
            svg.text(
                SEGMENT_X + SEGMENT_WIDTH / 2.0,
                mid,
                Font::BODY.mono().anchored(Anchor::Middle).fill("#1f5fa8"),
                flags,
            );
        }
    }
}

/// libc's Rss and Pss as two bars, or why they are missing.
fn draw_rss_pss(svg: &mut Svg, space: &AddressSpace, y: f64) -> f64 {
    let body = Font::BODY;
    let Some((name, rss, pss)) = &space.libc_rss_pss else {
        svg.text(
            16.0,
            y + 14.0,
            body,
            "Rss and Pss: no libc code mapping (or no smaps)",
        );
        return y + 20.0;
    };
    svg.text(
        16.0,
        y + 14.0,
        body.bold(),
        &shorten(&format!("{name}'s code, from smaps"), 40),
    );
    let full = 300.0;
    let scale = |kb: u64| {
        if *rss == 0 {
            0.0
        } else {
            full * kb as f64 / *rss as f64
        }
    };
    for (index, (label, kb, fill)) in
        [("Rss", *rss, "#a9cdf0"), ("Pss", *pss, "#1f5fa8")]
            .into_iter()
            .enumerate()
    {
        let row = y + 24.0 + index as f64 * 24.0;
        svg.text(16.0, row + 14.0, body, label);
        let width = scale(kb).min(full);
        svg.rect(Rect {
            x: 52.0,
            y: row,
            width,
            height: 18.0,
            fill,
            stroke: Some("#555"),
            class: Some("rss-pss"),
            tip: Some(&format!("{label} {kb} kB")),
        });
        svg.text(52.0 + width + 6.0, row + 14.0, body, &format!("{kb} kB"));
    }
    let note = "Pss splits each page among the processes that map it";
    svg.text(16.0, y + 86.0, body.fill("#444"), note);
    y + 94.0
}

/// The picture of `target` now. For this process, the lesson first maps one
/// specimen of each kind a program can make for itself (shared anonymous
/// memory, a memfd, a POSIX shm object, a deleted file), as step 1 does.
pub fn live_picture(target: Target) -> support::Result<String> {
    let scratch = support::scratch_dir()?;
    let _specimens = match target {
        Target::This => Some(crate::Specimens::create(scratch.path())?),
        Target::Pid(_) => None,
    };
    Ok(draw(&AddressSpace::live(target)?))
}
