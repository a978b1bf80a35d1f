//! GitHub: the user and their verified emails from the REST API.

use serde_json::{json, Value};
use url::Url;

use super::providers::{provider_error, ProviderUser, Providers};
use crate::auth_service::error::AuthResult;

pub(super) async fn github_user(
    providers: &Providers,
    api: &Url,
    token: &str,
) -> AuthResult<ProviderUser> {
    let base = api.as_str().trim_end_matches('/');
    let user = providers
        .get_json(&format!("{base}/user"), Some(token))
        .await?;
    let emails = providers
        .get_json(&format!("{base}/user/emails"), Some(token))
        .await?;
    let emails = emails.as_array().cloned().unwrap_or_default();
    let verified = |email: &&Value| email["verified"].as_bool() == Some(true);
    let chosen = emails
        .iter()
        .filter(verified)
        .find(|email| email["primary"].as_bool() == Some(true))
        .or_else(|| emails.iter().find(verified));
    let id = match &user["id"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) if !s.is_empty() => s.clone(),
        _ => return Err(provider_error("GitHub user without id")),
    };
    Ok(ProviderUser {
        email: chosen
            .and_then(|email| email["email"].as_str())
            .map(str::to_owned),
        email_verified: chosen.is_some(),
        data: json!({
            "sub": id,
            "name": user["name"],
            "user_name": user["login"],
            "avatar_url": user["avatar_url"],
            "email": chosen.map(|email| email["email"].clone()),
            "email_verified": chosen.is_some(),
        }),
        id,
    })
}
