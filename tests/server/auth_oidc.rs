//! The OpenID Connect preset against a stand-in provider on loopback that speaks the wire format
//! (discovery, token endpoint, JWKS) and signs id tokens with its own P-256 key: the keys are
//! cached across sign-ins, and id tokens meant for another client or signed with an algorithm
//! other than their key's are refused. The full browser dance against the real npm
//! `oidc-provider` runs in end2end/tests/oauth.spec.ts.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, Mutex,
};

use axum::{
    extract::{Form, State},
    response::IntoResponse,
    routing::{get, post},
    Json, Router,
};
use ferrochat::contract::pkce;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{header, StatusCode};
use ring::{
    rand::SystemRandom,
    signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING},
};
use serde_json::{json, Value};

use crate::harness::{spawn_app_with, TestApp};

const CLIENT_ID: &str = "ferrochat-client";

/// What the next id token says, set by each test.
#[derive(Clone, Default)]
struct NextToken {
    /// Extra or replaced claims.
    claims: Value,
    /// The header's algorithm, if not the key's own.
    algorithm: Option<Algorithm>,
}

/// The stand-in provider's state.
struct Provider {
    issuer: String,
    pkcs8: Vec<u8>,
    jwk: Value,
    /// The nonce of the login in progress (from the authorize URL).
    nonce: Mutex<Option<String>>,
    next: Mutex<NextToken>,
    jwks_hits: AtomicU64,
    /// Where the token endpoint sends the caller instead of answering, if anywhere.
    redirect_token_to: Mutex<Option<String>>,
}

async fn fake_oidc() -> Arc<Provider> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref();
    let b64 = |bytes: &[u8]| ferrochat::crypto::base64url(bytes);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let provider = Arc::new(Provider {
        issuer: issuer.clone(),
        pkcs8: pkcs8.as_ref().to_vec(),
        jwk: json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "kid": "provider-key",
            "x": b64(&point[1..33]), "y": b64(&point[33..65]),
        }),
        nonce: Mutex::new(None),
        next: Mutex::new(NextToken::default()),
        jwks_hits: AtomicU64::new(0),
        redirect_token_to: Mutex::new(None),
    });
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(|State(p): State<Arc<Provider>>| async move {
                Json(json!({
                    "issuer": p.issuer,
                    "authorization_endpoint": format!("{}/authorize", p.issuer),
                    "token_endpoint": format!("{}/token", p.issuer),
                    "jwks_uri": format!("{}/jwks", p.issuer),
                }))
            }),
        )
        .route(
            "/jwks",
            get(|State(p): State<Arc<Provider>>| async move {
                p.jwks_hits.fetch_add(1, Ordering::SeqCst);
                Json(json!({ "keys": [p.jwk] }))
            }),
        )
        .route(
            "/token",
            post(
                |State(p): State<Arc<Provider>>, Form(form): Form<Vec<(String, String)>>| async move {
                    if let Some(elsewhere) = p.redirect_token_to.lock().unwrap().clone() {
                        return axum::response::Redirect::temporary(&elsewhere).into_response();
                    }
                    let field =
                        |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
                    assert_eq!(field("client_id").as_deref(), Some(CLIENT_ID));
                    assert_eq!(field("code").as_deref(), Some("provider-code"));
                    let next = p.next.lock().unwrap().clone();
                    let now = ferrochat::auth_service::now();
                    let mut claims = json!({
                        "iss": p.issuer, "aud": CLIENT_ID, "sub": "oidc-subject-1",
                        "email": "oidc-user@example.test", "email_verified": true,
                        "nonce": p.nonce.lock().unwrap().clone(),
                        "iat": now, "exp": now + 300,
                    });
                    if let Some(extra) = next.claims.as_object() {
                        for (key, value) in extra {
                            claims[key] = value.clone();
                        }
                    }
                    let mut header = Header::new(next.algorithm.unwrap_or(Algorithm::ES256));
                    header.kid = Some("provider-key".into());
                    let id_token = jsonwebtoken::encode(
                        &header,
                        &claims,
                        &EncodingKey::from_ec_der(&p.pkcs8),
                    )
                    .unwrap_or_else(|_| {
                        // An algorithm the key cannot sign with: a header naming it over an
                        // ES256 signature, as a forger would send.
                        let genuine = jsonwebtoken::encode(
                            &Header { kid: Some("provider-key".into()), ..Header::new(Algorithm::ES256) },
                            &claims,
                            &EncodingKey::from_ec_der(&p.pkcs8),
                        )
                        .unwrap();
                        let forged_header = ferrochat::crypto::base64url(
                            json!({ "alg": format!("{:?}", next.algorithm.unwrap()), "kid": "provider-key" })
                                .to_string()
                                .as_bytes(),
                        );
                        let rest = genuine.split_once('.').unwrap().1;
                        format!("{forged_header}.{rest}")
                    });
                    Json(json!({ "access_token": "opaque", "token_type": "Bearer", "id_token": id_token })).into_response()
                },
            ),
        )
        .with_state(provider.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    provider
}

async fn app_with(provider: &Provider) -> TestApp {
    spawn_app_with(&[
        ("FERROCHAT_OIDC_CLIENT_ID", CLIENT_ID),
        ("FERROCHAT_OIDC_CLIENT_SECRET", "oidc-secret"),
        ("FERROCHAT_OIDC_ISSUER", &provider.issuer),
    ])
    .await
}

/// `/authorize` (PKCE) → the provider → `/callback`; returns where the browser is sent and
/// the verifier of the flow.
async fn dance(app: &TestApp, provider: &Provider) -> (url::Url, String) {
    let verifier = pkce::new_verifier();
    let authorize = app
        .get(&format!(
            "/auth/v1/authorize?provider=oidc&code_challenge={}&code_challenge_method=s256",
            pkce::challenge(&verifier)
        ))
        .await;
    assert_eq!(authorize.status(), StatusCode::SEE_OTHER);
    let upstream =
        url::Url::parse(authorize.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    let param = |name: &str| {
        upstream
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    *provider.nonce.lock().unwrap() = Some(param("nonce"));
    let cookie = authorize.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let callback = app
        .client
        .get(app.url(&format!(
            "/auth/v1/callback?code=provider-code&state={}",
            param("state")
        )))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status(), StatusCode::SEE_OTHER);
    let landing = url::Url::parse(callback.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    (landing, verifier)
}

fn query(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn provider_keys_are_fetched_once_for_many_sign_ins() {
    let provider = fake_oidc().await;
    let app = app_with(&provider).await;
    for _ in 0..3 {
        let (landing, verifier) = dance(&app, &provider).await;
        let code = query(&landing, "code").unwrap_or_else(|| panic!("no code in {landing}"));
        let session: Value = app
            .auth_post(
                "/token?grant_type=pkce",
                &json!({ "auth_code": code, "code_verifier": verifier }),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(session["user"]["email"], "oidc-user@example.test");
    }
    assert_eq!(provider.jwks_hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_id_token_for_another_client_is_refused() {
    let provider = fake_oidc().await;
    let app = app_with(&provider).await;
    for claims in [
        // Issued for two clients, authorized party someone else.
        json!({ "aud": [CLIENT_ID, "other-client"], "azp": "other-client" }),
        // Two audiences and no authorized party.
        json!({ "aud": [CLIENT_ID, "other-client"] }),
        // One audience, ours, but issued to another party.
        json!({ "azp": "other-client" }),
        json!({ "aud": "other-client" }),
    ] {
        provider.next.lock().unwrap().claims = claims.clone();
        let (landing, _) = dance(&app, &provider).await;
        assert_eq!(query(&landing, "code"), None, "{claims}");
        assert_eq!(
            query(&landing, "error_code").as_deref(),
            Some("bad_oauth_callback"),
            "{claims}"
        );
    }
    provider.next.lock().unwrap().claims =
        json!({ "aud": [CLIENT_ID, "other-client"], "azp": CLIENT_ID });
    let (landing, _) = dance(&app, &provider).await;
    assert!(query(&landing, "code").is_some(), "the control: {landing}");
}

#[tokio::test]
async fn an_id_token_whose_header_names_another_algorithm_than_its_key_is_refused() {
    let provider = fake_oidc().await;
    let app = app_with(&provider).await;
    for algorithm in [Algorithm::ES384, Algorithm::HS256, Algorithm::RS256] {
        provider.next.lock().unwrap().algorithm = Some(algorithm);
        let (landing, _) = dance(&app, &provider).await;
        assert_eq!(query(&landing, "code"), None, "{algorithm:?}");
        assert_eq!(
            query(&landing, "error_code").as_deref(),
            Some("bad_oauth_callback")
        );
    }
}

#[tokio::test]
async fn an_id_token_for_another_login_is_refused_by_its_nonce() {
    let provider = fake_oidc().await;
    let app = app_with(&provider).await;
    // A token the provider issued for an earlier login of this browser, replayed.
    provider.next.lock().unwrap().claims = json!({ "nonce": "the-nonce-of-another-login" });
    let (landing, _) = dance(&app, &provider).await;
    assert_eq!(query(&landing, "code"), None);
    assert_eq!(
        query(&landing, "error_code").as_deref(),
        Some("bad_oauth_callback")
    );
}

#[tokio::test]
async fn a_callback_without_the_browsers_state_cookie_is_refused() {
    let provider = fake_oidc().await;
    let app = app_with(&provider).await;
    let verifier = pkce::new_verifier();
    let authorize = app
        .get(&format!(
            "/auth/v1/authorize?provider=oidc&code_challenge={}&code_challenge_method=s256",
            pkce::challenge(&verifier)
        ))
        .await;
    let upstream =
        url::Url::parse(authorize.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    let state = upstream
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    // The right state, but from a browser that did not start this sign-in (no cookie).
    let callback = app
        .get(&format!(
            "/auth/v1/callback?code=provider-code&state={state}"
        ))
        .await;
    assert_eq!(callback.status(), StatusCode::SEE_OTHER);
    let landing = url::Url::parse(callback.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    assert_eq!(query(&landing, "code"), None);
    let error_code = landing
        .query_pairs()
        .chain(url::form_urlencoded::parse(
            landing.fragment().unwrap_or("").as_bytes(),
        ))
        .find(|(k, _)| k == "error_code")
        .map(|(_, v)| v.into_owned());
    assert_eq!(error_code.as_deref(), Some("bad_oauth_state"));
}

#[tokio::test]
async fn a_provider_that_redirects_its_server_calls_elsewhere_is_not_followed() {
    // A "provider" whose token endpoint sends the server to another host: the code and the
    // client secret must not follow it there.
    let elsewhere_hits = Arc::new(AtomicU64::new(0));
    let hits = elsewhere_hits.clone();
    let elsewhere = Router::new().fallback(move || {
        let hits = hits.clone();
        async move {
            hits.fetch_add(1, Ordering::SeqCst);
            "stolen"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, elsewhere).await });
    let provider = fake_oidc().await;
    *provider.redirect_token_to.lock().unwrap() = Some(format!("{elsewhere_url}/token"));
    let app = app_with(&provider).await;
    let (landing, _) = dance(&app, &provider).await;
    assert_eq!(query(&landing, "code"), None);
    assert_eq!(
        query(&landing, "error_code").as_deref(),
        Some("bad_oauth_callback")
    );
    assert_eq!(
        elsewhere_hits.load(Ordering::SeqCst),
        0,
        "the redirect was not followed"
    );
}
