//! Rust `tracing` events into Python's `logging`, under the logger `binary_options_tools`
//! (the event's target is appended: `binary_options_tools.core_pre::runner`, …). Only
//! levels the logger enables are forwarded, checked through a cached level that
//! `refresh_level` updates (the package calls it when it is imported, and users after
//! changing the level). The Rust crates never log session tokens.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

/// The Python logger's effective level, in Python's numbers divided by 10 (1 debug .. 5
/// critical); 6 means "forward nothing".
static ENABLED_FROM: AtomicU8 = AtomicU8::new(3);

fn python_level(level: &Level) -> u8 {
    match *level {
        Level::TRACE | Level::DEBUG => 1,
        Level::INFO => 2,
        Level::WARN => 3,
        Level::ERROR => 4,
    }
}

/// Collects an event's message and fields as one line.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

/// One record on its way to Python.
struct Record {
    level: u8,
    target: String,
    text: String,
}

/// Records queued for the forwarding thread before new ones are dropped.
const QUEUE: usize = 4096;

/// Queues each enabled event for the forwarding thread: the thread that logs never waits
/// for the GIL (it may hold a lock Python code is waiting for).
struct PythonLogging {
    queue: SyncSender<Record>,
}

impl<S: Subscriber> Layer<S> for PythonLogging {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        python_level(metadata.level()) >= ENABLED_FROM.load(Ordering::Relaxed)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let level = python_level(event.metadata().level());
        if level < ENABLED_FROM.load(Ordering::Relaxed) {
            return;
        }
        let mut line = Line::default();
        event.record(&mut line);
        let _ = self.queue.try_send(Record {
            level,
            target: event.metadata().target().replace("::", "."),
            text: format!("{}{}", line.message, line.fields),
        });
    }
}

/// Hands each record to Python's `logging`, holding no Rust lock while it waits for the
/// GIL; stops when the interpreter shuts down.
fn forward(records: Receiver<Record>) {
    for record in records {
        let logged = Python::try_attach(|py| -> PyResult<()> {
            let logger = py.import("logging")?.call_method1(
                "getLogger",
                (format!("binary_options_tools.{}", record.target),),
            )?;
            logger.call_method1("log", (u32::from(record.level) * 10, record.text))?;
            Ok(())
        });
        if logged.is_none() {
            return;
        }
    }
}

/// Installs the bridge as the process's tracing subscriber (once; an already installed
/// subscriber is left alone).
pub(crate) fn install() {
    let (queue, records) = sync_channel(QUEUE);
    let subscriber = tracing_subscriber::registry().with(PythonLogging { queue });
    if tracing::subscriber::set_global_default(subscriber).is_ok() {
        let _ = std::thread::Builder::new()
            .name("binary_options_tools-logging".into())
            .spawn(move || forward(records));
    }
}

/// Re-reads the effective level of the logger `binary_options_tools`.
#[pyfunction]
pub(crate) fn refresh_log_level(py: Python<'_>) -> PyResult<()> {
    let logger = py
        .import("logging")?
        .call_method1("getLogger", ("binary_options_tools",))?;
    let level: u32 = logger.call_method0("getEffectiveLevel")?.extract()?;
    let enabled_from = match level {
        0..=10 => 1,
        11..=20 => 2,
        21..=30 => 3,
        31..=40 => 4,
        41..=50 => 5,
        _ => 6,
    };
    ENABLED_FROM.store(enabled_from, Ordering::Relaxed);
    tracing::callsite::rebuild_interest_cache();
    Ok(())
}
