# The two commands of the README, plus the dev loop. The work is in scripts/.
.PHONY: run test setup watch

run:
	scripts/run.sh

test:
	scripts/test.sh

setup:
	scripts/setup.sh

# DEV: the live-reload script and its websocket in the CSP (cargo-leptos 0.3.6 does not set it).
# Plain file names: cargo-leptos hashes them on its first build only, so a rebuild in watch mode
# would leave the server naming the first build's files.
watch:
	scripts/setup.sh watch
	. scripts/env.sh && LEPTOS_ENV=DEV LEPTOS_HASH_FILES=false cargo leptos watch
