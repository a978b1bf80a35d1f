//! Sending a message and relaying the answer: the question is stored first, the model's tokens
//! go to the person as they arrive, and the answer is saved however it ends.
//!
//! Each answer is written by a task of its own, which owns the model's stream and hands tokens
//! to whoever reads the answer through a bounded channel. The task ends the model's request
//! (dropping its stream closes the connection) as soon as any of these happens: the stop button
//! ([`ChatRelay::stop`], on this instance or another), the reader going away (a closed tab, a
//! dropped connection), the chat being deleted, the model failing. The partial answer is then
//! saved as `stopped` or `error`; the answer so far is also saved every second while it streams,
//! so a crash loses little, and that save is where a stop taken by another instance (a mark in
//! the database) or a chat deleted there is noticed. An answer that no one has saved
//! for a while was left by a server that stopped mid-answer: it is failed when its session is
//! sent to again, instead of keeping the session busy forever.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::upkeep::{self, Upkeep};

use super::{
    data_stream::Usage,
    llm::{ChatMessage as ModelMessage, CompletionRequest, Models, StreamEvent},
    store::{AnswerOutcome, ChatStore, ChatStoreError, Progress, UserId},
    types::{ChatMessage, MessageStatus},
};

/// How often abandoned answers are looked for.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(60);

/// How often a streaming answer is saved, whether or not the model sent anything since; also how
/// long a stop taken by another instance may take to reach the model.
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// A `streaming` answer untouched this long is written by no one any more (its server stopped
/// mid-answer): it is failed, so that its session takes messages again.
const ABANDONED_AFTER: Duration = Duration::from_secs(15);
/// Tokens buffered for a slow reader before the model is made to wait.
const CHANNEL_CAPACITY: usize = 256;

/// What happens to an answer, in order: tokens, then one end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerEvent {
    Token(String),
    Ended {
        status: MessageStatus,
        /// What the person is told, when the model failed.
        error: Option<String>,
        usage: Usage,
    },
}

/// A question stored and its answer on its way.
pub struct Exchange {
    pub question: ChatMessage,
    /// The answer as stored when it started (empty, `streaming`).
    pub answer: ChatMessage,
    pub events: mpsc::Receiver<AnswerEvent>,
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("chat session not found")]
    NotFound,
    #[error("an answer is still being written in this chat")]
    Busy,
    #[error("unknown model {0:?}")]
    UnknownModel(String),
    #[error(transparent)]
    Store(ChatStoreError),
}

impl From<ChatStoreError> for SendError {
    fn from(error: ChatStoreError) -> Self {
        match error {
            ChatStoreError::NotFound => SendError::NotFound,
            ChatStoreError::Busy => SendError::Busy,
            other => SendError::Store(other),
        }
    }
}

/// What an answer answers.
#[derive(Clone, Copy)]
enum Turn<'a> {
    /// A new message of the person's.
    New(&'a str),
    /// The person's last message again, with its text replaced if `edited`.
    Again { edited: Option<&'a str> },
}

/// An answer being written, to stop it from another request.
struct Live {
    owner: UserId,
    answer_id: String,
    stop: CancellationToken,
}

/// Sends messages and relays answers; cheap to clone.
#[derive(Clone)]
pub struct ChatRelay {
    store: ChatStore,
    models: Arc<Models>,
    /// Answers being written by this instance, by session id.
    live: Arc<Mutex<HashMap<String, Live>>>,
    history_budget_chars: usize,
}

impl ChatRelay {
    pub fn new(store: ChatStore, models: Arc<Models>, history_budget_chars: usize) -> Self {
        ChatRelay {
            store,
            models,
            live: Arc::default(),
            history_budget_chars,
        }
    }

    pub fn models(&self) -> &Models {
        &self.models
    }

    pub fn store(&self) -> &ChatStore {
        &self.store
    }

    /// The id of the model to answer with: `requested` if it is offered, the default if None.
    pub fn model_id(&self, requested: Option<&str>) -> Result<String, SendError> {
        let model = match requested.filter(|id| !id.is_empty()) {
            Some(id) => self
                .models
                .find(id)
                .ok_or_else(|| SendError::UnknownModel(id.to_owned()))?,
            None => self.models.default_model(),
        };
        Ok(model.id.clone())
    }

    /// Stores the person's message (already validated) and starts the answer with `model`
    /// (the default model if None). The answer's events come on [`Exchange::events`]; dropping
    /// the receiver stops the answer.
    pub async fn send(
        &self,
        user: &UserId,
        session_id: &str,
        content: &str,
        model: Option<&str>,
    ) -> Result<Exchange, SendError> {
        self.answer(user, session_id, model, Turn::New(content))
            .await
    }

    /// Answers the person's last message again, replacing the last answer; with `edited`, the
    /// message's text is replaced first (already validated). The same rules as [`Self::send`]:
    /// one stream per session, the person's stream limit, and the same stop.
    pub async fn regenerate(
        &self,
        user: &UserId,
        session_id: &str,
        edited: Option<&str>,
        model: Option<&str>,
    ) -> Result<Exchange, SendError> {
        self.answer(user, session_id, model, Turn::Again { edited })
            .await
    }

    /// Stores the turn and starts its answer (see [`Self::send`]).
    async fn answer(
        &self,
        user: &UserId,
        session_id: &str,
        model: Option<&str>,
        turn: Turn<'_>,
    ) -> Result<Exchange, SendError> {
        let model = self.model_id(model)?;
        let begin = || async {
            match turn {
                Turn::New(content) => {
                    self.store
                        .begin_exchange(user, session_id, content, &model)
                        .await
                }
                Turn::Again { edited } => {
                    self.store
                        .begin_regeneration(user, session_id, edited, &model)
                        .await
                }
            }
        };
        let (question, answer) = match begin().await {
            // The answer in the way may be one that a stopped server left `streaming`.
            Err(ChatStoreError::Busy | ChatStoreError::TooManyStreams(_))
                if self.fail_abandoned_answers().await? > 0 =>
            {
                begin().await?
            }
            result => result?,
        };
        let history = self
            .store
            .history(user, session_id, self.history_budget_chars)
            .await?;
        let request = CompletionRequest {
            model,
            messages: history
                .into_iter()
                .map(|(role, content)| ModelMessage { role, content })
                .collect(),
        };
        let stop = CancellationToken::new();
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(
                session_id.to_owned(),
                Live {
                    owner: user.clone(),
                    answer_id: answer.id.clone(),
                    stop: stop.clone(),
                },
            );
        let (sender, events) = mpsc::channel(CHANNEL_CAPACITY);
        let relay = self.clone();
        let answer_id = answer.id.clone();
        let session = session_id.to_owned();
        tokio::spawn(async move {
            let outcome = relay
                .write_answer(request, &answer_id, &sender, &stop)
                .await;
            if let Err(error) = relay.store.finish_answer(&answer_id, &outcome).await {
                tracing::error!(%error, "cannot save the end of an answer");
            }
            {
                let mut live = relay
                    .live
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                // Only if it is still this answer's: once the end is saved, a new answer may
                // start in the session, and its stop must keep working.
                if live
                    .get(&session)
                    .is_some_and(|entry| entry.answer_id == answer_id)
                {
                    live.remove(&session);
                }
            }
            let _ = sender
                .send(AnswerEvent::Ended {
                    status: outcome.status,
                    error: outcome.error,
                    usage: Usage {
                        prompt_tokens: outcome.prompt_tokens,
                        completion_tokens: outcome.completion_tokens,
                    },
                })
                .await;
        });
        Ok(Exchange {
            question,
            answer,
            events,
        })
    }

    /// Marks answers whose writer is gone as failed, now and every minute, for as long as the
    /// handle is kept: after a crash their partial text is shown with a clear error, and the
    /// session accepts messages again.
    pub fn start_upkeep(&self) -> Upkeep {
        let relay = self.clone();
        upkeep::every(UPKEEP_INTERVAL, move || {
            let relay = relay.clone();
            async move {
                if let Err(error) = relay.fail_abandoned_answers().await {
                    tracing::warn!(%error, "cannot look for abandoned answers");
                }
            }
        })
    }

    /// Saves a streaming answer so far; whether to go on writing it. A failed save only costs
    /// what a crash would lose, so the answer goes on; a stop asked for on another instance, or
    /// a row gone with its deleted chat, ends it.
    async fn save_progress(&self, answer_id: &str, content: &str) -> bool {
        match self.store.save_progress(answer_id, content).await {
            Ok(Progress::Saved) => true,
            Ok(Progress::StopRequested | Progress::Gone) => false,
            Err(error) => {
                tracing::warn!(%error, "cannot save a streaming answer");
                true
            }
        }
    }

    /// Whether `user` may start another answer, checked before anything is written. Answers a
    /// stopped server (or a save lost to a database outage) left `streaming` are failed first if
    /// they are in the way, as [`Self::send`] does: they must not hold the person back until the
    /// next upkeep.
    pub async fn has_stream_room(&self, user: &UserId) -> Result<(), ChatStoreError> {
        match self.store.has_stream_room(user).await {
            Err(ChatStoreError::TooManyStreams(_)) if self.fail_abandoned_answers().await? > 0 => {
                self.store.has_stream_room(user).await
            }
            result => result,
        }
    }

    /// Fails the answers that stopped being written without an end (see [`ABANDONED_AFTER`]);
    /// how many.
    async fn fail_abandoned_answers(&self) -> Result<u64, ChatStoreError> {
        let failed = self
            .store
            .fail_abandoned_answers(ABANDONED_AFTER.as_millis() as i64)
            .await?;
        if failed > 0 {
            tracing::warn!(failed, "failed answers left streaming by a stopped server");
        }
        Ok(failed)
    }

    /// Deletes one of the user's sessions with its messages, and stops the answer being written
    /// there: it has nowhere to go. False if the user has no such session. An answer written by
    /// another instance stops at its next progress save, which finds its row gone.
    pub async fn delete(&self, user: &UserId, session_id: &str) -> Result<bool, ChatStoreError> {
        let deleted = self.store.delete(user, session_id).await?;
        if deleted {
            self.stop_here(user, session_id);
        }
        Ok(deleted)
    }

    /// Deletes every session of the user and stops their answers (those of other instances at
    /// their next progress save); how many sessions.
    pub async fn delete_all(&self, user: &UserId) -> Result<u64, ChatStoreError> {
        let deleted = self.store.delete_all(user).await?;
        let live = self
            .live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for answer in live.values().filter(|answer| &answer.owner == user) {
            answer.stop.cancel();
        }
        Ok(deleted)
    }

    /// Stops the answer being written in one of the user's sessions, whichever instance writes
    /// it: at once if it is this one, else at the writer's next progress save (within
    /// [`SAVE_EVERY`]) through a mark in the database. False if the user has no answer streaming
    /// there; another user's session is no different from a missing one.
    pub async fn stop(&self, user: &UserId, session_id: &str) -> Result<bool, ChatStoreError> {
        if self.stop_here(user, session_id) {
            return Ok(true);
        }
        self.store.request_stop(user, session_id).await
    }

    /// Stops the user's answer in a session if this instance writes it; whether it did.
    fn stop_here(&self, user: &UserId, session_id: &str) -> bool {
        let live = self
            .live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match live.get(session_id) {
            Some(answer) if &answer.owner == user => {
                answer.stop.cancel();
                true
            }
            _ => false,
        }
    }

    /// Streams the model's answer to `sender` until it ends, is stopped or loses its reader;
    /// returns what to save. The model's stream is dropped on return: its request ends.
    async fn write_answer(
        &self,
        request: CompletionRequest,
        answer_id: &str,
        sender: &mpsc::Sender<AnswerEvent>,
        stop: &CancellationToken,
    ) -> AnswerOutcome {
        let mut outcome = AnswerOutcome {
            content: String::new(),
            status: MessageStatus::Complete,
            prompt_tokens: None,
            completion_tokens: None,
            error: None,
        };
        let mut stream = match self.models.stream(request) {
            Ok(stream) => stream,
            Err(error) => {
                outcome.status = MessageStatus::Error;
                outcome.error = Some(error.user_message());
                return outcome;
            }
        };
        let mut save =
            tokio::time::interval_at(tokio::time::Instant::now() + SAVE_EVERY, SAVE_EVERY);
        save.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let event = tokio::select! {
                // Checked first: a stop wins over a token that is ready at the same time.
                biased;
                _ = stop.cancelled() => {
                    outcome.status = MessageStatus::Stopped;
                    break;
                }
                _ = sender.closed() => {
                    outcome.status = MessageStatus::Stopped;
                    break;
                }
                // Also while the model is silent: the save shows the answer is still written.
                _ = save.tick() => {
                    if self.save_progress(answer_id, &outcome.content).await {
                        continue;
                    }
                    outcome.status = MessageStatus::Stopped;
                    break;
                }
                event = stream.next() => event,
            };
            match event {
                Some(Ok(StreamEvent::Token(token))) => {
                    // A reader that stopped reading fills the channel; waiting for room must
                    // not make a stop wait too. The token counts only once it is handed over,
                    // so the answer kept is exactly what the reader gets.
                    let room = loop {
                        tokio::select! {
                            biased;
                            _ = stop.cancelled() => break None,
                            room = sender.reserve() => break room.ok(),
                            _ = save.tick() => {
                                if !self.save_progress(answer_id, &outcome.content).await {
                                    break None;
                                }
                            }
                        }
                    };
                    let Some(room) = room else {
                        outcome.status = MessageStatus::Stopped;
                        break;
                    };
                    outcome.content.push_str(&token);
                    room.send(AnswerEvent::Token(token));
                }
                Some(Ok(StreamEvent::Usage {
                    prompt_tokens,
                    completion_tokens,
                })) => {
                    outcome.prompt_tokens = Some(prompt_tokens);
                    outcome.completion_tokens = Some(completion_tokens);
                }
                Some(Ok(StreamEvent::Finished { .. })) | None => break,
                Some(Err(error)) => {
                    tracing::warn!(%error, "the model failed mid-answer");
                    outcome.status = MessageStatus::Error;
                    outcome.error = Some(error.user_message());
                    break;
                }
            }
        }
        outcome
    }
}
