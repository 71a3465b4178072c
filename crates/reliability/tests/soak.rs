//! The soak runner itself: a short run must settle every trade across random faults, and
//! the `soak` binary (what `cargo xtask soak` runs) must refuse bad options and explain its
//! flags.

use std::process::Command;
use std::time::Duration;

use reliability::SoakConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_soak_settles_every_trade_placed_across_random_faults() {
    let mut config = SoakConfig::smoke(Duration::from_secs(4));
    config.clients = 2;
    config.fault_interval = (Duration::from_millis(300), Duration::from_millis(800));
    let report = tokio::time::timeout(Duration::from_secs(60), reliability::soak::run(config))
        .await
        .expect("the run ends")
        .expect("the run starts");
    assert!(report.passed(), "{report}");
    let faults = report.faults.cut_all + report.faults.cut_one + report.faults.outages;
    assert!(faults >= 3, "faults were injected: {report}");
    assert!(report.reconnects >= 1, "{report}");
    assert!(report.trades_placed >= 4, "{report}");
    assert_eq!(report.trades_placed, report.results_received);
    assert!(report.ticks > 0);
    if cfg!(target_os = "linux") {
        assert!(
            report.rss.len() >= 4,
            "memory was sampled: {:?}",
            report.rss
        );
    }
    let shown = report.to_string();
    assert!(
        shown.contains("verdict: PASS") && shown.contains("RSS"),
        "{shown}"
    );
    assert_eq!(
        report.to_json()["results_received"],
        report.results_received
    );
}

#[test]
fn the_soak_binary_refuses_bad_options_with_exit_code_2() {
    // Each bad command line, and what the error must name.
    for (args, named) in [
        (&[][..], "--minutes"),
        (&["--seconds", "soon"][..], "soon"),
        (&["--minutes", "1", "--bogus"][..], "--bogus"),
        (&["--seconds", "10", "--fault-every", "3"][..], "0.5-3"),
        (&["--seconds", "1e300"][..], "1e300"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_soak"))
            .args(args)
            .output()
            .expect("the binary runs");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("error:"), "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}

#[test]
fn the_soak_binary_explains_its_flags() {
    let output = Command::new(env!("CARGO_BIN_EXE_soak"))
        .arg("--help")
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--minutes <N>",
        "--seconds <N>",
        "--clients <N>",
        "--lanes <N>",
        "--seed <N>",
        "--fault-every <A-B>",
        "--smoke",
        "--json <PATH>",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}
