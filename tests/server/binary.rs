//! The server binary itself: start-up errors, help, graceful shutdown.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const BINARY: &str = env!("CARGO_BIN_EXE_ferrochat");

#[test]
fn an_invalid_setting_stops_the_server_with_a_clear_message() {
    let data = tempfile::tempdir().unwrap();
    for (name, value) in [
        ("LEPTOS_SITE_ADDR", "not-an-address"),
        ("FERROCHAT_LOG_FORMAT", "xml"),
        ("DATABASE_URL", "mysql://db"),
    ] {
        let output = Command::new(BINARY)
            .env("FERROCHAT_DATA_DIR", data.path())
            .env(name, value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("invalid setting {name}=")),
            "{stderr}"
        );
        assert!(stderr.contains("--help"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn help_documents_the_settings() {
    let output = Command::new(BINARY).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for name in ["LEPTOS_SITE_ADDR", "FERROCHAT_DATA_DIR", "DATABASE_URL"] {
        assert!(help.contains(name), "{help}");
    }
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(BINARY)
        .env("FERROCHAT_DATA_DIR", data.path())
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        data.path().join("ferrochat.db").exists(),
        "database created on first start"
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("ferrochat stopped"), "{stdout}");
}

#[test]
fn rotate_signing_key_adds_a_key_and_retires_the_current_one() {
    let data = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let output = Command::new(BINARY)
            .arg("rotate-signing-key")
            .env("FERROCHAT_DATA_DIR", data.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).starts_with("new signing key "));
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (total, current): (i64, i64) = runtime.block_on(async {
        let url = format!("sqlite://{}", data.path().join("ferrochat.db").display());
        let store = ferrochat::store::Store::open(&url).await.unwrap();
        sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE retired_at IS NULL) FROM signing_keys",
        )
        .fetch_one(store.pool())
        .await
        .unwrap()
    });
    assert_eq!((total, current), (2, 1));
}

#[test]
fn unknown_arguments_are_refused_with_usage() {
    let output = Command::new(BINARY).arg("--port=1").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--help"));
}

#[test]
fn keys_prints_the_anon_and_service_role_keys_signed_by_the_instances_key() {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(BINARY)
        .arg("keys")
        .env("FERROCHAT_DATA_DIR", data.path())
        .env("FERROCHAT_SITE_URL", "https://chat.example.com")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let key = |label: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{label}: ")))
            .unwrap_or_else(|| panic!("no {label} in {stdout}"))
            .to_owned()
    };
    assert_eq!(key("API URL"), "https://chat.example.com");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (x, y): (String, String) = runtime.block_on(async {
        let url = format!("sqlite://{}", data.path().join("ferrochat.db").display());
        let store = ferrochat::store::Store::open(&url).await.unwrap();
        sqlx::query_as("SELECT public_x, public_y FROM signing_keys")
            .fetch_one(store.pool())
            .await
            .unwrap()
    });
    let public = jsonwebtoken::DecodingKey::from_ec_components(&x, &y).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.validate_aud = false;
    validation.set_issuer(&["https://chat.example.com/auth/v1"]);
    for (label, role) in [("anon key", "anon"), ("service_role key", "service_role")] {
        let claims = jsonwebtoken::decode::<serde_json::Value>(&key(label), &public, &validation)
            .unwrap_or_else(|error| panic!("{label}: {error}"))
            .claims;
        assert_eq!(claims["role"], role);
        assert_eq!(claims.get("sub"), None, "an API key is nobody's session");
        let years =
            (claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap()) / 31_536_000;
        assert_eq!(years, 10);
    }
}
