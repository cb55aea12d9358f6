#!/bin/bash
# lavafs run DEVICEDIR: the program gets exactly DEVICEDIR/argv and exactly DEVICEDIR/env
# (no shell, nothing of the caller's environment), and nothing runs unless status is ready.
# Uses plain directories, as `lavafs compose -o OUTDIR` writes them.
set -u
: "${LAVAFS:?LAVAFS must name the lavafs binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { printf 'ok   %s\n' "$1"; }
bad() { printf 'FAIL %s\n' "$1"; fail=1; }

# The target dumps its argv (argv[0] included, which a #! script could not see) and its
# environment, each item followed by NUL, then exits 7.
mkdir "$tmp/bin"
cat >"$tmp/dump.c" <<'EOF'
#include <stdio.h>
#include <string.h>
extern char **environ;
int main(int argc, char **argv)
{
	FILE *a = fopen(DIR "/got.argv", "w"), *e = fopen(DIR "/got.env", "w");
	for (int i = 0; i < argc; i++)
		fwrite(argv[i], 1, strlen(argv[i]) + 1, a);
	for (char **p = environ; *p; p++)
		fwrite(*p, 1, strlen(*p) + 1, e);
	return 7;
}
EOF
cc -DDIR="\"$tmp\"" -o "$tmp/bin/dump" "$tmp/dump.c" || { echo "cannot build the dump program"; exit 1; }

# mkdev DIR STATUS ARGV-ITEMS... -- ENV-ITEMS...
mkdev() {
	local d=$1 st=$2
	shift 2
	mkdir -p "$d"
	printf '%s' "$st" >"$d/status"
	: >"$d/argv"
	: >"$d/env"
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		printf '%s\0' "$1" >>"$d/argv"
		shift
	done
	[ $# -gt 0 ] && shift
	for e in "$@"; do printf '%s\0' "$e" >>"$d/env"; done
}

run() { # run DIR: stdout/stderr to files, status in $rc
	rm -f "$tmp/got.argv" "$tmp/got.env"
	"$LAVAFS" run "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# 1. exact argv: spaces, quotes, $HOME, ;, newlines, globs, empty items, a leading dash
nl='
'
items=("$tmp/bin/dump" "-append" "console=ttyS0 root=/dev/vda rw" "it's \"quoted\""
	'$HOME' 'a;reboot' "line1${nl}line2" '' '*' '`id`' '$(id)' '-' '' 'x|y&z' '\back\slash'
	"$(printf 'caf\303\251')")
export LAVAFS_TEST_LEAK=caller-secret
mkdev "$tmp/d1" "ready$nl" "${items[@]}" -- "PATH=/nonexistent" "FOO=bar baz" "EMPTY=" \
	"EQ=a=b" "NL=x${nl}y"
run "$tmp/d1"
if [ $rc -eq 7 ]; then ok "exit status of the program is passed on"; else
	bad "exit status $rc (want 7): $(cat "$tmp/err")"; fi
printf '%s\0' "${items[@]}" >"$tmp/want.argv"
if cmp -s "$tmp/want.argv" "$tmp/got.argv"; then ok "argv reaches the program unchanged"; else
	bad "argv differs"; od -c "$tmp/got.argv" | head -20; fi
# env -0 prints the environment in its own order; compare as sorted sets.
sort -z "$tmp/d1/env" >"$tmp/want.env.s"
sort -z "$tmp/got.env" >"$tmp/got.env.s" 2>/dev/null
if cmp -s "$tmp/want.env.s" "$tmp/got.env.s"; then ok "environment is exactly the env file"; else
	bad "environment differs"; od -c "$tmp/got.env" | head -20; fi
if grep -qz LAVAFS_TEST_LEAK "$tmp/got.env" 2>/dev/null; then
	bad "caller's environment leaked"; else ok "caller's environment does not leak"; fi

# 2. argv[0] without a slash is searched in the env file's PATH, not the caller's
mkdev "$tmp/d2" "ready" "dump" "one" -- "PATH=/nonexistent::$tmp/bin"
PATH=/usr/bin:/bin run "$tmp/d2"
if [ $rc -eq 7 ] && [ "$(tr '\0' ' ' <"$tmp/got.argv")" = "dump one " ]; then
	ok "PATH search uses the env file's PATH"; else bad "PATH search: rc $rc $(cat "$tmp/err")"; fi
mkdev "$tmp/d3" "ready" "dump" -- "A=1"
PATH="$tmp/bin:$PATH" run "$tmp/d3"
if [ $rc -eq 127 ] && grep -q 'not found' "$tmp/err" && [ ! -e "$tmp/got.argv" ]; then
	ok "caller's PATH is not searched (127)"; else bad "caller PATH used? rc $rc"; fi
# without PATH in env, the default path is used: env(1) lives there
mkdev "$tmp/d4" "ready" "env" -- "ONLY=1"
run "$tmp/d4"
if [ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = "ONLY=1" ]; then ok "default PATH without PATH in env";
else bad "default PATH: rc $rc out '$(cat "$tmp/out")' err '$(cat "$tmp/err")'"; fi
# an empty environment is allowed (env.yaml purge: true)
mkdev "$tmp/d5" "ready" "/usr/bin/env" --
run "$tmp/d5"
if [ $rc -eq 0 ] && [ ! -s "$tmp/out" ]; then ok "empty environment"; else
	bad "empty environment: rc $rc out '$(cat "$tmp/out")'"; fi

# 3. refusals: status composing / error / empty, nothing runs
mkdev "$tmp/qemu01" "composing$nl" "$tmp/bin/dump" -- "A=1"
run "$tmp/qemu01"
if [ $rc -eq 1 ] && grep -q '^lavafs: qemu01 is not ready: composing$' "$tmp/err" &&
	[ ! -e "$tmp/got.argv" ]; then ok "refuses while composing"; else
	bad "composing: rc $rc err '$(cat "$tmp/err")'"; fi
mkdev "$tmp/qemu02" "error: qemu.jinja2:12: 'foo' is undefined${nl}details here$nl" \
	"$tmp/bin/dump" -- "A=1"
run "$tmp/qemu02/"
if [ $rc -eq 1 ] && grep -q "^lavafs: qemu02 is not ready: error: qemu.jinja2:12: 'foo' is undefined" \
	"$tmp/err" && grep -q 'details here' "$tmp/err" && [ ! -e "$tmp/got.argv" ]; then
	ok "refuses on error, prints the status"; else bad "error status: rc $rc err '$(cat "$tmp/err")'"; fi
for st in "" "ready " " ready" "readyx" "Ready" "preparing-image 40%"; do
	mkdev "$tmp/q3" "$st" "$tmp/bin/dump" -- "A=1"
	run "$tmp/q3"
	if [ $rc -eq 1 ] && [ ! -e "$tmp/got.argv" ]; then ok "refuses status '$st'"; else
		bad "status '$st': rc $rc"; fi
done
# warnings after ready are shown, and the program still runs
mkdev "$tmp/q4" "ready${nl}warning: qemu02 has the same MAC address$nl" "$tmp/bin/dump" -- "A=1"
run "$tmp/q4"
if [ $rc -eq 7 ] && grep -q 'same MAC' "$tmp/err"; then ok "warnings after ready"; else
	bad "warnings: rc $rc"; fi

# 4. exit codes 126 / 127 / 2 and malformed files
printf 'not executable\n' >"$tmp/bin/noexec"
chmod 644 "$tmp/bin/noexec"
mkdev "$tmp/e1" "ready" "$tmp/bin/noexec" -- "A=1"
run "$tmp/e1"
[ $rc -eq 126 ] && ok "126 when not executable" || bad "not executable: rc $rc"
mkdev "$tmp/e2" "ready" "noexec" -- "PATH=$tmp/bin"
run "$tmp/e2"
[ $rc -eq 126 ] && ok "126 when the PATH match is not executable" || bad "PATH noexec: rc $rc"
# a script without #! would make execvp run /bin/sh: lavafs runs no shell
printf 'echo hi\n' >"$tmp/bin/noshebang"
chmod 755 "$tmp/bin/noshebang"
mkdev "$tmp/e3" "ready" "$tmp/bin/noshebang" -- "A=1"
run "$tmp/e3"
if [ $rc -eq 126 ] && ! grep -q hi "$tmp/out"; then ok "no shell fallback (126)"; else
	bad "noshebang: rc $rc"; fi
mkdev "$tmp/e4" "ready" "$tmp/bin/missing" -- "A=1"
run "$tmp/e4"
[ $rc -eq 127 ] && ok "127 when missing" || bad "missing: rc $rc"
mkdev "$tmp/e5" "ready" "no-such-qemu" -- "PATH=$tmp/bin:/usr/bin"
run "$tmp/e5"
[ $rc -eq 127 ] && grep -q 'no-such-qemu' "$tmp/err" && ok "127 when not in PATH" ||
	bad "not in PATH: rc $rc"
"$LAVAFS" run >/dev/null 2>&1
[ $? -eq 2 ] && ok "usage: no argument (2)" || bad "usage without argument"
"$LAVAFS" run "$tmp/d1" extra >/dev/null 2>&1
[ $? -eq 2 ] && ok "usage: two arguments (2)" || bad "usage with two arguments"
"$LAVAFS" run -x >/dev/null 2>&1
[ $? -eq 2 ] && ok "usage: unknown flag (2)" || bad "usage with a flag"
run "$tmp/does-not-exist"
[ $rc -eq 1 ] && ok "missing DEVICEDIR (1)" || bad "missing dir: rc $rc"
mkdev "$tmp/m1" "ready" -- "A=1"
run "$tmp/m1"
[ $rc -eq 1 ] && ok "empty argv refused" || bad "empty argv: rc $rc"
mkdev "$tmp/m2" "ready" "$tmp/bin/dump" -- "NOEQUALS"
run "$tmp/m2"
[ $rc -eq 1 ] && [ ! -e "$tmp/got.argv" ] && ok "env item without = refused" || bad "env no =: rc $rc"
mkdev "$tmp/m3" "ready" "$tmp/bin/dump" -- "=x"
run "$tmp/m3"
[ $rc -eq 1 ] && ok "env item with empty name refused" || bad "env =x: rc $rc"
mkdev "$tmp/m4" "ready" "$tmp/bin/dump" -- "A=1"
printf 'trailing' >>"$tmp/m4/argv"
run "$tmp/m4"
[ $rc -eq 1 ] && ok "argv without final NUL refused" || bad "argv no NUL: rc $rc"
mkdev "$tmp/m5" "ready" "$tmp/bin/dump" -- "A=1"
rm "$tmp/m5/env"
run "$tmp/m5"
[ $rc -eq 1 ] && ok "missing env file refused" || bad "missing env: rc $rc"
mkdev "$tmp/m6" "ready" "$tmp/bin/dump" -- "A=1"
head -c 5000000 /dev/zero >"$tmp/m6/argv"
run "$tmp/m6"
[ $rc -eq 1 ] && grep -q 'larger than' "$tmp/err" && ok "oversized argv refused" ||
	bad "oversized argv: rc $rc"
exit $fail
