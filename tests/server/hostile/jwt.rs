//! Forged, altered and stale access tokens. Each case is refused by both verifiers that guard
//! data: the embedded service (`GET /auth/v1/user` → 403 `bad_jwt`) and the app's own
//! (`GET /api/sessions` → 401), while the genuine token, re-signed with the real key, passes both
//! (so a case cannot pass because the harness broke every token).

use jsonwebtoken::{jwk::Jwk, Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{
    app_auth::jwks_verifier,
    harness::{claims_of, spawn_app, spawn_app_with, unique_email, TestApp},
    key_confusion,
};

/// A signed-up person's app, their genuine token and what a forger starts from.
struct Victim {
    app: TestApp,
    token: String,
    claims: Value,
    kid: String,
    key: EncodingKey,
}

impl Victim {
    async fn new() -> Self {
        let app = spawn_app().await;
        let session = app.sign_up(&unique_email(), "password one").await;
        let token = session["access_token"].as_str().unwrap().to_owned();
        let (kid, der): (String, Vec<u8>) =
            sqlx::query_as("SELECT kid, private_der FROM signing_keys WHERE retired_at IS NULL")
                .fetch_one(app.store.pool())
                .await
                .unwrap();
        let victim = Victim {
            claims: claims_of(&token),
            app,
            token,
            kid,
            key: EncodingKey::from_ec_der(&der),
        };
        // The control: the genuine token, and the same claims re-signed, pass both verifiers.
        accepted_everywhere(&victim.app, &victim.token).await;
        accepted_everywhere(&victim.app, &victim.signed(&victim.claims)).await;
        victim
    }

    /// `claims` signed with the real key under its real `kid`.
    fn signed(&self, claims: &Value) -> String {
        self.signed_with_header(self.header(), claims)
    }

    fn signed_with_header(&self, header: Header, claims: &Value) -> String {
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }

    /// The real key's header: ES256 and its kid.
    fn header(&self) -> Header {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        header
    }

    /// The genuine claims with `name` set to `value`, signed with the real key.
    fn with_claim(&self, name: &str, value: Value) -> String {
        let mut claims = self.claims.clone();
        claims[name] = value;
        self.signed(&claims)
    }

    /// The genuine token's three parts.
    fn parts(&self) -> Vec<String> {
        self.token.split('.').map(str::to_owned).collect()
    }

    /// The app's public key, as its JWKS publishes it.
    async fn jwk(&self) -> Value {
        self.app
            .get("/auth/v1/.well-known/jwks.json")
            .await
            .json::<Value>()
            .await
            .unwrap()["keys"][0]
            .clone()
    }
}

fn b64(value: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

/// What the service and the app answer to `token`: (service status, app status).
async fn verdicts(app: &TestApp, token: &str) -> (StatusCode, Value, StatusCode) {
    let service = app.get_user(token).await;
    let service_status = service.status();
    let service_body = service.json::<Value>().await.unwrap_or(Value::Null);
    let api = app
        .client
        .get(app.url("/api/sessions"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (service_status, service_body, api.status())
}

async fn accepted_everywhere(app: &TestApp, token: &str) {
    let (service, _, api) = verdicts(app, token).await;
    assert_eq!((service, api), (StatusCode::OK, StatusCode::OK), "control");
}

async fn refused_everywhere(app: &TestApp, token: &str) {
    let (service, body, api) = verdicts(app, token).await;
    assert_eq!(service, StatusCode::FORBIDDEN, "the service: {body}");
    assert_eq!(body["error_code"], "bad_jwt", "{body}");
    assert_eq!(api, StatusCode::UNAUTHORIZED, "the app");
}

#[tokio::test]
async fn alg_none_is_refused() {
    let victim = Victim::new().await;
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({ "alg": alg, "typ": "JWT", "kid": victim.kid });
        let forged = format!("{}.{}.", b64(&header), victim.parts()[1]);
        refused_everywhere(&victim.app, &forged).await;
    }
}

#[tokio::test]
async fn hs256_keyed_with_our_public_key_is_refused() {
    let victim = Victim::new().await;
    let jwk = victim.jwk().await;
    for (_, forged) in key_confusion::hs256_forgeries(&jwk, &victim.claims, &victim.token) {
        refused_everywhere(&victim.app, &forged).await;
    }
}

#[tokio::test]
async fn an_algorithm_we_do_not_allow_is_refused() {
    let victim = Victim::new().await;
    let pem = key_confusion::spki_pem(&victim.jwk().await);
    for algorithm in [Algorithm::HS384, Algorithm::HS512] {
        let mut header = Header::new(algorithm);
        header.kid = Some(victim.kid.clone());
        let forged = jsonwebtoken::encode(
            &header,
            &victim.claims,
            &EncodingKey::from_secret(pem.as_bytes()),
        )
        .unwrap();
        refused_everywhere(&victim.app, &forged).await;
    }
    // ES256's signature relabelled as ES384: the key's curve decides, not the header.
    let parts = victim.parts();
    let relabelled = json!({ "alg": "ES384", "typ": "JWT", "kid": victim.kid });
    let forged = format!("{}.{}.{}", b64(&relabelled), parts[1], parts[2]);
    refused_everywhere(&victim.app, &forged).await;
}

#[tokio::test]
async fn a_tampered_signature_is_refused() {
    let victim = Victim::new().await;
    let parts = victim.parts();
    let mut signature = parts[2].clone().into_bytes();
    signature[5] = if signature[5] == b'A' { b'B' } else { b'A' };
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        String::from_utf8(signature).unwrap()
    );
    refused_everywhere(&victim.app, &forged).await;
}

#[tokio::test]
async fn a_tampered_payload_is_refused() {
    let victim = Victim::new().await;
    let mut claims = victim.claims.clone();
    claims["sub"] = json!(uuid::Uuid::new_v4().to_string());
    let parts = victim.parts();
    let forged = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    refused_everywhere(&victim.app, &forged).await;
}

#[tokio::test]
async fn a_kid_pointing_at_nothing_is_refused() {
    let victim = Victim::new().await;
    let mut header = victim.header();
    header.kid = Some("no-such-key".into());
    refused_everywhere(
        &victim.app,
        &victim.signed_with_header(header, &victim.claims),
    )
    .await;
    let mut header = victim.header();
    header.kid = None;
    refused_everywhere(
        &victim.app,
        &victim.signed_with_header(header, &victim.claims),
    )
    .await;
}

#[tokio::test]
async fn a_kid_with_path_traversal_is_refused() {
    let victim = Victim::new().await;
    for kid in [
        "../../../../../../dev/null",
        "/dev/null",
        "..%2F..%2F..%2Fetc%2Fpasswd",
    ] {
        // The classic: a kid naming an empty file, and an HMAC keyed with its empty content.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.into());
        let empty_key =
            jsonwebtoken::encode(&header, &victim.claims, &EncodingKey::from_secret(b"")).unwrap();
        refused_everywhere(&victim.app, &empty_key).await;
        let mut header = victim.header();
        header.kid = Some(kid.into());
        refused_everywhere(
            &victim.app,
            &victim.signed_with_header(header, &victim.claims),
        )
        .await;
    }
}

#[tokio::test]
async fn a_kid_with_sql_is_refused_and_runs_nothing() {
    let victim = Victim::new().await;
    let keys_before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys")
        .fetch_one(victim.app.store.pool())
        .await
        .unwrap();
    for kid in [
        "x' UNION SELECT 'secret' --",
        "x'; DELETE FROM signing_keys; --",
        &format!("{}' OR '1'='1", victim.kid),
    ] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.to_owned());
        let keyed_with_secret = jsonwebtoken::encode(
            &header,
            &victim.claims,
            &EncodingKey::from_secret(b"secret"),
        )
        .unwrap();
        refused_everywhere(&victim.app, &keyed_with_secret).await;
        let mut header = victim.header();
        header.kid = Some(kid.to_owned());
        refused_everywhere(
            &victim.app,
            &victim.signed_with_header(header, &victim.claims),
        )
        .await;
    }
    let keys_after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys")
        .fetch_one(victim.app.store.pool())
        .await
        .unwrap();
    assert_eq!(keys_after, keys_before);
    accepted_everywhere(&victim.app, &victim.token).await;
}

/// A key the attacker holds: another instance's (another project's) signing key, its public JWK
/// and where that instance publishes it.
struct AttackerKey {
    kid: String,
    key: EncodingKey,
    jwk: Value,
    jwks_url: String,
    _project: TestApp,
}

async fn attacker_key() -> AttackerKey {
    let project = spawn_app().await;
    let (kid, der): (String, Vec<u8>) =
        sqlx::query_as("SELECT kid, private_der FROM signing_keys WHERE retired_at IS NULL")
            .fetch_one(project.store.pool())
            .await
            .unwrap();
    let jwks_url = project.url("/auth/v1/.well-known/jwks.json");
    let jwk = project
        .get("/auth/v1/.well-known/jwks.json")
        .await
        .json::<Value>()
        .await
        .unwrap()["keys"][0]
        .clone();
    AttackerKey {
        kid,
        key: EncodingKey::from_ec_der(&der),
        jwk,
        jwks_url,
        _project: project,
    }
}

impl AttackerKey {
    fn sign(&self, header: Header, claims: &Value) -> String {
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }

    fn header(&self) -> Header {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        header
    }
}

#[tokio::test]
async fn a_jku_header_is_ignored() {
    let victim = Victim::new().await;
    let attacker = attacker_key().await;
    let mut header = attacker.header();
    header.jku = Some(attacker.jwks_url.clone());
    refused_everywhere(&victim.app, &attacker.sign(header, &victim.claims)).await;
    // Naming our kid does not help either: the key comes from our JWKS, not from the header.
    let mut header = attacker.header();
    header.kid = Some(victim.kid.clone());
    header.jku = Some(attacker.jwks_url.clone());
    refused_everywhere(&victim.app, &attacker.sign(header, &victim.claims)).await;
}

#[tokio::test]
async fn an_x5u_header_is_ignored() {
    let victim = Victim::new().await;
    let attacker = attacker_key().await;
    for kid in [attacker.kid.clone(), victim.kid.clone()] {
        let mut header = attacker.header();
        header.kid = Some(kid);
        header.x5u = Some(attacker.jwks_url.clone());
        refused_everywhere(&victim.app, &attacker.sign(header, &victim.claims)).await;
    }
}

#[tokio::test]
async fn an_embedded_jwk_header_is_ignored() {
    let victim = Victim::new().await;
    let attacker = attacker_key().await;
    let jwk: Jwk = serde_json::from_value(attacker.jwk.clone()).unwrap();
    for kid in [attacker.kid.clone(), victim.kid.clone()] {
        let mut header = attacker.header();
        header.kid = Some(kid);
        header.jwk = Some(jwk.clone());
        refused_everywhere(&victim.app, &attacker.sign(header, &victim.claims)).await;
    }
}

#[tokio::test]
async fn a_token_signed_by_another_projects_key_is_refused() {
    let victim = Victim::new().await;
    let attacker = attacker_key().await;
    // The same claims, issuer and audience, signed by another instance's own key.
    refused_everywhere(
        &victim.app,
        &attacker.sign(attacker.header(), &victim.claims),
    )
    .await;
}

#[tokio::test]
async fn a_token_from_another_projects_secret_is_refused() {
    let ours = "the-secret-of-this-project-0123456789abc";
    let theirs = "the-secret-of-another-project-987654321";
    let app = spawn_app_with(&[
        ("FERROCHAT_JWT_ALGORITHM", "HS256"),
        ("FERROCHAT_JWT_SECRET", ours),
    ])
    .await;
    let session = app.sign_up(&unique_email(), "password one").await;
    let token = session["access_token"].as_str().unwrap();
    accepted_everywhere(&app, token).await;
    let claims = claims_of(token);
    let sign = |secret: &str| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    accepted_everywhere(&app, &sign(ours)).await;
    refused_everywhere(&app, &sign(theirs)).await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let victim = Victim::new().await;
    let iat = victim.claims["iat"].as_i64().unwrap();
    let mut claims = victim.claims.clone();
    // Past the 10 s leeway.
    claims["exp"] = json!(iat - 30);
    claims["iat"] = json!(iat - 3630);
    refused_everywhere(&victim.app, &victim.signed(&claims)).await;
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused() {
    let victim = Victim::new().await;
    let iat = victim.claims["iat"].as_i64().unwrap();
    refused_everywhere(&victim.app, &victim.with_claim("nbf", json!(iat + 600))).await;
}

#[tokio::test]
async fn a_wrong_issuer_is_refused() {
    let victim = Victim::new().await;
    for issuer in [
        json!("https://evil.example/auth/v1"),
        json!(victim.app.url("/auth/v1/")),
        json!(null),
    ] {
        refused_everywhere(&victim.app, &victim.with_claim("iss", issuer)).await;
    }
}

#[tokio::test]
async fn a_wrong_audience_is_refused() {
    let victim = Victim::new().await;
    for audience in [json!("anon"), json!("service_role"), json!([]), json!(null)] {
        refused_everywhere(&victim.app, &victim.with_claim("aud", audience)).await;
    }
}

#[tokio::test]
async fn a_role_other_than_authenticated_is_refused() {
    let victim = Victim::new().await;
    for role in ["service_role", "anon", "supabase_admin", "postgres", ""] {
        let token = victim.with_claim("role", json!(role));
        let (_, _, api) = verdicts(&victim.app, &token).await;
        assert_eq!(api, StatusCode::UNAUTHORIZED, "the app, role {role:?}");
    }
}

#[tokio::test]
async fn duplicate_claims_are_refused() {
    let victim = Victim::new().await;
    let genuine = victim.claims.to_string();
    let body = genuine.trim_end_matches('}');
    let other = uuid::Uuid::new_v4();
    for duplicate in [
        r#""role":"service_role""#.to_owned(),
        format!(r#""sub":"{other}""#),
        r#""aud":"anon""#.to_owned(),
        r#""exp":9999999999"#.to_owned(),
    ] {
        // Two values for one claim: a parser that keeps the first and one that keeps the last
        // would disagree about who this is; ours refuses the token.
        use base64::Engine as _;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{body},{duplicate}}}"));
        let header = b64(&serde_json::to_value(victim.header()).unwrap());
        let message = format!("{header}.{payload}");
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &victim.key, Algorithm::ES256).unwrap();
        refused_everywhere(&victim.app, &format!("{message}.{signature}")).await;
    }
}

#[tokio::test]
async fn a_megabyte_token_is_refused_fast() {
    let victim = Victim::new().await;
    let parts = victim.parts();
    let mut claims = victim.claims.clone();
    claims["padding"] = json!("a".repeat(1 << 20));
    for forged in [
        format!("{}.{}.{}", parts[0], b64(&claims), parts[2]),
        victim.signed(&claims),
    ] {
        let started = std::time::Instant::now();
        for request in [
            victim.app.client.get(victim.app.url("/auth/v1/user")),
            victim.app.client.get(victim.app.url("/api/sessions")),
        ] {
            let response = request.bearer_auth(&forged).send().await.unwrap();
            assert!(response.status().is_client_error(), "{}", response.status());
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
    accepted_everywhere(&victim.app, &victim.token).await;
}

#[tokio::test]
async fn a_token_signed_with_a_rotated_out_key_after_its_grace_is_refused() {
    let victim = Victim::new().await;
    let old_key_token = victim.signed(&victim.claims);
    ferrochat::auth_service::keys::rotate(victim.app.store.pool(), std::time::Duration::ZERO)
        .await
        .unwrap();
    // Its grace (the life of the tokens it signed) has passed.
    sqlx::query(
        "UPDATE signing_keys SET retired_at = retired_at - 3700 WHERE retired_at IS NOT NULL",
    )
    .execute(victim.app.store.pool())
    .await
    .unwrap();
    victim.app.reload_keys().await;
    let (service, body, _) = verdicts(&victim.app, &old_key_token).await;
    assert_eq!(
        (service, &body["error_code"]),
        (StatusCode::FORBIDDEN, &json!("bad_jwt"))
    );
    // A verifier that reads the JWKS now (any app's, once its cache is older than its max age).
    assert!(jwks_verifier(&victim.app)
        .verify(&old_key_token)
        .await
        .is_err());
}

/// The session cookie's JSON with its access token replaced by `token`, re-encoded as the
/// browser would send it.
fn cookie_with_access_token(cookies: &str, token: &str) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    let (name, value) = cookies
        .split("; ")
        .find(|c| c.contains("-auth-token="))
        .and_then(|c| c.split_once('='))
        .expect("one session cookie");
    let json = URL_SAFE_NO_PAD
        .decode(value.strip_prefix("base64-").unwrap())
        .unwrap();
    let mut session: Value = serde_json::from_slice(&json).unwrap();
    session["access_token"] = json!(token);
    format!(
        "{name}=base64-{}",
        URL_SAFE_NO_PAD.encode(session.to_string())
    )
}

/// A forged access token in one's own session cookie (claiming another person) never shows the
/// other person's data: at most the cookie's own refresh token signs its owner back in.
#[tokio::test]
async fn a_forged_token_in_the_session_cookie_never_shows_anothers_data() {
    let victim = Victim::new().await;
    let victim_email = victim.claims["email"].as_str().unwrap().to_owned();
    let attacker_email = unique_email();
    victim.app.sign_up(&attacker_email, "password two").await;
    let cookies = crate::harness::cookies_from(
        &victim
            .app
            .submit_login(&attacker_email, "password two")
            .await,
    );
    let parts = victim.parts();
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "JWT", "kid": victim.kid })),
        parts[1]
    );
    let pem = key_confusion::spki_pem(&victim.jwk().await);
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(victim.kid.clone());
    let confused = jsonwebtoken::encode(
        &header,
        &victim.claims,
        &EncodingKey::from_secret(pem.as_bytes()),
    )
    .unwrap();
    for forged in [alg_none, confused] {
        let page = victim
            .app
            .page_with_cookies("/chat", &cookie_with_access_token(&cookies, &forged))
            .await;
        let status = page.status();
        let html = page.text().await.unwrap();
        assert!(!html.contains(&victim_email), "the victim's page was shown");
        assert!(status.is_success() || status.is_redirection(), "{status}");
        // Either the cookie's owner, refreshed by their own refresh token, or signed out.
        assert!(
            html.contains(&attacker_email) || page_is_sign_in(&html),
            "{}",
            &html[..html.len().min(400)]
        );
    }
}

fn page_is_sign_in(html: &str) -> bool {
    html.is_empty() || html.contains("Sign in")
}

/// Through the running app, as an attacker would send them: 200 tokens with made-up kids cost
/// at most one JWKS fetch (the refetch interval is 30 s), and each is refused.
#[tokio::test]
async fn a_flood_of_unknown_kids_through_the_app_is_not_a_flood_of_jwks_fetches() {
    let victim = Victim::new().await;
    let before = victim.app.state.sessions.verifier.jwks_fetches();
    let flood: Vec<_> = (0..200)
        .map(|n| {
            let mut header = victim.header();
            header.kid = Some(format!("made-up-{n}"));
            let token = victim.signed_with_header(header, &victim.claims);
            let client = victim.app.client.clone();
            let url = victim.app.url("/api/sessions");
            tokio::spawn(async move { client.get(url).bearer_auth(token).send().await })
        })
        .collect();
    for request in flood {
        let response = request.await.unwrap().unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let fetches = victim.app.state.sessions.verifier.jwks_fetches() - before;
    assert!(fetches <= 1, "{fetches} JWKS fetches for 200 unknown kids");
    accepted_everywhere(&victim.app, &victim.token).await;
}
