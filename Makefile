# The two commands of the README, plus the dev loop. The work is in scripts/.
.PHONY: run test setup watch

run:
	scripts/run.sh

test:
	scripts/test.sh

setup:
	scripts/setup.sh

# Plain file names: cargo-leptos hashes them on its first build only, so a rebuild in watch mode
# would leave the server naming the first build's files.
watch: setup
	. scripts/env.sh && LEPTOS_HASH_FILES=false cargo leptos watch
