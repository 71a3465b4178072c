//! The soak runner itself: a short run must settle every trade across random faults, and
//! the `soak` binary (what `cargo xtask soak` runs) must refuse bad options.

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
    for args in [
        &[][..],
        &["--seconds", "soon"][..],
        &["--minutes", "1", "--bogus"][..],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_soak"))
            .args(args)
            .output()
            .expect("the binary runs");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("usage: soak"), "{args:?}: {stderr}");
    }
}
