#!/usr/bin/env bash
# Builds the upstream control-plane binaries the end-to-end tests run: kube-apiserver and
# kube-scheduler from the Kubernetes release pinned in go.mod (the only place it is pinned),
# and etcd (Debian's etcd-server package, else built from the etcd that release requires).
#
#   tests/e2e/kubernetes/build.sh                  build what is missing, print the bin dir last
#   tests/e2e/kubernetes/build.sh --print-bin-dir  print the bin dir only, build nothing
#   tests/e2e/kubernetes/build.sh --force          rebuild kube-apiserver and kube-scheduler
#
# Cache layout (CI caches the whole root; SNUGFIT_CACHE moves it):
#   ${SNUGFIT_CACHE:-$HOME/.cache/snugfit}/controlplane/<k8s-version>/bin/{kube-apiserver,kube-scheduler,etcd}
#   ${SNUGFIT_CACHE:-$HOME/.cache/snugfit}/go/mod     GOMODCACHE
#   ${SNUGFIT_CACHE:-$HOME/.cache/snugfit}/go/build   GOCACHE
# SNUGFIT_ETCD=source builds etcd from go.mod even where Debian's package could be installed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() {
  echo "tests/e2e/kubernetes/build.sh: ERROR: $*" >&2
  exit 1
}

say() {
  echo "tests/e2e/kubernetes/build.sh: $*" >&2
}

# The release pinned in go.mod: `k8s.io/kubernetes v1.X.Y` in a require line or block.
k8s_version() {
  local version
  version="$(sed -nE 's/^[[:space:]]*(require[[:space:]]+)?k8s\.io\/kubernetes[[:space:]]+(v1\.[0-9]+\.[0-9]+)[[:space:]]*$/\2/p' \
    "$here/go.mod")"
  [[ "$(wc -w <<<"$version")" -eq 1 ]] \
    || die "go.mod must require k8s.io/kubernetes v1.X.Y exactly once (found: '${version}')"
  echo "$version"
}

# Every k8s.io staging replace must point at v0.X.Y of that same release.
check_staging_pins() {
  local staging="v0.${1#v1.}" bad
  bad="$(sed -nE 's/^[[:space:]]*(k8s\.io\/[^[:space:]]+)[[:space:]]+=>[[:space:]]+k8s\.io\/[^[:space:]]+[[:space:]]+(v[^[:space:]]+)[[:space:]]*$/\1 \2/p' \
    "$here/go.mod" | awk -v want="$staging" '$2 != want')"
  [[ -z "$bad" ]] || die "go.mod staging replaces must all be $staging for $1; these are not: $bad"
  grep -qE "^[[:space:]]*k8s\.io/api[[:space:]]+=>" "$here/go.mod" \
    || die "go.mod lacks the k8s.io staging replace directives (k8s.io/api => k8s.io/api $staging ...)"
}

check_go() {
  command -v go >/dev/null || die "go is not on PATH; install Go >= 1.24 to build the control plane"
  local v
  v="$(go env GOVERSION)"
  [[ "$v" =~ ^go1\.([0-9]+) ]] || die "cannot read the Go version (got '$v')"
  ((BASH_REMATCH[1] >= 24)) || die "Go $v is too old: Kubernetes $K8S_VERSION needs Go >= 1.24"
}

go_build() { # go_build OUT_DIR PACKAGE...
  local out="$1" minor="${K8S_VERSION#v1.}"
  shift
  minor="${minor%%.*}"
  local ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean"
  done
  (cd "$here" && CGO_ENABLED=0 go build -mod=readonly -ldflags "$ldflags" -o "$out/" "$@") \
    || die "go build $* failed (see the compiler output above)"
}

build_kube() {
  local missing=()
  for name in kube-apiserver kube-scheduler; do
    if [[ "$FORCE" == 1 || ! -x "$BIN_DIR/$name" ]]; then
      missing+=("./cmd/$name")
    fi
  done
  if ((${#missing[@]} == 0)); then
    say "kube-apiserver and kube-scheduler $K8S_VERSION already in $BIN_DIR"
    return
  fi
  check_go
  say "building ${missing[*]} for Kubernetes $K8S_VERSION (cold: about 10-25 min on 2 cores)"
  local start=$SECONDS
  BUILD_TMP="$BIN_DIR.tmp.$$"
  rm -rf "$BUILD_TMP" && mkdir -p "$BUILD_TMP"
  trap 'rm -rf "$BUILD_TMP"' EXIT
  go_build "$BUILD_TMP" "${missing[@]}"
  mv -f "$BUILD_TMP"/* "$BIN_DIR/"
  say "built ${missing[*]} in $((SECONDS - start)) s"
}

install_etcd() {
  if [[ "${SNUGFIT_ETCD:-}" != source ]] && ! command -v etcd >/dev/null \
    && [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    say "installing Debian's etcd-server"
    apt-get update -qq >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server >&2 \
      || die "apt-get install etcd-server failed"
  fi
  if [[ "${SNUGFIT_ETCD:-}" != source ]] && command -v etcd >/dev/null; then
    ln -sfn "$(command -v etcd)" "$BIN_DIR/etcd"
  elif [[ ! -x "$BIN_DIR/etcd" || -L "$BIN_DIR/etcd" ]]; then
    check_go
    say "building etcd from go.etcd.io/etcd/server/v3 as pinned in go.mod"
    rm -f "$BIN_DIR/etcd"
    go_build "$BIN_DIR" ./cmd/etcd
  fi
  "$BIN_DIR/etcd" --version >/dev/null 2>&1 || die "$BIN_DIR/etcd does not run"
}

main() {
  FORCE=0
  local print_only=0
  for arg in "$@"; do
    case "$arg" in
      --force) FORCE=1 ;;
      --print-bin-dir) print_only=1 ;;
      *) die "unknown argument '$arg' (use --force or --print-bin-dir)" ;;
    esac
  done
  K8S_VERSION="$(k8s_version)"
  check_staging_pins "$K8S_VERSION"
  local cache="${SNUGFIT_CACHE:-$HOME/.cache/snugfit}"
  BIN_DIR="$cache/controlplane/$K8S_VERSION/bin"
  if ((print_only)); then
    echo "$BIN_DIR"
    return
  fi
  export GOCACHE="$cache/go/build" GOMODCACHE="$cache/go/mod" GOFLAGS=-trimpath GOTOOLCHAIN=local
  mkdir -p "$BIN_DIR" "$GOCACHE" "$GOMODCACHE"
  build_kube
  install_etcd
  for name in etcd kube-apiserver kube-scheduler; do
    [[ -x "$BIN_DIR/$name" ]] || die "$BIN_DIR/$name is missing after the build"
  done
  echo "$BIN_DIR"
}

main "$@"
