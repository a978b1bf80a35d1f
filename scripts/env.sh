# Sourced by the scripts: puts the project's tools on PATH.
# cargo-leptos takes the first wasm-opt it finds on PATH: the one npm's binaryen installed.
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
