#!/usr/bin/env bash
# The whole test suite: setup, typecheck, unit tests, integration tests against
# ./bin/ulvm, and interop tests against the real lvm2 on loop devices.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p .
shopt -s globstar nullglob
tests=(test/unit/**/*.test.ts test/integration/**/*.test.ts test/interop/**/*.test.ts)
exec node --import tsx --test --test-reporter=spec --test-concurrency=2 "${tests[@]}"
