//! Redaction filters for snapshot tests of lesson output.
//!
//! A lesson prints live values: where the kernel put a mapping, which
//! temporary directory it used, which pid a child had. Those vary from run to
//! run, so snapshots replace them with a stable placeholder. What must stay
//! exact (hexdumps, errno names, how a child ended) is never matched here.
//!
//! Each filter is a `(regex, replacement)` pair in the form
//! `insta::Settings::add_filter` takes; this crate does not depend on insta.

/// The filters every lesson's snapshot applies.
pub fn filters() -> Vec<(String, String)> {
    let mut filters: Vec<(String, String)> = [
        // A tempfile directory (`.tmpXXXXXX` under any temp root), also
        // where a lesson shortened a long path from the left ("...").
        (
            r"(?:\.\.\.[^\s/]*)?(?:/[^\s/]+)*/\.tmp[0-9A-Za-z]{6}",
            "[TEMPDIR]",
        ),
        // A user-space virtual address: more than 8 hex digits after 0x.
        // (u32 values such as 0xdeadc0de have at most 8 and stay visible.)
        (r"\b0x[0-9a-f]{9,16}\b", "[ADDR]"),
        // A process id, printed by the lessons as `pid N`.
        (r"\bpid \d+\b", "pid [PID]"),
    ]
    .into_iter()
    .map(|(pattern, replacement)| (pattern.to_owned(), replacement.to_owned()))
    .collect();
    // The snapshots are recorded on 4 KiB pages; on a machine with larger
    // pages, print the story as it reads on 4 KiB pages.
    let page = support::page_size();
    if page != 4096 {
        filters.push((format!(r"\b{page}\b"), "4096".to_owned()));
    }
    filters
}

#[cfg(test)]
mod tests {
    use super::filters;

    #[test]
    fn varying_values_are_redacted_and_lesson_facts_are_not() {
        let line = "mapped at 0x7f3a12b4c000 in /tmp/.tmpA1b2C3/data by pid 4242; \
                    stored 0xdeadc0de; 00000020  41  |A|; ...aaa.Xy/.tmpA1b2C3/f";
        let mut settings = insta::Settings::clone_current();
        for (pattern, replacement) in filters() {
            settings.add_filter(&pattern, replacement);
        }
        settings.bind(|| {
            insta::assert_snapshot!(
                line,
                @"mapped at [ADDR] in [TEMPDIR]/data by pid [PID]; stored 0xdeadc0de; 00000020  41  |A|; [TEMPDIR]/f"
            );
        });
    }
}
