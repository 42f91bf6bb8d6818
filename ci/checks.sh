# Shared by the package and install tests (ci/test-install.sh,
# python-bindings/test_package.sh, zig/test_package.sh): one PASS/FAIL line per check
# and the closing `N passed, M failed` line. Source it after setting $tmp (a scratch
# directory); end the script with `summary`.
passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'PASS  %-28s %s\n' "$1" "${2:-}"; }
bad() { failed=$((failed + 1)); printf 'FAIL  %-28s %s\n' "$1" "${2:-}"; }
check() { # check NAME COMMAND...: runs the command, its output shown on failure
    local name="$1"; shift
    if "$@" >"$tmp/out" 2>&1; then ok "$name"; else bad "$name"; sed 's/^/      | /' "$tmp/out" | tail -n 30; fi
}
summary() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
