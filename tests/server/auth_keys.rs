//! Access tokens: claims, JWKS, what verification refuses, key rotation, HS256 mode.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{
    harness::{claims_of, spawn_app, spawn_app_with, unique_email, TestApp},
    key_confusion,
};

async fn jwks(app: &TestApp) -> Value {
    app.get("/auth/v1/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap()
}

/// The current signing key, read from the database: lets a test mint tokens the way an attacker
/// who had the key could, to check every claim is enforced.
async fn signing_key(app: &TestApp) -> (String, EncodingKey) {
    let (kid, der): (String, Vec<u8>) =
        sqlx::query_as("SELECT kid, private_der FROM signing_keys WHERE retired_at IS NULL")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    (kid, EncodingKey::from_ec_der(&der))
}

async fn status_with(app: &TestApp, token: &str) -> (StatusCode, Value) {
    let response = app.get_user(token).await;
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn access_tokens_carry_supabase_claims_and_verify_against_the_jwks() {
    let app = spawn_app().await;
    let email = unique_email();
    let session = app.sign_up(&email, "password one").await;
    let token = session["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks(&app).await).unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("the kid is published");
    let raw = serde_json::to_value(jwk).unwrap();
    assert!(raw.get("d").is_none(), "no private part");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&["authenticated"]);
    validation.set_issuer(&[app.url("/auth/v1")]);
    let claims: Value =
        jsonwebtoken::decode(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .unwrap()
            .claims;
    assert_eq!(claims["sub"], session["user"]["id"]);
    assert_eq!(claims["email"], email.as_str());
    assert_eq!(claims["role"], "authenticated");
    assert_eq!(claims["aal"], "aal1");
    assert_eq!(claims["amr"][0]["method"], "password");
    assert_eq!(claims["app_metadata"]["providers"], json!(["email"]));
    assert_eq!(claims["is_anonymous"], false);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert!(claims["session_id"]
        .as_str()
        .is_some_and(|id| id.len() == 36));
}

#[tokio::test]
async fn forged_tampered_and_stale_tokens_are_refused() {
    let app = spawn_app().await;
    let session = app.sign_up(&unique_email(), "password one").await;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let claims = claims_of(&token);
    let (kid, key) = signing_key(&app).await;
    let sign = |claims: &Value| {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    };
    assert_eq!(
        status_with(&app, &sign(&claims)).await.0,
        StatusCode::OK,
        "the control"
    );

    let parts: Vec<&str> = token.split('.').collect();
    let b64 = |value: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    };
    let mut elevated = claims.clone();
    elevated["role"] = json!("service_role");
    let jwk = jwks(&app).await["keys"][0].clone();
    let now = claims["iat"].as_i64().unwrap();
    let with = |key: &str, value: Value| {
        let mut changed = claims.clone();
        changed[key] = value;
        sign(&changed)
    };
    let forgeries = [
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
                parts[1]
            ),
        ),
        (
            "tampered payload",
            format!("{}.{}.{}", parts[0], b64(&elevated), parts[2]),
        ),
        ("expired", {
            let mut c = claims.clone();
            c["exp"] = json!(now - 120);
            c["iat"] = json!(now - 3720);
            sign(&c)
        }),
        ("wrong audience", with("aud", json!("anon"))),
        (
            "wrong issuer",
            with("iss", json!("https://evil.example/auth/v1")),
        ),
        ("unknown kid", {
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some("no-such-key".into());
            jsonwebtoken::encode(&header, &claims, &key).unwrap()
        }),
        (
            "oversized",
            format!("{}.{}.{}", parts[0], "a".repeat(9000), parts[2]),
        ),
    ];
    let confused = key_confusion::hs256_forgeries(&jwk, &claims, &token);
    for (what, forged) in forgeries.into_iter().chain(confused) {
        let (status, body) = status_with(&app, &forged).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
        assert_eq!(body["error_code"], "bad_jwt", "{what}");
    }
}

#[tokio::test]
async fn a_rotated_key_is_published_at_once_and_signs_after_its_lead_without_a_restart() {
    let app = spawn_app().await;
    let email = unique_email();
    let before = app.sign_up(&email, "password one").await;
    let kid_of = |session: &Value| {
        jsonwebtoken::decode_header(session["access_token"].as_str().unwrap())
            .unwrap()
            .kid
            .unwrap()
    };
    let old_kid = kid_of(&before);

    // As `ferrochat rotate-signing-key` does, from another process: only the database changes.
    // The lead covers the sign-in below with room to spare: `activates_at` is in whole seconds,
    // so a 2 s lead could leave 1.1 s, and a sign-in on a loaded 2-core machine (the Postgres
    // suite beside a cold release build) once took longer.
    let lead = std::time::Duration::from_secs(10);
    let (new_kid, activates_at) = ferrochat::auth_service::keys::rotate(app.store.pool(), lead)
        .await
        .unwrap();
    assert_ne!(new_kid, old_kid);
    let published: Vec<String> = jwks(&app).await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        published,
        [new_kid.clone(), old_kid.clone()],
        "the running server publishes the new key at once, the old one still"
    );
    assert_eq!(
        kid_of(&app.sign_in(&email, "password one").await),
        old_kid,
        "the new key does not sign before its time"
    );
    // The signer's clock, in whole seconds: this sleeps until at least 1.1 s past the activation.
    let until_active = (activates_at - ferrochat::auth_service::now()).max(0) as u64;
    tokio::time::sleep(
        std::time::Duration::from_secs(until_active) + std::time::Duration::from_millis(1100),
    )
    .await;
    assert_eq!(
        kid_of(&app.sign_in(&email, "password one").await),
        new_kid,
        "and signs after it, with no restart"
    );
    // The old key's tokens still verify until they expire.
    let (status, _) = status_with(&app, before["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn retired_keys_leave_the_jwks_once_their_tokens_have_expired() {
    let app = spawn_app().await;
    ferrochat::auth_service::keys::rotate(app.store.pool(), std::time::Duration::ZERO)
        .await
        .unwrap();
    // Pretend the rotation happened longer ago than a token lives.
    sqlx::query(
        "UPDATE signing_keys SET retired_at = retired_at - 3700 WHERE retired_at IS NOT NULL",
    )
    .execute(app.store.pool())
    .await
    .unwrap();
    app.reload_keys().await;
    assert_eq!(jwks(&app).await["keys"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn hs256_mode_signs_with_the_shared_secret() {
    let secret = "a-legacy-supabase-jwt-secret-of-32+chars";
    let app = spawn_app_with(&[
        ("FERROCHAT_JWT_ALGORITHM", "HS256"),
        ("FERROCHAT_JWT_SECRET", secret),
    ])
    .await;
    let session = app.sign_up(&unique_email(), "password one").await;
    let token = session["access_token"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(token).unwrap().alg,
        Algorithm::HS256
    );
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["authenticated"]);
    let claims = jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    );
    assert!(claims.is_ok(), "{claims:?}");
    assert_eq!(jwks(&app).await, json!({ "keys": [] }));
    let wrong = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims_of(token),
        &EncodingKey::from_secret(b"another secret of thirty-two chars"),
    )
    .unwrap();
    assert_eq!(app.get_user(&wrong).await.status(), StatusCode::FORBIDDEN);
}
