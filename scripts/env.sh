# Sourced by the scripts: puts the project's tools on PATH.
# The npm tools (wasm-opt, esbuild, lightningcss) come first: cargo-leptos, too, takes the first
# wasm-opt it finds on PATH.
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
