//! What signing in costs a request: the pieces of the session middleware timed one by one (the
//! profile that found the cost), JWT verification against raw `jsonwebtoken`, and the
//! `auth/current_user` server function with and without a session cookie, before (the session's
//! status read from the database on every request) and after (`FERROCHAT_SESSION_STATUS_CACHE_MS`
//! at its default), with HS256 and ES256, side by side.

use std::time::Duration;

use ferrochat::{
    auth::{
        client::AuthClient,
        verify::{KeySource, Verifier},
    },
    auth_service::session_status::is_active,
    contract::{
        claims::{validation, AccessClaims},
        cookies::CookieTokens,
    },
};
use jsonwebtoken::{jwk::JwkSet, Algorithm, DecodingKey};
use reqwest::{
    header::{HeaderMap, HeaderValue, ACCEPT_ENCODING, CONTENT_TYPE, COOKIE},
    Method, StatusCode,
};
use tokio::time::Instant;

use crate::{
    harness::{claims_of, cookies_from, spawn_app_with, unique_email, TestApp},
    load::{compare, Target, Throughput},
    stats::Samples,
};

/// The HS256 apps' secret (at least 32 characters).
pub const HS256_SECRET: &str = "bench-only-secret-0123456789abcdef-0123456789";
const PASSWORD: &str = "bench-password-1234";
/// Calls of each piece timed, after as many not counted.
const PIECE_CALLS: u32 = 20_000;
/// Concurrent connections of the load runs (the wrk runs used 16).
pub const CONNECTIONS: usize = 16;
/// Length of one turn of one variant, and the number of turns.
pub const TURN: Duration = Duration::from_millis(1000);
pub const TURNS: usize = 10;

/// An app started for the auth figures, with one signed-in browser.
pub struct AuthApp {
    pub label: &'static str,
    pub algorithm: Algorithm,
    /// Its database, as ferrochat spells it.
    pub database_url: String,
    pub app: TestApp,
    /// The browser's `Cookie` header.
    pub cookie: String,
    pub access_token: String,
    pub session_id: String,
}

impl AuthApp {
    /// An app signing with `algorithm` on `database` (None: an SQLite file in its data
    /// directory); `remember` false turns the session status memory off (the code before the
    /// fix: one database read per request).
    pub async fn start(
        label: &'static str,
        algorithm: Algorithm,
        remember: bool,
        database: Option<&str>,
    ) -> Self {
        let mut vars = vec![];
        if let Some(url) = database {
            vars.push(("DATABASE_URL", url));
        }
        if algorithm == Algorithm::HS256 {
            vars.push(("FERROCHAT_JWT_ALGORITHM", "HS256"));
            vars.push(("FERROCHAT_JWT_SECRET", HS256_SECRET));
        }
        if !remember {
            vars.push(("FERROCHAT_SESSION_STATUS_CACHE_MS", "0"));
        }
        let app = spawn_app_with(&vars).await;
        let email = unique_email();
        app.sign_up(&email, PASSWORD).await;
        let cookie = cookies_from(&app.submit_login(&email, PASSWORD).await);
        let session = app
            .state
            .sessions
            .jar
            .load::<CookieTokens>(&cookie)
            .expect("the session cookie reads");
        let session_id = claims_of(&session.access_token)["session_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let database_url = database
            .map(str::to_owned)
            .unwrap_or_else(|| format!("sqlite://{}/ferrochat.db", app.data_dir.path().display()));
        AuthApp {
            label,
            algorithm,
            database_url,
            app,
            cookie,
            access_token: session.access_token,
            session_id,
        }
    }

    /// `POST /api/auth/current_user`, as the pages' JavaScript sends it, as `caller`.
    pub fn current_user(&self, caller: Caller) -> Target {
        let mut headers = HeaderMap::new();
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        // What a browser's fetch offers: the answer is compressed if the app chooses to.
        headers.insert(
            ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br, zstd"),
        );
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        match caller {
            Caller::SignedOut => {}
            Caller::SameBytes => {
                // As long as the session cookie, under a name that is no session's.
                let padding = "x".repeat(self.cookie.len().saturating_sub("padding=".len()));
                headers.insert(
                    COOKIE,
                    HeaderValue::from_str(&format!("padding={padding}")).unwrap(),
                );
            }
            Caller::SignedIn => {
                headers.insert(COOKIE, HeaderValue::from_str(&self.cookie).unwrap());
            }
        }
        Target {
            name: format!("{} current_user {caller:?}", self.label),
            method: Method::POST,
            url: self.app.url("/api/auth/current_user"),
            headers,
            body: Some(String::new()),
            expect: StatusCode::OK,
            then: Vec::new(),
        }
    }
}

/// Who calls `current_user`.
#[derive(Clone, Copy, Debug)]
pub enum Caller {
    SignedOut,
    /// Signed out, with a cookie as long as the session's: what the bytes alone cost.
    SameBytes,
    SignedIn,
}

/// One app's signed-out and signed-in throughput.
pub struct Overhead<'a> {
    pub app: &'a AuthApp,
    pub signed_out: Throughput,
    pub same_bytes: Throughput,
    pub signed_in: Throughput,
}

impl Overhead<'_> {
    /// How much more of the app's CPU a signed-in request costs: 0.05 is 5 %.
    pub fn extra_cost(&self) -> f64 {
        more(&self.signed_in, &self.signed_out)
    }

    /// How much more of the app's CPU a signed-out request with a cookie as long as the
    /// session's costs.
    pub fn bytes_cost(&self) -> f64 {
        more(&self.same_bytes, &self.signed_out)
    }

    /// How much fewer requests per second signed in than signed out: 0.05 is 5 % more time
    /// per request, the client's share and the scheduler's luck included.
    pub fn throughput_cost(&self) -> f64 {
        self.signed_out.per_second() / self.signed_in.per_second() - 1.0
    }
}

/// How much more app CPU a request of `this` took than one of `that`: the median over the turns
/// of the ratio within each turn. The two ran seconds apart in every turn, so a slow spell of the
/// machine (other jobs share its 2 cores) moves both sides of a ratio and one ratio of many,
/// where it would move a total one way.
fn more(this: &Throughput, that: &Throughput) -> f64 {
    median_ratio(&this.turns, &that.turns) - 1.0
}

/// The median over the turns of `this[turn] / that[turn]` (the mean of the two middle ratios
/// of an even number of turns).
fn median_ratio(this: &[Duration], that: &[Duration]) -> f64 {
    median_of(
        this.iter()
            .zip(that)
            .map(|(this, that)| this.as_secs_f64() / that.as_secs_f64())
            .collect(),
    )
}

/// The median of per-turn figures (the mean of the two middle ones of an even number).
fn median_of(mut figures: Vec<f64>) -> f64 {
    figures.sort_by(f64::total_cmp);
    let half = figures.len() / 2;
    if figures.len() % 2 == 0 {
        (figures[half - 1] + figures[half]) / 2.0
    } else {
        figures[half]
    }
}

/// `current_user` with and without the cookie on every app, all in turns.
pub async fn overhead<'a>(apps: &[&'a AuthApp]) -> Vec<Overhead<'a>> {
    let targets: Vec<Target> = apps
        .iter()
        .flat_map(|app| {
            [Caller::SignedOut, Caller::SameBytes, Caller::SignedIn]
                .map(|caller| app.current_user(caller))
        })
        .collect();
    let mut results = compare(&targets, CONNECTIONS, TURN, TURNS)
        .await
        .into_iter();
    apps.iter()
        .map(|app| Overhead {
            app,
            signed_out: results.next().unwrap(),
            same_bytes: results.next().unwrap(),
            signed_in: results.next().unwrap(),
        })
        .collect()
}

/// Calls of each variant per turn of the in-process comparison, and its turns.
pub const IN_PROCESS_CALLS: u32 = 2_000;
pub const IN_PROCESS_TURNS: usize = 21;

/// `current_user` signed in and signed out through the app's whole router, called in this
/// process one request at a time: every middleware, the server function and its answer, without
/// the network, the load generator or the scheduler (whose noise on this 2-core machine is
/// larger than the budget). Mean time per call of each turn, the variants taking turns.
pub struct InProcess {
    pub signed_out: Vec<Duration>,
    pub signed_in: Vec<Duration>,
    /// The protected read: the sidebar's list of chats (`chat/list`, the user has
    /// [`baseline::SESSIONS`]), signed in, in the same turns.
    pub read: Vec<Duration>,
}

impl InProcess {
    /// How much longer a signed-in call took: the median over the turns of each turn's ratio.
    pub fn extra_cost(&self) -> f64 {
        median_ratio(&self.signed_in, &self.signed_out) - 1.0
    }

    /// How much longer auth makes the protected read: in each turn, what being signed in added
    /// to `current_user` (auth, and answering with a user rather than `null`: more than auth
    /// alone), over the read's time less that; the median over the turns. The read itself cannot
    /// run without auth: it serves only a signed-in user.
    pub fn read_overhead(&self) -> f64 {
        median_of(
            self.signed_in
                .iter()
                .zip(&self.signed_out)
                .zip(&self.read)
                .map(|((signed_in, signed_out), read)| {
                    let auth = signed_in.as_secs_f64() - signed_out.as_secs_f64();
                    auth / (read.as_secs_f64() - auth)
                })
                .collect(),
        )
    }

    pub fn read_median(&self) -> Duration {
        median(&self.read)
    }

    pub fn signed_out_median(&self) -> Duration {
        median(&self.signed_out)
    }

    pub fn signed_in_median(&self) -> Duration {
        median(&self.signed_in)
    }
}

/// The median of the turns' times.
fn median(turns: &[Duration]) -> Duration {
    let mut samples = Samples::default();
    samples.extend(turns.iter().copied());
    samples.median()
}

/// See [`InProcess`].
pub async fn in_process(app: &AuthApp) -> InProcess {
    use axum::{body::Body, extract::ConnectInfo, http::Request};
    use tower::ServiceExt;

    let router = ferrochat::server::router(app.app.state.clone());
    // Made once and shared by every request, as hyper hands the server a header: a slice of the
    // bytes it read, not a copy. (Copying and checking a kilobyte of cookie per call was 1 to 2
    // points of the figure, and the bench's own work.)
    let session_cookie = HeaderValue::from_str(&app.cookie).unwrap();
    const CURRENT_USER: &str = "/api/auth/current_user";
    const READ: &str = "/api/chat/list";
    let call = |path: &'static str, cookie: Option<&HeaderValue>| {
        // Built as hyper hands a request to a server: every header value a slice of bytes
        // already read (here static, or shared), none copied for the call.
        let mut request = Request::new(Body::empty());
        *request.method_mut() = Method::POST;
        *request.uri_mut() = axum::http::Uri::from_static(path);
        let headers = request.headers_mut();
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        // `current_user` as the pages' JavaScript sends it (its answers are too short to be
        // compressed). The read is asked for uncompressed: compressing its answer is not auth's
        // work and would only make the read longer, auth's share of it smaller.
        if path == CURRENT_USER {
            headers.insert(
                ACCEPT_ENCODING,
                HeaderValue::from_static("gzip, deflate, br, zstd"),
            );
        }
        if let Some(cookie) = cookie {
            headers.insert(COOKIE, cookie.clone());
        }
        request
            .extensions_mut()
            .insert(ConnectInfo(std::net::SocketAddr::from((
                [127, 0, 0, 9],
                40_000,
            ))));
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap()
        }
    };
    // Each variant answers as it should before anything is timed.
    assert_eq!(&call(CURRENT_USER, None).await[..], b"null");
    assert!(call(CURRENT_USER, Some(&session_cookie))
        .await
        .starts_with(b"{\"id\""));
    let list: serde_json::Value =
        serde_json::from_slice(&call(READ, Some(&session_cookie)).await).unwrap();
    assert_eq!(
        list["sessions"].as_array().map(Vec::len),
        Some(crate::baseline::SESSIONS),
        "the read lists the user's chats"
    );
    let mut result = InProcess {
        signed_out: Vec::new(),
        signed_in: Vec::new(),
        read: Vec::new(),
    };
    for turn in 0..=IN_PROCESS_TURNS {
        for (path, cookie, times) in [
            (CURRENT_USER, None, &mut result.signed_out),
            (CURRENT_USER, Some(&session_cookie), &mut result.signed_in),
            (READ, Some(&session_cookie), &mut result.read),
        ] {
            let started = Instant::now();
            for _ in 0..IN_PROCESS_CALLS {
                std::hint::black_box(call(path, cookie).await);
            }
            // Turn 0 warms both up and is not counted.
            if turn > 0 {
                times.push(started.elapsed() / IN_PROCESS_CALLS);
            }
        }
    }
    result
}

/// One piece of the signed-in path and its mean time per call.
pub struct Piece {
    pub what: String,
    pub per_call: Duration,
}

/// The mean time of `call`, after as many calls not counted.
async fn mean<F, Fut>(mut call: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..PIECE_CALLS {
        call().await;
    }
    let started = Instant::now();
    for _ in 0..PIECE_CALLS {
        call().await;
    }
    started.elapsed() / PIECE_CALLS
}

/// The key a raw `jsonwebtoken` check of `app`'s tokens uses.
async fn raw_key(app: &AuthApp) -> (DecodingKey, Algorithm) {
    if app.algorithm == Algorithm::HS256 {
        return (
            DecodingKey::from_secret(HS256_SECRET.as_bytes()),
            Algorithm::HS256,
        );
    }
    let set: JwkSet = app
        .app
        .get("/auth/v1/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    (
        DecodingKey::from_jwk(&set.keys[0]).unwrap(),
        Algorithm::ES256,
    )
}

/// Each piece of a signed-in request on `app`, timed alone; `before` is the same app without
/// the session status memory. Also the raw `jsonwebtoken` check, for the verification budget.
pub async fn pieces(app: &AuthApp, before: &AuthApp) -> (Vec<Piece>, Duration, Duration) {
    let sessions = &app.app.state.sessions;
    let token = app.access_token.as_str();
    let issuer = claims_of(token)["iss"].as_str().unwrap().to_owned();
    let (key, algorithm) = raw_key(app).await;
    let policy = validation(algorithm, &issuer);
    let cookie = mean(|| async {
        std::hint::black_box(sessions.jar.load::<CookieTokens>(&app.cookie).unwrap());
    })
    .await;
    // The full check (signature included), as for a token seen for the first time: the budget
    // against raw `jsonwebtoken`. Then the app's own verifier, which remembers verified tokens.
    let source = match algorithm {
        Algorithm::HS256 => KeySource::Secret(HS256_SECRET.as_bytes().to_vec()),
        _ => KeySource::Jwks(AuthClient::remote(
            app.app.url("/auth/v1").parse().unwrap(),
            None,
        )),
    };
    let full = Verifier::new(source, issuer.clone()).without_memory();
    let verify = mean(|| async {
        std::hint::black_box(full.verify(token).await.unwrap());
    })
    .await;
    let remembered_token = mean(|| async {
        std::hint::black_box(sessions.verifier.verify(token).await.unwrap());
    })
    .await;
    let raw = mean(|| async {
        std::hint::black_box(jsonwebtoken::decode::<AccessClaims>(token, &key, &policy).unwrap());
    })
    .await;
    let before_status = before.app.state.auth.as_ref().unwrap();
    let read = mean(|| async {
        assert!(is_active(before_status, &before.session_id).await.unwrap());
    })
    .await;
    let status = app.app.state.auth.as_ref().unwrap();
    let remembered = mean(|| async {
        assert!(is_active(status, &app.session_id).await.unwrap());
    })
    .await;
    let name = format!("{algorithm:?}");
    let pieces = vec![
        Piece {
            what: "session cookie → tokens (base64, JSON)".into(),
            per_call: cookie,
        },
        Piece {
            what: format!("{name} token verified in full (`Verifier`, first use)"),
            per_call: verify,
        },
        Piece {
            what: format!("{name} token verified (`Verifier`, remembered: after)"),
            per_call: remembered_token,
        },
        Piece {
            what: format!("{name} token verified (raw `jsonwebtoken::decode`)"),
            per_call: raw,
        },
        Piece {
            what: "session status: database read (before)".into(),
            per_call: read,
        },
        Piece {
            what: "session status: remembered (after)".into(),
            per_call: remembered,
        },
    ];
    (pieces, verify, raw)
}
