//! `cargo xtask bench`: the benchmark suite (`crates/bench`, `benches/suite/main.rs`).
//!
//! * `run` builds the suite in the `bench` profile (optimized) and runs it: full sizes, or
//!   short ones with `--quick`. The suite prints the table and writes
//!   `target/bench/report.json`; this checks that the report is well formed.
//! * `smoke` (a step of `cargo xtask ci`) runs the suite with tiny sizes under the `test`
//!   profile (unoptimized), which the CI test step has already built: it keeps the suite
//!   compiling and running for a few seconds of CI time instead of an optimized build of
//!   the whole tree. It never judges figures, only that each was produced and the report
//!   is well formed.

use std::path::PathBuf;

use crate::cmd::{self, cargo, root};

/// The figures every run must produce (the suite's `report::REQUIRED`).
const REQUIRED: &[&str] = &[
    "routed_throughput",
    "ezsockets_throughput",
    "po_ticks_throughput",
    "rtt_p50",
    "rtt_p99",
    "stalled_rss_growth",
    "idle_client_rss",
    "reconnect_delay",
];

fn bench_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("bench")
}

pub fn run(args: &[String]) -> Result<(), String> {
    let mut quick = false;
    for arg in args {
        match arg.as_str() {
            "--quick" => quick = true,
            other => return Err(format!("bench: unknown option `{other}` (try --quick)")),
        }
    }
    let out = bench_dir().join("report.json");
    let out_arg = out.to_string_lossy().into_owned();
    let mut suite_args = vec!["bench", "-p", "bench", "--bench", "suite", "--"];
    if quick {
        suite_args.push("--quick");
    }
    suite_args.extend(["--out", &out_arg]);
    cmd::run(
        if quick {
            "benchmarks (quick)"
        } else {
            "benchmarks"
        },
        &mut cargo(&suite_args),
    )?;
    let figures = check_report(&out)?;
    println!(
        "\nbench: {} figures in {} (README: crates/bench/README.md)",
        figures.len(),
        out.display()
    );
    Ok(())
}

/// The short smoke run `cargo xtask ci` makes, to keep the benchmarks compiling and running.
pub fn smoke() -> Result<(), String> {
    let out = bench_dir().join("smoke.json");
    let out_arg = out.to_string_lossy().into_owned();
    let _ = std::fs::remove_file(&out);
    cmd::run(
        "bench smoke (tiny sizes, unoptimized; figures not judged)",
        &mut cargo(&[
            "test", "-p", "bench", "--bench", "suite", "--", "--smoke", "--out", &out_arg,
        ]),
    )?;
    let figures = check_report(&out)?;
    println!(
        "    bench smoke: {} figures, report well formed",
        figures.len()
    );
    Ok(())
}

/// Reads a report and checks its shape; returns the figure names.
fn check_report(path: &std::path::Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "bench: the suite wrote no report at {}: {e}",
            path.display()
        )
    })?;
    check_figures(&text).map_err(|e| format!("bench: {} is malformed: {e}", path.display()))
}

/// A report is a JSON list of objects, each with a string `name` and `unit` and numbers
/// `value`, `baseline` and `ratio`; every required figure is there.
fn check_figures(text: &str) -> Result<Vec<String>, String> {
    let mut parser = json::Parser::new(text);
    let value = parser.document()?;
    let json::Value::List(items) = value else {
        return Err("the report is not a list".into());
    };
    let mut names = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let name = match item.get("name") {
            Some(json::Value::Str(name)) => name.clone(),
            _ => return Err(format!("entry {i} has no string `name`")),
        };
        if !matches!(item.get("unit"), Some(json::Value::Str(_))) {
            return Err(format!("`{name}` has no string `unit`"));
        }
        for key in ["value", "baseline", "ratio"] {
            if !matches!(item.get(key), Some(json::Value::Num(n)) if n.is_finite()) {
                return Err(format!("`{name}`: `{key}` is not a number"));
            }
        }
        names.push(name);
    }
    if let Some(missing) = REQUIRED.iter().find(|r| !names.iter().any(|n| n == *r)) {
        return Err(format!("figure `{missing}` is missing"));
    }
    Ok(names)
}

/// A small JSON reader (xtask has no dependencies): enough to check a report's shape.
mod json {
    pub enum Value {
        Null,
        Bool,
        Num(f64),
        Str(String),
        List(Vec<Value>),
        Object(Vec<(String, Value)>),
    }

    impl Value {
        pub fn get(&self, key: &str) -> Option<&Value> {
            match self {
                Value::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
                _ => None,
            }
        }
    }

    pub struct Parser<'a> {
        bytes: &'a [u8],
        at: usize,
    }

    impl<'a> Parser<'a> {
        pub fn new(text: &'a str) -> Self {
            Parser {
                bytes: text.as_bytes(),
                at: 0,
            }
        }

        /// One value and nothing after it but whitespace.
        pub fn document(&mut self) -> Result<Value, String> {
            let value = self.value(0)?;
            self.space();
            if self.at != self.bytes.len() {
                return Err(format!("trailing characters at byte {}", self.at));
            }
            Ok(value)
        }

        fn space(&mut self) {
            while self.bytes.get(self.at).is_some_and(u8::is_ascii_whitespace) {
                self.at += 1;
            }
        }

        fn expect(&mut self, byte: u8) -> Result<(), String> {
            self.space();
            if self.bytes.get(self.at) == Some(&byte) {
                self.at += 1;
                Ok(())
            } else {
                Err(format!("expected `{}` at byte {}", byte as char, self.at))
            }
        }

        fn literal(&mut self, word: &str, value: Value) -> Result<Value, String> {
            if self.bytes[self.at..].starts_with(word.as_bytes()) {
                self.at += word.len();
                Ok(value)
            } else {
                Err(format!("unexpected input at byte {}", self.at))
            }
        }

        fn value(&mut self, depth: usize) -> Result<Value, String> {
            if depth > 32 {
                return Err("nested too deeply".into());
            }
            self.space();
            match self.bytes.get(self.at) {
                Some(b'{') => {
                    self.at += 1;
                    let mut fields = Vec::new();
                    self.space();
                    if self.bytes.get(self.at) == Some(&b'}') {
                        self.at += 1;
                        return Ok(Value::Object(fields));
                    }
                    loop {
                        self.space();
                        let key = self.string()?;
                        self.expect(b':')?;
                        fields.push((key, self.value(depth + 1)?));
                        self.space();
                        match self.bytes.get(self.at) {
                            Some(b',') => self.at += 1,
                            Some(b'}') => {
                                self.at += 1;
                                return Ok(Value::Object(fields));
                            }
                            _ => return Err(format!("expected `,` or `}}` at byte {}", self.at)),
                        }
                    }
                }
                Some(b'[') => {
                    self.at += 1;
                    let mut items = Vec::new();
                    self.space();
                    if self.bytes.get(self.at) == Some(&b']') {
                        self.at += 1;
                        return Ok(Value::List(items));
                    }
                    loop {
                        items.push(self.value(depth + 1)?);
                        self.space();
                        match self.bytes.get(self.at) {
                            Some(b',') => self.at += 1,
                            Some(b']') => {
                                self.at += 1;
                                return Ok(Value::List(items));
                            }
                            _ => return Err(format!("expected `,` or `]` at byte {}", self.at)),
                        }
                    }
                }
                Some(b'"') => self.string().map(Value::Str),
                Some(b't') => self.literal("true", Value::Bool),
                Some(b'f') => self.literal("false", Value::Bool),
                Some(b'n') => self.literal("null", Value::Null),
                Some(b'-' | b'0'..=b'9') => {
                    let start = self.at;
                    while self
                        .bytes
                        .get(self.at)
                        .is_some_and(|b| b"+-.eE0123456789".contains(b))
                    {
                        self.at += 1;
                    }
                    std::str::from_utf8(&self.bytes[start..self.at])
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .map(Value::Num)
                        .ok_or_else(|| format!("bad number at byte {start}"))
                }
                _ => Err(format!("unexpected input at byte {}", self.at)),
            }
        }

        fn string(&mut self) -> Result<String, String> {
            self.expect(b'"')?;
            let mut out = Vec::new();
            loop {
                match self.bytes.get(self.at) {
                    None => return Err("unterminated string".into()),
                    Some(b'"') => {
                        self.at += 1;
                        return String::from_utf8(out).map_err(|_| "a string is not UTF-8".into());
                    }
                    Some(b'\\') => {
                        // Escapes are kept as written: names and units never use them.
                        out.extend_from_slice(self.bytes.get(self.at..self.at + 2).unwrap_or(b""));
                        self.at += 2;
                    }
                    Some(&b) => {
                        out.push(b);
                        self.at += 1;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(names: &[&str]) -> String {
        let items: Vec<String> = names
            .iter()
            .map(|n| {
                format!(
                    r#"{{"name": "{n}", "value": 1.5e3, "unit": "ms", "baseline": 2, "ratio": 0.75, "target": null, "met": true}}"#
                )
            })
            .collect();
        format!("[\n  {}\n]\n", items.join(",\n  "))
    }

    #[test]
    fn a_report_with_every_figure_is_accepted() {
        let names = check_figures(&report(REQUIRED)).unwrap();
        assert_eq!(names.len(), REQUIRED.len());
    }

    #[test]
    fn a_missing_figure_or_a_broken_report_is_refused() {
        let err = check_figures(&report(&REQUIRED[1..])).unwrap_err();
        assert!(err.contains("routed_throughput"), "{err}");
        assert!(check_figures("[").is_err());
        assert!(check_figures("{}").is_err());
        let text = report(REQUIRED).replacen("1.5e3", "\"fast\"", 1);
        assert!(
            check_figures(&text)
                .unwrap_err()
                .contains("`value` is not a number")
        );
    }
}
