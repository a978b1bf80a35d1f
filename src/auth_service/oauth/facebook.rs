//! Facebook: the user from the Graph API.

use serde_json::json;
use url::Url;

use super::providers::{provider_error, ProviderUser, Providers};
use crate::auth_service::error::AuthResult;

pub(super) async fn facebook_user(
    providers: &Providers,
    api: &Url,
    token: &str,
) -> AuthResult<ProviderUser> {
    let base = api.as_str().trim_end_matches('/');
    let me = providers
        .get_json(
            &format!("{base}/me?fields=id,name,email,picture"),
            Some(token),
        )
        .await?;
    let id = me["id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| provider_error("Facebook user without id"))?;
    // Facebook only returns addresses it has confirmed.
    let email = me["email"].as_str().map(str::to_owned);
    Ok(ProviderUser {
        id: id.to_owned(),
        email_verified: email.is_some(),
        data: json!({
            "sub": id,
            "name": me["name"],
            "avatar_url": me["picture"]["data"]["url"],
            "email": email,
            "email_verified": email.is_some(),
        }),
        email,
    })
}
