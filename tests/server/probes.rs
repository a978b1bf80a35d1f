use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::spawn_app;

#[tokio::test]
async fn healthz_says_the_process_is_alive() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_is_ready_while_the_database_answers() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn readyz_is_a_clear_503_when_the_database_is_unreachable() {
    let app = spawn_app().await;
    app.store.close().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["reason"], "The database is unreachable.");
    // The liveness probe does not depend on the database.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_database_is_migrated_on_open() {
    let app = spawn_app().await;
    let (applied,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(app.store.pool())
        .await
        .expect("the migrations table exists");
    let embedded = match app.store.backend() {
        ferrochat::store::Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").iter().count(),
        // The suite on Postgres (`FERROCHAT_TEST_DATABASE=postgres`).
        ferrochat::store::Backend::Postgres => {
            let embedded = sqlx::migrate!("./migrations/postgres").iter().count();
            assert_eq!(applied, embedded as i64);
            return;
        }
    };
    assert_eq!(applied, embedded as i64);
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let first = app.get("/healthz").await;
    let second = app.get("/healthz").await;
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id(&first), id(&second));
    assert_eq!(id(&first).len(), 36, "a UUID");
}
