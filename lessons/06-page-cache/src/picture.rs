//! The picture of a file's residency (`--svg FILE`): one cell per page of
//! the lesson's file at four moments, what the page cache holds (mincore)
//! beside what this process has mapped (pagemap's present bit). Drawn from
//! plain data, so the same code draws a live run and the recorded run the
//! book shows ([`Residency::from_recording`]).

use std::fmt::Write as _;
use std::os::unix::fs::FileExt;
use std::path::Path;

use nix::errno::Errno;
use nix::sys::mman::{MapFlags, ProtFlags};
use support::region::Region;
use support::svg::{Anchor, Font, Rect, Svg, WIDTH};

use crate::{create_file, evict_from_cache, filesystem_name, map_file};

/// The live run's file: 256 pages (1 MiB with 4 KiB pages).
pub const PAGES: usize = 256;

/// At most this many cells per grid; more pages share a cell.
pub const MAX_CELLS: usize = 256;
const PER_ROW: usize = 32;
const CELL: f64 = 12.0;

/// What one moment found, page by page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Moment {
    /// What had just happened (`after posix_fadvise(DONTNEED)`).
    pub label: String,
    /// mincore: the page is in the page cache.
    pub cached: Vec<bool>,
    /// pagemap's present bit: this process's page table maps the page;
    /// `None` where pagemap cannot be read.
    pub mapped: Option<Vec<bool>>,
    /// The pages read just before this moment (marked in both grids).
    pub touched: Vec<usize>,
}

/// The picture's data: the filesystem and the moments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Residency {
    /// Where the file was (`ext4`, `tmpfs`), from statfs.
    pub filesystem: String,
    pub moments: Vec<Moment>,
}

/// mincore(2) for every page of `region`: true where it is in the page cache.
pub fn cached_pages(region: &Region) -> nix::Result<Vec<bool>> {
    let mut residency = vec![0u8; region.len().div_ceil(support::page_size())];
    // SAFETY: the range is exactly the mapping `region` owns, page-aligned as
    // mmap returned it, and `residency` has one byte for each of its pages.
    let rc = unsafe {
        libc::mincore(region.as_ptr().cast(), region.len(), residency.as_mut_ptr())
    };
    Errno::result(rc)?;
    Ok(residency.iter().map(|&byte| byte & 1 == 1).collect())
}

/// pagemap's present bit for every page of `region`, or `None` where
/// `/proc/self/pagemap` cannot be read.
pub fn mapped_pages(region: &Region) -> Option<Vec<bool>> {
    let pages = region.len().div_ceil(support::page_size());
    let entries = support::pagemap::entries(region.address(), pages).ok()?;
    Some(entries.iter().map(|e| e.present).collect())
}

// ANCHOR: moments
/// The four moments, on a fresh file of [`PAGES`] pages in `dir`, mapped
/// (`MAP_SHARED`, read-only) before the first moment and never unmapped:
/// before the first touch (written, fsynced, dropped with DONTNEED); after
/// `pread` of the first 4 pages (readahead caches more); after DONTNEED
/// again; after reading a byte of every 16th page through the mapping (each
/// fault maps the cached pages around it: fault-around).
pub fn four_moments(dir: &Path) -> std::io::Result<Residency> {
    let page = support::page_size();
    let len = PAGES * page;
    let file = create_file(&dir.join("residency-picture"), len, page)?;
    file.sync_all()?; // DONTNEED drops clean pages only
    evict_from_cache(&file)?;
    let map = map_file(&file, len, ProtFlags::PROT_READ, MapFlags::MAP_SHARED)?;
    let mut moments = Vec::new();
    let mut look = |label: &str, touched: Vec<usize>| -> std::io::Result<()> {
        moments.push(Moment {
            label: label.to_owned(),
            cached: cached_pages(&map)?,
            mapped: mapped_pages(&map),
            touched,
        });
        Ok(())
    };
    look("before the first touch", Vec::new())?;
    let mut first = vec![0u8; 4 * page];
    file.read_exact_at(&mut first, 0)?;
    look("after pread of the first 4 pages", (0..4).collect())?;
    evict_from_cache(&file)?;
    look("after posix_fadvise(DONTNEED)", Vec::new())?;
    let every_16th: Vec<usize> = (0..PAGES).step_by(16).collect();
    for &p in &every_16th {
        std::hint::black_box(map.read(p * page));
    }
    look(
        "after reading every 16th page through the mapping",
        every_16th,
    )?;
    Ok(Residency {
        filesystem: filesystem_name(dir).to_owned(),
        moments,
    })
}
// ANCHOR_END: moments

fn bits(pages: &[bool]) -> String {
    pages.iter().map(|&on| if on { '1' } else { '0' }).collect()
}

fn from_bits(text: &str) -> Result<Vec<bool>, String> {
    text.chars()
        .map(|c| match c {
            '1' => Ok(true),
            '0' => Ok(false),
            _ => Err(format!("not a 0 or 1: {c:?}")),
        })
        .collect()
}

impl Residency {
    /// The data as text: `filesystem NAME`, then per moment a `moment`
    /// line, a `cached` line of 0s and 1s, a `mapped` line (or `mapped
    /// unavailable`), and a `touched` line of page numbers, if any.
    pub fn recording(&self) -> String {
        let mut out = format!("filesystem {}\n", self.filesystem);
        for moment in &self.moments {
            let _ = writeln!(out, "moment {}", moment.label);
            let _ = writeln!(out, "cached {}", bits(&moment.cached));
            match &moment.mapped {
                Some(mapped) => writeln!(out, "mapped {}", bits(mapped)),
                None => writeln!(out, "mapped unavailable"),
            }
            .ok();
            if !moment.touched.is_empty() {
                let pages: Vec<String> =
                    moment.touched.iter().map(ToString::to_string).collect();
                let _ = writeln!(out, "touched {}", pages.join(" "));
            }
        }
        out
    }

    /// Reads what [`Residency::recording`] wrote; `#` lines are comments.
    pub fn from_recording(text: &str) -> Result<Residency, String> {
        let mut residency = Residency::default();
        for line in support::svg::recorded_lines(text) {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            let last = residency.moments.last_mut();
            match (key, last) {
                ("filesystem", _) => residency.filesystem = value.to_owned(),
                ("moment", _) => residency.moments.push(Moment {
                    label: value.to_owned(),
                    ..Moment::default()
                }),
                ("cached", Some(moment)) => moment.cached = from_bits(value)?,
                ("mapped", Some(moment)) if value == "unavailable" => {
                    moment.mapped = None
                }
                ("mapped", Some(moment)) => moment.mapped = Some(from_bits(value)?),
                ("touched", Some(moment)) => {
                    moment.touched = value
                        .split(' ')
                        .map(|p| p.parse().map_err(|_| format!("not a page: {p}")))
                        .collect::<Result<_, _>>()?;
                }
                _ => return Err(format!("an unexpected line: {line}")),
            }
        }
        Ok(residency)
    }
}

/// How many pages each cell stands for, for a file of `pages` pages.
pub fn pages_per_cell(pages: usize) -> usize {
    pages.div_ceil(MAX_CELLS).max(1)
}

/// Draws the picture.
pub fn draw(residency: &Residency) -> String {
    let pages = residency
        .moments
        .iter()
        .map(|m| m.cached.len())
        .max()
        .unwrap_or(0);
    let per_cell = pages_per_cell(pages);
    let cells = pages.div_ceil(per_cell);
    let rows = cells.div_ceil(PER_ROW).max(1);
    let mut svg = Svg::new(
        "Residency of a file's pages at four moments",
        &format!(
            "A file of {pages} pages on {}: for each moment, which pages the page cache \
             holds (mincore) and which this process has mapped (pagemap's present bit). \
             Each cell is {per_cell} page{}.",
            residency.filesystem,
            if per_cell == 1 { "" } else { "s" }
        ),
    );
    let body = Font::BODY;
    svg.text(
        WIDTH / 2.0,
        26.0,
        body.size(16.0).bold().anchored(Anchor::Middle),
        "A file's pages: cached, and mapped here",
    );
    let per = if per_cell == 1 {
        "one cell per page".to_owned()
    } else {
        format!("one cell per {per_cell} pages")
    };
    svg.text(
        WIDTH / 2.0,
        46.0,
        body.anchored(Anchor::Middle).fill("#444"),
        &format!("{pages} pages on {}, {per}", residency.filesystem),
    );
    let mut legend = vec![
        (CACHED, "in the page cache (mincore)"),
        (MAPPED, "mapped here (pagemap present bit)"),
        (EMPTY, "neither"),
    ];
    if per_cell > 1 {
        legend.push((SOME_CACHED, "some of the cell's pages"));
    }
    legend.push((CACHED, "read just before (the mark in the cell)"));
    let mut y = svg.legend(60.0, body, &legend);
    mark(&mut svg, 16.0 + 1.0, y - 20.0 + 1.0, None);
    let grid_height = rows as f64 * CELL;
    let left = 16.0 + (WIDTH - 32.0 - PER_ROW as f64 * CELL) / 2.0;
    for (index, moment) in residency.moments.iter().enumerate() {
        y += 14.0;
        svg.text(
            16.0,
            y + 14.0,
            body.bold(),
            &format!("{}. {}", index + 1, moment.label),
        );
        y += 22.0;
        let cached_count = moment.cached.iter().filter(|&&c| c).count();
        svg.text(
            16.0,
            y + 14.0,
            body,
            &format!(
                "page cache: {cached_count} of {} pages",
                moment.cached.len()
            ),
        );
        y += 20.0;
        grid(
            &mut svg,
            left,
            y,
            &moment.cached,
            per_cell,
            (CACHED, "cached"),
            &moment.touched,
        );
        y += grid_height + 8.0;
        match &moment.mapped {
            Some(mapped) => {
                let count = mapped.iter().filter(|&&c| c).count();
                svg.text(
                    16.0,
                    y + 14.0,
                    body,
                    &format!("mapped here: {count} of {} pages", mapped.len()),
                );
                y += 20.0;
                let mapped_look = (MAPPED, "mapped");
                let touched = &moment.touched;
                grid(&mut svg, left, y, mapped, per_cell, mapped_look, touched);
                y += grid_height + 8.0;
            }
            None => {
                svg.text(
                    16.0,
                    y + 14.0,
                    body.fill("#a00"),
                    "mapped here: pagemap unavailable",
                );
                y += 22.0;
            }
        }
    }
    svg.finish(y + 14.0)
}

const CACHED: &str = "#1f5fa8";
const MAPPED: &str = "#e07b00";
const EMPTY: &str = "#ffffff";
const SOME_CACHED: &str = "#9dbde3";
const SOME_MAPPED: &str = "#f2be80";

/// A grid of cells, each filled with `on` where all its pages are set, a
/// lighter shade where some are, white where none: class `page CLASS`
/// (set) or `page` (not set).
#[allow(clippy::too_many_arguments)]
fn grid(
    svg: &mut Svg,
    left: f64,
    top: f64,
    pages: &[bool],
    per_cell: usize,
    (on, class): (&str, &str),
    touched: &[usize],
) {
    let set_class = format!("page {class}");
    let some_class = format!("page some-{class}");
    let light = if on == CACHED {
        SOME_CACHED
    } else {
        SOME_MAPPED
    };
    for (index, chunk) in pages.chunks(per_cell).enumerate() {
        let set = chunk.iter().filter(|&&p| p).count();
        let (fill, cell_class) = match set {
            0 => (EMPTY, "page"),
            n if n == chunk.len() => (on, set_class.as_str()),
            _ => (light, some_class.as_str()),
        };
        svg.rect(Rect {
            x: left + (index % PER_ROW) as f64 * CELL,
            y: top + (index / PER_ROW) as f64 * CELL,
            width: CELL,
            height: CELL,
            fill,
            stroke: Some("#999"),
            class: Some(cell_class),
            tip: None,
        });
    }
    for &page in touched {
        let index = page / per_cell;
        let x = left + (index % PER_ROW) as f64 * CELL;
        mark(
            svg,
            x,
            top + (index / PER_ROW) as f64 * CELL,
            Some("touched"),
        );
    }
}

/// The mark of a page read just before a moment, in the cell at `x`, `y`:
/// white with a dark edge, seen on every fill; of `class` (the legend's
/// has none, so that a count of the class counts pages).
fn mark(svg: &mut Svg, x: f64, y: f64, class: Option<&str>) {
    svg.rect(Rect {
        x: x + 3.0,
        y: y + 3.0,
        width: CELL - 6.0,
        height: CELL - 6.0,
        fill: "#ffffff",
        stroke: Some("#111"),
        class,
        tip: None,
    });
}
