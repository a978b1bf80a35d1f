//! Outgoing email: confirmation, recovery, magic and email-change links.
//!
//! Without SMTP settings nothing leaves the machine: each message is written to the dev mailbox
//! `<data dir>/mail/` and announced in the log, clearly marked as not sent.

use std::path::{Path, PathBuf};

use super::error::{AuthError, AuthResult};

/// Where email goes.
pub struct Mailer {
    mailbox: PathBuf,
}

impl Mailer {
    pub fn new(data_dir: &Path) -> Self {
        Mailer {
            mailbox: data_dir.join("mail"),
        }
    }

    /// Delivers a message with one link in it.
    pub async fn send(&self, to: &str, subject: &str, text: &str, link: &str) -> AuthResult<()> {
        tokio::fs::create_dir_all(&self.mailbox)
            .await
            .map_err(AuthError::internal)?;
        let name = format!(
            "{}-{}.eml",
            time::OffsetDateTime::now_utc().unix_timestamp_nanos(),
            to.replace(
                |c: char| !c.is_ascii_alphanumeric() && c != '@' && c != '.',
                "_"
            )
        );
        let message = format!("To: {to}\r\nSubject: {subject}\r\n\r\n{text}\r\n\r\n{link}\r\n");
        let path = self.mailbox.join(name);
        tokio::fs::write(&path, message)
            .await
            .map_err(AuthError::internal)?;
        tracing::info!(
            to,
            subject,
            file = %path.display(),
            "EMAIL NOT SENT (no SMTP configured): written to the dev mailbox"
        );
        Ok(())
    }
}
