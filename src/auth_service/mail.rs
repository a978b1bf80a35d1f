//! Outgoing email: confirmation, recovery, magic and email-change links, reauthentication codes
//! and notices.
//!
//! With `FERROCHAT_SMTP_URL` set, mail goes out by SMTP (lettre). Without it nothing leaves the
//! machine: each message is written to the dev mailbox `<data dir>/mail/` and the log says so,
//! clearly marked. The log names the file rather than printing the link, so log collectors never
//! hold a usable sign-in token.

use std::path::{Path, PathBuf};

use lettre::{message::Mailbox, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{
    config::SmtpConfig,
    error::{AuthError, AuthResult},
};

/// Where email goes.
pub enum Mailer {
    DevMailbox(PathBuf),
    Smtp {
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        from: Mailbox,
    },
}

impl Mailer {
    pub fn new(smtp: Option<&SmtpConfig>, data_dir: &Path) -> AuthResult<Self> {
        let Some(smtp) = smtp else {
            return Ok(Mailer::DevMailbox(data_dir.join("mail")));
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&smtp.url.0)
            .map_err(|_| AuthError::internal("FERROCHAT_SMTP_URL cannot be used"))?
            .build();
        let transport = Box::new(transport);
        let from = smtp.from.parse().map_err(AuthError::internal)?;
        Ok(Mailer::Smtp { transport, from })
    }

    /// Delivers a plain-text message.
    pub async fn send(&self, to: &str, subject: &str, body: &str) -> AuthResult<()> {
        match self {
            Mailer::Smtp { transport, from } => {
                let message = Message::builder()
                    .from(from.clone())
                    .to(to.parse().map_err(AuthError::internal)?)
                    .subject(subject)
                    .body(body.to_owned())
                    .map_err(AuthError::internal)?;
                transport.send(message).await.map_err(AuthError::internal)?;
                tracing::info!(to, subject, "email sent by SMTP");
            }
            Mailer::DevMailbox(dir) => {
                tokio::fs::create_dir_all(dir)
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
                let path = dir.join(&name);
                let message = format!("To: {to}\r\nSubject: {subject}\r\n\r\n{body}");
                // Written aside, then renamed into place: whoever reads the mailbox (a person, a
                // test) sees a message whole or not at all, never a file still being written.
                let partial = dir.join(format!(".{name}.partial"));
                tokio::fs::write(&partial, message)
                    .await
                    .map_err(AuthError::internal)?;
                tokio::fs::rename(&partial, &path)
                    .await
                    .map_err(AuthError::internal)?;
                tracing::info!(
                    to,
                    subject,
                    file = %path.display(),
                    "EMAIL NOT SENT (no SMTP configured): written to the dev mailbox"
                );
            }
        }
        Ok(())
    }
}
