#!/bin/sh
# hack/hostile-shell.sh CMD [ARG...]: runs CMD (make test's go test) on a
# machine configured the way a developer's may be, so a test that reads the
# machine's git or Docker configuration fails here first: a global git
# configuration (~/.gitconfig, $XDG_CONFIG_HOME/git/config, GIT_CONFIG_SYSTEM,
# GIT_CONFIG_COUNT) with hooks that reject every commit, push and ref update,
# commit and tag signing through a gpg that fails, protocol.version=0, another
# first branch, core.autocrlf and decorated output; a ~/.docker/config.json
# whose credsStore and credHelpers run a helper that fails; a TMPDIR of about
# 200 bytes. testenv.Main isolates every test package from all of it.
#
# The go command itself keeps the shell's caches and go env file: they are
# resolved before HOME moves.
set -eu
go=${GO:-go}
GOENV=$($go env GOENV) GOCACHE=$($go env GOCACHE) GOMODCACHE=$($go env GOMODCACHE) GOPATH=$($go env GOPATH)
export GOENV GOCACHE GOMODCACHE GOPATH

dir=$(mktemp -d "${TMPDIR:-/tmp}/slipway-hostile.XXXXXX")
trap 'chmod -R u+w "$dir" 2>/dev/null; rm -rf "$dir"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
home=$dir/home
mkdir -p "$dir/hooks" "$dir/bin" "$home/.docker" "$home/.config/git"
for h in pre-commit commit-msg pre-push pre-receive update reference-transaction post-checkout; do
  printf '#!/bin/sh\necho "hostile hook %s rejects (hack/hostile-shell.sh: the test read the machine'"'"'s git configuration)" >&2\nexit 1\n' "$h" >"$dir/hooks/$h"
  chmod +x "$dir/hooks/$h"
done
cat >"$home/.gitconfig" <<CFG
[user]
	name = Hostile User
	email = hostile@example.invalid
	signingkey = DEADBEEFDEADBEEF
[commit]
	gpgsign = true
[tag]
	gpgsign = true
	forceSignAnnotated = true
[push]
	gpgSign = true
	default = nothing
[gpg]
	program = /bin/false
[core]
	hooksPath = $dir/hooks
	autocrlf = true
	quotepath = true
[init]
	defaultBranch = trunk
[protocol]
	version = 0
[color]
	ui = always
[diff]
	external = /bin/false
	noprefix = true
[format]
	pretty = oneline
[log]
	showSignature = true
[status]
	showUntrackedFiles = no
[index]
	version = 4
CFG
cp "$home/.gitconfig" "$home/.config/git/config"
cp "$home/.gitconfig" "$dir/system.gitconfig"
printf '#!/bin/sh\necho "hostile docker credential helper (hack/hostile-shell.sh: the test read ~/.docker)" >&2\nexit 1\n' >"$dir/bin/docker-credential-hostile"
chmod +x "$dir/bin/docker-credential-hostile"
cat >"$home/.docker/config.json" <<'CFG'
{"credsStore":"hostile","credHelpers":{"127.0.0.1":"hostile","localhost":"hostile"},"auths":{"127.0.0.1:5005":{"auth":"am9objpzZWNyZXQ="}}}
CFG
tmp=$dir/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
mkdir -p "$tmp"

status=0
env HOME="$home" XDG_CONFIG_HOME="$home/.config" TMPDIR="$tmp" PATH="$dir/bin:$PATH" \
  DOCKER_CONFIG="$home/.docker" GIT_CONFIG_GLOBAL="$home/.gitconfig" GIT_CONFIG_SYSTEM="$dir/system.gitconfig" \
  GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.hooksPath GIT_CONFIG_VALUE_0="$dir/hooks" \
  "$@" || status=$?
exit "$status"
