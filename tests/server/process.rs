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
/// [`server_log`], with `extra` settings (which may set another `RUST_LOG`). Returns the process
/// and its base URL once it accepts connections.
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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // A file, not a pipe: a pipe nobody reads until the end would stall a chatty server.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.join(LOG_FILE))
        .unwrap();
    command
        .env("FERROCHAT_DATA_DIR", data)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info,ferrochat=debug,tower_http=debug")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log));
    for (name, value) in extra {
        command.env(name, value);
    }
    let child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, format!("http://127.0.0.1:{port}"))
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
