//! Discovery for real: two network namespaces joined by a veth pair, the atomic_server
//! example in one, the atomic_client example with no address in the other. The client
//! must find the server by broadcast, connect, and print `confirmed`; a second run must
//! use the remembered endpoint.
//!
//! Needs root and iproute2's `ip`; without them the test says so and passes (CI runs as
//! root, and `cargo xtask setup` installs iproute2). The namespaces are removed by a
//! guard, also when an assertion fails.

mod atomic_support;

use std::process::Command;
use std::time::Duration;

use atomic_support::{RemoveOnDrop, ServerProcess, example, run_bounded, settings_file};

/// Runs `ip ARGS`, panicking with its error output when it fails.
fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        output.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Why the test cannot run here, if it cannot.
fn missing_rights() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not running as root (network namespaces need it)".into());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(output) if output.status.success() => {}
        _ => {
            return Some("iproute2's `ip` is not installed (cargo xtask setup installs it)".into());
        }
    }
    // A container may refuse namespaces even to root.
    let probe = format!("awsd_probe_{}", std::process::id());
    let made = Command::new("ip")
        .args(["netns", "add", &probe])
        .output()
        .ok()?;
    if !made.status.success() {
        return Some(format!(
            "`ip netns add` is refused here: {}",
            String::from_utf8_lossy(&made.stderr).trim()
        ));
    }
    let _ = Command::new("ip").args(["netns", "del", &probe]).output();
    let (a, b) = (
        format!("awp{}", std::process::id() % 100_000),
        format!("awq{}", std::process::id() % 100_000),
    );
    let veth = Command::new("ip")
        .args(["link", "add", &a, "type", "veth", "peer", "name", &b])
        .output()
        .ok()?;
    if !veth.status.success() {
        return Some(format!(
            "veth pairs are refused here: {}",
            String::from_utf8_lossy(&veth.stderr).trim()
        ));
    }
    let _ = Command::new("ip").args(["link", "del", &a]).output();
    None
}

/// Two namespaces and the veth pair between them; removed when dropped.
struct Namespaces {
    server: String,
    client: String,
    server_ip: String,
}

impl Namespaces {
    fn create() -> Namespaces {
        let pid = std::process::id();
        // Inside the namespaces only: the host's routes never see this subnet.
        let subnet = format!("10.231.{}", pid % 250);
        let ns = Namespaces {
            server: format!("awsd_srv_{pid}"),
            client: format!("awsd_cli_{pid}"),
            server_ip: format!("{subnet}.1"),
        };
        let client_ip = format!("{subnet}.2");
        let (veth_server, veth_client) = (
            format!("aws{}", pid % 100_000),
            format!("awc{}", pid % 100_000),
        );
        // Created first: from here on, the guard removes whatever was made.
        ip(&["netns", "add", &ns.server]);
        ip(&["netns", "add", &ns.client]);
        ip(&[
            "link",
            "add",
            &veth_server,
            "type",
            "veth",
            "peer",
            "name",
            &veth_client,
        ]);
        ip(&["link", "set", &veth_server, "netns", &ns.server]);
        ip(&["link", "set", &veth_client, "netns", &ns.client]);
        for (name, veth, address) in [
            (&ns.server, &veth_server, &ns.server_ip),
            (&ns.client, &veth_client, &client_ip),
        ] {
            // `brd +`: the broadcast address the prober sends to.
            ip(&[
                "-n",
                name,
                "addr",
                "add",
                &format!("{address}/24"),
                "brd",
                "+",
                "dev",
                veth,
            ]);
            ip(&["-n", name, "link", "set", veth, "up"]);
            ip(&["-n", name, "link", "set", "lo", "up"]);
        }
        ns
    }

    fn exec(&self, namespace: &str, binary: &std::path::Path) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", namespace]).arg(binary);
        command
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        // Deleting a namespace deletes its end of the veth pair, and with it the pair.
        for name in [&self.server, &self.client] {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

#[test]
fn a_client_in_another_namespace_discovers_connects_and_is_confirmed() {
    if let Some(reason) = missing_rights() {
        println!("SKIPPED atomic_netns: {reason}");
        return;
    }
    let (server_bin, client_bin) = (example("atomic_server"), example("atomic_client"));
    let settings = settings_file("netns");
    let _cleanup = RemoveOnDrop(settings.clone());
    let ns = Namespaces::create();

    let mut command = ns.exec(&ns.server, &server_bin);
    command.args(["--identity", "netns-server", "--for-secs", "120", "--mdns"]);
    let _server = ServerProcess::start(command);
    let expected = format!("ws://{}:9300/", ns.server_ip);

    let client = || {
        let mut command = ns.exec(&ns.client, &client_bin);
        command.arg("--once").arg("--settings").arg(&settings);
        run_bounded(command, Duration::from_secs(40))
    };
    println!("first run (no address, no remembered endpoint):");
    let first = client();
    let text = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(first.status.success(), "the client failed:\n{text}");
    assert!(text.contains("no address given: discovering"), "{text}");
    assert!(
        text.contains(&format!("connected to {expected} (discovered endpoint)")),
        "{text}"
    );
    assert!(text.contains("confirmed by \"netns-server\""), "{text}");

    println!("second run (the remembered endpoint):");
    let second = client();
    let text = String::from_utf8_lossy(&second.stdout).into_owned();
    assert!(second.status.success(), "the second run failed:\n{text}");
    assert!(
        text.contains(&format!("using the remembered endpoint {expected}")),
        "{text}"
    );
    assert!(text.contains("(remembered endpoint)"), "{text}");
    assert!(text.contains("confirmed"), "{text}");

    println!("third run (a fresh settings file, discovery over mDNS):");
    let mdns_settings = settings_file("netns_mdns");
    let _cleanup_mdns = RemoveOnDrop(mdns_settings.clone());
    let mut command = ns.exec(&ns.client, &client_bin);
    command
        .args(["--once", "--mdns", "--settings"])
        .arg(&mdns_settings);
    let third = run_bounded(command, Duration::from_secs(40));
    let text = String::from_utf8_lossy(&third.stdout).into_owned();
    assert!(third.status.success(), "the mDNS run failed:\n{text}");
    assert!(
        text.contains("discovering service \"atomic-demo\" over mDNS"),
        "{text}"
    );
    assert!(
        text.contains(&format!("connected to {expected} (discovered endpoint)")),
        "{text}"
    );
    assert!(text.contains("confirmed by \"netns-server\""), "{text}");
}
