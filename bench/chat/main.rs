//! `cargo bench --features ssr --bench chat`: the chat's costs, side by side in one run, written
//! to bench/RESULTS.md and printed.
//!
//! - stream relay overhead: when a token reaches a reader through ferrochat's
//!   `POST /api/sessions/{id}` versus straight from the same fake provider;
//! - stop → the provider's connection closed, by `POST /api/sessions/{id}/stop` and by the reader
//!   going away;
//! - the store's pages on 10,000 sessions and a 10,000-message chat, on SQLite and Postgres;
//! - what signing in costs a request (auth.rs), JWT verification against raw `jsonwebtoken`;
//! - the protected reads against the FastAPI baseline on the same database (baseline.rs);
//! - protected reads during a login storm (storm.rs);
//! - rendering a 10,000-token answer, whole and token by token while it streams (render.rs);
//! - the server binary's resident memory with 1,000 answers streaming at once (streams.rs).
//!
//! The budgets of issue #13 are checked in one table at the top (summary.rs).
//! `FERROCHAT_BENCH_ONLY=auth,baseline` runs only the sections named (relay, store, auth,
//! baseline, storm, render, streams) while working on one; the full run is `scripts/bench.sh`.
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
#[allow(dead_code)]
#[path = "../../tests/server/process.rs"]
mod process;
#[path = "../../tests/server/proxy.rs"]
mod proxy;

mod auth;
mod baseline;
mod load;
mod relay;
mod render;
mod stats;
mod store;
mod storm;
mod streams;
mod summary;
mod upstream;

use std::{fmt::Write as _, time::Duration};

use stats::{difference, ms, Samples};
use summary::{per_second, Budgeted};

/// Whether the section `name` runs (`FERROCHAT_BENCH_ONLY`, comma-separated; unset: all).
fn wanted(name: &str) -> bool {
    std::env::var("FERROCHAT_BENCH_ONLY")
        .map(|only| only.split(',').any(|section| section.trim() == name))
        .unwrap_or(true)
}

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
fn render_section(out: &mut String) {
    eprintln!("render: a 10,000-token answer");
    let timings = &render::measure();
    let us = |d: Duration| format!("{:.2} µs", d.as_secs_f64() * 1e6);
    let _ = writeln!(
        out,
        "## Rendering an answer (Markdown, highlighted code, math → sanitised HTML)\n"
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
    // Measured, not asserted: how the cost per token changes with the answer's length (1× is
    // linear work in total; the naive way's grows with the length).
    let growth = |costs: &[(usize, Duration)]| match (costs.first(), costs.last()) {
        (Some((short, a)), Some((long, b))) if long > short && !a.is_zero() => format!(
            "×{:.1} from {} to {} tokens",
            b.as_secs_f64() / a.as_secs_f64(),
            thousands(*short),
            thousands(*long)
        ),
        _ => "not measured".to_owned(),
    };
    let _ = writeln!(
        out,
        "\nCost per token as the answer grows: streamed {}; naive {}.",
        growth(&timings.per_token),
        growth(&timings.naive_per_token)
    );
    let _ = writeln!(out);
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

/// The stream relay's sections: token latency, and the time from ending an answer to the
/// provider's connection closing.
async fn relay_section(out: &mut String, budgets: &mut Vec<Budgeted>) {
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

    let relayed_p99 = latency.relayed.p99();
    budgets.push(Budgeted {
        metric: "stream relay: upstream token → client, p99".into(),
        ferrochat: ms(relayed_p99),
        baseline: format!("{} (straight from the provider)", ms(latency.direct.p99())),
        ratio: difference(relayed_p99, latency.direct.p99()),
        budget: "≤ 5 ms".into(),
        met: relayed_p99 <= Duration::from_millis(5),
    });
    let slowest_stop = stop.percentile(100.0);
    budgets.push(Budgeted::alone(
        "stop → upstream socket closed, slowest",
        ms(slowest_stop),
        "≤ 100 ms",
        slowest_stop <= Duration::from_millis(100),
    ));

    let _ = writeln!(out, "## Stream relay: upstream token → client\n");
    let _ = writeln!(
        out,
        "Each token carries the time the fake provider handed it to its connection; the reader \
         notes when it read it. {RELAY_ROUNDS} answers of {TOKENS_PER_ANSWER} tokens, {} ms \
         apart, read each way in turn.\n",
        TOKEN_GAP.as_millis()
    );
    let _ = writeln!(out, "| path | median | p95 | n |\n|---|---|---|---|");
    row(out, "straight from the provider (SSE)", &latency.direct);
    row(
        out,
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
    row(out, "stop (`POST /api/sessions/{id}/stop`)", &stop);
    row(out, "the reader closes its connection", &disconnect);
    let _ = writeln!(out);
}

/// The store's pages on a big account, on both backends; the database versions.
async fn store_section(out: &mut String, budgets: &mut Vec<Budgeted>) -> Vec<String> {
    eprintln!("store: SQLite");
    let (sqlite, _sqlite_dir) = databases::sqlite().await;
    let sqlite_timings = store::measure(&sqlite).await;
    eprintln!("store: Postgres");
    let postgres = databases::postgres().await;
    let postgres_timings = store::measure(&postgres).await;
    let versions = vec![
        store::version(&sqlite).await,
        store::version(&postgres).await,
    ];

    let _ = writeln!(
        out,
        "## Store: {} sessions and a {}-message chat\n",
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
        "| query | backend | median | p95 | p99 | n |\n|---|---|---|---|---|---|"
    );
    for (backend, timings) in [("SQLite", &sqlite_timings), ("Postgres", &postgres_timings)] {
        for timing in timings {
            let _ = writeln!(
                out,
                "| {} | {backend} | {} | {} | {} | {} |",
                timing.query,
                ms(timing.samples.median()),
                ms(timing.samples.p95()),
                ms(timing.samples.p99()),
                timing.samples.len()
            );
        }
        // The budget is about the pages; search has no budget in the issue (its figures are
        // in the table above).
        let slowest = timings
            .iter()
            .filter(|timing| !timing.query.starts_with("search"))
            .map(|timing| timing.samples.p99())
            .max()
            .unwrap_or_default();
        budgets.push(Budgeted::alone(
            &format!(
                "big data ({} sessions, {}-message chat): slowest page p99, {backend}",
                thousands(store::SESSIONS),
                thousands(store::MESSAGES)
            ),
            ms(slowest),
            "≤ 20 ms",
            slowest <= Duration::from_millis(20),
        ));
    }
    let _ = writeln!(out);
    versions
}

/// What signing in costs: the pieces, then `current_user` before and after, HS256 and ES256.
async fn auth_section(out: &mut String, budgets: &mut Vec<Budgeted>) {
    use jsonwebtoken::Algorithm::{ES256, HS256};
    eprintln!("auth: starting four apps");
    let hs_before = auth::AuthApp::start("HS256 before", HS256, false, None).await;
    let hs_after = auth::AuthApp::start("HS256 after", HS256, true, None).await;
    let es_before = auth::AuthApp::start("ES256 before", ES256, false, None).await;
    let es_after = auth::AuthApp::start("ES256 after", ES256, true, None).await;

    eprintln!("auth: the pieces");
    let (hs_pieces, hs_verify, hs_raw) = auth::pieces(&hs_after, &hs_before).await;
    let (es_pieces, es_verify, es_raw) = auth::pieces(&es_after, &es_before).await;
    eprintln!("auth: current_user and the protected read in process");
    for app in [&hs_after, &es_after] {
        baseline::seed(app, baseline::SESSIONS).await;
    }
    let in_process = [
        ("HS256", 0.03, auth::in_process(&hs_after).await),
        ("ES256", 0.10, auth::in_process(&es_after).await),
    ];
    eprintln!("auth: current_user under load");
    let overheads = auth::overhead(&[&hs_before, &hs_after, &es_before, &es_after]).await;

    for (algorithm, verify, raw) in [("HS256", hs_verify, hs_raw), ("ES256", es_verify, es_raw)] {
        let ratio = verify.as_secs_f64() / raw.as_secs_f64();
        budgets.push(Budgeted {
            metric: format!("JWT verification, {algorithm}: `Verifier` vs raw `jsonwebtoken`"),
            ferrochat: micros(verify),
            baseline: format!("{} (raw)", micros(raw)),
            ratio: format!("{ratio:.2}×"),
            budget: "≤ 1.2×".into(),
            met: ratio <= 1.2,
        });
    }
    for (algorithm, limit, measured) in &in_process {
        let overhead = measured.read_overhead();
        let auth = measured
            .signed_in_median()
            .saturating_sub(measured.signed_out_median());
        budgets.push(Budgeted {
            metric: format!(
                "auth overhead, {algorithm}: the protected read (`chat/list`, {} chats) vs the \
                 same read less what signing in adds to `auth/current_user`, in process",
                baseline::SESSIONS
            ),
            ferrochat: micros(measured.read_median()),
            baseline: format!(
                "{} (less {})",
                micros(measured.read_median().saturating_sub(auth)),
                micros(auth)
            ),
            ratio: format!("{:+.1} % time", overhead * 100.0),
            budget: format!("≤ +{:.0} %", limit * 100.0),
            met: overhead <= *limit,
        });
    }

    let _ = writeln!(
        out,
        "## Auth overhead: where a signed-in request's time went\n"
    );
    let _ = writeln!(
        out,
        "Each piece of the signed-in path timed alone, {} calls after as many not counted, mean \
         per call. Before the fixes every signed-in request also read its session's row (has it \
         been signed out?) from the database, checked its token's signature, and built the \
         whole session in its cookie (user object included) into JSON values. Now a \"still \
         signed in\" answer is remembered for `FERROCHAT_SESSION_STATUS_CACHE_MS` (1 s) and \
         forgotten whenever this instance handles a write to `/auth/v1` \
         (src/auth_service/session_status.rs); a token that verified is remembered by its \
         exact text until it expires, at most 300 s (src/auth/verify.rs); the cookie is \
         read as its two tokens (src/contract/cookies.rs); and a cookie whose token verified is \
         remembered by its exact value with its user and the token's verdict \
         (src/auth/session.rs), so that a request with it makes one lookup instead of the \
         reading and the token's. The pieces below are each timed alone, as a request without \
         that last memory would need them.\n",
        thousands(20_000)
    );
    let _ = writeln!(out, "| piece | mean per call |\n|---|---|");
    for piece in hs_pieces.iter().chain(es_pieces.iter()) {
        let _ = writeln!(out, "| {} | {} |", piece.what, micros(piece.per_call));
    }
    let _ = writeln!(
        out,
        "\n`POST /api/auth/current_user` signed out and signed in, and the protected read \
         `POST /api/chat/list` (the sidebar's {} chats) signed in, through the app's whole router \
         (`tower::ServiceExt::oneshot`), in this process, one call at a time: every middleware, \
         the server function and its answer, without the network. The `Cookie` header is made \
         once and shared by the calls, as hyper hands a server the slice of the bytes it read. \
         {} turns of {} calls per variant, the variants in turns; the median of the turns' mean \
         time per call, and of each turn's figure. The load runs below carry the network, the \
         load generator and the scheduler, whose noise on this 2-core machine (±10 points \
         between runs) is larger than the budget.\n\n\
         The budget is the protected read's: it costs at most 3 % (HS256) or 10 % (ES256) more \
         than the same read without auth. The read cannot run without auth (it serves only a \
         signed-in user), so what auth costs is measured where it is all the call does: \
         `current_user` signed in less signed out, which also counts answering with a user \
         rather than `null` and so overstates auth. The read's overhead is that, over the \
         read's time less that. `current_user` itself, an empty read, is the worst case, and \
         its own ratio is reported here beside it.\n\n\
         | app | `current_user` signed out | signed in | signed in costs | protected read | auth's share of it |\n|---|---|---|---|---|---|",
        baseline::SESSIONS,
        auth::IN_PROCESS_TURNS,
        thousands(auth::IN_PROCESS_CALLS as usize)
    );
    for (algorithm, _, measured) in &in_process {
        let _ = writeln!(
            out,
            "| {algorithm} after | {} | {} | {:+.1} % | {} | {:+.1} % |",
            micros(measured.signed_out_median()),
            micros(measured.signed_in_median()),
            measured.extra_cost() * 100.0,
            micros(measured.read_median()),
            measured.read_overhead() * 100.0
        );
    }
    let _ = writeln!(
        out,
        "\n`POST /api/auth/current_user` with and without the session cookie, {} connections, \
         {} turns of {} ms per variant, all variants in turns. \"before\" is the same build \
         with `FERROCHAT_SESSION_STATUS_CACHE_MS=0` (the session read on every request; the \
         token memory and the lighter cookie read are in both).\n",
        auth::CONNECTIONS,
        auth::TURNS,
        auth::TURN.as_millis()
    );
    let _ = writeln!(
        out,
        "| app | signed out | signed out, cookie as long as the session's | signed in | \
         signed-in p99 | signed in costs (app CPU) | of which the cookie's bytes | signed in \
         costs (throughput) |\n\
         |---|---|---|---|---|---|---|---|"
    );
    for overhead in &overheads {
        let cell = |t: &load::Throughput| {
            format!(
                "{}, {}",
                per_second(t.per_second()),
                micros(t.app_cpu_per_request())
            )
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:+.1} % | {:+.1} % | {:+.1} % |",
            overhead.app.label,
            cell(&overhead.signed_out),
            cell(&overhead.same_bytes),
            cell(&overhead.signed_in),
            ms(overhead.signed_in.latencies.p99()),
            overhead.extra_cost() * 100.0,
            overhead.bytes_cost() * 100.0,
            overhead.throughput_cost() * 100.0
        );
    }
    let _ = writeln!(
        out,
        "\nEach cell: requests per second, and the app's CPU time per request (the process's \
         user and system time outside the load generator's thread, which runs on a runtime of \
         its own). The budget is on the CPU time: it is the app's cost, while throughput on \
         this 2-core machine also carries the client's work (a longer cookie costs it too) and \
         the scheduler's luck (identical apps differ by up to 10 %). \"Costs\" in app CPU is \
         the median over the turns of each turn's ratio (the variants of a turn run seconds \
         apart). The third column is a \
         signed-out request carrying a cookie as long as the session's under another name: \
         what the bytes cost in the header parsing, with no session to read."
    );
    let _ = writeln!(out);
}

/// A duration in microseconds.
fn micros(duration: Duration) -> String {
    format!("{:.2} µs", duration.as_secs_f64() * 1e6)
}

/// ferrochat's protected reads against the FastAPI baseline, on SQLite and on Postgres.
async fn baseline_section(out: &mut String, budgets: &mut Vec<Budgeted>) {
    use jsonwebtoken::Algorithm::{ES256, HS256};
    if !baseline::available() {
        let _ = writeln!(
            out,
            "## Protected reads against the FastAPI baseline\n\nNot run: the baseline's \
             virtualenv is missing (`scripts/bench.sh` makes it).\n"
        );
        return;
    }
    let _ = writeln!(out, "## Protected reads against the FastAPI baseline\n");
    let _ = writeln!(
        out,
        "bench/baseline/app.py (FastAPI + SQLAlchemy + PyJWT, the starter's pattern) under \
         uvicorn with {} workers, on the same database as the ferrochat it is compared with \
         (the same SQLite file; the same Postgres database), the same user with {} chats, the \
         newest with {} messages, the same bearer token, {} connections, {} turns of {} ms \
         each, in turns.\n",
        std::thread::available_parallelism().map_or(2, usize::from),
        baseline::SESSIONS,
        baseline::MESSAGES,
        auth::CONNECTIONS,
        auth::TURNS,
        auth::TURN.as_millis()
    );
    let _ = writeln!(
        out,
        "| route | backend | token | ferrochat | p99 | baseline | p99 | ratio |\n\
         |---|---|---|---|---|---|---|---|"
    );
    let mut pages = Vec::new();
    for backend in ["SQLite", "Postgres"] {
        for (algorithm, name, budget) in [(HS256, "HS256", 10.0), (ES256, "ES256", 4.0)] {
            eprintln!("baseline: {backend} {name}");
            let database = if backend == "Postgres" {
                Some(databases::postgres_url().await)
            } else {
                None
            };
            let app = auth::AuthApp::start(name, algorithm, true, database.as_deref()).await;
            let chat = baseline::seed(&app, baseline::SESSIONS).await;
            let server = baseline::Baseline::start(&app).await;
            for read in baseline::protected_reads(&app, &server, &chat).await {
                let ratio = read.ferrochat.per_second() / read.baseline.per_second();
                let _ = writeln!(
                    out,
                    "| `{}` | {backend} | {name} | {} | {} | {} | {} | {ratio:.1}× |",
                    read.route,
                    per_second(read.ferrochat.per_second()),
                    ms(read.ferrochat.latencies.p99()),
                    per_second(read.baseline.per_second()),
                    ms(read.baseline.latencies.p99()),
                );
                budgets.push(against_baseline(
                    format!("protected read `{}`, {backend}, {name}", read.route),
                    &read,
                    format!("≥ {budget:.0}×"),
                    ratio >= budget,
                ));
            }
            if algorithm == HS256 {
                // The same user, now with many chats: the newest, with its messages, is opened.
                let newest =
                    baseline::seed(&app, baseline::PAGE_SESSIONS - baseline::SESSIONS).await;
                pages.push((backend, baseline::chat_page(&app, &server, &newest).await));
            }
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "### One chat opened by a user with {} chats\n\nferrochat renders `GET /chat/{{id}}` \
         on the server (the sidebar's first page of chats and the chat's history in the HTML, \
         the session cookie); the starter's frontend needs `GET /api/sessions` (all {} chats) \
         and then `GET /api/sessions/{{id}}` for the same view, so one baseline visit is those \
         two requests one after the other (HS256 bearer token). The chat has {} messages; {} \
         connections, {} turns of {} ms, in turns. The issue sets no figure; the budget is to \
         be faster than the baseline at all.\n",
        baseline::PAGE_SESSIONS,
        baseline::PAGE_SESSIONS,
        baseline::MESSAGES,
        auth::CONNECTIONS,
        auth::TURNS,
        auth::TURN.as_millis()
    );
    let _ = writeln!(
        out,
        "| backend | ferrochat pages | p99 | baseline visits | p99 | ratio |\n|---|---|---|---|---|---|"
    );
    for (backend, page) in &pages {
        let ratio = page.ferrochat.per_second() / page.baseline.per_second();
        let _ = writeln!(
            out,
            "| {backend} | {} | {} | {} | {} | {ratio:.1}× |",
            per_second(page.ferrochat.per_second()),
            ms(page.ferrochat.latencies.p99()),
            per_second(page.baseline.per_second()),
            ms(page.baseline.latencies.p99()),
        );
        budgets.push(against_baseline(
            format!(
                "chat page, {} chats, {backend}: `GET /chat/{{id}}` vs the starter's two reads",
                baseline::PAGE_SESSIONS
            ),
            page,
            "> 1× (no figure set)".into(),
            ratio > 1.0,
        ));
    }
    let _ = writeln!(out);
}

/// A budget row comparing ferrochat's throughput with the baseline's (requests/s, p99, ratio).
fn against_baseline(metric: String, read: &baseline::Read, budget: String, met: bool) -> Budgeted {
    let throughput = |t: &load::Throughput| {
        format!(
            "{} (p99 {})",
            per_second(t.per_second()),
            ms(t.latencies.p99())
        )
    };
    Budgeted {
        metric,
        ferrochat: throughput(&read.ferrochat),
        baseline: throughput(&read.baseline),
        ratio: format!(
            "{:.1}×",
            read.ferrochat.per_second() / read.baseline.per_second()
        ),
        budget,
        met,
    }
}

#[tokio::main]
async fn main() {
    let started = std::time::Instant::now();
    let mut sections = String::new();
    let mut budgets = Vec::new();
    let mut versions = Vec::new();

    if wanted("relay") {
        relay_section(&mut sections, &mut budgets).await;
    }
    if wanted("store") {
        versions = store_section(&mut sections, &mut budgets).await;
    }
    if wanted("auth") {
        auth_section(&mut sections, &mut budgets).await;
    }
    if wanted("baseline") {
        baseline_section(&mut sections, &mut budgets).await;
    }
    if wanted("storm") {
        storm::section(&mut sections, &mut budgets).await;
    }
    if wanted("render") {
        render_section(&mut sections);
    }
    if wanted("streams") {
        streams::section(&mut sections, &mut budgets).await;
    }

    let mut out = String::from("# Benchmarks\n\n");
    let _ = writeln!(
        out,
        "`scripts/bench.sh` (`cargo bench --features ssr --bench chat`, bench/chat/), run on {}\n",
        machine_note(&versions).await
    );
    let _ = writeln!(
        out,
        "Everything on loopback on this machine, in one run: the real app as the test suite \
         starts it (tests/server/harness.rs, default settings unless a section says otherwise), \
         a fake OpenAI-compatible provider writing the exact SSE wire format, fresh SQLite files, \
         a throwaway PostgreSQL (`initdb`), and the FastAPI baseline (bench/baseline/) under \
         uvicorn. Compared figures are measured in turns (A, B, A, B, …) so that noise slows \
         both alike. Percentiles are nearest-rank; warm-up runs are not counted.\n"
    );
    let _ = writeln!(out, "## Budgets (issue #13)\n");
    out.push_str(&summary::table(&budgets));
    out.push('\n');
    out.push_str(&sections);
    let _ = writeln!(
        out,
        "The whole run took {:.0} s.",
        started.elapsed().as_secs_f64()
    );

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/RESULTS.md");
    std::fs::write(path, &out).expect("bench/RESULTS.md is written");
    println!("{out}");
    eprintln!("written to {path}");
}
