//! The ferrochat server: settings → store → router → serve, with graceful shutdown.

use std::process::ExitCode;

use ferrochat::{
    config::{AuthMode, Config},
    server::{self, AppState},
    store::Store,
};

/// What the binary was asked to do.
enum Command {
    Serve,
    Help,
    /// Make a new ES256 signing key; it is published at once and signs after the publish lead.
    RotateSigningKey,
    /// Print the instance's `anon` and `service_role` API keys.
    Keys,
}

#[tokio::main]
async fn main() -> ExitCode {
    return_hash_memory_to_the_system();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => Command::Serve,
        ["--help" | "-h" | "help"] => Command::Help,
        ["rotate-signing-key"] => Command::RotateSigningKey,
        ["keys"] => Command::Keys,
        _ => {
            eprintln!("ferrochat: unknown arguments {args:?}\nRun `ferrochat --help` for usage.");
            return ExitCode::from(2);
        }
    };
    if let Command::Help = command {
        print!("{}", Config::help());
        return ExitCode::SUCCESS;
    }
    // A bad setting is the operator's mistake, not a bug: say which one and how to fix it,
    // without a panic backtrace.
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("ferrochat: {error}\nRun `ferrochat --help` for the list of settings.");
            return ExitCode::from(2);
        }
    };
    server::init_tracing(&config.settings);
    let outcome = match command {
        Command::RotateSigningKey => rotate_signing_key(config).await,
        Command::Keys => print_api_keys(config).await,
        _ => run(config).await,
    };
    match outcome {
        Ok(()) => {
            tracing::info!("ferrochat stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!("{error}");
            eprintln!("ferrochat: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let shutdown = server::shutdown_signal();
    let store = Store::open(&config.settings.database_url).await?;
    let listener = server::bind(config.settings.leptos.site_addr).await?;
    let state = AppState::new(config, store.clone(), listener.local_addr()?).await?;
    server::serve(listener, state, shutdown).await?;
    store.close().await;
    Ok(())
}

async fn rotate_signing_key(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let AuthMode::Embedded(auth) = &config.auth else {
        return Err("a remote Supabase project rotates its keys itself".into());
    };
    if let ferrochat::auth_service::config::JwtSigning::Imported(_) = auth.signing {
        return Err("the signing keys come from FERROCHAT_AUTH_JWT_KEYS: rotate them there".into());
    }
    let store = Store::open(&config.settings.database_url).await?;
    let (kid, activates_at) =
        ferrochat::auth_service::keys::rotate(store.pool(), auth.key_publish_lead)
            .await
            .map_err(|error| error.msg)?;
    let wait = activates_at - ferrochat::auth_service::now();
    println!(
        "new signing key {kid}: published now, signing in {wait} s (every running instance picks it up by itself)"
    );
    store.close().await;
    Ok(())
}

/// Prints the API keys as `supabase status` does: the anon key for clients, the service-role
/// key for the admin API (a secret: it can read, change and delete every account).
async fn print_api_keys(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let AuthMode::Embedded(auth) = &config.auth else {
        return Err("a remote Supabase project's API keys are in its dashboard".into());
    };
    let store = Store::open(&config.settings.database_url).await?;
    let keys = ferrochat::auth_service::keys::KeySet::load(
        store.pool(),
        &auth.signing,
        auth.jwt_expiry,
        auth.issuer(),
    )
    .await
    .map_err(|error| error.msg)?;
    let sign = |role: &str| keys.sign_api_key(role).map_err(|error| error.msg);
    println!("API URL: {}", auth.site_url.as_str().trim_end_matches('/'));
    println!("anon key: {}", sign("anon")?);
    println!("service_role key: {}", sign("service_role")?);
    store.close().await;
    Ok(())
}

/// glibc gives a freed block above its mmap threshold back to the system, but then raises the
/// threshold to that block's size: after the first password hash (argon2's 19 MiB of working
/// memory) every later one came from the heap and stayed there, and 60 sign-ups grew the server
/// from 37 to 253 MiB (tests/server/load.rs). A fixed threshold keeps hashing's memory going
/// back to the system after each hash.
fn return_hash_memory_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tuning parameter of malloc, under malloc's own lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
