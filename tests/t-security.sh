#!/bin/bash
# The security boundary between a test writer (who writes contexts, jobs and overlays) and the
# admin (dictionaries, templates, env.yaml), and between both and the worker running QEMU:
#   - context keys named like environment variables never reach `env`
#   - a context cannot override what the dictionary sets
#   - templates load only from the template directories (no '..', no absolute names)
#   - context values are data: shell metacharacters, newlines and template syntax in them end
#     up as literal argv items; nothing is executed, `lavafs run` uses no shell
#   - through the mount: the same for `env`; an overlay symlink is stored as a symlink and the
#     daemon never follows it; a test writer cannot change admin files by any route
set -u
: "${LAVAFS:?}" "${TOP:?}"
export LAVAFS_HOST_ARCH=x86_64 LAVAFS_KVM=0 LAVAFS_TEMPLATES=$TOP/templates
W=$(mktemp -d /tmp/lavafs-sec.XXXXXX)
PWNED=$W/pwned
chmod 755 "$W"
cleanup_w() { rm -rf "$W"; }
trap cleanup_w EXIT
cd "$W"
n=0
bad() { echo "FAIL: $*" >&2; exit 1; }
ok() { n=$((n + 1)); }

printf "{%% extends 'qemu.jinja2' %%}\n{%% set memory = 1024 %%}\n{%% set mac_addr = '52:54:00:12:34:59' %%}\n" >dict
printf 'arch: amd64\n' >plain.yaml
printf 'overrides:\n  QEMU_AUDIO_DRV: none\n  PATH: /usr/bin:/bin\nremoves: [HOME]\n' >env.yaml

# ---- 1. environment-variable-named context keys change nothing in env
cat >envkeys.yaml <<'EOF'
arch: amd64
PATH: /tmp/evil
LD_PRELOAD: /tmp/evil.so
LD_LIBRARY_PATH: /tmp/evil
QEMU_AUDIO_DRV: pa
HOME: /tmp/evil
env: {PATH: /tmp/evil}
overrides: {LD_PRELOAD: /tmp/evil.so}
purge: true
EOF
"$LAVAFS" compose -e env.yaml -o plain dict -c plain.yaml 2>/dev/null || bad "compose plain"
"$LAVAFS" compose -e env.yaml -o envkeys dict -c envkeys.yaml 2>/dev/null || bad "compose envkeys"
cmp -s plain/env envkeys/env || bad "context keys changed env: $(diff <(tr '\0' '\n' <plain/env) <(tr '\0' '\n' <envkeys/env))"
tr '\0' '\n' <envkeys/env | grep -q 'evil' && bad "env mentions the context's values"
tr '\0' '\n' <envkeys/env | grep -qx 'QEMU_AUDIO_DRV=none' || bad "env.yaml override missing"
cmp -s plain/argv envkeys/argv || bad "env-named context keys changed argv"
# the same through a job's context
printf 'context:\n  arch: amd64\n  LD_PRELOAD: /tmp/evil.so\n  PATH: /tmp/evil\nactions: []\n' >envjob.yaml
"$LAVAFS" compose -e env.yaml -o envjob dict -j envjob.yaml 2>/dev/null || bad "compose envjob"
cmp -s plain/env envjob/env || bad "a job's context changed env"
ok

# ---- 2. the dictionary's sets win over the context (mandatory layer)
printf 'arch: amd64\nmemory: 65536\nmac_addr: "66:66:66:66:66:66"\n' >override.yaml
"$LAVAFS" compose dict -c override.yaml >override.out 2>override.err || bad "compose override"
grep -q -- '-m 1024' override.out || bad "context overrode memory: $(cat override.out)"
grep -q '52:54:00:12:34:59' override.out || bad "context overrode the MAC: $(cat override.out)"
grep -q '66:66' override.out && bad "the context's MAC is in argv"
grep -q 'dictionary fixes' override.err || bad "no warning about the overridden key: $(cat override.err)"
ok

# ---- 3. template names stay inside the template directories
mkdir -p tpl secret
echo 'TOPSECRET' >secret/s.jinja2
echo 'TOPSECRET' >"$W/abs.jinja2"
for t in "{% extends '../secret/s.jinja2' %}" "{% include '$W/abs.jinja2' %}" \
	"{% include 'x/../../secret/s.jinja2' %}" "{% import '/etc/passwd' as p %}" \
	"{% from '../secret/s.jinja2' import x %}" "{% include ['nope', '../secret/s.jinja2'] %}" \
	"{% include 'x\\..\\..\\secret\\s.jinja2' %}" "{% extends '/proc/self/environ' %}"; do
	printf '%s' "$t" >tpl/t.jinja2
	out=$("$LAVAFS" render -t tpl tpl/t.jinja2 2>&1) && bad "render accepted: $t"
	case $out in *TOPSECRET* | *root:*) bad "render revealed a file outside: $t" ;; esac
	# the same as a device dictionary (what an admin's typo would do)
	printf '%s' "$t" >tpl/d.jinja2
	"$LAVAFS" compose -t tpl tpl/d.jinja2 -c plain.yaml >/dev/null 2>&1 && bad "compose accepted: $t"
done
# a template directory's own symlink to outside is the admin's choice; a relative name with
# a symlinked directory component is still just a name, and '..' inside names never resolves
ok

# ---- 4. context values are data
# (machine, vga and serial are not used by the amd64 template: they must merely do nothing)
# values that land inside template options carry no blanks here (the template's options are
# split into words like a shell splits them, without any expansion)
cat >meta.yaml <<EOF
arch: amd64
machine: "\$(touch\${IFS}$PWNED-1)"
cpu: "\`touch\${IFS}$PWNED-2\`"
model: "virtio;touch\${IFS}$PWNED-3"
vga: "std&&touch\${IFS}$PWNED-4||true"
serial: "{{7*7}}{%raw%}x{%endraw%}"
extra_options:
- "-append 'console=ttyS0 \$(touch $PWNED-5)'"
- '-name "x;rm -rf /tmp/nothing"'
- "-fw_cfg name=opt/x,string=a|touch\${IFS}$PWNED-6"
- "-smbios type=1,serial=\`id\`>$PWNED-7"
- "-device id={{7*7}}{%raw%}x"
EOF
"$LAVAFS" compose -e env.yaml -o meta dict -c meta.yaml 2>meta.err || bad "compose meta: $(cat meta.err)"
ls "$W" | grep -q pwned && bad "composition executed something: $(ls "$W" | grep pwned)"
args=$(tr '\0' '\n' <meta/argv)
grep -qF -- "\`touch\${IFS}$PWNED-2\`" <<<"$args" || bad "cpu value not literal"
grep -qF -- "virtio;touch\${IFS}$PWNED-3" <<<"$args" || bad "model value not literal"
grep -qxF -- 'id={{7*7}}{%raw%}x' <<<"$args" || bad "a context value was evaluated as a template"
grep -qxF -- "console=ttyS0 \$(touch $PWNED-5)" <<<"$args" || bad "append not one literal item"
grep -qxF -- 'x;rm -rf /tmp/nothing' <<<"$args" || bad "-name not one literal item"
grep -qxF -- "type=1,serial=\`id\`>$PWNED-7" <<<"$args" || bad "smbios not one literal item"
# with blanks, a value is split into words like the rest of the line, still never expanded
printf 'arch: amd64\nmachine: "pc $(touch %s-0)"\n' "$PWNED" >blank.yaml
"$LAVAFS" compose -o blank dict -c blank.yaml >/dev/null 2>&1
[ $? -le 1 ] || bad "compose crashed on a value with blanks"
ls "$W" | grep -q pwned && bad "a value with blanks executed something"
# newlines in values: a literal item, or a clean composition error, never a second command
for v in 'monitor: "none\ntouch PW"' 'extra_options: ["-name a\ntouch PW"]' \
	'extra_options: ["-name \"a\nb\"", "-x\r\ny"]' 'machine: "pc\n-device evil"'; do
	printf 'arch: amd64\n%s\n' "${v//PW/$PWNED-9}" >nl.yaml
	"$LAVAFS" compose -o nl dict -c nl.yaml >/dev/null 2>&1
	rc=$?
	[ $rc -le 1 ] || bad "newline context crashed compose (exit $rc): $v"
	ls "$W" | grep -q pwned && bad "newline value executed: $v"
	if [ $rc = 0 ]; then
		tr '\0' '\n' <nl/argv | grep -qx -- '-device' && [ "$v" = 'machine: "pc\n-device evil"' ] &&
			bad "a newline in machine made a new option"
	fi
done
# cmdline quotes every item back to the same words
eval "set -- $(cat meta/cmdline)"
[ $# -eq "$(tr -cd '\0' <meta/argv | wc -c)" ] || bad "cmdline has $# words, argv $(tr -cd '\0' <meta/argv | wc -c)"
ls "$W" | grep -q pwned && bad "cmdline executed something when evaluated by a shell"
ok

# ---- 5. lavafs run: execve of exactly argv, with exactly env, no shell
mkdir -p bin
cat >bin/qemu-system-x86_64 <<'EOF'
#!/bin/sh
# fake QEMU: records its argv and environment NUL-separated
out=${0%/bin/*}/ran
: >"$out.argv"
for a in "$0" "$@"; do printf '%s\0' "$a" >>"$out.argv"; done
/usr/bin/env -0 | /usr/bin/sort -z >"$out.env"
EOF
chmod +x bin/qemu-system-x86_64
printf 'purge: true\noverrides:\n  PATH: %s/bin\n  SAFE: "$(touch %s-8)"\n' "$W" "$PWNED" >runenv.yaml
"$LAVAFS" compose -e runenv.yaml -o run dict -c meta.yaml 2>/dev/null || bad "compose for run"
strace -f -qq -e trace=execve -o strace.log "$LAVAFS" run run >/dev/null 2>run.err ||
	bad "lavafs run failed: $(cat run.err)"
ls "$W" | grep -q pwned && bad "lavafs run executed something: $(ls "$W" | grep pwned)"
# argv[0] differs (the PATH-resolved file); every other item is byte-identical
tail -z -n +2 ran.argv >ran.rest
tail -z -n +2 run/argv >run.rest
cmp -s ran.rest run.rest || bad "QEMU got other arguments than argv"
sort -z run/env >run.env.sorted
# the fake's own shell adds PWD, SHLVL and _; everything else must be exactly env
grep -zv -e '^PWD=' -e '^SHLVL=' -e '^_=' ran.env >ran.env.clean
cmp -s ran.env.clean run.env.sorted || bad "QEMU got another environment: $(diff <(tr '\0' '\n' <ran.env.clean) <(tr '\0' '\n' <run.env.sorted))"
grep -q 'execve("/bin/sh", \["/bin/sh", "-c"' strace.log && bad "lavafs run used sh -c"
execs=$(grep -c 'execve(' strace.log)
first=$(grep -m1 -v "$LAVAFS" strace.log | grep -o 'execve("[^"]*"')
[ "$first" = "execve(\"$W/bin/qemu-system-x86_64\"" ] || bad "lavafs run exec'd $first first ($execs execs)"
ok

# ---- 6. through the mount
if [ "$(id -u)" -ne 0 ]; then
	echo "t-security: $n groups of checks passed; the mount part needs root (it switches users)"
	exit 0
fi
. "$TOP/tests/mountlib.sh"
lf_setup
trap 'lf_cleanup; cleanup_w' EXIT
ADMIN_GID=4 WRITER_GID=100
lf_mount -o allow_other,admin_gid=$ADMIN_GID,writer_gid=$WRITER_GID
lf_device qemu01 52:54:00:12:34:59
D=$MNT/devices/qemu01
as_writer() { setpriv --reuid=65534 --regid=$WRITER_GID --clear-groups sh -c "$*" 2>/dev/null; }
wait_ready() { # DEV: until status leaves composing (10 s)
	for _ in $(seq 100); do
		case $(head -n1 "$MNT/devices/$1/status") in composing* | preparing* | downloading*) sleep 0.1 ;; *) return 0 ;; esac
	done
	bad "$1 stays $(head -n1 "$MNT/devices/$1/status")"
}
cp env.yaml "$MNT/env.yaml" || bad "write env.yaml"
wait_ready qemu01
have_composition qemu01 || bad "the mount does not compose"
cp "$D/env" mount-env.plain
as_writer "cat '$W/envkeys.yaml' > '$D/context'" || bad "writer cannot write context"
wait_ready qemu01
case $(status_first qemu01) in ready*) ;; *) bad "envkeys context: $(cat "$D/status")" ;; esac
cmp -s mount-env.plain "$D/env" || bad "context keys changed env through the mount"
as_writer "cat '$W/meta.yaml' > '$D/context'" || bad "writer cannot write the meta context"
wait_ready qemu01
ls "$W" | grep -q pwned && bad "the daemon executed something"
tr '\0' '\n' <"$D/argv" | grep -qxF -- "console=ttyS0 \$(touch $PWNED-5)" || bad "mount argv: append not literal"

# a dictionary naming a template outside device-types/ fails and shows nothing of it
mkdir "$MNT/devices/qemu02" || bad "mkdir qemu02"
for t in "{% extends '../../../../../../etc/passwd' %}" "{% extends '/etc/passwd' %}" \
	"{% extends 'qemu.jinja2' %}{% block x %}{% include '../devices/qemu01/context' %}{% endblock %}"; do
	printf '%s\n' "$t" >"$MNT/devices/qemu02/dictionary" || bad "write qemu02/dictionary"
	wait_ready qemu02
	case $(status_first qemu02) in error*) ;; *) bad "the mount composed: $t" ;; esac
	grep -rq 'root:' "$MNT/devices/qemu02/" 2>/dev/null && bad "an output of qemu02 shows /etc/passwd"
done
rmdir "$MNT/devices/qemu02" 2>/dev/null || rm -rf "$MNT/devices/qemu02"

# a writer's job naming a local file outside the admin's image roots: whatever the daemon
# does with it (refuse, or leave it unfetched), the file's contents never show in the tree
mkdir -p "$W/private" && chmod 700 "$W/private" && echo 'SHADOWSECRET' >"$W/private/image"
printf 'context:\n  arch: amd64\nactions:\n- deploy:\n    images:\n      kernel:\n        url: file://%s/private/image\n        image_arg: -kernel {kernel}\n' "$W" >job-local.yaml
as_writer "cat '$W/job-local.yaml' > '$D/job.yaml'" || bad "writer cannot write job.yaml"
wait_ready qemu01
grep -rqs SHADOWSECRET "$D/" && bad "a job's file:// image exposed a root-only file through the mount"
as_writer "cat '$W/meta.yaml' > '$D/context'" || bad "writer cannot switch back to a context"
wait_ready qemu01

# writer routes to admin files: all refused, dictionary unchanged
dict_before=$(cat "$D/dictionary")
as_writer "truncate -s 0 '$D/dictionary'" && bad "writer truncated the dictionary"
as_writer "chmod 666 '$D/dictionary'" && bad "writer chmod'ed the dictionary"
as_writer "ln '$D/dictionary' '$D/overlay/hl'" && bad "writer hard-linked the dictionary into the overlay"
as_writer "mv '$D/context' '$D/dictionary'" && bad "writer renamed context over the dictionary"
as_writer "echo x > '$D/overlay/evil' && mv '$D/overlay/evil' '$D/dictionary'" && bad "writer moved an overlay file over the dictionary"
as_writer "mv '$D/overlay/evil' '$MNT/env.yaml'" && bad "writer moved an overlay file over env.yaml"
as_writer "mkdir '$D/argv.d' && mv '$D/argv.d' '$D/argv'" && bad "writer put a directory in place of argv"
as_writer "ln -s '$D/overlay/evil' '$D/status'" && bad "writer replaced status by a symlink"
as_writer "ln -s /etc/passwd '$MNT/device-types/evil.jinja2'" && bad "writer made a template symlink"
as_writer "mv '$D/overlay' '$MNT/device-types/x'" && bad "writer moved the overlay into device-types"
as_writer "echo x > '$MNT/health-checks/qemu.yaml'" && bad "writer wrote a health check"
as_writer "echo 'purge: true' > '$MNT/env.yaml'" && bad "writer wrote env.yaml"
[ "$(cat "$D/dictionary")" = "$dict_before" ] || bad "dictionary changed"
[ -f "$D/context" ] || bad "context gone after a refused rename"

# overlay symlinks: stored as symlinks, never followed by the daemon
mkdir -p "$W/private" && echo 'ROOTONLY' >"$W/private/secret" && chmod 700 "$W/private"
as_writer "ln -s '$W/private/secret' '$D/overlay/link'" || bad "writer cannot put a symlink in the overlay"
as_writer "ln -s ../../../../../../etc/shadow '$D/overlay/rel'" || bad "writer cannot put a relative symlink"
[ "$(readlink "$D/overlay/link")" = "$W/private/secret" ] || bad "readlink through the mount: $(readlink "$D/overlay/link")"
st=$(find "$STORE" -name link -path '*overlay*' | head -n1)
[ -n "$st" ] && [ -L "$st" ] || bad "the overlay symlink is not a symlink in STORE"
[ "$(readlink "$st")" = "$W/private/secret" ] || bad "STORE symlink target: $(readlink "$st")"
# the kernel resolves it for the reader, with the reader's rights: nobody cannot read it
as_writer "cat '$D/overlay/link'" | grep -q ROOTONLY && bad "a writer read a root-only file through an overlay symlink"
# the daemon does not follow it: stat through the mount shows a link, not the target's size
[ "$(stat -c %F "$D/overlay/link")" = "symbolic link" ] || bad "overlay/link is $(stat -c %F "$D/overlay/link")"
grep -rq ROOTONLY "$STORE" 2>/dev/null && bad "the target's contents were copied into STORE"
# writing through a symlink to outside: the kernel opens the target with the writer's rights
as_writer "echo pwn > '$D/overlay/link'" && bad "writer wrote through the symlink"
[ "$(cat "$W/private/secret")" = ROOTONLY ] || bad "the symlink's target changed"
ok

# set-user-ID files: the mount is nosuid, and the store (which keeps a writer's files with
# their modes) is closed to other local users, who could otherwise run them as the writer
as_writer "cp /bin/id '$D/overlay/myid' && chmod 6755 '$D/overlay/myid'" || bad "writer cannot chmod its own overlay file"
grep " $MNT " /proc/mounts | grep -q nosuid || bad "the mount is not nosuid"
# (through sh: setpriv's own exec would look the file up with root's rights)
out=$(setpriv --reuid=1 --regid=1 --clear-groups sh -c "'$D/overlay/myid' -u" 2>/dev/null)
[ "$out" = 1 ] || bad "a set-user-ID overlay file ran as $out through the mount"
st=$(find "$STORE" -name myid | head -n1)
[ -n "$st" ] || bad "myid not in STORE"
setpriv --reuid=1 --regid=1 --clear-groups sh -c "'$st' -u" >/dev/null 2>&1 &&
	bad "another local user ran a writer's set-user-ID file from STORE ($(stat -c %A "$STORE") STORE)"
ok

lf_umount
echo "t-security: $n groups of checks passed"
