# The two commands of the README, plus the dev loop. The work is in scripts/.
.PHONY: run test setup watch

run:
	scripts/run.sh

test:
	scripts/test.sh

setup:
	scripts/setup.sh

watch: setup
	. scripts/env.sh && cargo leptos watch
