//! Python virtual environments under `target/` for the checks that drive a Python peer
//! (Autobahn's fuzzing server, the stock WebSocket client of the server crate).

use std::path::PathBuf;
use std::process::Command;

use crate::cmd::{self, target_dir};

/// Creates `target/<name>` (a venv) if needed and installs `requirement` (e.g.
/// `websockets==13.1`) unless that version is there; returns the venv's `bin` directory.
pub(crate) fn ensure(name: &str, requirement: &str, purpose: &str) -> Result<PathBuf, String> {
    let venv = target_dir().join(name);
    let bin = venv.join("bin");
    let (package, version) = requirement.split_once("==").unwrap_or((requirement, ""));
    let installed = Command::new(bin.join("pip"))
        .args(["show", package])
        .output()
        .is_ok_and(|out| {
            String::from_utf8_lossy(&out.stdout).contains(&format!("Version: {version}"))
        });
    if installed {
        return Ok(bin);
    }
    if !cmd::on_path("python3") {
        return Err(format!(
            "{purpose} needs python3 (3.10 or newer) with venv; install python3 and python3-venv"
        ));
    }
    if !bin.join("python").exists() {
        cmd::run(
            &format!("create the virtual environment target/{name}"),
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
        )
        .map_err(|e| format!("{e}\n(on Debian/Ubuntu: apt-get install python3-venv)"))?;
    }
    cmd::run(
        &format!("install {requirement} ({purpose})"),
        Command::new(bin.join("pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            requirement,
        ]),
    )?;
    Ok(bin)
}
