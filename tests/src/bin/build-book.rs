//! Builds the book into a directory with mdBook's own library, so that
//! `cargo xtask book` needs no `mdbook` program installed.
//!
//! Usage: build-book BOOK_DIR OUT_DIR

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [book_dir, out_dir] = args.as_slice() else {
        eprintln!("usage: build-book BOOK_DIR OUT_DIR");
        return ExitCode::from(2);
    };
    let mut book = match mdbook_driver::MDBook::load(book_dir) {
        Ok(book) => book,
        Err(e) => {
            eprintln!(
                "build-book: cannot load the book in {}: {e:#}",
                book_dir.display()
            );
            return ExitCode::from(2);
        }
    };
    book.config.build.build_dir = out_dir.clone();
    match book.build() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "build-book: the book in {} does not build: {e:#}",
                book_dir.display()
            );
            ExitCode::FAILURE
        }
    }
}
