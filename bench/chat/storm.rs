//! Protected reads while 50 people sign in with their passwords at once: argon2 runs on blocking
//! threads, a bounded number at a time, so the reads must not queue behind the hashes.

use std::{fmt::Write as _, time::Duration};

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::json;

use crate::{
    harness::{spawn_app, unique_email, TestApp},
    load::{run, Target},
    stats::ms,
    summary::Budgeted,
};

/// People signing in at once, each from an address of their own (as people do).
const SIGN_INS: usize = 50;
/// Sign-ins per person during the storm: under the per-address limit of default settings.
const ROUNDS: usize = 3;
/// Connections reading meanwhile.
const READERS: usize = 8;
const PASSWORD: &str = "storm-password-1234";

async fn sign_up_from(app: &TestApp, client: &reqwest::Client, email: &str) -> String {
    let response = client
        .post(app.url("/auth/v1/signup"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "a storm user signs up");
    let session: serde_json::Value = response.json().await.unwrap();
    session["access_token"].as_str().unwrap().to_owned()
}

/// The storm section: reads alone, then reads during the storm.
pub async fn section(out: &mut String, budgets: &mut Vec<Budgeted>) {
    eprintln!("storm: signing {SIGN_INS} people up");
    let app = spawn_app().await;
    let people: Vec<(reqwest::Client, String)> = (0..SIGN_INS)
        .map(|n| (app.client_from(100 + n as u8), unique_email()))
        .collect();
    let mut token = String::new();
    for (client, email) in &people {
        token = sign_up_from(&app, client, email).await;
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    let reads = Target::get("GET /api/sessions", app.url("/api/sessions"), headers);
    run(&reads, READERS, Duration::from_millis(500)).await;
    eprintln!("storm: reads alone");
    let calm = run(&reads, READERS, Duration::from_secs(2)).await;

    eprintln!("storm: reads during the storm");
    let storm_started = tokio::time::Instant::now();
    let storm: Vec<_> = people
        .iter()
        .map(|(client, email)| {
            let (client, url, email) = (
                client.clone(),
                app.url("/auth/v1/token?grant_type=password"),
                email.clone(),
            );
            tokio::spawn(async move {
                let mut busy = 0;
                for _ in 0..ROUNDS {
                    let response = client
                        .post(&url)
                        .json(&json!({ "email": email, "password": PASSWORD }))
                        .send()
                        .await
                        .unwrap();
                    // 503: the hash queue was longer than its 2 s bound (by design, counted).
                    match response.status().as_u16() {
                        200 => {}
                        503 => busy += 1,
                        other => panic!("a storm sign-in answered {other}"),
                    }
                }
                busy
            })
        })
        .collect();
    // Reads for as long as the storm is certain to last: it is measured below.
    let during = run(&reads, READERS, Duration::from_secs(2)).await;
    let mut busy = 0;
    for person in storm {
        busy += person.await.expect("a storm sign-in task does not panic");
    }
    let storm_took = storm_started.elapsed();

    let p99 = during.latencies.p99();
    budgets.push(Budgeted {
        metric: format!("login storm: protected read p99 during {SIGN_INS} concurrent sign-ins"),
        ferrochat: ms(p99),
        baseline: format!("{} (no storm)", ms(calm.latencies.p99())),
        ratio: format!(
            "{:.1}×",
            p99.as_secs_f64() / calm.latencies.p99().as_secs_f64()
        ),
        budget: "≤ 50 ms".into(),
        met: p99 <= Duration::from_millis(50),
    });
    let _ = writeln!(out, "## Login storm\n");
    let _ = writeln!(
        out,
        "{SIGN_INS} people, each from an address of their own, sign in with their passwords \
         {ROUNDS} times each, all at once ({} sign-ins took {:.1} s; {busy} answered 503 \
         because the hash queue outgrew its 2 s bound), while {READERS} connections read \
         `GET /api/sessions` with a bearer token for 2 s (default settings: argon2id on \
         blocking threads, as many hashes at once as cores).\n",
        SIGN_INS * ROUNDS,
        storm_took.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "| reads | requests/s | median | p99 |\n|---|---|---|---|\n\
         | alone | {:.0} | {} | {} |\n| during the storm | {:.0} | {} | {} |\n",
        calm.per_second(),
        ms(calm.latencies.median()),
        ms(calm.latencies.p99()),
        during.per_second(),
        ms(during.latencies.median()),
        ms(p99)
    );
}
