//! Email through a real SMTP server (Python's aiosmtpd, storing what it receives in a maildir).

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use serde_json::json;

use crate::harness::{spawn_app_with, unique_email, venv_python};

/// aiosmtpd's server (as `python -m aiosmtpd` builds it) with its Mailbox handler, on a port the
/// system picks, which it prints once it listens. A port picked here and handed to the server is
/// free only until someone else takes it (an app of another test, or this test in the other
/// database's suite, which runs at the same moment), and a check that something answers there
/// would then pass for the wrong server. One CI run (2026-12-02) saw no mail arrive on Postgres
/// while the same test passed on SQLite beside it, which this explains.
const SERVE: &str = r#"
import asyncio, sys
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP

async def main():
    handler = Mailbox(sys.argv[1])
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(handler), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"#;

/// An SMTP server on a loopback port, killed when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl SmtpServer {
    fn start() -> Self {
        let maildir = tempfile::tempdir().unwrap();
        let mut child = Command::new(venv_python())
            .args(["-c", SERVE])
            .arg(maildir.path().join("box"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Its first line, the port, read aside so that a server that never starts fails the test
        // in 20 s rather than hanging it.
        let stdout = child.stdout.take().unwrap();
        let (sender, port) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let line = port
            .recv_timeout(Duration::from_secs(20))
            .expect("aiosmtpd did not start");
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("aiosmtpd did not start: it printed {line:?}"));
        SmtpServer {
            child,
            port,
            maildir,
        }
    }

    /// The raw messages received so far.
    fn received(&self) -> Vec<String> {
        std::fs::read_dir(self.maildir.path().join("box/new"))
            .map(|entries| {
                entries
                    .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn with_smtp_configured_recovery_mail_goes_out_by_smtp() {
    let smtp = SmtpServer::start();
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let app = spawn_app_with(&[
        ("FERROCHAT_SMTP_URL", &url),
        ("FERROCHAT_SMTP_FROM", "ferrochat <auth@example.test>"),
    ])
    .await;
    let email = unique_email();
    app.sign_up(&email, "password one").await;
    let response = app.auth_post("/recover", &json!({ "email": email })).await;
    assert_eq!(response.status(), 200);

    let deadline = Instant::now() + Duration::from_secs(10);
    let message = loop {
        if let Some(message) = smtp.received().pop() {
            break message;
        }
        assert!(Instant::now() < deadline, "no mail reached the SMTP server");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(message.contains(&format!("To: {email}")), "{message}");
    assert!(
        message.contains("From: ferrochat <auth@example.test>"),
        "{message}"
    );
    assert!(
        message.contains("Subject: Reset your password"),
        "{message}"
    );
    assert!(message.contains("/auth/v1/verify?token="), "{message}");
    assert!(
        app.mails().is_empty(),
        "nothing in the dev mailbox when SMTP is on"
    );
}
