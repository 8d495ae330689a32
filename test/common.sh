# test/common.sh: shared by test/demo and test/check (sourced, not run).
# Installs what is missing on Debian 12, builds and installs the extension.

# Everything runs from the repository root, against PostgreSQL 15, in a
# UTF-8 locale (the demo and tests print Chinese button labels; a fresh
# Debian image has no LANG, which would make clusters SQL_ASCII).
CO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$CO_ROOT"
export LANG=C.UTF-8 LC_ALL=C.UTF-8
export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
CO_PACKAGES=(postgresql-15 postgresql-server-dev-15 make gcc libipc-run-perl
			 python3-psycopg2)

if ((EUID == 0)); then
	CO_AS_ROOT=()
else
	CO_AS_ROOT=(sudo)
fi

# apt-get update once, then install only the missing packages
co_install_deps()
{
	local pkg status missing=()

	for pkg in "${CO_PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
		[[ $status == "install ok installed" ]] || missing+=("$pkg")
	done
	((${#missing[@]} == 0)) && return 0

	echo "== installing ${missing[*]}"
	if ((EUID != 0)) && ! command -v sudo >/dev/null; then
		echo "missing ${missing[*]}; run as root (or install sudo)" >&2
		return 1
	fi
	"${CO_AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${CO_AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# A clean build; with --strict, any compiler "warning:" fails it.
co_build()
{
	local log
	log=$(mktemp)
	make -s clean >/dev/null
	# pipefail: the pipe fails when make does
	if ! (set -o pipefail; make 2>&1 | tee "$log"); then
		echo "== build FAILED" >&2
		rm -f "$log"
		return 1
	fi
	if [[ ${1:-} == --strict ]] && grep -q "warning:" "$log"; then
		echo "== build FAILED: the compiler printed warnings:" >&2
		grep "warning:" "$log" >&2
		rm -f "$log"
		return 1
	fi
	rm -f "$log"
}

co_install()
{
	"${CO_AS_ROOT[@]}" make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
}

# A port no other cluster on this machine listens on (several throwaway
# clusters may run at once; pg_virtualenv would refuse a taken port)
co_free_port()
{
	local port
	for ((port = 5432; port < 5632; port++)); do
		[[ -e /var/run/postgresql/.s.PGSQL.$port || -e /tmp/.s.PGSQL.$port ]] && continue
		if command -v ss >/dev/null && ss -ltn "sport = :$port" | grep -q LISTEN; then
			continue
		fi
		echo "$port"
		return 0
	done
	echo 5432
}

# pg_virtualenv on a throwaway PostgreSQL 15 cluster at a free port
co_virtualenv()
{
	pg_virtualenv -v 15 -t -c "-p $(co_free_port)" "$@"
}
