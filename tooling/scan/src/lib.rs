//! The exercise-file scanner: what an exercise file may contain, read with a
//! real Rust parser (`syn`), so that it sees the file as rustc does.
//!
//! It allows a list of attributes and macros instead of denying words:
//! anything not on the lists is refused, with the line and the reason. It
//! refuses `extern` blocks, `extern crate`, out-of-line modules (`mod x;`),
//! `macro_rules!`, imports that rename a forbidden macro or take an allowed
//! macro's name, and whatever syn keeps only as tokens. syn does not parse
//! a macro's arguments, so their tokens are walked too: a macro call or an
//! attribute inside `vec![...]` is checked like one outside it. A file syn
//! cannot parse is refused with syn's error.
//!
//! This is defence in depth: learner code runs only in the lesson's runner,
//! never in the checker that judges it, so integrity does not rest on the
//! scanner. What it still keeps out is code that would run before `main`
//! or read files at build time, and it tells a learner early (their own
//! `watch` refuses what the instructor's grader refuses). A crate of its
//! own, so that the grading core need not wait for `syn` to build.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::visit::{self, Visit};

use test_support::layout::{EXERCISES, Lesson};

/// How long `cargo metadata` may take to read the workspace's manifests.
const METADATA_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The attributes an exercise file may carry (outer or inner).
const ALLOWED_ATTRIBUTES: &[&str] = &[
    "doc",
    "allow",
    "warn",
    "deny",
    "expect",
    "forbid",
    "derive",
    "inline",
    "cold",
    "must_use",
    "track_caller",
    "repr",
    "non_exhaustive",
    "deprecated",
    "cfg",
    "test",
    "ignore",
    "should_panic",
    "rustfmt::skip",
];

/// The derives an exercise file may use: the standard library's.
const ALLOWED_DERIVES: &[&str] = &[
    "Debug",
    "Clone",
    "Copy",
    "PartialEq",
    "Eq",
    "PartialOrd",
    "Ord",
    "Hash",
    "Default",
];

/// The macros an exercise file may call, by their last path segment
/// (`std::println!` is `println`).
const ALLOWED_MACROS: &[&str] = &[
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "cfg",
    "concat",
    "dbg",
    "eprint",
    "eprintln",
    "format",
    "format_args",
    "matches",
    "panic",
    "print",
    "println",
    "stringify",
    "todo",
    "unimplemented",
    "unreachable",
    "vec",
    "write",
    "writeln",
    "addr_of",
    "addr_of_mut",
    "offset_of",
    "say",
];

/// Attributes refused with a reason of their own (any other unknown one is
/// refused because it is not on the list).
const REFUSED_ATTRIBUTES: &[(&str, &str)] = &[
    ("used", "keeps a static the loader can run before main"),
    (
        "link_section",
        "places code where the loader runs it before main",
    ),
    ("export_name", "can replace a symbol the test harness uses"),
    ("no_mangle", "can replace a symbol the test harness uses"),
    ("link", "links a library the grader never sees"),
    (
        "global_allocator",
        "runs code inside every allocation of the test",
    ),
    ("path", "pulls in a module from another file"),
    ("debugger_visualizer", "reads another file while building"),
    (
        "cfg_attr",
        "applies attributes the scanner would have to guess",
    ),
];

/// Macros refused with a reason of their own, also when imported under
/// another name.
const REFUSED_MACROS: &[(&str, &str)] = &[
    (
        "asm",
        "assembles code, which can place more code before main",
    ),
    ("global_asm", "assembles code outside any function"),
    ("naked_asm", "assembles code outside any checked function"),
    ("include", "pulls in code from another file"),
    ("include_str", "reads another file while building"),
    ("include_bytes", "reads another file while building"),
    ("env", "reads the grader's environment while building"),
    (
        "option_env",
        "reads the grader's environment while building",
    ),
    ("macro_rules", "defines a macro the scanner cannot read"),
];

/// Keywords that a `!` (logical not, or the never type) may follow.
const KEYWORDS_BEFORE_NOT: &[&str] = &[
    "if", "while", "match", "return", "in", "break", "else", "let", "mut", "as", "move", "impl",
    "yield",
];

/// A lint that must not be allowed: a constant could compute forever.
const REFUSED_LINTS: &[&str] = &["long_running_const_eval"];

/// The rules for people (the handout's README): what an exercise file may
/// not contain.
pub fn rules_for_people() -> String {
    let attributes: Vec<String> = ALLOWED_ATTRIBUTES
        .iter()
        .map(|a| format!("`{a}`"))
        .collect();
    let macros: Vec<String> = ALLOWED_MACROS.iter().map(|m| format!("`{m}!`")).collect();
    format!(
        "an `extern` block, `mod x;` (a module in another file), or attributes and \
         macros other than these attributes: {}; and these macros: {}",
        attributes.join(", "),
        macros.join(", ")
    )
}

/// What is wrong with an exercise file: each problem names the line, the
/// construct and why it is not allowed. Empty when nothing is.
pub fn problems(source: &str) -> Vec<String> {
    match scan(source) {
        Scanned::Unreadable { line, error, .. } => vec![format!(
            "line {line}: Rust cannot read this file ({error}), so it cannot be checked; \
             make it compile"
        )],
        Scanned::Read(problems) => problems,
    }
}

/// What the scanner made of a file.
enum Scanned {
    /// Rust cannot read it (where, and why): it does not compile.
    Unreadable {
        line: usize,
        column: usize,
        error: String,
    },
    /// It was read; these are its problems, if any.
    Read(Vec<String>),
}

fn scan(source: &str) -> Scanned {
    // Lexed first (proc-macro2's lexer keeps its own stack of groups), so
    // that a file nested too deeply for a recursive parser is measured
    // before it is parsed. A shebang line or a byte-order mark is refused
    // here or by the parser: neither belongs in an exercise file.
    let tokens: TokenStream = match source.parse() {
        Ok(tokens) => tokens,
        Err(error) => {
            // proc-macro2 says only "cannot parse string into token stream".
            return unreadable(
                error.span(),
                "this file cannot be split into tokens: a bracket closed that was never \
                 opened or never closed, or a string, character or comment never closed?",
            );
        }
    };
    let depth = depth_estimate(&tokens);
    if depth > MAX_DEPTH {
        return Scanned::Read(vec![format!(
            "the code nests {depth} levels deep (a long statement, or brackets inside \
             brackets), more than the {MAX_DEPTH} the scanner reads; split it up"
        )]);
    }
    // Parsed and walked where the stack is sure to be deep enough.
    drop(tokens);
    let source = source.to_owned();
    let scan = move || match syn::parse_str::<syn::File>(&source) {
        Ok(file) => {
            let mut scanner = Scanner::default();
            scanner.visit_file(&file);
            Scanned::Read(
                scanner
                    .found
                    .into_iter()
                    .map(|(line, text)| format!("line {line}: {text}"))
                    .collect(),
            )
        }
        Err(error) => unreadable(error.span(), &error.to_string()),
    };
    std::thread::Builder::new()
        .name("scan".into())
        .stack_size(SCAN_STACK)
        .spawn(scan)
        .ok()
        .and_then(|thread| thread.join().ok())
        .unwrap_or_else(|| {
            Scanned::Read(vec![
                "the scanner could not read this file; simplify it".into(),
            ])
        })
}

/// How deeply an exercise file's code may nest ([`depth_estimate`]): the
/// reference solutions nest under 100.
const MAX_DEPTH: usize = 600;

/// The scanner's stack: syn recurses once or more per level of nesting,
/// up to 64 KiB a level in a debug build (measured; see the tests).
const SCAN_STACK: usize = 256 << 20;

fn unreadable(at: Span, error: &str) -> Scanned {
    Scanned::Unreadable {
        line: at.start().line,
        column: at.start().column + 1,
        error: error.to_owned(),
    }
}

/// The exercise files `lesson`'s graded tests compile, in the workbook at
/// `root`: its own, and those of every lesson its library depends on, as
/// cargo reads the manifests.
pub fn exercise_closure(root: &Path, lesson: &Lesson) -> Result<Vec<PathBuf>, String> {
    // The cargo that started us, so toolchain overrides carry through.
    let mut command =
        std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"))
        .current_dir(root);
    let metadata = support::spawn::output_bounded(&mut command, METADATA_LIMIT)
        .map_err(|e| format!("cannot start cargo metadata: {e}"))?;
    if !metadata.outcome.is_success() {
        return Err(format!(
            "cargo cannot read the workspace at {}: {}",
            root.display(),
            metadata.stderr.trim()
        ));
    }
    let json = serde_json::from_str::<serde_json::Value>(&metadata.stdout)
        .map_err(|e| format!("cannot read `cargo metadata`'s answer: {e}"))?;
    // Each workspace package: its directory and its path dependencies
    // (kind: None for normal, "dev", "build").
    let mut packages: Vec<(PathBuf, Vec<PathDependency>)> = Vec::new();
    for package in json
        .get("packages")
        .and_then(|p| p.as_array())
        .map_or(&[][..], Vec::as_slice)
    {
        let Some(dir) = package
            .get("manifest_path")
            .and_then(|p| p.as_str())
            .and_then(|p| Path::new(p).parent())
        else {
            continue;
        };
        let mut deps = Vec::new();
        for dep in package
            .get("dependencies")
            .and_then(|d| d.as_array())
            .map_or(&[][..], Vec::as_slice)
        {
            if let Some(path) = dep.get("path").and_then(|p| p.as_str()) {
                let kind = dep.get("kind").and_then(|k| k.as_str()).map(str::to_owned);
                deps.push((PathBuf::from(path), kind));
            }
        }
        packages.push((dir.to_owned(), deps));
    }
    let same = |a: &Path, b: &Path| {
        a == b
            || fs::canonicalize(a)
                .ok()
                .is_some_and(|a| Some(a) == fs::canonicalize(b).ok())
    };
    // The lesson's own dependencies of every kind (its tests compile its
    // dev-dependencies), then theirs that a library build compiles.
    let mut closure: Vec<PathBuf> = vec![lesson.dir.clone()];
    let mut next = 0;
    while next < closure.len() {
        let dir = closure[next].clone();
        let first = next == 0;
        next += 1;
        let Some((_, deps)) = packages.iter().find(|(d, _)| same(d, &dir)) else {
            continue;
        };
        for (path, kind) in deps {
            let compiled = first || kind.as_deref() != Some("dev");
            if compiled && !closure.iter().any(|c| same(c, path)) {
                closure.push(path.clone());
            }
        }
    }
    Ok(closure
        .into_iter()
        .map(|dir| dir.join(EXERCISES))
        .filter(|file| file.exists())
        .collect())
}

/// A path dependency: its directory, and its kind (`None` for a normal
/// one, `dev` or `build`).
type PathDependency = (PathBuf, Option<String>);

/// Every exercise file `lesson`'s graded tests compile, checked; or the
/// problems, file by file.
pub fn check_lesson(root: &Path, lesson: &Lesson) -> std::result::Result<(), String> {
    // Named as the student knows it, from the workbook's root.
    let shown = |file: &Path| {
        file.strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string()
    };
    let mut report = Vec::new();
    for file in exercise_closure(root, lesson)? {
        let source = fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let problems = match scan(&source) {
            // Said as the build would say it (grade-all's reason is then
            // "does not compile" too).
            Scanned::Unreadable {
                line,
                column,
                error,
            } => {
                return Err(format!(
                    "does not compile:\nerror: {error}\n --> {}:{line}:{column}\n\
                     (found by the grader's Rust parser, before building)",
                    shown(&file)
                ));
            }
            Scanned::Read(problems) => problems,
        };
        if !problems.is_empty() {
            report.push(format!(
                "{} breaks the grading rules:\n{}",
                shown(&file),
                problems.join("\n")
            ));
        }
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(report.join("\n"))
    }
}

/// The problems found, by line, each once.
#[derive(Default)]
struct Scanner {
    found: BTreeSet<(usize, String)>,
}

impl Scanner {
    fn refuse(&mut self, span: Span, text: String) {
        self.found.insert((span.start().line, text));
    }

    /// An attribute given as the tokens inside `#[...]`.
    fn attribute(&mut self, span: Span, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let (name, rest) = path_at(&tokens);
        let span = tokens.first().map_or(span, TokenTree::span);
        // `#[unsafe(no_mangle)]`: the attribute is the one inside.
        if let ("unsafe", Some(TokenTree::Group(group))) = (name.as_str(), rest.first()) {
            self.attribute(group.span(), group.stream());
            return;
        }
        if let Some((_, why)) = REFUSED_ATTRIBUTES.iter().find(|(n, _)| *n == name) {
            self.refuse(
                span,
                format!("the attribute `{name}` is not allowed in an exercise file: it {why}"),
            );
        } else if !ALLOWED_ATTRIBUTES.contains(&name.as_str()) {
            self.refuse(
                span,
                format!(
                    "the attribute `{name}` is not allowed in an exercise file: only {} are",
                    ALLOWED_ATTRIBUTES.join(", ")
                ),
            );
        }
        let arguments: TokenStream = rest.iter().cloned().collect();
        if matches!(
            name.as_str(),
            "allow" | "warn" | "expect" | "deny" | "forbid"
        ) {
            for lint in idents(&arguments) {
                if REFUSED_LINTS.contains(&lint.0.as_str()) {
                    self.refuse(
                        lint.1,
                        format!(
                            "`{}` is not allowed in an exercise file: it lets a constant \
                             compute forever while building",
                            lint.0
                        ),
                    );
                }
            }
        }
        if name == "derive" {
            let inside = match rest.first() {
                Some(TokenTree::Group(group)) => group.stream().into_iter().collect(),
                _ => Vec::new(),
            };
            for one in inside.split(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ',')) {
                let (derive, _) = path_at(one);
                if !ALLOWED_DERIVES.contains(&derive.as_str()) {
                    self.refuse(
                        one.first().map_or(span, TokenTree::span),
                        format!(
                            "`derive({derive})` is not allowed in an exercise file: only \
                             the standard derives are ({})",
                            ALLOWED_DERIVES.join(", ")
                        ),
                    );
                }
            }
        }
        // `#[doc = include_str!("...")]`, and anything else inside.
        self.tokens(arguments);
    }

    /// A macro called by `path`.
    fn macro_call(&mut self, span: Span, name: &str) {
        if let Some((_, why)) = REFUSED_MACROS.iter().find(|(n, _)| *n == name) {
            self.refuse(
                span,
                format!("the macro `{name}!` is not allowed in an exercise file: it {why}"),
            );
        } else if !ALLOWED_MACROS.contains(&name) {
            self.refuse(
                span,
                format!(
                    "the macro `{name}!` is not allowed in an exercise file: only {} are",
                    ALLOWED_MACROS
                        .iter()
                        .map(|m| format!("{m}!"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }

    /// The tokens of a macro's arguments (or an attribute's), which syn
    /// leaves unparsed: macro calls, attributes, `extern` blocks and crates,
    /// `mod x;` and imports of forbidden macros are found in them too.
    fn tokens(&mut self, stream: TokenStream) {
        let tokens: Vec<TokenTree> = stream.into_iter().collect();
        for (index, token) in tokens.iter().enumerate() {
            let next = tokens.get(index + 1);
            let after = tokens.get(index + 2);
            match token {
                TokenTree::Group(group) => self.tokens(group.stream()),
                TokenTree::Punct(p) if p.as_char() == '#' => {
                    let group = match (next, after) {
                        (Some(TokenTree::Group(g)), _) => Some(g),
                        (Some(TokenTree::Punct(bang)), Some(TokenTree::Group(g)))
                            if bang.as_char() == '!' =>
                        {
                            Some(g)
                        }
                        _ => None,
                    };
                    if let Some(group) = group.filter(|g| g.delimiter() == Delimiter::Bracket) {
                        // Its arguments are walked twice (here and as a
                        // group): each problem is kept once.
                        self.attribute(group.span(), group.stream());
                    }
                }
                TokenTree::Ident(ident) => {
                    let name = unraw(&ident.to_string());
                    let bang = matches!(next, Some(TokenTree::Punct(p)) if p.as_char() == '!');
                    // Not `a != b`, nor `if !done`: a keyword is no macro.
                    let before_bang = bang
                        && !matches!(after, Some(TokenTree::Punct(p)) if p.as_char() == '=')
                        && !KEYWORDS_BEFORE_NOT.contains(&ident.to_string().as_str());
                    if before_bang {
                        self.macro_call(ident.span(), &name);
                    } else if name == "extern" {
                        self.refuse(
                            ident.span(),
                            "`extern` inside a macro call is not allowed in an exercise file: \
                             write `extern \"C\" fn` outside any macro"
                                .into(),
                        );
                    } else if name == "mod"
                        && matches!(next, Some(TokenTree::Ident(_)))
                        && matches!(after, Some(TokenTree::Punct(p)) if p.as_char() == ';')
                    {
                        self.refuse(ident.span(), mod_message(&next.unwrap().to_string()));
                    } else if matches!(next, Some(TokenTree::Ident(n)) if n == "as")
                        && (REFUSED_MACROS.iter().any(|(n, _)| *n == name)
                            || matches!(after, Some(TokenTree::Ident(to))
                                if ALLOWED_MACROS.contains(&unraw(&to.to_string()).as_str())))
                    {
                        // `use std::arch::asm as a;` inside a macro call.
                        self.refuse(
                            ident.span(),
                            rename_message(&name, &after.unwrap().to_string()),
                        );
                    }
                }
                _ => {}
            }
        }
    }

    /// An import: refuses renaming a forbidden macro, or taking an allowed
    /// macro's name (`use core::include_str as format;`).
    fn use_tree(&mut self, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(path) => self.use_tree(&path.tree),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(tree);
                }
            }
            syn::UseTree::Rename(rename) => {
                let from = unraw(&rename.ident.to_string());
                let to = unraw(&rename.rename.to_string());
                if REFUSED_MACROS.iter().any(|(n, _)| *n == from)
                    || ALLOWED_MACROS.contains(&to.as_str())
                {
                    self.refuse(rename.ident.span(), rename_message(&from, &to));
                }
            }
            syn::UseTree::Name(_) | syn::UseTree::Glob(_) => {}
        }
    }
}

impl<'ast> Visit<'ast> for Scanner {
    fn visit_attribute(&mut self, attr: &'ast syn::Attribute) {
        self.attribute(attr.pound_token.span, attr.meta.to_token_stream());
        // The meta's parts (a `doc = ...` value) are walked as tokens above.
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let name = mac
            .path
            .segments
            .last()
            .map(|s| unraw(&s.ident.to_string()))
            .unwrap_or_default();
        let span = mac
            .path
            .segments
            .last()
            .map_or_else(Span::call_site, |s| s.ident.span());
        self.macro_call(span, &name);
        self.tokens(mac.tokens.clone());
        visit::visit_macro(self, mac);
    }

    fn visit_item(&mut self, item: &'ast syn::Item) {
        match item {
            syn::Item::ForeignMod(foreign) => self.refuse(
                foreign.abi.extern_token.span,
                "an `extern` block is not allowed in an exercise file: it declares symbols \
                 the grader never sees (an `extern \"C\" fn` is fine)"
                    .into(),
            ),
            syn::Item::ExternCrate(krate) => self.refuse(
                krate.extern_token.span,
                "`extern crate` is not allowed in an exercise file: use the crates the \
                 lesson already has"
                    .into(),
            ),
            syn::Item::Mod(module) if module.content.is_none() => {
                self.refuse(
                    module.mod_token.span,
                    mod_message(&module.ident.to_string()),
                );
            }
            syn::Item::Use(import) => self.use_tree(&import.tree),
            syn::Item::Verbatim(tokens) => self.refuse(
                first_span(tokens),
                "this item is not allowed in an exercise file: the scanner cannot read it \
                 (unstable syntax?)"
                    .into(),
            ),
            _ => {}
        }
        visit::visit_item(self, item);
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        if let syn::ImplItem::Verbatim(tokens) = item {
            self.refuse(first_span(tokens), verbatim_message());
        }
        visit::visit_impl_item(self, item);
    }

    fn visit_trait_item(&mut self, item: &'ast syn::TraitItem) {
        if let syn::TraitItem::Verbatim(tokens) = item {
            self.refuse(first_span(tokens), verbatim_message());
        }
        visit::visit_trait_item(self, item);
    }

    fn visit_expr(&mut self, expr: &'ast syn::Expr) {
        if let syn::Expr::Verbatim(tokens) = expr {
            self.refuse(first_span(tokens), verbatim_message());
        }
        visit::visit_expr(self, expr);
    }

    fn visit_type(&mut self, ty: &'ast syn::Type) {
        if let syn::Type::Verbatim(tokens) = ty {
            self.refuse(first_span(tokens), verbatim_message());
        }
        visit::visit_type(self, ty);
    }

    fn visit_pat(&mut self, pat: &'ast syn::Pat) {
        if let syn::Pat::Verbatim(tokens) = pat {
            self.refuse(first_span(tokens), verbatim_message());
        }
        visit::visit_pat(self, pat);
    }
}

fn verbatim_message() -> String {
    "this is not allowed in an exercise file: the scanner cannot read it (unstable \
     syntax?)"
        .into()
}

fn rename_message(from: &str, to: &str) -> String {
    format!(
        "`use ... {from} as {to}` is not allowed in an exercise file: it hides which macro \
         is called"
    )
}

fn mod_message(name: &str) -> String {
    format!(
        "`mod {name};` is not allowed in an exercise file: it pulls in code from another \
         file; write the module inline (`mod {name} {{ ... }}`)"
    )
}

fn first_span(tokens: &TokenStream) -> Span {
    tokens
        .clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span())
}

/// An upper bound on how deeply the syntax tree of `stream` nests: at each
/// token, the tokens since the last separator (`;`, `,`, or an item's body
/// at the top of the file) summed over the enclosing groups. Every level of the tree takes at least one token, so
/// the parser and the visitor recurse at most this deep. Iterative: a file
/// nested too deeply for the stack is measured, not parsed.
fn depth_estimate(stream: &TokenStream) -> usize {
    // Per open group: the depth of the group itself, its tokens since the
    // last separator, and the rest of its tokens.
    let mut stack = vec![(0, 0, stream.clone().into_iter())];
    let mut deepest = 0;
    while let Some((base, count, tokens)) = stack.last_mut() {
        let Some(token) = tokens.next() else {
            stack.pop();
            continue;
        };
        if matches!(&token, TokenTree::Punct(p) if matches!(p.as_char(), ';' | ',')) {
            *count = 0;
            continue;
        }
        *count += 1;
        let depth = *base + *count;
        deepest = deepest.max(depth);
        if let TokenTree::Group(group) = token {
            // At the top of the file, a `{ ... }` ends an item.
            if *base == 0 && group.delimiter() == Delimiter::Brace {
                *count = 0;
            }
            stack.push((depth, 0, group.stream().into_iter()));
        }
    }
    deepest
}

/// `r#name` is `name`.
fn unraw(name: &str) -> String {
    name.strip_prefix("r#").unwrap_or(name).to_owned()
}

/// The path at the start of `tokens` (`rustfmt::skip`, `unsafe`), and the
/// tokens after it.
fn path_at(tokens: &[TokenTree]) -> (String, &[TokenTree]) {
    let mut name = String::new();
    let mut index = 0;
    while let Some(TokenTree::Ident(ident)) = tokens.get(index) {
        name.push_str(&unraw(&ident.to_string()));
        index += 1;
        let colons = matches!(
            (tokens.get(index), tokens.get(index + 1)),
            (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                if a.as_char() == ':' && b.as_char() == ':'
        );
        if !colons {
            break;
        }
        name.push_str("::");
        index += 2;
    }
    (name, &tokens[index..])
}

/// Every identifier in `stream`, at any depth, with its place.
fn idents(stream: &TokenStream) -> Vec<(String, Span)> {
    let mut found = Vec::new();
    for token in stream.clone() {
        match token {
            TokenTree::Ident(ident) => found.push((unraw(&ident.to_string()), ident.span())),
            TokenTree::Group(group) => found.extend(idents(&group.stream())),
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests;
