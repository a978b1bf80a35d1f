//! The ferrochat server: settings → store → router → serve, with graceful shutdown.

use std::process::ExitCode;

use ferrochat::{
    server::{self, AppState},
    settings::Settings,
    store::Store,
};

/// What the binary was asked to do.
enum Command {
    Serve,
    Help,
    /// Retire the ES256 signing key and make a new one (takes effect at the next start).
    RotateSigningKey,
}

#[tokio::main]
async fn main() -> ExitCode {
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
        _ => {
            eprintln!("ferrochat: unknown arguments {args:?}\nRun `ferrochat --help` for usage.");
            return ExitCode::from(2);
        }
    };
    if let Command::Help = command {
        print!("{}", Settings::help());
        return ExitCode::SUCCESS;
    }
    // A bad setting is the operator's mistake, not a bug: say which one and how to fix it,
    // without a panic backtrace.
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("ferrochat: {error}\nRun `ferrochat --help` for the list of settings.");
            return ExitCode::from(2);
        }
    };
    server::init_tracing(&settings);
    let outcome = match command {
        Command::RotateSigningKey => rotate_signing_key(settings).await,
        _ => run(settings).await,
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

async fn run(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let shutdown = server::shutdown_signal();
    let store = Store::open(&settings.database_url).await?;
    let listener = server::bind(settings.leptos.site_addr).await?;
    let state = AppState::new(settings, store.clone(), listener.local_addr()?).await?;
    server::serve(listener, state, shutdown).await?;
    store.close().await;
    Ok(())
}

async fn rotate_signing_key(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::open(&settings.database_url).await?;
    let kid = ferrochat::auth_service::keys::rotate(store.pool())
        .await
        .map_err(|error| error.msg)?;
    println!("new signing key {kid}; restart the server to sign with it");
    store.close().await;
    Ok(())
}
