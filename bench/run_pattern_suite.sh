#!/usr/bin/env bash
# The pattern benchmark suite (bench/patterns/*.moga): moga check + moga bench per pattern, one table.
# Options and output: bench/run_pattern_suite.py (this is its entry point; tools/gpu-check's
# pattern_suite row calls it).
exec python3 "$(dirname "${BASH_SOURCE[0]}")/run_pattern_suite.py" "$@"
