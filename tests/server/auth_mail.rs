//! Email through a real SMTP server (Python's aiosmtpd, storing what it receives in a maildir).

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::json;

use crate::harness::{spawn_app_with, unique_email, venv_python};

/// An SMTP server on a free loopback port, killed when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl SmtpServer {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let maildir = tempfile::tempdir().unwrap();
        let child = Command::new(venv_python())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("box"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
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
