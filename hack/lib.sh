# Sourced by hack/*/build.sh, the builds of test tools cached under ~/.cache/atoll.
# The caller sets cache_root, key and dir (what --print-dir prints) before calling.

# build_args handles a build script's arguments: none (build), --print-dir, -h/--help
# (the script's header comment). name prefixes messages; script is the caller's path.
build_args() {
	local name=$1 script=$2
	shift 2
	case "${1:-}" in
	"") ;;
	--print-dir)
		echo "$dir"
		exit 0
		;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$script" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "$name: unknown argument $1" >&2
		sed -n '2,/^set -euo/p' "$script" | sed '$d; s/^# \{0,1\}//' >&2
		exit 2
		;;
	esac
}

# build_lock exits if $dir/.complete says the build is done, else takes the build's lock
# (waiting for another build of the same key), checks again, and clears what an
# interrupted build left. It sets done_marker.
build_lock() {
	local name=$1
	done_marker=$dir/.complete
	if [[ -e $done_marker ]]; then
		echo "$name: cached in $dir"
		exit 0
	fi
	mkdir -p "$cache_root"
	exec 9>"$cache_root/.$key.lock"
	if ! flock -n 9; then
		echo "$name: another build of $key is running; waiting for it"
		flock 9
	fi
	if [[ -e $done_marker ]]; then
		echo "$name: cached in $dir"
		exit 0
	fi
	rm -rf "$cache_root"/.build-"$key"-*
}
