//! The seed's Python backend verified Supabase tokens with PyJWT: it must accept ours.
//! Runs the real PyJWT (installed by scripts/setup.sh in .tools/venv).

use std::process::Command;

use serde_json::Value;

use crate::harness::{spawn_app, spawn_app_with, unique_email, venv_python};

fn pyjwt(args: &[&str]) -> (bool, String) {
    let root = env!("CARGO_MANIFEST_DIR");
    let output = Command::new(venv_python())
        .arg(format!("{root}/tests/interop/pyjwt_verify.py"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

/// The token with one character of its signature changed.
fn tampered(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let last = bytes.len() - 5;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn pyjwt_accepts_our_hs256_tokens_with_the_shared_secret() {
    let secret = "the-project-jwt-secret-shared-with-python";
    let app = spawn_app_with(&[
        ("FERROCHAT_JWT_ALGORITHM", "HS256"),
        ("FERROCHAT_JWT_SECRET", secret),
    ])
    .await;
    let email = unique_email();
    let session = app.sign_up(&email, "password one").await;
    let token = session["access_token"].as_str().unwrap();
    let (ok, output) = pyjwt(&["hs256", secret, token]);
    assert!(ok, "{output}");
    let claims: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(claims["email"], email.as_str());
    assert_eq!(claims["role"], "authenticated");

    let (ok, output) = pyjwt(&["hs256", secret, &tampered(token)]);
    assert!(!ok);
    assert!(output.contains("InvalidSignatureError"), "{output}");
    let (ok, _) = pyjwt(&["hs256", "some-other-secret-of-enough-length!!", token]);
    assert!(!ok);
}

#[tokio::test]
async fn pyjwks_client_accepts_our_es256_tokens_from_the_jwks() {
    let app = spawn_app().await;
    let session = app.sign_up(&unique_email(), "password one").await;
    let token = session["access_token"].as_str().unwrap();
    let jwks = app.url("/auth/v1/.well-known/jwks.json");
    let issuer = app.url("/auth/v1");
    // PyJWT blocks its thread on the HTTP call to our server: keep the runtime free to answer.
    let verify = |token: String| {
        let (jwks, issuer) = (jwks.clone(), issuer.clone());
        tokio::task::spawn_blocking(move || pyjwt(&["jwks", &jwks, &issuer, &token]))
    };
    let (ok, output) = verify(token.to_owned()).await.unwrap();
    assert!(ok, "{output}");
    let claims: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(claims["sub"], session["user"]["id"]);

    let (ok, output) = verify(tampered(token)).await.unwrap();
    assert!(!ok);
    assert!(output.contains("InvalidSignatureError"), "{output}");
}

#[tokio::test]
async fn pyjwks_client_accepts_tokens_of_imported_rs256_keys() {
    let output = Command::new("node")
        .arg("-e")
        .arg(
            "const k = require('crypto').generateKeyPairSync('rsa', { modulusLength: 2048 })\
             .privateKey.export({ format: 'jwk' });\
             console.log(JSON.stringify([{ ...k, kid: 'rsa-1', key_ops: ['sign', 'verify'] }]));",
        )
        .output()
        .unwrap();
    assert!(output.status.success());
    let keys = String::from_utf8(output.stdout).unwrap();
    let app = spawn_app_with(&[("FERROCHAT_AUTH_JWT_KEYS", keys.trim())]).await;
    let session = app.sign_up(&unique_email(), "password one").await;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let (jwks, issuer) = (
        app.url("/auth/v1/.well-known/jwks.json"),
        app.url("/auth/v1"),
    );
    let (ok, output) =
        tokio::task::spawn_blocking(move || pyjwt(&["jwks", &jwks, &issuer, &token]))
            .await
            .unwrap();
    assert!(ok, "{output}");
    let claims: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(claims["sub"], session["user"]["id"]);
}
