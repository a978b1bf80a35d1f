//! `cargo bench --features ssr --bench chat`: the chat's costs, side by side in one run, written
//! to bench/RESULTS.md and printed.
//!
//! - stream relay overhead: when a token reaches a reader through ferrochat's
//!   `POST /api/sessions/{id}` versus straight from the same fake provider;
//! - stop → the provider's connection closed, by `POST /api/sessions/{id}/stop` and by the reader
//!   going away;
//! - the store's pages on 10,000 sessions and a 10,000-message chat, on SQLite and Postgres;
//! - rendering a 10,000-token answer, whole and token by token while it streams.
//!
//! Everything runs in this process on loopback: the real app (the test suite's harness), a fake
//! OpenAI-compatible provider, a fresh SQLite file and a throwaway PostgreSQL (`initdb`, as the
//! store suite uses). Every loop is bounded; every wait has a limit.

// The test suite's harness, shared rather than copied: the benchmark uses only part of it.
#[allow(dead_code)]
#[path = "../../tests/server/databases.rs"]
mod databases;
#[allow(dead_code)]
#[path = "../../tests/server/fake_provider.rs"]
mod fake_provider;
#[allow(dead_code)]
#[path = "../../tests/server/harness.rs"]
mod harness;
#[path = "../../tests/server/proxy.rs"]
mod proxy;

mod relay;
mod render;
mod stats;
mod store;
mod upstream;

use std::{fmt::Write as _, time::Duration};

use stats::{difference, ms, Samples};

/// Answers read each way for the relay overhead, and their length.
const RELAY_ROUNDS: usize = 20;
const TOKENS_PER_ANSWER: usize = 50;
/// The fake's pause before each token: a fast model.
const TOKEN_GAP: Duration = Duration::from_millis(5);
/// Answers ended each way for the time to the provider's connection closing.
const ENDINGS: usize = 30;

/// One table row: what, median, p95, n.
fn row(out: &mut String, what: &str, samples: &Samples) {
    let _ = writeln!(
        out,
        "| {what} | {} | {} | {} |",
        ms(samples.median()),
        ms(samples.p95()),
        samples.len()
    );
}

/// `10000` as `10,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The rendering figures (bench/chat/render.rs).
fn render_section(out: &mut String, timings: &render::RenderTimings) {
    let us = |d: Duration| format!("{:.2} µs", d.as_secs_f64() * 1e6);
    let _ = writeln!(
        out,
        "\n## Rendering an answer (Markdown, highlighted code, math → sanitised HTML)\n"
    );
    let _ = writeln!(
        out,
        "A {}-token answer ({} bytes: prose, lists, a table, Rust and Python code, inline and \
         display math, repeated), in tokens of 4 characters. Whole: `render_markdown`, {} times \
         after one not counted. Streamed: `StreamRenderer::push` per token (each finished block \
         rendered once) and `finish` (the whole answer once, at the end), as the chat page's \
         stream does.\n",
        thousands(render::TOKENS),
        thousands(timings.bytes),
        render::RUNS
    );
    let _ = writeln!(out, "| what | median | p95 | n |\n|---|---|---|---|");
    row(out, "the whole answer at once", &timings.whole);
    row(out, "one streamed token (`push`)", &timings.pushes);
    let _ = writeln!(
        out,
        "\n| streamed answer | total per token (pushes + final render) |\n|---|---|"
    );
    for (tokens, per_token) in timings.per_token {
        let _ = writeln!(out, "| {} tokens | {} |", thousands(tokens), us(per_token));
    }
    for (tokens, per_token) in &timings.naive_per_token {
        let _ = writeln!(
            out,
            "| naive: the whole text re-rendered per token, {} tokens | {} |",
            thousands(*tokens),
            us(*per_token)
        );
    }
    let _ = writeln!(
        out,
        "\nThe cost per token stays flat from {} to {} tokens (linear in total); the naive way's \
         grows with the length (quadratic in total).",
        thousands(render::SHORT_TOKENS),
        thousands(render::TOKENS)
    );
}

/// What the figures were measured on.
async fn machine_note(versions: &[String]) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|release| format!("Linux {}", release.trim()))
        .unwrap_or_else(|_| std::env::consts::OS.into());
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default();
    let date = time::OffsetDateTime::now_utc().date();
    format!(
        "{date}: {cpu}, {cores} logical CPUs (shared with other jobs: expect noise), {kernel}, \
         {rustc}, bench profile (optimised), {}.",
        versions.join(", ")
    )
}

#[tokio::main]
async fn main() {
    let started = std::time::Instant::now();
    let mut out = String::from("# Chat benchmarks\n\n");

    eprintln!("relay: starting the app and the fake provider");
    let upstream = upstream::TimedUpstream::start(upstream::Plan {
        tokens: 1,
        gap: Duration::ZERO,
    })
    .await;
    let app = harness::spawn_app_with(&[
        ("OPENAI_BASE_URL", upstream.base_url.as_str()),
        ("FERROCHAT_MODELS", relay::MODEL),
    ])
    .await;
    let chatter = relay::Chatter::sign_up(&app).await;
    eprintln!("relay: token latency");
    let latency = relay::token_latency(
        &chatter,
        &upstream,
        RELAY_ROUNDS,
        TOKENS_PER_ANSWER,
        TOKEN_GAP,
    )
    .await;
    eprintln!("relay: stop and disconnect");
    let stop =
        relay::time_to_upstream_close(&chatter, &upstream, relay::Ending::Stop, ENDINGS).await;
    let disconnect =
        relay::time_to_upstream_close(&chatter, &upstream, relay::Ending::Drop, ENDINGS).await;

    eprintln!("store: SQLite");
    let (sqlite, _sqlite_dir) = databases::sqlite().await;
    let sqlite_timings = store::measure(&sqlite).await;
    eprintln!("store: Postgres");
    let postgres = databases::postgres().await;
    let postgres_timings = store::measure(&postgres).await;
    eprintln!("render: a 10,000-token answer");
    let render_timings = render::measure();
    let versions = [
        store::version(&sqlite).await,
        store::version(&postgres).await,
    ];

    let _ = writeln!(
        out,
        "`cargo bench --features ssr --bench chat` (bench/chat/), run on {}\n",
        machine_note(&versions).await
    );
    let _ = writeln!(
        out,
        "Everything on loopback in one process: the real app as the test suite starts it \
         (tests/server/harness.rs, default settings), a fake OpenAI-compatible provider writing \
         the exact SSE wire format, a fresh SQLite file, a throwaway PostgreSQL (`initdb`). \
         Percentiles are nearest-rank; warm-up runs are not counted.\n"
    );

    let _ = writeln!(out, "## Stream relay: upstream token → client\n");
    let _ = writeln!(
        out,
        "Each token carries the time the fake provider handed it to its connection; the reader \
         notes when it read it. {RELAY_ROUNDS} answers of {TOKENS_PER_ANSWER} tokens, {} ms \
         apart, read each way in turn.\n",
        TOKEN_GAP.as_millis()
    );
    let _ = writeln!(out, "| path | median | p95 | n |\n|---|---|---|---|");
    row(
        &mut out,
        "straight from the provider (SSE)",
        &latency.direct,
    );
    row(
        &mut out,
        "through ferrochat (`POST /api/sessions/{id}`, data stream)",
        &latency.relayed,
    );
    let _ = writeln!(
        out,
        "| overhead | {} | {} | |\n",
        difference(latency.relayed.median(), latency.direct.median()),
        difference(latency.relayed.p95(), latency.direct.p95()),
    );

    let _ = writeln!(
        out,
        "## Ending an answer: the reader's action → the provider's connection closed\n"
    );
    let _ = writeln!(
        out,
        "An answer of 1,000 tokens 10 ms apart is ended after 3 tokens; the fake notes when its \
         connection closes (hyper drops the body).\n"
    );
    let _ = writeln!(out, "| ending | median | p95 | n |\n|---|---|---|---|");
    row(&mut out, "stop (`POST /api/sessions/{id}/stop`)", &stop);
    row(&mut out, "the reader closes its connection", &disconnect);

    let _ = writeln!(
        out,
        "\n## Store: {} sessions and a {}-message chat\n",
        thousands(store::SESSIONS),
        thousands(store::MESSAGES)
    );
    let _ = writeln!(
        out,
        "One account with {} sessions beside as many of 100 other accounts; its newest chat has \
         {} messages. Each page is read through `ChatStore` as the pages read it ({} rows, the \
         ownership check included), {} times after {} not counted. \
         `tests/server/chat_store.rs::the_hot_queries_use_their_indexes` asserts, on both \
         backends, that these queries use `chat_sessions_by_user_recency` and \
         `messages_by_session_order` without a sort. Search goes through `ChatStore::search` \
         (titles and message text, FTS5 on SQLite, tsvector + GIN on Postgres; \
         `tests/server/chat_search.rs::the_search_uses_its_indexes`), with every session \
         holding one more message: a word found in one session, and a word found in every \
         session of every account (the newest 50 are returned, each with its matching \
         message).\n",
        thousands(store::SESSIONS),
        thousands(store::MESSAGES),
        store::PAGE,
        store::RUNS,
        store::WARM_UP
    );
    let _ = writeln!(
        out,
        "| query | backend | median | p95 | n |\n|---|---|---|---|---|"
    );
    for (backend, timings) in [("SQLite", &sqlite_timings), ("Postgres", &postgres_timings)] {
        for timing in timings {
            let _ = writeln!(
                out,
                "| {} | {backend} | {} | {} | {} |",
                timing.query,
                ms(timing.samples.median()),
                ms(timing.samples.p95()),
                timing.samples.len()
            );
        }
    }
    render_section(&mut out, &render_timings);
    let _ = writeln!(
        out,
        "\nThe whole run took {:.0} s.",
        started.elapsed().as_secs_f64()
    );

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/RESULTS.md");
    std::fs::write(path, &out).expect("bench/RESULTS.md is written");
    println!("{out}");
    eprintln!("written to {path}");
}
