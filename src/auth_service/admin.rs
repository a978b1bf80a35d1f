//! GoTrue's admin API: `/admin/users`, `/admin/generate_link` and `/invite`.
//!
//! Only a `service_role` JWT signed by this instance's own key (or secret) gets in: the key
//! `ferrochat keys` prints. Anything else is refused as GoTrue refuses it: no bearer → 401
//! `no_authorization`; a token we did not sign, or an expired one → 403 `bad_jwt`; one of ours
//! with another role (the anon key, a user's access token) → 403 `not_admin`.

use axum::{
    body::Bytes,
    extract::{FromRequestParts, OriginalUri, Path, Query, State},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{any, get, post},
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use url::Url;

use super::{
    crypto::{random_token, sha256},
    email_flows,
    error::{AuthError, AuthResult},
    mfa, now, password, redirect,
    request::{Body, RedirectQuery},
    sessions::{self, LogoutScope},
    unsupported,
    users::{self, Email, EmailState, NewUser, TokenColumn, User},
    AuthState,
};
use crate::contract::client::bearer_token;

/// The only role the admin API accepts.
pub const SERVICE_ROLE: &str = "service_role";

/// GoTrue's default page size for `GET /admin/users`.
const DEFAULT_PER_PAGE: u64 = 50;
/// The largest page served, so one request cannot make the server read every user at once.
const MAX_PER_PAGE: u64 = 1000;

/// The admin routes, each behind [`Admin`].
pub fn routes() -> Router<AuthState> {
    Router::new()
        .route("/admin/users", get(list_users).post(create_user))
        .route(
            "/admin/users/{user_id}",
            get(get_user).put(update_user).delete(delete_user),
        )
        .route("/admin/users/{user_id}/factors", get(user_factors))
        .route(
            "/admin/users/{user_id}/factors/{factor_id}",
            axum::routing::delete(delete_user_factor),
        )
        .route("/admin/users/{user_id}/passkeys", any(admin_passkeys))
        .route("/admin/generate_link", post(generate_link))
        .route("/admin/sso/{*rest}", any(admin_sso))
        .route("/admin/oauth/{*rest}", any(admin_oauth_server))
        .route("/admin/custom-providers", any(admin_custom_providers))
        .route(
            "/admin/custom-providers/{*rest}",
            any(admin_custom_providers),
        )
        .route("/invite", post(invite))
}

/// A request made with the instance's service-role key.
pub struct Admin;

impl FromRequestParts<AuthState> for Admin {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AuthState) -> AuthResult<Self> {
        let token = bearer_token(&parts.headers).ok_or_else(AuthError::no_authorization)?;
        let claims = state.keys.verify_api_key(token).await?;
        if claims.role != SERVICE_ROLE {
            return Err(AuthError::new(
                StatusCode::FORBIDDEN,
                "not_admin",
                "User not allowed",
            ));
        }
        Ok(Admin)
    }
}

async fn admin_sso(_: Admin) -> AuthError {
    unsupported::saml_disabled().await
}

async fn admin_oauth_server(_: Admin) -> AuthError {
    unsupported::oauth_server_disabled().await
}

async fn admin_custom_providers(_: Admin) -> AuthError {
    unsupported::feature_disabled("Custom OAuth providers are disabled")
}

async fn admin_passkeys(_: Admin) -> AuthError {
    unsupported::passkeys_disabled().await
}

/// The user named in the path: 404 as GoTrue answers for a malformed or unknown id.
async fn load_user(state: &AuthState, user_id: &str) -> AuthResult<User> {
    if uuid::Uuid::parse_str(user_id).is_err() {
        return Err(AuthError::new(
            StatusCode::NOT_FOUND,
            "validation_failed",
            "user_id must be an UUID",
        ));
    }
    users::find_by_id(&state.pool, user_id)
        .await?
        .ok_or_else(|| AuthError::new(StatusCode::NOT_FOUND, "user_not_found", "User not found"))
}

/// GoTrue's user object, with identities.
async fn user_json(state: &AuthState, user: &User) -> AuthResult<Value> {
    let identities = users::identities(&state.pool, &user.id).await?;
    Ok(user.to_json(&identities))
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<String>,
    per_page: Option<String>,
}

/// `GET /admin/users?page=&per_page=`: newest first, with GoTrue's `Link` (`next`, `last`) and
/// `X-Total-Count` headers.
async fn list_users(
    _: Admin,
    State(state): State<AuthState>,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<PageQuery>,
) -> AuthResult<Response> {
    let bad = |name: &str| {
        AuthError::validation(format!(
            "Bad Pagination Parameters: {name} must be a whole number from 1 (per_page: at most {MAX_PER_PAGE})"
        ))
    };
    let page = match query.page.as_deref() {
        None | Some("") => 1,
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| bad("page"))?,
    };
    let per_page = match query.per_page.as_deref() {
        None | Some("") => DEFAULT_PER_PAGE,
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_PER_PAGE).contains(n))
            .ok_or_else(|| bad("per_page"))?,
    };
    let total = users::count(&state.pool).await?;
    let offset = (page - 1).saturating_mul(per_page);
    let listed = users::page(
        &state.pool,
        per_page as i64,
        offset.min(i64::MAX as u64) as i64,
    )
    .await?;
    let mut identities = users::identities_of(&state.pool, &listed).await?;
    let users: Vec<Value> = listed
        .iter()
        .map(|user| user.to_json(&identities.remove(&user.id).unwrap_or_default()))
        .collect();

    let mut headers = HeaderMap::new();
    let link = pagination_link(&uri, page, per_page, total as u64);
    if let Ok(link) = HeaderValue::from_str(&link) {
        headers.insert(header::LINK, link);
    }
    headers.insert("x-total-count", HeaderValue::from(total));
    Ok((
        headers,
        Json(json!({ "users": users, "aud": "authenticated" })),
    )
        .into_response())
}

/// GoTrue's `Link` header: the request's own URL with `page` set to the next page (if any) and
/// to the last one, query keys sorted as Go's `url.Values.Encode` sorts them.
fn pagination_link(uri: &axum::http::Uri, page: u64, per_page: u64, total: u64) -> String {
    let total_pages = total.div_ceil(per_page);
    let with_page = |target: u64| {
        let mut pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                .into_owned()
                .filter(|(key, _)| key != "page")
                .collect();
        pairs.push(("page".into(), target.to_string()));
        pairs.sort();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("{}?{query}", uri.path())
    };
    let mut link = String::new();
    if total_pages > page {
        link.push_str(&format!("<{}>; rel=\"next\", ", with_page(page + 1)));
    }
    link.push_str(&format!("<{}>; rel=\"last\"", with_page(total_pages)));
    link
}

/// The attributes `POST /admin/users` and `PUT /admin/users/{id}` take (GoTrue's
/// `AdminUserParams`, without phone, role and password hashes).
#[derive(Deserialize)]
pub struct AdminUserBody {
    email: Option<String>,
    phone: Option<String>,
    password: Option<String>,
    #[serde(default)]
    email_confirm: bool,
    user_metadata: Option<Value>,
    app_metadata: Option<Value>,
    /// A Go duration (`24h`, `1h30m`, `90s`), or `none` to lift a ban.
    ban_duration: Option<String>,
}

impl AdminUserBody {
    fn refuse_phone(&self) -> AuthResult<()> {
        if self.phone.as_deref().is_some_and(|phone| !phone.is_empty()) {
            return Err(unsupported::phone_disabled(
                StatusCode::BAD_REQUEST,
                "Phone signups are disabled",
            ));
        }
        Ok(())
    }

    /// `banned_until` as the request sets it: None (not asked), Some(None) (lifted).
    fn banned_until(&self) -> AuthResult<Option<Option<i64>>> {
        let Some(raw) = self.ban_duration.as_deref().filter(|raw| !raw.is_empty()) else {
            return Ok(None);
        };
        if raw == "none" {
            return Ok(Some(None));
        }
        let seconds = parse_go_duration(raw).ok_or_else(|| {
            AuthError::validation(format!(
                "invalid format for ban duration: time: invalid duration \"{raw}\""
            ))
        })?;
        // GoTrue: a ban of zero (or less) is no ban.
        Ok(Some((seconds > 0).then(|| now().saturating_add(seconds))))
    }
}

/// A Go `time.ParseDuration` string (`300ms`, `1.5h`, `2h45m`) in whole seconds, rounded up.
fn parse_go_duration(raw: &str) -> Option<i64> {
    let (negative, mut rest) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw.strip_prefix('+').unwrap_or(raw)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += number * scale;
    }
    let seconds = total.ceil();
    if !seconds.is_finite() || seconds > i64::MAX as f64 {
        return None;
    }
    Some(if negative {
        -(seconds as i64)
    } else {
        seconds as i64
    })
}

/// `data` merged into `base` (keys set to null are removed), as GoTrue updates metadata.
fn merged(base: Value, changes: &Value, name: &str) -> AuthResult<Value> {
    let changes = changes
        .as_object()
        .ok_or_else(|| AuthError::validation(format!("{name} must be an object")))?;
    let mut target = match base {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    for (key, value) in changes {
        if value.is_null() {
            target.remove(key);
        } else {
            target.insert(key.clone(), value.clone());
        }
    }
    let merged = Value::Object(target);
    // app_metadata rides in every access token too: the same bound as user_metadata.
    users::check_user_metadata(&merged)?;
    Ok(merged)
}

/// `POST /admin/users`: creates a user, confirmed at once with `email_confirm`.
async fn create_user(
    _: Admin,
    State(state): State<AuthState>,
    Body(body): Body<AdminUserBody>,
) -> AuthResult<Json<Value>> {
    body.refuse_phone()?;
    let email = body
        .email
        .as_deref()
        .filter(|email| !email.trim().is_empty())
        .ok_or_else(|| {
            AuthError::validation("Cannot create a user without either an email or phone")
        })?;
    let email = Email::parse(email)?;
    let user_metadata = match &body.user_metadata {
        None | Some(Value::Null) => json!({}),
        Some(data) => {
            users::check_user_metadata(data)?;
            data.clone()
        }
    };
    let banned_until = body.banned_until()?;
    if users::find_by_email(&state.pool, &email).await?.is_some() {
        return Err(users::email_exists());
    }
    let password_hash = hash_new_password(&state, body.password.as_deref()).await?;
    let user = users::create(
        &state.pool,
        NewUser {
            email: &email,
            password_hash,
            user_metadata,
            // The administrator vouches for the address; nobody has proven it.
            email_state: if body.email_confirm {
                EmailState::Confirmed
            } else {
                EmailState::Unconfirmed
            },
            provider: "email",
            provider_id: None,
            identity_data: json!({ "email_verified": false, "phone_verified": false }),
        },
    )
    .await
    .map_err(|error| match error.code {
        "user_already_exists" => users::email_exists(),
        _ => error,
    })?;
    let app_metadata = body
        .app_metadata
        .as_ref()
        .filter(|changes| !changes.is_null())
        .map(|changes| merged(user.app_metadata(), changes, "app_metadata"))
        .transpose()?;
    users::set_admin_fields(
        &state.pool,
        &user.id,
        app_metadata.as_ref(),
        banned_until,
        false,
    )
    .await?;
    let user = load_user(&state, &user.id).await?;
    Ok(Json(user_json(&state, &user).await?))
}

async fn get_user(
    _: Admin,
    State(state): State<AuthState>,
    Path(user_id): Path<String>,
) -> AuthResult<Json<Value>> {
    let user = load_user(&state, &user_id).await?;
    Ok(Json(user_json(&state, &user).await?))
}

/// `PUT /admin/users/{id}`: email (applied at once), password, metadata, `email_confirm`,
/// `ban_duration`. A new password or a ban ends every session of the user.
async fn update_user(
    _: Admin,
    State(state): State<AuthState>,
    Path(user_id): Path<String>,
    Body(body): Body<AdminUserBody>,
) -> AuthResult<Json<Value>> {
    let user = load_user(&state, &user_id).await?;
    body.refuse_phone()?;
    let pool = &state.pool;
    let new_email = match body.email.as_deref().filter(|e| !e.is_empty()) {
        Some(email) => Some(Email::parse(email)?).filter(|email| email.as_str() != user.email),
        None => None,
    };
    let user_metadata = body
        .user_metadata
        .as_ref()
        .filter(|changes| !changes.is_null())
        .map(|changes| users::merged_user_metadata(&user, changes))
        .transpose()?;
    let app_metadata = body
        .app_metadata
        .as_ref()
        .filter(|changes| !changes.is_null())
        .map(|changes| merged(user.app_metadata(), changes, "app_metadata"))
        .transpose()?;
    let banned_until = body.banned_until()?;
    if let Some(email) = &new_email {
        if users::find_by_email(pool, email).await?.is_some() {
            return Err(users::email_exists());
        }
    }
    let password_hash = hash_new_password(&state, body.password.as_deref()).await?;

    if let Some(email) = &new_email {
        users::apply_email_change(pool, &user.id, email.as_str(), false).await?;
    }
    if let Some(metadata) = &user_metadata {
        users::set_user_metadata(pool, &user.id, metadata).await?;
    }
    if let Some(hash) = &password_hash {
        // No session of the user's asked for this: every one of them ends (GoTrue's rule for
        // a change made without a session).
        users::change_password(pool, &user.id, "", hash).await?;
    }
    users::set_admin_fields(
        pool,
        &user.id,
        app_metadata.as_ref(),
        banned_until,
        body.email_confirm,
    )
    .await?;
    if matches!(banned_until, Some(Some(_))) {
        // A ban takes effect now, not when the access tokens expire: the app checks the
        // session on every request, and a refresh finds no session to continue.
        sessions::logout(pool, &user.id, "", LogoutScope::Global).await?;
    }
    let user = load_user(&state, &user.id).await?;
    Ok(Json(user_json(&state, &user).await?))
}

#[derive(Deserialize, Default)]
struct DeleteBody {
    #[serde(default)]
    should_soft_delete: bool,
}

/// `DELETE /admin/users/{id}`: removes the user with every session, identity and chat, or with
/// `should_soft_delete` keeps the row (and its chats) but frees the address, drops the
/// password, the identities and every session. 200 `{}`.
async fn delete_user(
    _: Admin,
    State(state): State<AuthState>,
    Path(user_id): Path<String>,
    raw: Bytes,
) -> AuthResult<Json<Value>> {
    let user = load_user(&state, &user_id).await?;
    // The body is optional (supabase-js sends one, curl users often do not).
    let body: DeleteBody = if raw.iter().all(u8::is_ascii_whitespace) {
        DeleteBody::default()
    } else {
        serde_json::from_slice(&raw).map_err(|error| {
            AuthError::new(
                StatusCode::BAD_REQUEST,
                "bad_json",
                format!("Could not parse request body as JSON: {error}"),
            )
        })?
    };
    if body.should_soft_delete {
        if user.deleted_at.is_none() {
            users::soft_delete(&state.pool, &user).await?;
        }
    } else {
        state.delete_user(&user.id).await?;
    }
    tracing::info!(user_id = %user.id, soft = body.should_soft_delete, "user deleted by an administrator");
    Ok(Json(json!({})))
}

/// `GET /admin/users/{id}/factors`: the user's MFA factors, verified or not.
async fn user_factors(
    _: Admin,
    State(state): State<AuthState>,
    Path(user_id): Path<String>,
) -> AuthResult<Json<Value>> {
    load_user(&state, &user_id).await?;
    let factors = mfa::list(&state.pool, &user_id).await?;
    Ok(Json(factors.iter().map(mfa::Factor::to_json).collect()))
}

/// `DELETE /admin/users/{id}/factors/{factor_id}`: how a person who lost their authenticator
/// gets back in (docs/SECURITY.md): an administrator removes the factor, the user's sessions
/// step down to `aal1` and the next sign-in needs the password only.
async fn delete_user_factor(
    _: Admin,
    State(state): State<AuthState>,
    Path((user_id, factor_id)): Path<(String, String)>,
) -> AuthResult<Json<Value>> {
    load_user(&state, &user_id).await?;
    let factor = mfa::owned_factor(&state.pool, &user_id, &factor_id).await?;
    mfa::remove(&state.pool, &user_id, &factor.id).await?;
    tracing::info!(user_id = %user_id, factor_id = %factor.id, "factor removed by an administrator");
    Ok(Json(factor.to_json()))
}

#[derive(Deserialize)]
pub struct GenerateLinkBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    email: Option<String>,
    new_email: Option<String>,
    password: Option<String>,
    data: Option<Value>,
    redirect_to: Option<String>,
}

/// `POST /admin/generate_link`: makes the link an email would carry, without sending it, and
/// answers with the user and the link's parts (GoTrue's `GenerateLinkResponse`). The link's
/// token serves as `hashed_token` (for `verifyOtp({token_hash})`) and as `email_otp`: this
/// service's links carry one random token, not a separate six-digit code.
async fn generate_link(
    _: Admin,
    State(state): State<AuthState>,
    Body(body): Body<GenerateLinkBody>,
) -> AuthResult<Json<Value>> {
    let email = super::email_flows::required_email(body.email.as_deref())?;
    let redirect_to = redirect::resolve(&state.config, body.redirect_to.as_deref());
    let existing = users::find_by_email(&state.pool, &email).await?;
    let requested = body.kind.clone().unwrap_or_default();
    let kind = match (requested.as_str(), &existing) {
        // GoTrue: a magic link for an unknown address signs the address up.
        ("magiclink", None) => "signup",
        ("recovery" | "email_change_current" | "email_change_new", None) => {
            return Err(AuthError::new(
                StatusCode::NOT_FOUND,
                "user_not_found",
                "User with this email not found",
            ))
        }
        (kind, _) => kind,
    };
    let token = random_token();
    let token_hash = sha256(token.as_bytes());
    let (user, link_type) = match kind {
        "signup" | "invite" => {
            let password_hash = if kind == "signup" {
                hash_new_password(&state, body.password.as_deref()).await?
            } else {
                None
            };
            let user =
                unconfirmed_user(&state, &email, existing, body.data.as_ref(), password_hash)
                    .await?;
            users::set_token(
                &state.pool,
                &user.id,
                TokenColumn::Confirmation,
                &token_hash,
            )
            .await?;
            if kind == "invite" {
                users::mark_invited(&state.pool, &user.id).await?;
            }
            (user, kind)
        }
        "magiclink" | "recovery" => {
            let user = existing.ok_or_else(|| AuthError::internal("user vanished"))?;
            users::set_token(&state.pool, &user.id, TokenColumn::Recovery, &token_hash).await?;
            (user, kind)
        }
        "email_change_new" => {
            let user = existing.ok_or_else(|| AuthError::internal("user vanished"))?;
            let new_email = Email::parse(body.new_email.as_deref().unwrap_or_default())?;
            if users::find_by_email(&state.pool, &new_email)
                .await?
                .is_some()
            {
                return Err(users::email_exists());
            }
            users::request_email_change(&state.pool, &user.id, &new_email, &token_hash).await?;
            (user, "email_change")
        }
        // Email changes are confirmed by the new address alone here (no "secure" two-link
        // change), which is GoTrue's answer when that mode is off.
        "email_change_current" => {
            return Err(AuthError::validation(
                "Enable secure email change to generate link for current email",
            ))
        }
        other => {
            return Err(AuthError::validation(format!(
                "Invalid email action link type requested: {other}"
            )))
        }
    };
    let action_link = email_flows::action_link(&state, &token, link_type, &redirect_to)?;
    let user = load_user(&state, &user.id).await?;
    let mut response = user_json(&state, &user).await?;
    response["action_link"] = json!(action_link.as_str());
    response["email_otp"] = json!(token);
    response["hashed_token"] = json!(token);
    response["verification_type"] = json!(requested);
    response["redirect_to"] = json!(redirect_to.as_str());
    Ok(Json(response))
}

/// The hash of a password an administrator set, if one was given, checked against the rules.
async fn hash_new_password(state: &AuthState, given: Option<&str>) -> AuthResult<Option<String>> {
    match given.filter(|given| !given.is_empty()) {
        None => Ok(None),
        Some(new_password) => {
            let new_password = password::normalise(new_password);
            password::check_new(&new_password, state.config.password_min_length)?;
            Ok(Some(state.passwords.hash(new_password).await?))
        }
    }
}

/// The account a sign-up or invitation link is for: the existing one, unless its address is
/// already confirmed (422 `email_exists`), or a new unconfirmed one.
async fn unconfirmed_user(
    state: &AuthState,
    email: &Email,
    existing: Option<User>,
    data: Option<&Value>,
    password_hash: Option<String>,
) -> AuthResult<User> {
    let data = data.filter(|data| !data.is_null());
    match existing {
        Some(user) if user.email_confirmed_at.is_some() => Err(users::email_exists()),
        Some(user) => {
            if let Some(data) = data {
                let metadata = users::merged_user_metadata(&user, data)?;
                users::set_user_metadata(&state.pool, &user.id, &metadata).await?;
            }
            Ok(user)
        }
        None => {
            let user_metadata = match data {
                Some(data) => {
                    users::check_user_metadata(data)?;
                    data.clone()
                }
                None => json!({}),
            };
            users::create(
                &state.pool,
                NewUser {
                    email,
                    password_hash,
                    user_metadata,
                    email_state: EmailState::Unconfirmed,
                    provider: "email",
                    provider_id: None,
                    identity_data: json!({ "email_verified": false, "phone_verified": false }),
                },
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct InviteBody {
    email: Option<String>,
    data: Option<Value>,
}

/// `POST /invite?redirect_to=`: creates an unconfirmed account without a password (or reuses an
/// unconfirmed one) and mails it an invitation link (`type=invite`); 422 `email_exists` for a
/// confirmed address.
async fn invite(
    _: Admin,
    State(state): State<AuthState>,
    Query(query): Query<RedirectQuery>,
    Body(body): Body<InviteBody>,
) -> AuthResult<Json<Value>> {
    let email = super::email_flows::required_email(body.email.as_deref())?;
    let redirect_to: Url = redirect::resolve(&state.config, query.redirect_to.as_deref());
    let existing = users::find_by_email(&state.pool, &email).await?;
    let user = unconfirmed_user(&state, &email, existing, body.data.as_ref(), None).await?;
    let token = random_token();
    users::set_token(
        &state.pool,
        &user.id,
        TokenColumn::Confirmation,
        &sha256(token.as_bytes()),
    )
    .await?;
    users::mark_invited(&state.pool, &user.id).await?;
    email_flows::send_link(
        &state,
        &user.email,
        "You have been invited",
        "You have been invited to create an account. Follow this link to accept the invitation:",
        &token,
        "invite",
        &redirect_to,
    )
    .await?;
    let user = load_user(&state, &user.id).await?;
    Ok(Json(user_json(&state, &user).await?))
}

#[cfg(test)]
mod tests {
    use super::parse_go_duration;

    #[test]
    fn go_durations_parse_as_go_parses_them() {
        assert_eq!(parse_go_duration("24h"), Some(86_400));
        assert_eq!(parse_go_duration("1h30m"), Some(5_400));
        assert_eq!(parse_go_duration("1.5h"), Some(5_400));
        assert_eq!(parse_go_duration("90s"), Some(90));
        assert_eq!(parse_go_duration("300ms"), Some(1));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("-1h"), Some(-3_600));
        assert_eq!(parse_go_duration("876000h"), Some(876_000 * 3_600));
        for bad in ["", "h", "10", "1d", "1h 30m", "forever", "1e3s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad:?}");
        }
    }
}
