//! The server binary itself as a process (target/debug/ferrochat), for tests that must kill it,
//! cap its files or read its logs.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const BINARY: &str = env!("CARGO_BIN_EXE_ferrochat");
/// Where the process writes its output, in its data directory.
const LOG_FILE: &str = "server.log";

/// The binary on a free loopback port with `data` as its data directory, logging at debug for
/// the app and its HTTP layer (what an operator turns on to look into a problem) into
/// [`server_log`], with `extra` settings (which may set another `RUST_LOG`; `ferrochat::server`
/// stays at info, since its line says which port the server took). Returns the process and its
/// base URL once it listens.
pub fn start_binary(data: &Path, extra: &[(&str, &str)]) -> (Child, String) {
    start(Command::new(BINARY), data, extra)
}

/// [`start_binary`] with every file the process writes capped at `cap_kib` KiB (`ulimit -f`),
/// SIGXFSZ ignored: a write past the cap fails with EFBIG, as on a full disk.
pub fn start_binary_with_file_cap(data: &Path, cap_kib: u64) -> (Child, String) {
    let mut command = Command::new("bash");
    command.args([
        "-c",
        &format!("trap '' XFSZ; ulimit -f {cap_kib}; exec \"$0\""),
        BINARY,
    ]);
    start(command, data, &[])
}

fn start(mut command: Command, data: &Path, extra: &[(&str, &str)]) -> (Child, String) {
    let log_path = data.join(LOG_FILE);
    // A file, not a pipe: a pipe nobody reads until the end would stall a chatty server.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .unwrap();
    // A restart on the same data directory appends: this start's lines begin here.
    let from = log.metadata().unwrap().len() as usize;
    command
        .env("FERROCHAT_DATA_DIR", data)
        // Port 0: the server takes a free port and logs it. A port picked here and handed over
        // would be free only until someone else took it (the suites start servers eight tests at
        // a time), and a check that something answers there would pass for another server.
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info,ferrochat=debug,tower_http=debug")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log));
    for &(name, value) in extra {
        match name {
            // Whatever else it logs, the server's "listening" line tells the port it took.
            "RUST_LOG" => command.env(name, format!("{value},ferrochat::server=info")),
            _ => command.env(name, value),
        };
    }
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let written = std::fs::read(&log_path).unwrap_or_default();
        let lines = String::from_utf8_lossy(written.get(from..).unwrap_or_default());
        if let Some(base) = listening_url(&lines) {
            return (child, base);
        }
        let exited = child.try_wait().unwrap();
        assert!(
            exited.is_none(),
            "the server exited at start ({exited:?}): {lines}"
        );
        assert!(
            Instant::now() < deadline,
            "the server did not start: {lines}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The base URL in the server's "ferrochat listening on http://…" line (logged at info by
/// `ferrochat::server`).
fn listening_url(log: &str) -> Option<String> {
    const LISTENING: &str = "ferrochat listening on ";
    let rest = &log[log.find(LISTENING)? + LISTENING.len()..];
    Some(rest.split_whitespace().next()?.to_owned())
}

/// Sends `signal` (e.g. `-TERM`, `-KILL`) to the process.
pub fn signal(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Everything the processes started on `data` wrote so far.
pub fn server_log(data: &Path) -> String {
    std::fs::read_to_string(data.join(LOG_FILE)).unwrap_or_default()
}

/// Stops the process with SIGTERM and waits for it to exit.
pub fn stop(child: Child) {
    signal(&child, "-TERM");
    let _ = child.wait_with_output();
}

/// The resident memory of a process, in KiB (Linux `/proc`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}
