#!/usr/bin/env bash
# The monitoring files of ops/monitoring/ (README.md there), two ctest tests:
#   rules  ops_alerts_test: promtool check rules alerts.yml, promtool test rules alerts_test.yml
#   names  ops_monitoring_names_test: tests/ops/check_monitoring.py (metrics, labels and values
#          the rules and the dashboard use exist in the sources; runbooks, tests, queries)
# Without promtool, or python3 with PyYAML, the test fails (ops/install-deps installs both): a
# check that skips itself where the tool is missing would pass rules that do not load.
# usage: monitoring_test.sh rules|names
set -euo pipefail

mode="${1:?usage: monitoring_test.sh rules|names}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
monitoring="$root/ops/monitoring"

missing() {
    echo "monitoring_test: $1 not found: run ops/install-deps (it installs Debian's $2)" >&2
    exit 1
}

promtool="$(command -v promtool || true)"
[[ -n "$promtool" ]] || missing promtool prometheus

case "$mode" in
    rules)
        "$promtool" --version 2>&1 | head -1
        "$promtool" check rules "$monitoring/alerts.yml"
        "$promtool" test rules "$monitoring/alerts_test.yml"
        ;;
    names)
        # Debian's python3 first: ops/install-deps gives it PyYAML (python3-yaml).
        python=""
        for candidate in /usr/bin/python3 python3; do
            if command -v "$candidate" >/dev/null 2>&1 &&
                "$candidate" -c 'import yaml' >/dev/null 2>&1; then
                python="$candidate"
                break
            fi
        done
        [[ -n "$python" ]] || missing "python3 with PyYAML" python3-yaml
        "$python" "$root/tests/ops/check_monitoring.py" "$root" "$promtool"
        ;;
    *)
        echo "usage: monitoring_test.sh rules|names" >&2
        exit 2
        ;;
esac
