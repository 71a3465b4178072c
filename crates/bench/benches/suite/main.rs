//! The benchmark suite: every figure of the bench issue, each with its baseline measured in
//! the same run, printed as a table and written to `report.json`.
//!
//! ```text
//! cargo bench -p bench --bench suite                   # full run (what `cargo xtask bench` does)
//! cargo bench -p bench --bench suite -- --quick        # short run
//! cargo test  -p bench --bench suite -- --smoke        # tiny sizes, checks the report (CI)
//! ```
//!
//! The flags (`--quick`, `--smoke`, `--out PATH`, `--only GROUP,…`, `--profile KIND`) are
//! declared in [`Cli`]; `cargo bench -p bench --bench suite -- --help` explains them.
//!
//! `cargo bench` passes `--bench`. Run without it and without `--smoke` (as
//! `cargo test --all-targets` does) the suite only says how to run it: the CI smoke step
//! (`cargo xtask ci` → `bench::smoke`) runs `--smoke` once.
//!
//! Layout: the servers run on their own thread ([`bench::ServerThread`]); each client under
//! test runs on this thread's current-thread runtime; the memory figures run in fresh child
//! processes of this same binary (`--child KIND URL N`), so each has its own peak RSS.

mod ezsockets_client;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bench::latency::{LatencySummary, interleaved_round_trips};
use bench::memory::{self, Growth};
use bench::report::{self, Figure};
use bench::throughput::{InboxUse, bare_flood, routed_flood, routed_flood_with_idle};
use bench::ticks::{bare_pairs, pocketoption_ticks};
use bench::{
    BenchError, BenchServer, Blast, ServerConfig, ServerThread, Throughput, serving, within,
};
use clap::builder::PossibleValuesParser;
use clap::{Arg, ArgAction, CommandFactory, FromArgMatches, Parser};
use pocketoption_sim::Simulator;

/// How big each measurement is.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    name: &'static str,
    /// Small text frames per flood (throughput, stalled module).
    frames: u64,
    /// Tick pairs per tick flood.
    ticks: u64,
    /// Measured round trips (after `warmup` unmeasured ones).
    rounds: usize,
    warmup: usize,
    /// Idle clients in one process.
    idle: usize,
    /// Reconnect rounds.
    reconnects: usize,
    /// Repetitions of each throughput measurement (the median is reported).
    reps: usize,
    /// Idle sessions held by the server (and core-pre clients in one process).
    server_idle: usize,
    /// Sessions and 1 KiB messages of the broadcast flood.
    broadcast_sessions: usize,
    broadcast_messages: usize,
    /// Readers and paced messages of the isolation figure.
    isolation_readers: usize,
    isolation_messages: usize,
}

const FULL: Sizes = Sizes {
    name: "full",
    frames: 1_000_000,
    ticks: 1_000_000,
    rounds: 20_000,
    warmup: 2_000,
    idle: 1_000,
    reconnects: 5,
    reps: 5,
    server_idle: 10_000,
    broadcast_sessions: 1_000,
    broadcast_messages: 200,
    isolation_readers: 999,
    isolation_messages: 250,
};

const QUICK: Sizes = Sizes {
    name: "quick",
    frames: 200_000,
    ticks: 200_000,
    rounds: 5_000,
    warmup: 500,
    idle: 200,
    reconnects: 3,
    reps: 3,
    server_idle: 2_000,
    broadcast_sessions: 1_000,
    broadcast_messages: 50,
    isolation_readers: 999,
    isolation_messages: 100,
};

const SMOKE: Sizes = Sizes {
    name: "smoke",
    frames: 2_000,
    ticks: 2_000,
    rounds: 200,
    warmup: 20,
    idle: 10,
    reconnects: 1,
    reps: 1,
    server_idle: 20,
    broadcast_sessions: 10,
    broadcast_messages: 10,
    isolation_readers: 9,
    isolation_messages: 20,
};

/// A flood of any size must finish within this (a million frames take about a second).
const FLOOD_LIMIT: Duration = Duration::from_secs(120);
/// A memory child process must finish within this.
const CHILD_LIMIT: Duration = Duration::from_secs(300);
/// The first backoff delay configured for the reconnect figure.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// The suite's flags; clap generates `--help` and the error messages from them.
#[derive(Debug, Parser)]
#[command(
    name = "suite",
    about = "The benchmark suite: every figure beside its baseline, a table and report.json.",
    after_help = "Run through cargo: `cargo bench -p bench --bench suite -- [--quick]` (cargo \
        adds --bench) or `cargo test -p bench --bench suite -- --smoke`. Without --bench, \
        --quick or --smoke it only says how to run it (that is what `cargo test --all-targets` \
        sees). The test-harness flags cargo passes on (--nocapture, --test-threads N, name \
        filters…) are accepted and ignored.",
    // A flag given twice (cargo adds `--bench` even when it was given): the last one wins.
    args_override_self = true
)]
struct Cli {
    /// A full run; `cargo bench` passes it.
    #[arg(long)]
    bench: bool,
    /// A short run.
    #[arg(long)]
    quick: bool,
    /// Tiny sizes; checks that every figure was produced and the report is well formed (the
    /// CI smoke step). Also the sizes of a run with neither --bench nor --quick.
    #[arg(long)]
    smoke: bool,
    /// Interleaved rounds per throughput and latency figure (ours and the baseline
    /// alternating); the median is reported with the spread of the per-round ratios
    /// [default: 5 in a full run, 3 with --quick, 1 with --smoke].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100))]
    rounds: Option<u64>,
    /// Where to write the report [default: <target>/bench/report.json, or smoke.json for a
    /// smoke run].
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Only these groups of figures (for profiling); the report then lacks the others.
    #[arg(
        long,
        value_name = "GROUP,…",
        value_delimiter = ',',
        value_parser = PossibleValuesParser::new(GROUPS)
    )]
    only: Option<Vec<String>>,
    /// Run one client five times and write no report, for `perf`.
    #[arg(long, value_name = "KIND", value_parser = PossibleValuesParser::new(PROFILES))]
    profile: Option<String>,
    /// Internal: measure one memory figure in this process (the suite starts these).
    #[arg(long, num_args = 3, value_names = ["KIND", "URL", "N"], hide = true)]
    child: Option<Vec<String>>,
    /// Internal (`cargo xtask bench --instructions`): serve floods of N1 and N2 frames and
    /// tick pairs from this process, print their URLs, and stop when stdin closes.
    #[arg(long, num_args = 2, value_names = ["N1", "N2"], hide = true)]
    serve: Option<Vec<u64>>,
    /// Internal (`cargo xtask bench --instructions`): run one path once (N frames, tick
    /// pairs or round trips) against URL, for callgrind to count.
    #[arg(long, num_args = 3, value_names = ["PATH", "URL", "N"], hide = true)]
    count: Option<Vec<String>>,
    /// Test-name filters cargo may pass on: ignored.
    #[arg(id = "filters", value_name = "FILTER", hide = true)]
    _filters: Vec<String>,
}

/// libtest's flags without a value, which cargo passes on when they follow `--`: accepted
/// and ignored, the suite having no tests to select.
const LIBTEST_SWITCHES: &[&str] = &[
    "--nocapture",
    "--no-capture",
    "--show-output",
    "--quiet",
    "-q",
    "--exact",
    "--ignored",
    "--include-ignored",
    "--exclude-should-panic",
    "--list",
    "--test",
    "--force-run-in-process",
    "--report-time",
    "--ensure-time",
    "--shuffle",
    "--fail-fast",
];

/// libtest's flags that take a value, accepted and ignored likewise.
const LIBTEST_OPTIONS: &[&str] = &[
    "--test-threads",
    "--skip",
    "--color",
    "--format",
    "--logfile",
    "--shuffle-seed",
    "-Z",
];

/// A hidden, ignored argument for one of libtest's flags (`--long` or `-s`).
fn libtest_flag(flag: &'static str, takes_value: bool) -> Arg {
    let arg = Arg::new(flag).hide(true);
    let arg = match flag.strip_prefix("--") {
        Some(long) => arg.long(long),
        None => arg.short(flag.chars().last()),
    };
    if takes_value {
        arg.num_args(1).action(ArgAction::Append)
    } else {
        arg.action(ArgAction::Count)
    }
}

/// How the suite runs, resolved from the flags.
struct Args {
    /// Neither `--bench` nor `--smoke` nor `--quick` nor `--child`: a test-harness run.
    idle: bool,
    sizes: Sizes,
    smoke: bool,
    out: Option<PathBuf>,
    only: Option<Vec<String>>,
    /// `--profile KIND`: run only one client, five times, for a profiler.
    profile: Option<String>,
    child: Option<Vec<String>>,
    serve: Option<Vec<u64>>,
    count: Option<Vec<String>>,
}

/// Parses the flags, exiting with clap's help (code 0) or error (code 2).
fn parse_args() -> Args {
    let switches = LIBTEST_SWITCHES
        .iter()
        .map(|&flag| libtest_flag(flag, false));
    let options = LIBTEST_OPTIONS.iter().map(|&flag| libtest_flag(flag, true));
    let mut command = Cli::command().args(switches).args(options);
    let matches = command.get_matches_mut();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut command).exit());
    let idle = !cli.bench
        && !cli.quick
        && !cli.smoke
        && cli.child.is_none()
        && cli.serve.is_none()
        && cli.count.is_none();
    let smoke = cli.smoke || (!cli.bench && !cli.quick);
    let mut sizes = if smoke {
        SMOKE
    } else if cli.quick {
        QUICK
    } else {
        FULL
    };
    if let Some(rounds) = cli.rounds {
        sizes.reps = rounds as usize;
    }
    Args {
        idle,
        sizes,
        smoke,
        out: cli.out,
        only: cli.only,
        profile: cli.profile,
        child: cli.child,
        serve: cli.serve,
        count: cli.count,
    }
}

fn main() -> ExitCode {
    let args = parse_args();
    if args.idle {
        println!(
            "bench suite: nothing to do without --bench or --smoke; run `cargo xtask bench [--quick]`"
        );
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("suite: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match (&args.child, &args.serve, &args.count) {
        (Some(job), _, _) => runtime.block_on(child(job)),
        (_, Some(sizes), _) => runtime.block_on(serve(sizes)),
        (_, _, Some(job)) => runtime.block_on(count(job)),
        _ => runtime.block_on(suite(&args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("suite: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The target directory this binary was built into (the one holding `CACHEDIR.TAG`).
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .find(|dir| dir.join("CACHEDIR.TAG").is_file())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// `nproc`, CPU model and kernel, for the report header.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_else(|_| "unknown kernel".into());
    format!("{cores} cores ({cpu}), Linux {kernel}")
}

fn median_by<T: Copy>(mut items: Vec<T>, key: impl Fn(&T) -> f64) -> T {
    items.sort_by(|a, b| key(a).total_cmp(&key(b)));
    items[items.len() / 2]
}

fn fps(t: &Throughput) -> f64 {
    t.per_second()
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Decimal megabytes / kilobytes from KiB (the targets are in MB and KB).
fn mb(kib: f64) -> f64 {
    kib * 1024.0 / 1e6
}

fn kb(kib: f64) -> f64 {
    kib * 1024.0 / 1e3
}

/// The groups of figures, in the order they run (`--only` picks some, for profiling).
const GROUPS: &[&str] = &[
    "throughput",
    "ticks",
    "rtt",
    "memory",
    "reconnect",
    "server",
    "nats",
    "hub",
];

/// The clients `--profile` can run alone.
const PROFILES: &[&str] = &["bare", "routed", "ezsockets", "pairs", "ticks", "rtt"];

/// The paths `--count` runs, as `cargo xtask bench --instructions` names them: ours and
/// its baseline for each of the routed, tick and round-trip paths.
/// `routed-1` and `routed-100` are the routed path with 1 and 100 more modules whose
/// rules match none of the frames (what routing costs as modules are added).
const COUNT_PATHS: &[&str] = &[
    "routed",
    "bare",
    "ticks",
    "pairs",
    "rtt",
    "rtt-bare",
    "routed-1",
    "routed-100",
];

/// `--serve N1 N2`: the flood and tick servers of `--count`, for N1 and N2 units, in
/// this process (so callgrind, counting the client's process, never counts them).
/// Prints `url KIND N URL` lines, then serves until stdin closes.
async fn serve(sizes: &[u64]) -> Result<(), BenchError> {
    use std::io::Write;
    let mut servers = Vec::new();
    for &n in sizes {
        let flood = BenchServer::start(ServerConfig {
            flood: Some(Arc::new(Blast::text_frames(n as usize))),
            ..ServerConfig::default()
        })
        .await?;
        let po = BenchServer::start(ServerConfig {
            ticks: Some(Arc::new(Blast::tick_pairs(n as usize))),
            pocketoption_open: true,
            ..ServerConfig::default()
        })
        .await?;
        println!("url flood {n} {}", flood.url());
        println!("url po {n} {}", po.url());
        println!("url socketio {n} {}", po.socketio_url());
        servers.push((flood, po));
    }
    println!("ready");
    let _ = std::io::stdout().flush();
    stdin_closed().await;
    drop(servers);
    Ok(())
}

/// `--count PATH URL N`: one run of a path, nothing else (see [`COUNT_PATHS`]).
async fn count(job: &[String]) -> Result<(), BenchError> {
    let bad = || BenchError::Child {
        kind: job.join(" "),
        reason: format!("usage: --count {} URL N", COUNT_PATHS.join("|")),
    };
    let [path, url, n] = job else {
        return Err(bad());
    };
    let n: u64 = n.parse().map_err(|_| bad())?;
    match path.as_str() {
        "routed" => drop(routed_flood(url, n, InboxUse::Batched, FLOOD_LIMIT).await?),
        "routed-1" => {
            routed_flood_with_idle(url, n, InboxUse::Batched, 1, FLOOD_LIMIT).await?;
        }
        "routed-100" => {
            routed_flood_with_idle(url, n, InboxUse::Batched, 100, FLOOD_LIMIT).await?;
        }
        "bare" => drop(bare_flood(url, n, FLOOD_LIMIT).await?),
        "ticks" => drop(pocketoption_ticks(url, n, FLOOD_LIMIT).await?),
        "pairs" => drop(bare_pairs(url, n, FLOOD_LIMIT).await?),
        "rtt" => {
            let mut raw = bench::latency::RawRoundTrips::connect(url).await?;
            for i in 0..n as usize {
                raw.round_trip(i).await?;
            }
            raw.close().await?;
        }
        "rtt-bare" => {
            let mut bare = bench::latency::BareRoundTrips::connect(url).await?;
            for i in 0..n as usize {
                bare.round_trip(i).await?;
            }
            bare.close().await;
        }
        _ => return Err(bad()),
    }
    Ok(())
}

/// Runs one client five times (`--profile KIND`), so a profiler sees only it.
async fn profile(servers: &Servers, sizes: Sizes, kind: &str) -> Result<(), BenchError> {
    let (flood, po) = (servers.flood.url(), servers.po.url());
    for _ in 0..5 {
        let units_per_second = match kind {
            "bare" => fps(&bare_flood(&flood, sizes.frames, FLOOD_LIMIT).await?),
            "routed" => {
                fps(&routed_flood(&flood, sizes.frames, InboxUse::Batched, FLOOD_LIMIT).await?)
            }
            "ezsockets" => {
                fps(&ezsockets_client::ezsockets_flood(&flood, sizes.frames, FLOOD_LIMIT).await?)
            }
            "pairs" => fps(&bare_pairs(&po, sizes.ticks, FLOOD_LIMIT).await?),
            "ticks" => {
                fps(
                    &pocketoption_ticks(&servers.po.socketio_url(), sizes.ticks, FLOOD_LIMIT)
                        .await?
                        .delivered,
                )
            }
            _ => {
                let (ours, _) = interleaved_round_trips(
                    &po,
                    &servers.po.socketio_url(),
                    sizes.warmup,
                    sizes.rounds,
                    sizes.rounds,
                )
                .await?;
                us(ours.p50)
            }
        };
        eprintln!("   {kind}: {units_per_second:.1}");
    }
    Ok(())
}

/// The servers every group talks to, on their own thread.
struct Servers {
    flood: BenchServer,
    po: BenchServer,
    sim: Simulator,
    // Last: dropping it stops the runtime the servers above run on.
    thread: ServerThread,
}

async fn suite(args: &Args) -> Result<(), BenchError> {
    let sizes = args.sizes;
    serving::raise_fd_limit();
    let out = args.out.clone().unwrap_or_else(|| {
        target_dir().join("bench").join(if args.smoke {
            "smoke.json"
        } else {
            "report.json"
        })
    });
    let machine = machine();
    println!("bench suite ({} run) on {machine}", sizes.name);
    if cfg!(debug_assertions) && !args.smoke {
        println!("warning: an unoptimized build; run through `cargo bench` for real figures");
    }

    let thread = ServerThread::start("bench-server")?;
    let flood_config = ServerConfig {
        flood: Some(Arc::new(Blast::text_frames(sizes.frames as usize))),
        ..ServerConfig::default()
    };
    let po_config = ServerConfig {
        ticks: Some(Arc::new(Blast::tick_pairs(sizes.ticks as usize))),
        pocketoption_open: true,
        ..ServerConfig::default()
    };
    let servers = Servers {
        flood: thread.run(BenchServer::start(flood_config)).await??,
        po: thread.run(BenchServer::start(po_config)).await??,
        sim: thread
            .run(
                Simulator::builder()
                    .with_seed(6)
                    .with_tick_interval(Duration::from_millis(5))
                    .start(),
            )
            .await??,
        thread,
    };

    if let Some(kind) = &args.profile {
        return profile(&servers, sizes, kind).await;
    }
    let mut figures = Vec::new();
    for group in GROUPS {
        if args
            .only
            .as_ref()
            .is_some_and(|only| !only.iter().any(|o| o == group))
        {
            continue;
        }
        eprintln!("== {group}");
        let more = match *group {
            "throughput" => throughput(&servers, sizes).await?,
            "ticks" => ticks(&servers, sizes).await?,
            "rtt" => round_trips(&servers, sizes).await?,
            "memory" => memory_figures(&servers, sizes).await?,
            "reconnect" => reconnect(&servers, sizes).await?,
            "nats" => nats_figures(sizes).await?,
            "hub" => hub_figures(&servers, sizes).await?,
            _ => server_figures(&servers, sizes).await?,
        };
        for figure in &more {
            eprintln!(
                "   {}: {:.1} {} (baseline {:.1}, ratio {:.3})",
                figure.name, figure.value, figure.unit, figure.baseline, figure.ratio
            );
        }
        figures.extend(more);
    }
    let _ = servers.sim.shutdown().await;
    drop(servers);

    report::write(&out, &figures)?;
    println!("\n{}", report::table(&figures));
    println!("machine: {machine}");
    println!("written: {}", out.display());
    if args.smoke && args.only.is_none() {
        let json = std::fs::read_to_string(&out)?;
        let names = report::check(&json).map_err(|reason| BenchError::Measurement {
            what: "the report",
            reason,
        })?;
        println!("smoke: {} figures, report well formed", names.len());
    }
    Ok(())
}

/// 1. Inbound throughput: bare, routed (batched and one by one), ezsockets; interleaved.
async fn throughput(servers: &Servers, sizes: Sizes) -> Result<Vec<Figure>, BenchError> {
    let url = servers.flood.url();
    let (mut bare, mut routed, mut one_by_one, mut ez) = (vec![], vec![], vec![], vec![]);
    for rep in 0..sizes.reps {
        eprintln!("   round {} of {}", rep + 1, sizes.reps);
        bare.push(bare_flood(&url, sizes.frames, FLOOD_LIMIT).await?);
        routed.push(routed_flood(&url, sizes.frames, InboxUse::Batched, FLOOD_LIMIT).await?);
        one_by_one.push(routed_flood(&url, sizes.frames, InboxUse::OneByOne, FLOOD_LIMIT).await?);
        ez.push(ezsockets_client::ezsockets_flood(&url, sizes.frames, FLOOD_LIMIT).await?);
    }
    let rates = |runs: &[Throughput]| runs.iter().map(fps).collect::<Vec<f64>>();
    let (bare_rounds, routed_rounds) = (rates(&bare), rates(&routed));
    let (one_rounds, ez_rounds) = (rates(&one_by_one), rates(&ez));
    let bare = fps(&median_by(bare, fps));
    let routed = fps(&median_by(routed, fps));
    let one_by_one = fps(&median_by(one_by_one, fps));
    let ez = fps(&median_by(ez, fps));
    Ok(vec![
        Figure::new(
            "routed_throughput",
            routed,
            "frames/s",
            bare,
            "bare read loop",
        )
        .with_rounds(&routed_rounds, &bare_rounds)
        .with_target("≥ 0.70 × bare", routed / bare >= 0.70),
        Figure::new(
            "routed_throughput_recv",
            one_by_one,
            "frames/s",
            bare,
            "bare read loop",
        )
        .with_rounds(&one_rounds, &bare_rounds)
        .with_target(
            "≥ 0.6 × bare (module uses recv, not recv_many)",
            one_by_one / bare >= 0.6,
        ),
        Figure::new(
            "ezsockets_throughput",
            ez,
            "frames/s",
            bare,
            "bare read loop",
        )
        .with_rounds(&ez_rounds, &bare_rounds)
        .with_target(
            format!(
                "routed ≥ 2.5 × ezsockets (routed/ezsockets = {:.2})",
                routed / ez
            ),
            routed >= 2.5 * ez,
        ),
    ])
}

/// 2. PocketOption ticks.
async fn ticks(servers: &Servers, sizes: Sizes) -> Result<Vec<Figure>, BenchError> {
    let (mut pairs, mut ticks, mut dropped) = (vec![], vec![], 0u64);
    for rep in 0..sizes.reps {
        eprintln!("   round {} of {}", rep + 1, sizes.reps);
        pairs.push(bare_pairs(&servers.po.url(), sizes.ticks, FLOOD_LIMIT).await?);
        let delivery =
            pocketoption_ticks(&servers.po.socketio_url(), sizes.ticks, FLOOD_LIMIT).await?;
        dropped += delivery.dropped;
        ticks.push(delivery.delivered);
    }
    let pair_rounds: Vec<f64> = pairs.iter().map(fps).collect();
    let tick_rounds: Vec<f64> = ticks.iter().map(fps).collect();
    let pairs = fps(&median_by(pairs, fps));
    let ticks = fps(&median_by(ticks, fps));
    Ok(vec![
        Figure::new(
            "po_ticks_throughput",
            ticks,
            "ticks/s",
            pairs,
            "bare pair loop",
        )
        .with_rounds(&tick_rounds, &pair_rounds)
        .with_target(
            format!(
                "≥ 0.45 × bare, none dropped (dropped {dropped} of {})",
                sizes.ticks * sizes.reps as u64
            ),
            ticks / pairs >= 0.45 && dropped == 0,
        ),
    ])
}

/// 3. Round trips, interleaved in blocks.
async fn round_trips(servers: &Servers, sizes: Sizes) -> Result<Vec<Figure>, BenchError> {
    let mut rounds = Vec::with_capacity(sizes.reps);
    for rep in 0..sizes.reps {
        eprintln!("   round {} of {}", rep + 1, sizes.reps);
        rounds.push(
            interleaved_round_trips(
                &servers.po.url(),
                &servers.po.socketio_url(),
                sizes.warmup,
                sizes.rounds,
                1_000,
            )
            .await?,
        );
    }
    Ok(rtt_figures(&rounds))
}

/// 4. Memory, in child processes.
async fn memory_figures(servers: &Servers, sizes: Sizes) -> Result<Vec<Figure>, BenchError> {
    let flood = servers.flood.url();
    let sim = servers.sim.url();
    let stalled = run_child("stalled", &flood, sizes.frames).await?;
    let discard = run_child("bare-discard", &flood, sizes.frames).await?;
    let growth = mb(stalled.peak_growth_kib() as f64);
    let idle = run_child("idle-po", &sim, sizes.idle as u64).await?;
    let idle_core = run_child("idle-core", &sim, sizes.idle as u64).await?;
    let idle_bare = run_child("idle-bare", &sim, sizes.idle as u64).await?;
    let per_client = kb(idle.per_unit_kib());
    let bare_per = kb(idle_bare.per_unit_kib());
    let bare_is = "bare tokio-tungstenite connection";
    Ok(vec![
        Figure::new(
            "stalled_rss_growth",
            growth,
            "MB",
            mb(discard.peak_growth_kib() as f64),
            "bare read loop, same frames",
        )
        .with_target(
            format!("≤ 16 MB over {} frames", sizes.frames),
            growth <= 16.0,
        ),
        Figure::new("idle_client_rss", per_client, "KB", bare_per, bare_is).with_target(
            format!("≤ 64 KB each ({} PocketOption clients)", sizes.idle),
            per_client <= 64.0,
        ),
        Figure::new(
            "idle_core_client_rss",
            kb(idle_core.per_unit_kib()),
            "KB",
            bare_per,
            bare_is,
        ),
    ])
}

/// 5. Reconnect.
async fn reconnect(servers: &Servers, sizes: Sizes) -> Result<Vec<Figure>, BenchError> {
    let delays =
        bench::reconnect::reconnect_delays(&servers.sim, FIRST_BACKOFF, sizes.reconnects).await?;
    let worst = delays.iter().max().copied().unwrap_or_default();
    let median = median_by(delays, |d| d.as_secs_f64());
    let first = FIRST_BACKOFF.as_secs_f64() * 1e3;
    Ok(vec![
        Figure::new(
            "reconnect_delay",
            median.as_secs_f64() * 1e3,
            "ms",
            first,
            "first backoff delay",
        )
        .with_target(
            format!(
                "≤ backoff + 50 ms in every round (worst {:.1} ms of {})",
                worst.as_secs_f64() * 1e3,
                sizes.reconnects
            ),
            worst.as_secs_f64() * 1e3 <= first + 50.0,
        ),
    ])
}

/// Group 7, the messaging hub: one publisher to many subscribers through our hub, against
/// nats-server with async-nats clients (rounds interleaved).
async fn hub_figures(servers: &Servers, sizes: Sizes) -> Result<Vec<Figure>, BenchError> {
    use bench::hub_fanout::{self, Fanout};
    let work = match sizes.name {
        "full" => Fanout {
            subscribers: 100,
            messages: 2_000,
            body: 128,
        },
        "quick" => Fanout {
            subscribers: 100,
            messages: 500,
            body: 128,
        },
        _ => Fanout {
            subscribers: 5,
            messages: 20,
            body: 128,
        },
    };
    let thread = &servers.thread;
    let nats = messaging::testing::NatsServer::start()?;
    let (mut ours, mut theirs) = (vec![], vec![]);
    for rep in 0..sizes.reps {
        eprintln!("   fan-out round {} of {}", rep + 1, sizes.reps);
        theirs.push(hub_fanout::nats_fanout(&nats, work).await?);
        let hub = hub_fanout::start_hub(thread, work).await?;
        let run = hub_fanout::hub_fanout(&hub.url(), work).await;
        hub_fanout::stop_hub(thread, hub).await?;
        ours.push(run?);
    }
    let (ours_rounds, theirs_rounds): (Vec<f64>, Vec<f64>) = (
        ours.iter().map(fps).collect(),
        theirs.iter().map(fps).collect(),
    );
    let ours = fps(&median_by(ours, fps));
    let theirs = fps(&median_by(theirs, fps));
    Ok(vec![
        Figure::new(
            "hub_fanout",
            ours,
            "deliveries/s",
            theirs,
            "nats-server + async-nats",
        )
        .with_rounds(&ours_rounds, &theirs_rounds)
        .with_target(
            format!(
                "≥ 0.5 × nats-server ({} × {} B to {} subscribers)",
                work.messages, work.body, work.subscribers
            ),
            ours >= 0.5 * theirs,
        ),
    ])
}

/// Group 6, the server crate: broadcast throughput, isolation from a stalled peer, echo
/// round trips (interleaved with the bare server's), RSS per idle session (child processes).
async fn server_figures(servers: &Servers, sizes: Sizes) -> Result<Vec<Figure>, BenchError> {
    let thread = &servers.thread;
    let (n, m) = (sizes.broadcast_sessions, sizes.broadcast_messages);
    let (mut ours, mut bare) = (vec![], vec![]);
    for rep in 0..sizes.reps {
        eprintln!("   broadcast round {} of {}", rep + 1, sizes.reps);
        bare.push(serving::broadcast_flood(thread, serving::Side::Bare, n, m).await?);
        ours.push(serving::broadcast_flood(thread, serving::Side::Ours, n, m).await?);
    }
    let (ours_rounds, bare_rounds): (Vec<f64>, Vec<f64>) = (
        ours.iter().map(fps).collect(),
        bare.iter().map(fps).collect(),
    );
    let ours = fps(&median_by(ours, fps));
    let bare = fps(&median_by(bare, fps));

    let (readers, paced) = (sizes.isolation_readers, sizes.isolation_messages);
    // Paced well below saturation (25,000 deliveries/s, whatever the readers): the figure
    // is delivery latency, not queueing in an overloaded machine (a fan-out to 1,000
    // sessions costs tens of milliseconds of wake-ups on two cores, clients included).
    let interval = Duration::from_micros(40 * readers as u64).max(Duration::from_millis(1));
    let (mut calm, mut stalled) = (vec![], vec![]);
    for rep in 0..sizes.reps {
        eprintln!("   isolation round {} of {}", rep + 1, sizes.reps);
        calm.push(serving::broadcast_latency(thread, readers, paced, interval, false).await?);
        stalled.push(serving::broadcast_latency(thread, readers, paced, interval, true).await?);
    }
    let calm_rounds: Vec<f64> = calm.iter().map(|s| us(s.p99)).collect();
    let stalled_rounds: Vec<f64> = stalled.iter().map(|s| us(s.p99)).collect();
    let calm = median_by(calm, |s| us(s.p99));
    let stalled = median_by(stalled, |s| us(s.p99));

    let (echo, bare_echo) =
        serving::echo_round_trips(thread, sizes.warmup, sizes.rounds, 1_000).await?;

    let idle = sizes.server_idle as u64;
    let (ours_idle, clients) = run_server_child("server-ours", "clients-core", idle).await?;
    let (bare_idle, bare_clients) = run_server_child("server-bare", "clients-bare", idle).await?;
    let (ours_kb, bare_kb) = (kb(ours_idle.per_unit_kib()), kb(bare_idle.per_unit_kib()));
    Ok(vec![
        Figure::new(
            "server_broadcast",
            ours,
            "deliveries/s",
            bare,
            "bare fan-out loop",
        )
        .with_rounds(&ours_rounds, &bare_rounds)
        .with_target(
            format!("≥ 0.7 × bare ({m} × 1 KiB to {n} sessions)"),
            ours >= 0.7 * bare,
        ),
        Figure::new(
            "server_isolation",
            us(stalled.p99),
            "us",
            us(calm.p99),
            "p99 with no session stalled",
        )
        .with_rounds(&stalled_rounds, &calm_rounds)
        .with_target(
            format!("p99 ≤ 1.5 × with one of {} sessions stalled", readers + 1),
            us(stalled.p99) <= 1.5 * us(calm.p99),
        ),
        Figure::new(
            "server_echo_rtt_p50",
            us(echo.p50),
            "us",
            us(bare_echo.p50),
            "bare echo loop",
        ),
        Figure::new(
            "server_echo_rtt_p99",
            us(echo.p99),
            "us",
            us(bare_echo.p99),
            "bare echo loop",
        )
        .with_target("≤ 1.3 × bare", us(echo.p99) <= 1.3 * us(bare_echo.p99)),
        Figure::new(
            "server_idle_rss",
            ours_kb,
            "KB",
            bare_kb,
            "bare accept loop holding as many",
        )
        .with_target(
            format!("≤ 1.2 × bare per session ({idle} sessions)"),
            ours_kb <= 1.2 * bare_kb,
        ),
        Figure::new(
            "idle_core_clients_rss",
            kb(clients.per_unit_kib()),
            "KB",
            kb(bare_clients.per_unit_kib()),
            "bare tokio-tungstenite client connection",
        )
        .with_target(
            format!("≤ 32 KB per client ({idle} core-pre clients in one process)"),
            kb(clients.per_unit_kib()) <= 32.0,
        ),
    ])
}

/// Runs the server side of the idle figure (`server-ours` or `server-bare`) and a
/// process of `sessions` idle clients (`clients-core` or `clients-bare`) against it;
/// returns the server's and the clients' growth.
async fn run_server_child(
    kind: &str,
    clients_kind: &str,
    sessions: u64,
) -> Result<(Growth, Growth), BenchError> {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let exe = std::env::current_exe()?;
    let failed = |reason: String| BenchError::Child {
        kind: kind.to_owned(),
        reason,
    };
    let spawn = |args: [&str; 4]| {
        tokio::process::Command::new(&exe)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
    };
    let n = sessions.to_string();
    let mut server = spawn(["--child", kind, "-", &n])?;
    let mut server_out = BufReader::new(
        server
            .stdout
            .take()
            .ok_or_else(|| failed("no stdout".into()))?,
    )
    .lines();
    let url = within(
        "the server child's URL",
        CHILD_LIMIT,
        line_after(&mut server_out, "url "),
    )
    .await?
    .map_err(failed)?;
    let mut clients = spawn(["--child", clients_kind, &url, &n])?;
    let mut clients_out = BufReader::new(
        clients
            .stdout
            .take()
            .ok_or_else(|| failed("no stdout".into()))?,
    )
    .lines();
    let client_growth = within(
        "the clients' memory",
        CHILD_LIMIT,
        line_after(&mut clients_out, "growth "),
    )
    .await?
    .map_err(failed)?;
    let server_growth = within(
        "the server's memory",
        CHILD_LIMIT,
        line_after(&mut server_out, "growth "),
    )
    .await?
    .map_err(failed)?;
    // Closing their stdin ends both.
    drop(clients.stdin.take());
    drop(server.stdin.take());
    let _ = within("the clients to exit", CHILD_LIMIT, clients.wait()).await;
    let _ = within("the server to exit", CHILD_LIMIT, server.wait()).await;
    Ok((
        parse_growth(&server_growth).map_err(failed)?,
        parse_growth(&client_growth).map_err(failed)?,
    ))
}

type ChildLines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>;

/// The rest of the child's next output line that starts with `prefix`.
async fn line_after(lines: &mut ChildLines, prefix: &'static str) -> Result<String, String> {
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => {
                if let Some(rest) = line.strip_prefix(prefix) {
                    return Ok(rest.to_owned());
                }
            }
            Ok(None) => return Err(format!("ended before its `{prefix}` line")),
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn parse_growth(line: &str) -> Result<Growth, String> {
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    match numbers[..] {
        [before_kib, peak_kib, after_kib, units] => Ok(Growth {
            before_kib,
            peak_kib,
            after_kib,
            units,
        }),
        _ => Err(format!("bad result line {line:?}")),
    }
}

/// Waits until this process's stdin is closed (the parent's signal that it may end).
async fn stdin_closed() {
    use tokio::io::AsyncReadExt;
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
}

fn print_growth(growth: &Growth) {
    use std::io::Write;
    println!(
        "growth {} {} {} {}",
        growth.before_kib, growth.peak_kib, growth.after_kib, growth.units
    );
    let _ = std::io::stdout().flush();
}

/// The round-trip figures from `(ours, bare)` summaries of several rounds: each
/// percentile is the median of the rounds' values, with the per-round ratios' spread.
fn rtt_figures(rounds: &[(LatencySummary, LatencySummary)]) -> Vec<Figure> {
    let base = "bare send + receive";
    let figure = |name: &str, pick: fn(&LatencySummary) -> Duration| {
        let ours: Vec<f64> = rounds.iter().map(|(o, _)| us(pick(o))).collect();
        let bare: Vec<f64> = rounds.iter().map(|(_, b)| us(pick(b))).collect();
        let (o, b) = (median(&ours), median(&bare));
        (
            Figure::new(name, o, "us", b, base).with_rounds(&ours, &bare),
            o,
            b,
        )
    };
    let (p50, o50, b50) = figure("rtt_p50", |s| s.p50);
    let (p90, ..) = figure("rtt_p90", |s| s.p90);
    let (p99, o99, b99) = figure("rtt_p99", |s| s.p99);
    let (max, ..) = figure("rtt_max", |s| s.max);
    vec![
        p50.with_target("≤ bare + 10 us", o50 <= b50 + 10.0),
        p90,
        p99.with_target("≤ 1.2 × bare", o99 <= 1.2 * b99),
        max,
    ]
}

fn median(values: &[f64]) -> f64 {
    median_by(values.to_vec(), |v| *v)
}

/// Runs one memory job in a fresh process of this binary and reads its result line.
async fn run_child(kind: &str, url: &str, units: u64) -> Result<Growth, BenchError> {
    let exe = std::env::current_exe()?;
    let failed = |reason: String| BenchError::Child {
        kind: kind.to_owned(),
        reason,
    };
    let output = tokio::time::timeout(
        CHILD_LIMIT,
        tokio::process::Command::new(exe)
            .args(["--child", kind, url, &units.to_string()])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| failed(format!("did not finish within {CHILD_LIMIT:?}")))??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(failed(format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("growth "))
        .ok_or_else(|| failed(format!("no result line in {stdout:?}")))?;
    parse_growth(line).map_err(failed)
}

/// The child side: `KIND URL N`; prints `growth BEFORE PEAK AFTER UNITS` (KiB).
async fn child(job: &[String]) -> Result<(), BenchError> {
    let bad = || {
        BenchError::Child {
        kind: job.join(" "),
        reason: "usage: --child stalled|bare-discard|idle-po|idle-core|idle-bare|server-ours|server-bare|clients-core|clients-bare URL N".into(),
    }
    };
    let [kind, url, n] = job else {
        return Err(bad());
    };
    let n: u64 = n.parse().map_err(|_| bad())?;
    let growth = match kind.as_str() {
        "stalled" => memory::stalled_module(url, n, FLOOD_LIMIT).await?,
        "bare-discard" => memory::bare_discard(url, n, FLOOD_LIMIT).await?,
        "idle-po" => memory::idle_pocketoption(url, n as usize).await?,
        "idle-bare" => memory::idle_bare(url, n as usize).await?,
        "idle-core" => memory::idle_core(url, n as usize).await?,
        "server-ours" | "server-bare" => {
            let side = if kind == "server-ours" {
                serving::Side::Ours
            } else {
                serving::Side::Bare
            };
            serving::raise_fd_limit();
            let (hub, growth) = serving::idle_sessions(side, n as usize, |url| {
                use std::io::Write;
                println!("url {url}");
                let _ = std::io::stdout().flush();
            })
            .await?;
            print_growth(&growth);
            stdin_closed().await;
            hub.stop().await;
            return Ok(());
        }
        "clients-core" => {
            serving::raise_fd_limit();
            memory::idle_core_holding(url, n as usize, async |growth| {
                print_growth(&growth);
                stdin_closed().await;
            })
            .await?;
            return Ok(());
        }
        "clients-bare" => {
            serving::raise_fd_limit();
            memory::idle_bare_holding(url, n as usize, async |growth| {
                print_growth(&growth);
                stdin_closed().await;
            })
            .await?;
            return Ok(());
        }
        _ => return Err(bad()),
    };
    print_growth(&growth);
    Ok(())
}

/// Messaging (7): our client (NATS over WebSocket) vs async-nats over TCP, through one
/// local nats-server; skipped, with a note, when nats-server is not installed.
async fn nats_figures(sizes: Sizes) -> Result<Vec<Figure>, BenchError> {
    use bench::nats::{
        NatsServer, async_nats_pubsub, async_nats_request_rtt, ours_pubsub, ours_request_rtt,
    };
    let server = match NatsServer::start() {
        Ok(server) => server,
        Err(e) => {
            eprintln!("   skipped: {e}");
            return Ok(Vec::new());
        }
    };
    let (ws, tcp) = (server.ws_url(), server.nats_url());
    let messages = (sizes.frames / 10).max(100);
    let (rounds, warmup) = ((sizes.rounds / 4).max(50), (sizes.warmup / 4).max(5));
    let (mut ours, mut theirs) = (vec![], vec![]);
    let (mut ours_rtt, mut theirs_rtt) = (vec![], vec![]);
    for rep in 0..sizes.reps {
        eprintln!("   round {} of {}", rep + 1, sizes.reps);
        ours.push(ours_pubsub(&ws, messages, FLOOD_LIMIT).await?);
        theirs.push(async_nats_pubsub(&tcp, messages, FLOOD_LIMIT).await?);
        ours_rtt.push(ours_request_rtt(&ws, warmup, rounds).await?);
        theirs_rtt.push(async_nats_request_rtt(&tcp, warmup, rounds).await?);
    }
    let rates = |runs: &[Throughput]| runs.iter().map(fps).collect::<Vec<f64>>();
    let (ours_rounds, theirs_rounds) = (rates(&ours), rates(&theirs));
    let ours = fps(&median_by(ours, fps));
    let theirs = fps(&median_by(theirs, fps));
    let p = |runs: &[bench::latency::LatencySummary],
             pick: fn(&bench::latency::LatencySummary) -> Duration| {
        runs.iter().map(|s| us(pick(s))).collect::<Vec<f64>>()
    };
    let (ours_p50, theirs_p50) = (p(&ours_rtt, |s| s.p50), p(&theirs_rtt, |s| s.p50));
    let (ours_p99, theirs_p99) = (p(&ours_rtt, |s| s.p99), p(&theirs_rtt, |s| s.p99));
    let median = |v: &[f64]| median_by(v.to_vec(), |x| *x);
    let (o50, t50, o99, t99) = (
        median(&ours_p50),
        median(&theirs_p50),
        median(&ours_p99),
        median(&theirs_p99),
    );
    drop(server);
    Ok(vec![
        Figure::new(
            "nats_ws_pubsub",
            ours,
            "msgs/s",
            theirs,
            "async-nats over TCP",
        )
        .with_rounds(&ours_rounds, &theirs_rounds)
        .with_target("≥ 0.5 × async-nats", ours / theirs >= 0.5),
        Figure::new(
            "nats_ws_request_rtt_p50",
            o50,
            "us",
            t50,
            "async-nats over TCP",
        )
        .with_rounds(&ours_p50, &theirs_p50),
        Figure::new(
            "nats_ws_request_rtt_p99",
            o99,
            "us",
            t99,
            "async-nats over TCP",
        )
        .with_rounds(&ours_p99, &theirs_p99)
        .with_target("p99 ≤ 1.5 × async-nats", o99 <= 1.5 * t99),
    ])
}
