#!/bin/sh
# Installs everything vindex needs on Debian 12, from Debian's packages only.
# Idempotent: packages already present are left alone. Run as root (or with sudo).
set -eu

PACKAGES="build-essential cmake pkg-config libopenblas-dev zlib1g-dev libcmocka-dev \
python3-dev python3-numpy python3-pytest python3-matplotlib python3-faiss python3-hnswlib \
python3-setuptools python3-pip python3-venv python3-wheel \
dataset-fashion-mnist clang libclang-rt-14-dev valgrind"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
echo "vindex: Debian dependencies are installed"
