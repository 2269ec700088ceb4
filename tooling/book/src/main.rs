//! `book`: build the book and serve it (`cargo xtask book [serve|build]`).

fn main() -> std::process::ExitCode {
    workbook_book::main_with(None)
}
