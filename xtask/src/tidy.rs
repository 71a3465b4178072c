//! `cargo xtask tidy`: the layering rules of ARCHITECTURE.md, checked from the sources.
//!
//! * **Crates depend only downward.** Each library crate's normal (non-dev) dependencies on
//!   workspace crates are listed in [`LAYERS`]; anything else fails (read from `cargo
//!   metadata`). Nothing depends on the simulator at run time.
//! * **core-pre knows no socket library and no protocol**: none in its dependencies, no
//!   such path in its code.
//! * **Target `cfg`s only where ARCHITECTURE.md says** ([`CFG_HOMES`]); lint-only
//!   `cfg_attr(…, allow(…))` and test-only gates do not count.
//! * **Every library crate opts into the workspace lints** (`[lints]` with
//!   `workspace = true` in its `Cargo.toml`), so the root `[workspace.lints]` table holds
//!   for all of them.
//! * **No module cycles inside a crate.** Dependencies between modules come from the
//!   paths in the code (`use crate::…`, `crate::a::b` in expressions, `super::…`), with
//!   names the crate root re-exports resolved to the module that defines them. Among the
//!   children of every module (the crate root included), the graph of "uses" must have no
//!   cycle. A child using its own ancestors is the facade pattern and is not counted.
//!
//! Findings listed in [`KNOWN`] are reported but do not fail (they are being removed by
//! issue 11); a listed finding that no longer occurs fails, so the list only shrinks.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cmd::{self, root};

/// Library crates and the workspace crates each may depend on (normal dependencies).
/// Tool crates (bench, reliability, examples, xtask, autobahn_client) are not listed and
/// may depend on anything, except that no library may depend on them.
const LAYERS: &[(&str, &[&str])] = &[
    ("core-pre", &[]),
    ("client_ws", &["core-pre"]),
    ("binary_options_tools", &["core-pre", "client_ws"]),
    // The simulator shares the pure codec with the client, and nothing else.
    ("pocketoption_sim", &["binary_options_tools"]),
    // The WebSocket server: core-pre's Message; client_ws for the secp256k1 verification
    // (and the signing helpers of its scheme).
    ("server", &["core-pre", "client_ws"]),
    // Subject messaging: the client on core-pre + client_ws, the hub on server.
    ("messaging", &["core-pre", "client_ws", "server"]),
    // atomic_websocket's features: the client on core-pre + client_ws, the discovery
    // responder beside a server (native only).
    ("atomic_ws", &["core-pre", "client_ws", "server"]),
];

/// Crates that may be used only by tools and tests, never by a library at run time.
const TOOLS_ONLY: &[&str] = &[
    "pocketoption_sim",
    "bench",
    "reliability",
    "autobahn_client",
];

/// Products with a `src/lib.rs` that are not libraries for other crates: the Python
/// extension module (built by maturin) and the browser dashboard (its wasm32 app is the
/// library, its native server the binary). Like the command line, they may use the
/// simulator at run time (`binary_options_tools.Simulator`, the dashboard's server), and
/// nothing depends on them.
const PRODUCTS: &[&str] = &["binary_options_tools_py", "dashboard"];

/// Names core-pre must not depend on or mention in code: socket libraries and protocols.
const CORE_FORBIDDEN_DEPS: &[&str] = &[
    "tokio-tungstenite",
    "tungstenite",
    "gloo-net",
    "web-sys",
    "hyper",
    "reqwest",
    "async-nats",
];
const CORE_FORBIDDEN_PATHS: &[&str] = &[
    "tungstenite::",
    "gloo_net",
    "web_sys::WebSocket",
    "tokio::net",
    "std::net",
    "engineio",
    "socketio",
];

/// Files where target `cfg`s live (relative to the workspace root; a directory covers
/// everything below it).
const CFG_HOMES: &[&str] = &[
    "crates/core-pre/src/runtime.rs",
    "crates/core-pre/src/runtime/",
    "crates/client_ws/src/transport/mod.rs",
    "crates/client_ws/src/lib.rs",
    "crates/messaging/src/lib.rs",
    "crates/atomic_ws/src/lib.rs",
];

/// Findings that are reported but tolerated until issue 11's cleanup removes them. Each is
/// the exact finding text; one that no longer occurs must be deleted here.
const KNOWN: &[&str] = &[];

/// Runs every check; fails listing each new finding.
pub(crate) fn run() -> Result<(), String> {
    println!("\n==> tidy (layering rules of ARCHITECTURE.md)");
    let meta = metadata()?;
    let mut findings = Vec::new();
    findings.extend(crate_layers(&meta));
    findings.extend(core_is_protocol_free(&meta));
    findings.extend(target_cfgs());
    findings.extend(workspace_lints());
    for krate in library_crates() {
        findings.extend(module_cycles(&krate));
    }
    judge(&findings)
}

fn judge(findings: &[Finding]) -> Result<(), String> {
    let mut new = Vec::new();
    for finding in findings {
        if KNOWN.contains(&finding.key.as_str()) {
            println!("    known (issue 11): {}", finding.describe());
        } else {
            new.push(finding.describe());
        }
    }
    let stale: Vec<&str> = KNOWN
        .iter()
        .copied()
        .filter(|known| !findings.iter().any(|f| f.key == *known))
        .collect();
    if new.is_empty() && stale.is_empty() {
        println!("    ok: tidy");
        return Ok(());
    }
    let mut message = String::from("tidy found layering problems:\n");
    for line in &new {
        message.push_str(&format!("  - {line}\n"));
    }
    for known in &stale {
        message.push_str(&format!(
            "  - `{known}` is fixed: delete it from KNOWN in xtask/src/tidy.rs\n"
        ));
    }
    message.push_str("(the rules: ARCHITECTURE.md; the checks: xtask/src/tidy.rs)");
    Err(message)
}

/// One rule broken somewhere: a stable key (for [`KNOWN`]) and where it shows.
#[derive(Debug)]
struct Finding {
    key: String,
    detail: String,
}

impl Finding {
    fn describe(&self) -> String {
        if self.detail.is_empty() {
            self.key.clone()
        } else {
            format!("{} ({})", self.key, self.detail)
        }
    }
}

/// `cargo metadata` for the workspace members.
fn metadata() -> Result<Value, String> {
    let out = cmd::cargo(&[
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
        "--offline",
    ])
    .output()
    .map_err(|e| format!("tidy: cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "tidy: cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("tidy: cargo metadata gave bad JSON: {e}"))
}

/// Workspace packages: name → (manifest dir, normal dependencies on workspace packages).
fn workspace_packages(meta: &Value) -> BTreeMap<String, (PathBuf, Vec<String>)> {
    let packages = meta["packages"].as_array().cloned().unwrap_or_default();
    let names: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    let mut result = BTreeMap::new();
    for package in &packages {
        let (Some(name), Some(manifest)) =
            (package["name"].as_str(), package["manifest_path"].as_str())
        else {
            continue;
        };
        let deps = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str())
            .filter(|d| names.contains(*d))
            .map(str::to_owned)
            .collect();
        let dir = Path::new(manifest)
            .parent()
            .unwrap_or(Path::new(""))
            .to_path_buf();
        result.insert(name.to_owned(), (dir, deps));
    }
    result
}

fn crate_layers(meta: &Value) -> Vec<Finding> {
    let packages = workspace_packages(meta);
    let mut findings = Vec::new();
    for (name, (_, deps)) in &packages {
        let allowed = LAYERS.iter().find(|(n, _)| n == name).map(|(_, a)| *a);
        for dep in deps {
            let bad = match allowed {
                Some(allowed) => !allowed.contains(&dep.as_str()),
                // A tool crate may use anything; libraries never use tools (below).
                None => false,
            };
            if bad {
                findings.push(Finding {
                    key: format!("layer: {name} depends on {dep}"),
                    detail: "not allowed by LAYERS (crates depend only downward)".into(),
                });
            }
        }
        if allowed.is_some() {
            for dep in deps.iter().filter(|d| TOOLS_ONLY.contains(&d.as_str())) {
                findings.push(Finding {
                    key: format!("layer: library {name} depends on tool crate {dep}"),
                    detail: String::new(),
                });
            }
        }
    }
    // A new library crate must be placed in LAYERS (and ARCHITECTURE.md).
    for (name, (dir, _)) in &packages {
        let is_library_crate = dir.starts_with(root().join("crates"))
            && dir.join("src/lib.rs").is_file()
            && !TOOLS_ONLY.contains(&name.as_str())
            && !PRODUCTS.contains(&name.as_str());
        if is_library_crate && !LAYERS.iter().any(|(n, _)| n == name) {
            findings.push(Finding {
                key: format!("layer: {name} is not placed in LAYERS"),
                detail: "add it to xtask/src/tidy.rs and ARCHITECTURE.md".into(),
            });
        }
    }
    findings
}

/// The crates whose modules are checked for cycles: every library crate.
fn library_crates() -> Vec<String> {
    LAYERS.iter().map(|(name, _)| (*name).to_owned()).collect()
}

/// Each library crate's `Cargo.toml` must have `[lints]` with `workspace = true`.
fn workspace_lints() -> Vec<Finding> {
    let mut findings = Vec::new();
    for name in library_crates() {
        let manifest = root().join("crates").join(&name).join("Cargo.toml");
        let opted_in = match fs::read_to_string(&manifest) {
            Ok(text) => opts_into_workspace_lints(&text),
            Err(error) => {
                findings.push(Finding {
                    key: format!("lints: cannot read the manifest of {name}"),
                    detail: format!("{}: {error}", relative(&manifest)),
                });
                continue;
            }
        };
        if !opted_in {
            findings.push(Finding {
                key: format!("lints: {name} does not opt into the workspace lints"),
                detail: format!(
                    "add `[lints]` with `workspace = true` to {}",
                    relative(&manifest)
                ),
            });
        }
    }
    findings
}

/// True when the manifest's `[lints]` table says `workspace = true`.
fn opts_into_workspace_lints(manifest: &str) -> bool {
    let mut in_lints = false;
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.starts_with('[') {
            in_lints = line == "[lints]";
            continue;
        }
        if in_lints {
            let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            if compact == "workspace=true" {
                return true;
            }
        }
    }
    false
}

fn crate_src(name: &str) -> PathBuf {
    root().join("crates").join(name).join("src")
}

fn core_is_protocol_free(metadata: &Value) -> Vec<Finding> {
    let mut findings = Vec::new();
    let core = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "core-pre");
    let deps = core
        .and_then(|p| p["dependencies"].as_array())
        .into_iter()
        .flatten()
        .filter(|d| d["kind"].is_null())
        .filter_map(|d| d["name"].as_str());
    for dep in deps.filter(|d| CORE_FORBIDDEN_DEPS.contains(d)) {
        findings.push(Finding {
            key: format!("core-pre depends on {dep}"),
            detail: "core-pre names no socket library".into(),
        });
    }
    for file in rust_files(&crate_src("core-pre")) {
        let text = fs::read_to_string(&file).unwrap_or_default();
        for (number, line) in code_lines(&text) {
            for path in CORE_FORBIDDEN_PATHS {
                if line.contains(path) {
                    findings.push(Finding {
                        key: format!("core-pre names `{path}`"),
                        detail: format!("{}:{number}", relative(&file)),
                    });
                }
            }
        }
    }
    findings
}

fn target_cfgs() -> Vec<Finding> {
    let mut findings = Vec::new();
    for (name, _) in LAYERS {
        for file in rust_files(&crate_src(name)) {
            let rel = relative(&file);
            if CFG_HOMES
                .iter()
                .any(|home| rel == *home || (home.ends_with('/') && rel.starts_with(home)))
            {
                continue;
            }
            let text = fs::read_to_string(&file).unwrap_or_default();
            let lines: Vec<usize> = code_lines(&text)
                .filter(|(_, line)| is_target_cfg(line))
                .map(|(number, _)| number)
                .collect();
            if let Some(first) = lines.first() {
                findings.push(Finding {
                    key: format!("cfg: {rel}"),
                    detail: format!(
                        "target cfg at line {first}{}; platform differences live in {}",
                        if lines.len() > 1 {
                            format!(" and {} more", lines.len() - 1)
                        } else {
                            String::new()
                        },
                        CFG_HOMES.join(", ")
                    ),
                });
            }
        }
    }
    findings
}

/// A line that chooses code by target (not a lint tweak, not a test gate).
fn is_target_cfg(line: &str) -> bool {
    let mentions = ["target_arch", "target_family", "target_os"]
        .iter()
        .any(|t| line.contains(t));
    mentions && !line.contains("cfg_attr") && !line.contains("test")
}

/// Lines that are code: comments and `#[cfg(test)]` modules removed (a test module is
/// taken to run from its `#[cfg(test)]` line to the end of the file, as they all do here).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .windows(2)
        .position(|w| is_test_gate(w[0]) && w[1].trim_start().starts_with("mod "))
        .unwrap_or(lines.len());
    lines
        .into_iter()
        .enumerate()
        .take(end)
        .map(|(i, line)| (i + 1, line.split("//").next().unwrap_or("")))
        .filter(|(_, line)| !line.trim().is_empty())
}

fn is_test_gate(line: &str) -> bool {
    let line = line.trim();
    line.starts_with("#[cfg(") && line.contains("test")
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// A module path inside a crate: `[]` is the root, `["modules", "trades"]` a submodule.
type ModPath = Vec<String>;

/// The module a source file defines (`src/a.rs` and `src/a/mod.rs` → `a`).
fn module_of(src: &Path, file: &Path) -> Option<ModPath> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    // `lib.rs`/`main.rs` only at the top are the root.
    Some(parts)
}

/// Every `crate::…` and `super::…` path a file's code names, expanded from `use` trees.
fn referenced_paths(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut paths = Vec::new();
    let code: Vec<(usize, &str)> = code_lines(text).collect();
    // Join the lines so `use` trees spanning lines read as one; remember line starts.
    let mut joined = String::new();
    let mut starts = Vec::new();
    for (number, line) in &code {
        starts.push((joined.len(), *number));
        joined.push_str(line);
        joined.push('\n');
    }
    let line_at = |offset: usize| {
        starts
            .iter()
            .take_while(|(start, _)| *start <= offset)
            .last()
            .map_or(0, |(_, n)| *n)
    };
    for anchor in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(found) = joined[from..].find(anchor) {
            let at = from + found;
            from = at + anchor.len();
            // Not part of a longer identifier (e.g. `mycrate::`).
            if joined[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                continue;
            }
            let head = anchor.trim_end_matches("::").to_owned();
            for tail in expand_tree(&joined[from..]) {
                let mut path = vec![head.clone()];
                path.extend(tail);
                paths.push((line_at(at), path));
            }
        }
    }
    paths
}

/// Expands the path after `crate::` into its leaves: `a::b::{c, d::{e}}` → `a::b::c`,
/// `a::b::d::e`. Reads only as far as the path goes.
fn expand_tree(rest: &str) -> Vec<Vec<String>> {
    let mut prefix = Vec::new();
    let mut chars = rest.char_indices().peekable();
    let mut ident = String::new();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_alphanumeric() || c == '_' {
            ident.push(c);
            chars.next();
        } else if rest[i..].starts_with("::") {
            if !ident.is_empty() {
                prefix.push(std::mem::take(&mut ident));
            }
            chars.next();
            chars.next();
        } else if c == '{' {
            let inner = &rest[i + 1..];
            let close = matching_brace(inner);
            let mut leaves = Vec::new();
            for part in split_top_level(&inner[..close]) {
                for tail in expand_tree(part.trim()) {
                    let mut path = prefix.clone();
                    path.extend(tail);
                    leaves.push(path);
                }
            }
            return leaves;
        } else {
            break;
        }
    }
    if !ident.is_empty() {
        prefix.push(ident);
    }
    vec![prefix]
}

fn matching_brace(text: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    text.len()
}

fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Names the crate root re-exports (`pub use a::b::Name;`) → the module that has them.
fn root_reexports(root_text: &str, modules: &BTreeSet<ModPath>) -> BTreeMap<String, ModPath> {
    let mut map = BTreeMap::new();
    let code: String = code_lines(root_text)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let mut from = 0;
    while let Some(found) = code[from..].find("pub use ") {
        let at = from + found + "pub use ".len();
        from = at;
        let rest = code[at..].trim_start_matches("crate::");
        for leaf in expand_tree(rest) {
            if let Some((name, path)) = leaf.split_last() {
                let module = longest_module(path, modules);
                if !module.is_empty() {
                    map.insert(name.clone(), module);
                }
            }
        }
    }
    map
}

/// The longest prefix of `path` that is a module.
fn longest_module(path: &[String], modules: &BTreeSet<ModPath>) -> ModPath {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| modules.contains(prefix))
        .unwrap_or_default()
}

fn module_cycles(krate: &str) -> Vec<Finding> {
    let src = crate_src(krate);
    let files = rust_files(&src);
    let mut modules: BTreeMap<ModPath, PathBuf> = BTreeMap::new();
    for file in &files {
        // Binaries (`main.rs`, `src/bin/`) are crates of their own.
        let in_bin = file
            .strip_prefix(&src)
            .is_ok_and(|rel| rel.starts_with("bin"));
        if in_bin || file.file_name().is_some_and(|n| n == "main.rs") {
            continue;
        }
        if let Some(module) = module_of(&src, file) {
            modules.insert(module, file.clone());
        }
    }
    let known: BTreeSet<ModPath> = modules.keys().cloned().collect();
    let reexports = modules
        .get(&Vec::new())
        .and_then(|f| fs::read_to_string(f).ok())
        .map(|text| root_reexports(&text, &known))
        .unwrap_or_default();

    // Edges between siblings: parent → (child → child → first place seen).
    let mut graphs: BTreeMap<ModPath, BTreeMap<String, BTreeMap<String, String>>> = BTreeMap::new();
    for (module, file) in &modules {
        let text = fs::read_to_string(file).unwrap_or_default();
        for (line, path) in referenced_paths(&text) {
            let Some(target) = resolve(module, &path, &known, &reexports) else {
                continue;
            };
            let common = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            // Using an ancestor (or itself) is not a sibling dependency.
            if common >= target.len() || common >= module.len() {
                continue;
            }
            let parent = module[..common].to_vec();
            let from = module[common].clone();
            let to = target[common].clone();
            graphs
                .entry(parent)
                .or_default()
                .entry(from)
                .or_default()
                .entry(to)
                .or_insert_with(|| format!("{}:{line}", relative(file)));
        }
    }
    let mut findings = Vec::new();
    for (parent, graph) in &graphs {
        for component in tangles(graph) {
            let scope = if parent.is_empty() {
                krate.to_owned()
            } else {
                format!("{krate}::{}", parent.join("::"))
            };
            let evidence: Vec<String> = component
                .iter()
                .flat_map(|a| {
                    graph[a]
                        .iter()
                        .filter(|(b, _)| component.contains(*b))
                        .map(move |(b, at)| format!("{a} -> {b} at {at}"))
                })
                .collect();
            findings.push(Finding {
                key: format!("cycle in {scope}: {}", component.join(", ")),
                detail: evidence.join("; "),
            });
        }
    }
    findings
}

/// The module a path in `module`'s code refers to, if it is one of the crate's.
fn resolve(
    module: &ModPath,
    path: &[String],
    modules: &BTreeSet<ModPath>,
    reexports: &BTreeMap<String, ModPath>,
) -> Option<ModPath> {
    let (head, rest) = path.split_first()?;
    let absolute: Vec<String> = match head.as_str() {
        "crate" => rest.to_vec(),
        "super" => {
            let mut base = module.clone();
            base.pop()?;
            let mut rest = rest;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            base
        }
        _ => return None,
    };
    let target = longest_module(&absolute, modules);
    if target.is_empty() {
        // `crate::Name`: a name the root re-exports.
        return absolute
            .first()
            .and_then(|name| reexports.get(name).cloned());
    }
    Some(target)
}

/// The modules caught in cycles: each strongly connected component with more than one
/// member, its names sorted.
fn tangles(graph: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<Vec<String>> {
    let reaches = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(node) = stack.pop() {
            for next in graph.get(&node).into_iter().flat_map(|edges| edges.keys()) {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|node| (node, reaches(node))).collect();
    let mut components = BTreeSet::new();
    for (node, from_node) in &reach {
        let component: Vec<String> = from_node
            .iter()
            .filter(|other| reach.get(other).is_some_and(|back| back.contains(*node)))
            .cloned()
            .collect();
        if component.len() > 1 {
            components.insert(component);
        }
    }
    components.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn use_trees_expand_to_every_leaf() {
        let paths: Vec<Vec<String>> = referenced_paths(
            "use crate::{a::X, b::{c::Y, Z}};\nfn f() { crate::d::g(); super::e::h(); }\n",
        )
        .into_iter()
        .map(|(_, p)| p)
        .collect();
        assert!(paths.contains(&strings(&["crate", "a", "X"])), "{paths:?}");
        assert!(
            paths.contains(&strings(&["crate", "b", "c", "Y"])),
            "{paths:?}"
        );
        assert!(paths.contains(&strings(&["crate", "b", "Z"])), "{paths:?}");
        assert!(paths.contains(&strings(&["crate", "d", "g"])), "{paths:?}");
        assert!(paths.contains(&strings(&["super", "e", "h"])), "{paths:?}");
    }

    #[test]
    fn comments_and_test_modules_are_not_code() {
        let text =
            "use crate::a::X; // crate::b::Y\n#[cfg(test)]\nmod tests {\n use crate::c::Z;\n}\n";
        let paths: Vec<Vec<String>> = referenced_paths(text).into_iter().map(|(_, p)| p).collect();
        assert_eq!(paths, vec![strings(&["crate", "a", "X"])]);
    }

    #[test]
    fn modules_in_a_cycle_are_one_tangle_and_a_chain_is_none() {
        let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut edge = |a: &str, b: &str| {
            graph
                .entry(a.into())
                .or_default()
                .insert(b.into(), "x".into());
        };
        edge("runner", "builder");
        edge("builder", "client");
        edge("client", "runner");
        edge("client", "link");
        edge("link", "state");
        assert_eq!(
            tangles(&graph),
            vec![strings(&["builder", "client", "runner"])]
        );
    }

    #[test]
    fn paths_resolve_through_super_and_root_reexports() {
        let modules: BTreeSet<ModPath> = [
            vec![],
            strings(&["modules"]),
            strings(&["modules", "trades"]),
            strings(&["state"]),
            strings(&["error"]),
        ]
        .into_iter()
        .collect();
        let reexports = root_reexports("pub use error::{Error, Result};\n", &modules);
        let here = strings(&["modules", "trades"]);
        assert_eq!(
            resolve(&here, &strings(&["crate", "Error"]), &modules, &reexports),
            Some(strings(&["error"]))
        );
        assert_eq!(
            resolve(
                &here,
                &strings(&["super", "super", "state", "S"]),
                &modules,
                &reexports
            ),
            Some(strings(&["state"]))
        );
        assert_eq!(
            resolve(&here, &strings(&["crate", "nothing"]), &modules, &reexports),
            None
        );
    }

    #[test]
    fn only_a_lints_table_with_workspace_true_opts_in() {
        let opted = "[package]\nname = \"a\"\n\n[lints]\nworkspace = true # shared\n";
        assert!(opts_into_workspace_lints(opted));
        assert!(opts_into_workspace_lints(
            "[lints]\n  workspace=true\n[dependencies]\n"
        ));
        assert!(!opts_into_workspace_lints("[package]\nname = \"a\"\n"));
        assert!(!opts_into_workspace_lints("[lints]\nworkspace = false\n"));
        assert!(!opts_into_workspace_lints("[lints]\n# workspace = true\n"));
        // `workspace = true` under another table is a dependency's, not the lints'.
        assert!(!opts_into_workspace_lints(
            "[lints]\n[dependencies.serde]\nworkspace = true\n"
        ));
        assert!(!opts_into_workspace_lints(
            "[lints.rust]\nworkspace = true\n"
        ));
    }

    #[test]
    fn the_library_crates_here_opt_in_except_the_known_ones() {
        let findings = workspace_lints();
        let keys: Vec<&str> = findings.iter().map(|f| f.key.as_str()).collect();
        for key in &keys {
            assert!(KNOWN.contains(key), "not opted in and not KNOWN: {key}");
        }
        assert!(
            !keys
                .iter()
                .any(|k| k.contains("core-pre") || k.contains("client_ws")),
            "{keys:?}"
        );
    }

    #[test]
    fn lint_tweaks_and_test_gates_are_not_target_cfgs() {
        assert!(is_target_cfg("#[cfg(target_arch = \"wasm32\")]"));
        assert!(is_target_cfg(
            "let browser = cfg!(target_arch = \"wasm32\");"
        ));
        assert!(!is_target_cfg(
            "#[cfg_attr(target_arch = \"wasm32\", allow(clippy::arc_with_non_send_sync))]"
        ));
        assert!(!is_target_cfg(
            "#[cfg(all(test, not(target_arch = \"wasm32\")))]"
        ));
    }
}
