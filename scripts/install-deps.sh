#!/usr/bin/env bash
# Installs the system packages SwiftGPT builds against, only those that are missing.
# As root it runs apt-get itself; with sudo it uses sudo; otherwise it prints the command and stops.
set -euo pipefail

packages=(libopenblas-dev libomp-dev ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo pkg-config
          zlib1g-dev libreadline-dev tmux)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all installed (${packages[*]})"
    exit 0
fi
cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    sudo_=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo_="sudo"
else
    echo "deps: missing ${missing[*]}; run as root:" >&2
    echo "  $cmd" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
$sudo_ apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${missing[@]}" >/dev/null
