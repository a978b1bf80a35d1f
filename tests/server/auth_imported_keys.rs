//! Bring your own signing keys: a GoTrue `GOTRUE_JWT_KEYS` JWK set in `FERROCHAT_AUTH_JWT_KEYS`
//! (or a file). The signing key signs, every key verifies, the JWKS publishes only public parts.

use std::process::Command;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::harness::{cookies_from, spawn_app_with, unique_email};

/// A fresh RSA (2048) and P-256 private JWK, made by Node's WebCrypto-compatible exporter, as an
/// operator's tooling would make them.
fn generated_private_jwks() -> (Value, Value) {
    let output = Command::new("node")
        .arg("-e")
        .arg(
            "const c = require('crypto');\
             const jwk = (type, options) => c.generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' });\
             console.log(JSON.stringify([jwk('rsa', { modulusLength: 2048 }), jwk('ec', { namedCurve: 'P-256' })]));",
        )
        .output()
        .expect("node runs (it is installed with the end-to-end tools)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let keys: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    (keys[0].clone(), keys[1].clone())
}

fn with(mut jwk: Value, kid: &str, ops: &[&str]) -> Value {
    jwk["kid"] = json!(kid);
    jwk["key_ops"] = json!(ops);
    jwk
}

fn access_claims(token: &str, algorithm: Algorithm, key: &DecodingKey) -> Value {
    let mut validation = Validation::new(algorithm);
    validation.set_audience(&["authenticated"]);
    jsonwebtoken::decode::<Value>(token, key, &validation)
        .unwrap()
        .claims
}

#[tokio::test]
async fn imported_rs256_and_es256_keys_sign_verify_and_publish_only_their_public_parts() {
    let (rsa, ec) = generated_private_jwks();
    for (signer, algorithm) in [("rsa-1", Algorithm::RS256), ("ec-1", Algorithm::ES256)] {
        let keys = json!([
            with(
                rsa.clone(),
                "rsa-1",
                if signer == "rsa-1" {
                    &["sign", "verify"]
                } else {
                    &["verify"]
                }
            ),
            with(
                ec.clone(),
                "ec-1",
                if signer == "ec-1" {
                    &["sign", "verify"]
                } else {
                    &["verify"]
                }
            ),
        ]);
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), keys.to_string()).unwrap();
        let path = file.path().to_str().unwrap().to_owned();
        let app = spawn_app_with(&[("FERROCHAT_AUTH_JWT_KEYS_FILE", path.as_str())]).await;

        let email = unique_email();
        let session = app.sign_up(&email, "password one").await;
        let token = session["access_token"].as_str().unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(
            (header.alg, header.kid.as_deref()),
            (algorithm, Some(signer))
        );

        // The JWKS: both keys, public parts only; a third party verifies with it.
        let jwks: Value = app
            .get("/auth/v1/.well-known/jwks.json")
            .await
            .json()
            .await
            .unwrap();
        let published = jwks["keys"].as_array().unwrap();
        assert_eq!(published.len(), 2);
        for key in published {
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert_eq!(key.get(private), None, "{key}");
            }
            assert_eq!(key["key_ops"], json!(["verify"]));
        }
        let public = published.iter().find(|k| k["kid"] == signer).unwrap();
        let decoding = match algorithm {
            Algorithm::RS256 => DecodingKey::from_rsa_components(
                public["n"].as_str().unwrap(),
                public["e"].as_str().unwrap(),
            )
            .unwrap(),
            _ => DecodingKey::from_ec_components(
                public["x"].as_str().unwrap(),
                public["y"].as_str().unwrap(),
            )
            .unwrap(),
        };
        assert_eq!(access_claims(token, algorithm, &decoding)["email"], email);

        // The service verifies it (GET /user), and so does the app's own verifier (a page).
        assert_eq!(app.get_user(token).await.status(), StatusCode::OK);
        let response = app.submit_login(&email, "password one").await;
        assert_eq!(response.headers()[header::LOCATION], "/chat");
        let chat = app
            .page_with_cookies("/chat", &cookies_from(&response))
            .await;
        assert_eq!(chat.status(), StatusCode::OK);
        // API keys are signed with the imported key too.
        let service_key = app.api_key("service_role");
        let listed = app
            .client
            .get(app.url("/auth/v1/admin/users"))
            .bearer_auth(&service_key)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), StatusCode::OK);
    }
}

#[test]
fn a_key_set_that_cannot_sign_stops_the_server_with_a_clear_message() {
    let (rsa, _) = generated_private_jwks();
    let only_verifying = json!([with(rsa.clone(), "rsa-1", &["verify"])]).to_string();
    let mut public_only = with(rsa, "rsa-1", &["sign"]);
    public_only.as_object_mut().unwrap().remove("d");
    let public_only = json!([public_only]).to_string();
    for (keys, reason) in [
        (
            only_verifying.as_str(),
            "no key has \"sign\" in its key_ops",
        ),
        (public_only.as_str(), "key rsa-1: \"d\" is missing"),
    ] {
        let data = tempfile::tempdir().unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_ferrochat"))
            .env("FERROCHAT_DATA_DIR", data.path())
            .env("FERROCHAT_AUTH_JWT_KEYS", keys)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("invalid setting FERROCHAT_AUTH_JWT_KEYS="),
            "{stderr}"
        );
        assert!(stderr.contains(reason), "{stderr}");
        assert!(
            !stderr.contains("\"d\":"),
            "no private key in the message: {stderr}"
        );
    }
}
