//! The picture of copy-on-write (`--svg FILE`): for each page of a mapping
//! after `fork`, whether it is absent from a process's page table, shared
//! with the other process, or that process's own copy, read from
//! `/proc/self/pagemap` (present bit, and bit 56, "exclusively mapped",
//! which needs no privilege). Drawn from plain data, so the same code draws
//! a live run and the recorded run the book shows
//! ([`Rows::from_recording`]).

use std::fmt::Write as _;
use std::sync::atomic::Ordering::{Acquire, Release};

use support::svg::{Anchor, Font, Rect, Svg, WIDTH};

use crate::{Baton, LIMIT, Sharing, Slots, map_anonymous};

/// Pages in each mapping of the picture.
pub const PAGES: usize = 8;
/// The pages the child writes.
pub const WRITTEN: [usize; 2] = [2, 5];

/// One page, as one process's page table shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageState {
    /// Not in this process's page table (not touched since fork).
    Absent,
    /// Present, and mapped by another process too.
    Shared,
    /// Present, and mapped by this process only: its own copy.
    Own,
}

impl PageState {
    fn letter(self) -> char {
        match self {
            PageState::Absent => '.',
            PageState::Shared => 's',
            PageState::Own => 'o',
        }
    }
}

/// One row: a mapping, as one process saw it at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Which mapping (`MAP_PRIVATE`, `MAP_SHARED`).
    pub mapping: String,
    /// Who looked, and when.
    pub label: String,
    /// Each page's state; `None` where pagemap cannot be read.
    pub pages: Option<Vec<PageState>>,
}

/// The picture's data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rows(pub Vec<Row>);

/// This process's view of the `pages` pages from `address`, or `None`
/// where pagemap cannot be read.
pub fn page_states(address: usize, pages: usize) -> Option<Vec<PageState>> {
    let entries = support::pagemap::entries(address, pages).ok()?;
    let state = |e: &support::pagemap::Entry| match (e.present, e.exclusive) {
        (false, _) => PageState::Absent,
        (true, false) => PageState::Shared,
        (true, true) => PageState::Own,
    };
    Some(entries.iter().map(state).collect())
}

/// The moments the picture shows, in order: (mapping, who and when).
const MOMENTS: [(&str, &str); 6] = [
    ("MAP_PRIVATE", "child, just after fork"),
    ("MAP_PRIVATE", "child, after writing pages 2 and 5"),
    ("MAP_PRIVATE", "parent, meanwhile"),
    ("MAP_SHARED", "child, just after fork"),
    (
        "MAP_SHARED",
        "child, after reading every page, writing 2 and 5",
    ),
    ("MAP_SHARED", "parent, meanwhile"),
];

/// A state in a shared slot: 0 absent, 1 shared, 2 own, 3 no pagemap.
fn encode(states: Option<&[PageState]>, slots: &Slots, row: usize) {
    for page in 0..PAGES {
        let code = match states.map(|s| s[page]) {
            Some(PageState::Absent) => 0,
            Some(PageState::Shared) => 1,
            Some(PageState::Own) => 2,
            None => 3,
        };
        slots.slot(row * PAGES + page).store(code, Release);
    }
}

/// Asks for small pages only (`MADV_NOHUGEPAGE`, which also turns off
/// multi-size THP): in a large folio, newer kernels report a page as shared
/// while any other page of its folio is, and the picture is about pages.
fn one_page_per_folio(region: &support::region::Region) {
    use nix::sys::mman::{MmapAdvise, madvise};
    let Some(base) = std::ptr::NonNull::new(region.as_ptr().cast()) else {
        return;
    };
    // SAFETY: the range is exactly the mapping `region` owns; the advice
    // changes which pages back it, never its bytes. A kernel without THP
    // answers EINVAL, and its pages are small anyway.
    let _ = unsafe { madvise(base, region.len(), MmapAdvise::MADV_NOHUGEPAGE) };
}

// ANCHOR: cow_rows
/// Forks a child and reads, page by page, a private and a shared anonymous
/// mapping that the parent wrote in full before the fork: the child's view
/// just after fork, after it writes pages 2 and 5 (a private page becomes
/// its own copy; the parent's original is then the parent's alone), and
/// the parent's view meanwhile. A `MAP_SHARED` mapping's page-table entries
/// are not copied by fork: the child sees its pages only once it touches
/// them. The child reports through a shared mapping; pipes order the two.
pub fn copy_on_write_rows() -> support::Result<Rows> {
    let page = support::page_size();
    let private = map_anonymous(PAGES * page, Sharing::Private)?;
    let shared = map_anonymous(PAGES * page, Sharing::Shared)?;
    one_page_per_folio(&private);
    for offset in (0..PAGES * page).step_by(page) {
        private.write(offset, 1);
        shared.write(offset, 1);
    }
    let report = Slots::new(MOMENTS.len() * PAGES, Sharing::Shared)?;
    let (to_parent, to_child) = (Baton::new()?, Baton::new()?);
    let look = |region: &support::region::Region, row: usize| {
        encode(
            page_states(region.address(), PAGES).as_deref(),
            &report,
            row,
        );
    };
    let child = support::fork::fork_child(|| {
        look(&private, 0);
        for p in WRITTEN {
            private.write(p * page, 42);
        }
        look(&private, 1);
        look(&shared, 3);
        for offset in (0..PAGES * page).step_by(page) {
            std::hint::black_box(shared.read(offset));
        }
        for p in WRITTEN {
            shared.write(p * page, 42);
        }
        look(&shared, 4);
        // The parent looks while the child still maps both.
        if to_parent.pass().is_err() || to_child.take(LIMIT).is_err() {
            return 1;
        }
        0
    })?;
    to_parent.take(LIMIT)?;
    look(&private, 2);
    look(&shared, 5);
    to_child.pass()?;
    let outcome = child.wait(LIMIT)?;
    if !outcome.is_success() {
        return Err(format!("the child that looked at its pages {outcome}").into());
    }
    let rows = MOMENTS
        .iter()
        .enumerate()
        .map(|(row, (mapping, label))| {
            let codes: Vec<u64> = (0..PAGES)
                .map(|p| report.slot(row * PAGES + p).load(Acquire))
                .collect();
            let pages = (!codes.contains(&3)).then(|| {
                codes
                    .iter()
                    .map(|&c| match c {
                        0 => PageState::Absent,
                        1 => PageState::Shared,
                        _ => PageState::Own,
                    })
                    .collect()
            });
            Row {
                mapping: (*mapping).to_owned(),
                label: (*label).to_owned(),
                pages,
            }
        })
        .collect();
    Ok(Rows(rows))
}
// ANCHOR_END: cow_rows

impl Rows {
    /// The data as text, a line per row: `MAPPING | LABEL | STATES`, the
    /// states one letter per page (`.` absent, `s` shared, `o` own) or
    /// `unavailable`.
    pub fn recording(&self) -> String {
        let mut out = String::new();
        for row in &self.0 {
            let states = match &row.pages {
                Some(pages) => pages.iter().map(|p| p.letter()).collect(),
                None => "unavailable".to_owned(),
            };
            let _ = writeln!(out, "{} | {} | {states}", row.mapping, row.label);
        }
        out
    }

    /// Reads what [`Rows::recording`] wrote; `#` lines are comments.
    pub fn from_recording(text: &str) -> Result<Rows, String> {
        let mut rows = Vec::new();
        for line in support::svg::recorded_lines(text) {
            let parts: Vec<&str> = line.split(" | ").collect();
            let [mapping, label, states] = parts.as_slice() else {
                return Err(format!("not MAPPING | LABEL | STATES: {line}"));
            };
            let pages = match *states {
                "unavailable" => None,
                letters => Some(
                    letters
                        .chars()
                        .map(|c| match c {
                            '.' => Ok(PageState::Absent),
                            's' => Ok(PageState::Shared),
                            'o' => Ok(PageState::Own),
                            _ => Err(format!("not a page state: {c:?}")),
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
            };
            rows.push(Row {
                mapping: (*mapping).to_owned(),
                label: (*label).to_owned(),
                pages,
            });
        }
        Ok(Rows(rows))
    }
}

const SHARED: &str = "#9dbde3";
const OWN: &str = "#e07b00";
const ABSENT: &str = "#ffffff";
const CELL: f64 = 44.0;

/// Draws the picture.
pub fn draw(rows: &Rows) -> String {
    let mut svg = Svg::new(
        "Copy-on-write after fork, page by page",
        "For each page of a private and a shared anonymous mapping after fork: absent \
         from the process's page table, shared with the other process, or its own copy, \
         from /proc/self/pagemap (present bit, and bit 56: exclusively mapped).",
    );
    let body = Font::BODY;
    let title = body.size(16.0).bold().anchored(Anchor::Middle);
    svg.text(
        WIDTH / 2.0,
        26.0,
        title,
        "After fork: shared pages and own copies",
    );
    svg.text(
        WIDTH / 2.0,
        46.0,
        body.anchored(Anchor::Middle).fill("#444"),
        "read from /proc/self/pagemap, bit 56",
    );
    let mut y = svg.legend(
        60.0,
        body,
        &[
            (SHARED, "shared with the other process"),
            (OWN, "this process's own copy"),
            (ABSENT, "not in this process's page table"),
        ],
    );
    let left = (WIDTH - PAGES as f64 * CELL) / 2.0;
    let mut heading = "";
    for row in &rows.0 {
        if row.mapping != heading {
            heading = &row.mapping;
            y += 16.0;
            svg.text(
                16.0,
                y + 14.0,
                body.bold().size(14.0),
                &format!("{} mapping, {PAGES} pages", row.mapping),
            );
            y += 22.0;
            for page in 0..PAGES {
                let x = left + (page as f64 + 0.5) * CELL;
                svg.text(
                    x,
                    y + 12.0,
                    body.anchored(Anchor::Middle).fill("#555"),
                    &page.to_string(),
                );
            }
            y += 16.0;
        }
        svg.text(16.0, y + 14.0, body, &row.label);
        y += 20.0;
        match &row.pages {
            Some(pages) => {
                for (page, state) in pages.iter().enumerate() {
                    let (fill, class, word) = match state {
                        PageState::Absent => (ABSENT, "page absent", "absent"),
                        PageState::Shared => (SHARED, "page shared", "shared"),
                        PageState::Own => (OWN, "page own", "own copy"),
                    };
                    let tip =
                        format!("{}, {}: page {page} {word}", row.mapping, row.label);
                    svg.rect(Rect {
                        x: left + page as f64 * CELL + 2.0,
                        y,
                        width: CELL - 4.0,
                        height: 22.0,
                        fill,
                        stroke: Some("#666"),
                        class: Some(class),
                        tip: Some(&tip),
                    });
                }
                y += 28.0;
            }
            None => {
                svg.text(
                    left,
                    y + 14.0,
                    body.fill("#a00"),
                    "pagemap unavailable here",
                );
                y += 24.0;
            }
        }
    }
    svg.finish(y + 12.0)
}
