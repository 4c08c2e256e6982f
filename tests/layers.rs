//! The architecture, checked: lower modules never import higher ones, the top-level modules form
//! no cycle, and the lib.rs "# Layout" section lists every module in its layer.
//!
//! Why a test: a layering written only in a document drifts the first time someone reaches up
//! for a handy helper, and a cycle between modules is what stops the crate from being split
//! (issue 19, plan section 6). So every `.rs` file under `src/` is read, and every `crate::...`
//! and `super::...` path in it (in `use` trees, `{a, b::c}` groups included, and inline) is
//! mapped to the top-level module it names. Comments and string literals are blanked first;
//! `#[cfg(test)] mod ... { }` blocks and `*/tests.rs` files are exempt (unit tests may reach
//! anything in their crate); `src/bin/` is the top layer and names the library as `hookgate::`.
//!
//! A problem is printed as `file:line: a (layer n name) imports b (layer m name)`, or as
//! `cycle {a, b}: a -> b (file:line); b -> a (file:line)`. A module in no layer is a problem of
//! its own, so a new module has to be placed in [`LAYERS`] (and in the lib.rs "# Layout").
//!
//! [`KNOWN_VIOLATIONS`] lists the module pairs still being fixed. It may only shrink: a listed
//! pair that is no longer a problem fails the test too. `HOOKGATE_LAYERS_STRICT=1` ignores the
//! list and prints everything. Std only, so it builds in seconds.
//!
//! One file of about 700 lines on purpose: it needs nothing but std, so `rustc --edition 2024
//! --test tests/layers.rs` (with `CARGO_MANIFEST_DIR` set to a checkout) runs it against any
//! revision, old ones included; that is how its output on the code before issue 19 was taken.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// (layer, name, top-level modules). A module may import its own layer and the ones below.
/// ARCHITECTURE.md and the lib.rs "# Layout" show the same table.
const LAYERS: &[(u8, &str, &[&str])] = &[
    (0, "leaf", &["glob", "clock", "tree"]),
    (
        1,
        "vocabulary",
        &["observe", "rejection", "body", "future", "event", "answer"],
    ),
    (2, "seams", &["validate", "handler"]),
    (
        3,
        "stages",
        &[
            "limit",
            "rate",
            "auth",
            "parse",
            "handshake",
            "ack",
            "dedup",
            "spec",
        ],
    ),
    (4, "routing", &["typed", "route"]),
    (5, "profiles", &["profile", "source", "senders"]),
    (
        6,
        "core-assembly",
        &[
            "pipeline", "gateway", "health", "server", "send", "diagnose",
        ],
    ),
    (7, "storage", &["spool"]),
    (8, "delivery", &["delivery", "client"]),
    (9, "codegen", &["codegen"]),
    (10, "config", &["config"]),
    (11, "catalog", &["catalog"]),
    (12, "admin", &["admin", "metrics"]),
    (13, "gateway-app", &["app", "ninjaone", "serve"]),
];

/// Module pairs (`from`, `to`) that are problems today, each with the plan step that removes it.
/// An upward pair is allowed at every site; a pair inside a cycle is left out of the cycle search
/// (list the edge the fix cuts). When a fix lands, its pair must go: the test fails until it does.
const KNOWN_VIOLATIONS: &[(&str, &str)] = &[];

// ===== the layering test =====

#[test]
fn lower_layers_never_import_higher_ones_and_modules_form_no_cycle() {
    let strict = std::env::var_os("HOOKGATE_LAYERS_STRICT").is_some_and(|v| v == "1");
    let allowed: &[(&str, &str)] = if strict { &[] } else { KNOWN_VIOLATIONS };
    let problems = check(&src_dir(), allowed);
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_layout_section_of_lib_rs_lists_every_module_in_its_layer() {
    let src = src_dir();
    let lib = read(&src.join("lib.rs"));
    let declared: BTreeMap<String, usize> = declared_modules(&lib);
    let mut problems = Vec::new();

    let mut listed = BTreeMap::new();
    for (line, module, stated) in layout_entries(&lib) {
        match layer(&module) {
            None => problems.push(format!(
                "src/lib.rs:{line}: `{module}` is listed in # Layout but is in no layer of \
                 tests/layers.rs"
            )),
            Some((n, name)) if Some(n) != stated => problems.push(format!(
                "src/lib.rs:{line}: `{module}` is listed under layer {} but is in layer {n} {name}",
                stated.map_or("(none)".to_owned(), |s| s.to_string())
            )),
            Some(_) => {}
        }
        if listed.insert(module.clone(), line).is_some() {
            problems.push(format!("src/lib.rs:{line}: `{module}` is listed twice"));
        }
    }
    for (module, line) in &declared {
        if !listed.contains_key(module) {
            problems.push(format!(
                "src/lib.rs:{line}: module `{module}` is missing from # Layout"
            ));
        }
    }
    for (module, line) in &listed {
        if !declared.contains_key(module) {
            problems.push(format!(
                "src/lib.rs:{line}: # Layout lists `{module}`, which lib.rs does not declare"
            ));
        }
    }
    // Every file or folder directly under src/ is a declared module.
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let is_module = path.is_dir() || path.extension().is_some_and(|e| e == "rs");
        if is_module && name != "lib" && name != "bin" && !declared.contains_key(&name) {
            problems.push(format!(
                "{}: not declared in src/lib.rs",
                path.strip_prefix(src.parent().unwrap()).unwrap().display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ===== the table =====

fn layer(module: &str) -> Option<(u8, &'static str)> {
    LAYERS
        .iter()
        .find(|(_, _, ms)| ms.contains(&module))
        .map(|(n, name, _)| (*n, *name))
}

fn describe(module: &str) -> String {
    match layer(module) {
        Some((n, name)) => format!("{module} (layer {n} {name})"),
        None => format!("{module} (no layer)"),
    }
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ===== reading Rust source =====

/// The text with comments and string, raw-string and char literals blanked. Newlines are kept,
/// so byte offsets still give the right line numbers; a blanked piece leaves one space.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    // Keeps the newlines of text[from..to] and moves past it.
    let skip = |out: &mut String, from: usize, to: usize| {
        out.push(' ');
        out.extend(text[from..to].chars().filter(|&c| c == '\n'));
        to
    };
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = text[i..].find('\n').map_or(b.len(), |e| i + e);
            i = skip(&mut out, i, end);
        } else if rest.starts_with(b"/*") {
            // block comments nest
            let (mut depth, mut j) = (0usize, i);
            while j < b.len() {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            i = skip(&mut out, i, j.min(b.len()));
        } else if let Some(hashes) = raw_string_at(b, i).filter(|_| i == 0 || !ident(b[i - 1])) {
            let open = if b[i] == b'b' { i + 2 } else { i + 1 };
            let close = format!("\"{}", "#".repeat(hashes));
            let from = open + hashes + 1;
            let end = text[from..]
                .find(&close)
                .map_or(b.len(), |e| from + e + close.len());
            i = skip(&mut out, i, end);
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            i = skip(&mut out, i, (j + 1).min(b.len()));
        } else if b[i] == b'\'' {
            // 'x', '\n', '\'', '\u{..}' are char literals; 'a (a lifetime or label) is code.
            let char_len = text[i + 1..].chars().next().map_or(0, char::len_utf8);
            if b.get(i + 1) == Some(&b'\\') {
                let end = text
                    .get(i + 3..)
                    .and_then(|t| t.find('\''))
                    .map_or(b.len(), |e| i + 3 + e + 1);
                i = skip(&mut out, i, end);
            } else if char_len > 0 && b.get(i + 1 + char_len) == Some(&b'\'') {
                i = skip(&mut out, i, i + 2 + char_len);
            } else {
                out.push('\'');
                i += 1;
            }
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The number of `#`s of a raw string (`r"`, `r#"`, `br##"`) starting at `i`.
fn raw_string_at(b: &[u8], i: usize) -> Option<usize> {
    let open = match b[i] {
        b'r' => i + 1,
        b'b' if b.get(i + 1) == Some(&b'r') => i + 2,
        _ => return None,
    };
    let hashes = b[open..].iter().take_while(|&&c| c == b'#').count();
    (b.get(open + hashes) == Some(&b'"')).then_some(hashes)
}

/// `code` with every `#[cfg(test)] mod name { ... }` block blanked (newlines kept).
fn without_test_modules(code: &str) -> String {
    let mut out = code.to_owned();
    let mut from = 0;
    while let Some(at) = out[from..].find("#[cfg(test)]").map(|a| from + a) {
        from = at + 1;
        let after = out[at + "#[cfg(test)]".len()..].trim_start();
        let Some(rest) = after.strip_prefix("mod") else {
            continue;
        };
        let rest = rest.trim_start();
        let name_len = ident_at(rest).map_or(0, str::len);
        if name_len == 0 || !rest[name_len..].trim_start().starts_with('{') {
            continue; // `mod tests;`: the file is skipped by its name
        }
        let open = out.len() - rest[name_len..].trim_start().len();
        let mut depth = 0usize;
        let mut end = out.len();
        for (k, c) in out[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        let blank: String = out[at..end]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        out.replace_range(at..end, &blank);
    }
    out
}

fn ident_at(s: &str) -> Option<&str> {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (end > 0).then(|| &s[..end])
}

fn line_of(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

/// The first segment(s) of the path after `crate::`: one, or each of a `{a, b::c}` group.
fn first_segments(rest: &str) -> Vec<String> {
    let rest = rest.trim_start();
    let Some(group) = rest.strip_prefix('{') else {
        return ident_at(rest)
            .map(|s| vec![s.to_owned()])
            .unwrap_or_default();
    };
    let (mut depth, mut item, mut out) = (0, String::new(), Vec::new());
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                out.push(std::mem::take(&mut item));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut item));
                continue;
            }
            _ => {}
        }
        if depth == 0 {
            item.push(c);
        }
    }
    out.iter()
        .filter_map(|s| ident_at(s.trim()).map(str::to_owned))
        .collect()
}

/// The modules lib.rs declares (`mod x;`, `pub mod x;`, `pub(crate) mod x;`), with their lines.
fn declared_modules(lib: &str) -> BTreeMap<String, usize> {
    let code = without_test_modules(&code_only(lib));
    let mut out = BTreeMap::new();
    let mut offset = 0;
    for line in code.split_inclusive('\n') {
        let mut words = line.split_whitespace().peekable();
        if words.peek().is_some_and(|w| w.starts_with("pub")) {
            words.next();
        }
        let name = match words.next() {
            Some("mod") => words.next().and_then(|w| w.strip_suffix(';')),
            _ => None,
        };
        if let Some(name) = name {
            out.insert(name.to_owned(), line_of(&code, offset));
        }
        offset += line.len();
    }
    out
}

/// Items lib.rs re-exports (`pub use crate::m::{A, B as C};`), to the module `m` they come from.
fn root_items(lib: &str) -> BTreeMap<String, String> {
    let code = code_only(lib);
    let mut out = BTreeMap::new();
    for statement in code.split(';') {
        // `pub use`, `pub(crate) use` or a plain `use` in the crate root: all of them make
        // `crate::Name` resolve for the whole crate.
        let Some(path) = statement
            .find("use crate::")
            .map(|at| &statement[at + "use crate::".len()..])
        else {
            continue;
        };
        let Some(module) = ident_at(path) else {
            continue;
        };
        // The leaves of the use tree: pieces between `{`, `,` and `}` that are not a prefix
        // (`y::` before a group); a leaf is its last segment, or the name after `as`.
        let leaves = path.split([',', '{', '}']).filter_map(|piece| {
            let piece = piece.trim();
            if piece.is_empty() || piece.ends_with("::") {
                return None;
            }
            match piece.split_once(" as ") {
                Some((_, alias)) => Some(alias.trim()),
                None => piece.rsplit("::").next().map(str::trim),
            }
        });
        for leaf in leaves {
            out.insert(leaf.to_owned(), module.to_owned());
        }
    }
    out
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
}

/// One `crate::`/`super::` path: the top-level module of the file, the one it names, and where.
struct Edge {
    from: String,
    to: String,
    at: String,
}

/// The edges of one file (none for `bin/`, `*/tests.rs` and lib.rs itself).
fn edges(src: &Path, file: &Path, roots: &BTreeMap<String, String>, out: &mut Vec<Edge>) {
    let rel = file
        .strip_prefix(src)
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/");
    let mut module: Vec<&str> = rel.trim_end_matches(".rs").split('/').collect();
    if matches!(module.last(), Some(&"mod")) {
        module.pop();
    }
    if rel.starts_with("bin/") || rel == "lib.rs" || rel.ends_with("/tests.rs") {
        return;
    }
    let text = without_test_modules(&code_only(&read(file)));
    let b = text.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < b.len() {
        // a path that starts with `crate` or `super` (not `x::crate`, not `my_crate`)
        let word_start = (i == 0 || !ident(b[i - 1]))
            && (b[i..].starts_with(b"crate") || b[i..].starts_with(b"super"));
        if !word_start || text[..i].trim_end().ends_with("::") {
            i += 1;
            continue;
        }
        let at = i;
        let (mut ups, mut from_root, mut j) = (0usize, false, i);
        loop {
            let rest = &text[j..];
            let word = if rest.starts_with("crate") {
                "crate"
            } else if rest.starts_with("super") {
                "super"
            } else {
                break;
            };
            if b.get(j + 5).is_some_and(|&c| ident(c)) {
                break;
            }
            let after = text[j + 5..].trim_start();
            if !after.starts_with("::") {
                break;
            }
            if word == "crate" {
                from_root = true;
            } else {
                ups += 1;
            }
            j = text.len() - after[2..].trim_start().len();
        }
        i = j.max(at + 1);
        if !from_root && ups == 0 {
            continue;
        }
        let base: &[&str] = if from_root {
            &[]
        } else {
            &module[..module.len().saturating_sub(ups)]
        };
        let line = line_of(&text, at);
        for segment in first_segments(&text[j..]) {
            let top = base.first().map_or(segment.as_str(), |m| *m);
            let to = roots.get(top).map_or(top, String::as_str);
            out.push(Edge {
                from: module[0].to_owned(),
                to: to.to_owned(),
                at: format!("src/{rel}:{line}"),
            });
        }
    }
}

// ===== the check =====

/// The graph of top-level modules: from -> to -> the first site.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

/// The problems of the crate whose sources are in `src`, with `allowed` pairs set aside.
fn check(src: &Path, allowed: &[(&str, &str)]) -> Vec<String> {
    let lib = read(&src.join("lib.rs"));
    let declared = declared_modules(&lib);
    let roots = root_items(&lib);
    let mut problems = Vec::new();
    for (module, line) in &declared {
        if layer(module).is_none() {
            problems.push(format!(
                "src/lib.rs:{line}: module {module} is in no layer (add it to LAYERS in \
                 tests/layers.rs and to the lib.rs # Layout)"
            ));
        }
    }

    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut all = Vec::new();
    for f in &files {
        edges(src, f, &roots, &mut all);
    }

    let mut graph = Graph::new();
    let mut upward: BTreeSet<(String, String)> = BTreeSet::new();
    for e in all.iter().filter(|e| e.from != e.to) {
        if !declared.contains_key(&e.to) {
            problems.push(format!(
                "{}: {} names `crate::{}`, which is neither a module nor a re-export of lib.rs",
                e.at, e.from, e.to
            ));
            continue;
        }
        let (Some(lf), Some(lt)) = (layer(&e.from), layer(&e.to)) else {
            continue; // reported above
        };
        let pair = (e.from.clone(), e.to.clone());
        if lt.0 > lf.0 {
            if !allowed.contains(&(e.from.as_str(), e.to.as_str())) {
                problems.push(format!(
                    "{}: {} imports {}",
                    e.at,
                    describe(&e.from),
                    describe(&e.to)
                ));
            }
            upward.insert(pair);
        }
        graph
            .entry(e.from.clone())
            .or_default()
            .entry(e.to.clone())
            .or_insert_with(|| e.at.clone());
    }

    // A listed pair must still be a problem: an upward import, or an edge inside a cycle.
    let in_cycle: BTreeSet<(String, String)> = cycles(&graph)
        .iter()
        .flat_map(|scc| ring(&graph, scc))
        .map(|(a, b, _)| (a, b))
        .collect();
    for (from, to) in allowed {
        let pair = ((*from).to_owned(), (*to).to_owned());
        if !upward.contains(&pair) && !in_cycle.contains(&pair) {
            problems.push(format!(
                "KNOWN_VIOLATIONS lists {from} -> {to}, which is no longer a problem: remove it"
            ));
        }
    }

    // Cycles of what is left once the listed edges are set aside.
    let mut rest = graph.clone();
    for (from, to) in allowed {
        if let Some(tos) = rest.get_mut(*from) {
            tos.remove(*to);
        }
    }
    for scc in cycles(&rest) {
        let edges: Vec<String> = ring(&rest, &scc)
            .into_iter()
            .map(|(a, b, at)| format!("{a} -> {b} ({at})"))
            .collect();
        problems.push(format!(
            "cycle {{{}}}: {}",
            scc.join(", "),
            edges.join("; ")
        ));
    }
    problems
}

/// The edges of `graph` between members of `scc`, with their first sites.
fn ring(graph: &Graph, scc: &[String]) -> Vec<(String, String, String)> {
    scc.iter()
        .flat_map(|a| {
            graph
                .get(a)
                .into_iter()
                .flatten()
                .filter(|(b, _)| scc.contains(b))
                .map(move |(b, at)| (a.clone(), b.clone(), at.clone()))
        })
        .collect()
}

/// The strongly connected components of more than one module (Tarjan), each sorted.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    #[derive(Default)]
    struct State {
        next: usize,
        index: BTreeMap<String, (usize, usize)>,
        stack: Vec<String>,
        on_stack: BTreeSet<String>,
        found: Vec<Vec<String>>,
    }
    fn visit(v: &str, graph: &Graph, st: &mut State) {
        let n = st.next;
        st.next += 1;
        st.index.insert(v.to_owned(), (n, n));
        st.stack.push(v.to_owned());
        st.on_stack.insert(v.to_owned());
        for w in graph.get(v).into_iter().flat_map(|m| m.keys()) {
            let low = if !st.index.contains_key(w) {
                visit(w, graph, st);
                st.index[w].1
            } else if st.on_stack.contains(w) {
                st.index[w].0
            } else {
                continue;
            };
            let entry = st.index.get_mut(v).unwrap();
            entry.1 = entry.1.min(low);
        }
        if st.index[v].0 == st.index[v].1 {
            let mut scc = Vec::new();
            while let Some(w) = st.stack.pop() {
                st.on_stack.remove(&w);
                let done = w == v;
                scc.push(w);
                if done {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                st.found.push(scc);
            }
        }
    }
    let mut st = State::default();
    for v in graph.keys() {
        if !st.index.contains_key(v) {
            visit(v, graph, &mut st);
        }
    }
    st.found
}

// ===== the lib.rs # Layout section =====

/// The entries of the "# Layout" section of lib.rs's crate docs: (line, module, stated layer).
/// A heading line `**Layer N: name.**` sets the layer of the bullets (`* [`module`]: ...` or
/// `* `module` ...`) below it.
fn layout_entries(lib: &str) -> Vec<(usize, String, Option<u8>)> {
    let mut out = Vec::new();
    let mut in_layout = false;
    let mut stated = None;
    for (n, line) in lib.lines().enumerate() {
        let Some(doc) = line.strip_prefix("//!") else {
            if in_layout {
                break;
            }
            continue;
        };
        let doc = doc.trim();
        if doc.starts_with('#') {
            in_layout = doc == "# Layout";
            continue;
        }
        if !in_layout {
            continue;
        }
        if let Some(heading) = doc.strip_prefix("**Layer ") {
            stated = heading
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|d| d.parse().ok());
        } else if let Some(bullet) = doc.strip_prefix("* ") {
            let name = bullet
                .split('`')
                .nth(1)
                .filter(|name| ident_at(name) == Some(*name));
            if let Some(name) = name {
                out.push((n + 1, name.to_owned(), stated));
            }
        }
    }
    out
}

// ===== the checker's own tests =====

#[test]
fn the_reader_sees_paths_in_code_only() {
    let text = "use crate::a::B;\n// crate::c::D\nlet s = \"crate::e\"; let c = '{';\n\
                fn f<'a>() { crate::g::h() }\nuse crate::{i, j::{K, L}};\n\
                #[cfg(test)]\nmod tests { use crate::m; }\nuse super::super::n;\n";
    let code = without_test_modules(&code_only(text));
    assert_eq!(code.matches('\n').count(), text.matches('\n').count());
    assert!(!code.contains("crate::c") && !code.contains("crate::e") && !code.contains("crate::m"));
    assert!(code.contains("crate::g::h()") && code.contains("crate::{i, j::{K, L}}"));
    assert_eq!(first_segments("{i, j::{K, L}}"), ["i", "j"]);

    let dir = std::env::temp_dir().join(format!("hookgate-layers-{}", std::process::id()));
    let file = dir.join("x/y.rs");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, text).unwrap();
    let roots = BTreeMap::from([("B".to_owned(), "a".to_owned())]);
    let mut found = Vec::new();
    edges(&dir, &file, &roots, &mut found);
    let _ = std::fs::remove_dir_all(&dir);
    let seen: Vec<(&str, &str)> = found
        .iter()
        .map(|e| (e.to.as_str(), e.at.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("a", "src/x/y.rs:1"),
            ("g", "src/x/y.rs:4"),
            ("i", "src/x/y.rs:5"),
            ("j", "src/x/y.rs:5"),
            ("n", "src/x/y.rs:8"),
        ]
    );
}

#[test]
fn the_reader_maps_root_reexports_to_their_module() {
    let lib = "pub mod a;\npub(crate) mod b;\n#[cfg(test)]\nmod tests {}\n\
               pub use crate::a::{X, y::Z as W};\npub use crate::b::V;\n";
    let declared: Vec<String> = declared_modules(lib).into_keys().collect();
    assert_eq!(declared, ["a", "b"]);
    let roots = root_items(lib);
    assert_eq!(roots.get("X").map(String::as_str), Some("a"));
    assert_eq!(roots.get("W").map(String::as_str), Some("a"));
    assert_eq!(roots.get("V").map(String::as_str), Some("b"));
    assert_eq!(roots.get("Z"), None);
}
