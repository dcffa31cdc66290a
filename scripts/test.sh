#!/usr/bin/env bash
# The whole test suite: setup, typecheck, unit tests, integration tests against
# ./bin/ulvm, interop tests against the real lvm2 on loop devices, and raid1
# against the real kernel's dm-raid under qemu (the kernel oracle, built on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p .
shopt -s globstar nullglob
tests=(test/unit/**/*.test.ts test/integration/**/*.test.ts test/interop/**/*.test.ts test/kernel/**/*.test.ts)
exec node --import tsx --test --test-reporter=spec --test-concurrency=2 "${tests[@]}"
