#!/usr/bin/env bash
# scripts/setup.sh: installs what grpo needs, idempotently and quietly when all is there.
#  - Debian packages: compilers' companions, gRPC/protobuf, yaml-cpp, PCRE2, nlohmann-json,
#    CLI11, GoogleTest, ccache, clang (libFuzzer).
#  - LibTorch: the PyPI torch wheel (pinned) in a virtual environment at $GRPO_VENV
#    (default /opt/grpo/venv), outside the repository so builds and CI reuse it; plus the
#    Python packages the tests and benchmarks use (tensorboard, grpcio, transformers, trl).
set -euo pipefail
GRPO_VENV=${GRPO_VENV:-/opt/grpo/venv}
TORCH_VERSION=${GRPO_TORCH_VERSION:-2.11.0}
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

DEBS=(build-essential cmake pkg-config python3 python3-venv git ccache clang
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
      libyaml-cpp-dev libpcre2-dev nlohmann-json3-dev libcli11-dev libgtest-dev
      libicu-dev libgloo-dev)  # libgloo-dev: headers for the learner's c10d Gloo backend
missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${GRPO_PYTHON:-python3}
if [ ! -x "$GRPO_VENV/bin/python" ]; then
  echo "setup: creating virtual environment $GRPO_VENV"
  $SUDO mkdir -p "$(dirname "$GRPO_VENV")"
  $SUDO "$PY" -m venv "$GRPO_VENV"
fi
have() { "$GRPO_VENV/bin/python" - "$@" <<'PYEOF' 2>/dev/null
import importlib.metadata as md, sys
for spec in sys.argv[1:]:
    name, _, ver = spec.partition("==")
    try:
        got = md.version(name)
    except md.PackageNotFoundError:
        sys.exit(1)
    if ver and not got.startswith(ver):
        sys.exit(1)
PYEOF
}
PKGS=("torch==$TORCH_VERSION" numpy tensorboard grpcio grpcio-tools safetensors)
if [ "${GRPO_SETUP_DEV:-1}" = 1 ]; then
  # Reference implementations for parity fixtures and benchmarks.
  PKGS+=(transformers tokenizers trl matplotlib math-verify)
fi
if ! have "${PKGS[@]}"; then
  echo "setup: installing Python packages into $GRPO_VENV: ${PKGS[*]}"
  $SUDO "$GRPO_VENV/bin/pip" install -q --disable-pip-version-check "${PKGS[@]}"
fi
