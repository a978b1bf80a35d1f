//! The ferrochat server: settings → store → router → serve, with graceful shutdown.

use std::process::ExitCode;

use ferrochat::{
    auth_service::AuthState,
    server::{self, AppState},
    settings::Settings,
    store::Store,
};

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args()
        .skip(1)
        .any(|arg| arg == "--help" || arg == "-h")
    {
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
    match run(settings).await {
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
    let store = Store::open(&settings.database_url).await?;
    let auth = AuthState::new(store.pool().clone(), settings.auth, &settings.data_dir)
        .await
        .map_err(|error| format!("cannot start the auth service: {}", error.msg))?;
    let listener = server::bind(settings.leptos.site_addr).await?;
    let state = AppState {
        leptos_options: settings.leptos,
        store: store.clone(),
        auth,
    };
    server::serve(listener, state, server::shutdown_signal()).await?;
    store.close().await;
    Ok(())
}
