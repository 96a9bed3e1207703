#!/usr/bin/env bash
# Packs what a GPU host with no network needs to run `deno task gpu:check` and the suite, under
# 64 MiB: the deno binary (xz), the suite's sources with a trimmed node_modules (no deno package,
# no canvas binary: reports are written back home), nats-server, and Debian's Vulkan loader, the
# GL vendor-neutral dispatch libraries NVIDIA's Vulkan driver is linked against (its ICD is
# libGLX_nvidia.so.0: without libglvnd0/libglx0/libgl1/libegl1 the loader drops it and Deno gets
# no adapter, as seen on an H200 host), and the Mesa device-select layer (unpack with dpkg -x
# there, then ldconfig; see the README).
#   bench/gpu/pack.sh [OUT.tar.xz]       build the pack (default dist/phantom-gpu.tar.xz)
#   bench/gpu/pack.sh --dry-run          build it, unpack it in a temp folder, run gpu:check --software there
set -euo pipefail
cd "$(dirname "$0")/../.."
dry=0
out=dist/phantom-gpu.tar.xz
for a in "$@"; do
  case "$a" in
    --dry-run) dry=1 ;;
    *) out="$a" ;;
  esac
done
limit=$((64 * 1024 * 1024))
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/suite" "$stage/debs" "$(dirname "$out")"

echo "== deno binary"
cp node_modules/deno/deno "$stage/deno"

echo "== the suite: sources and a trimmed node_modules"
git ls-files -z lib bench workers reports deno.json deno.lock package.json | xargs -0 cp --parents -t "$stage/suite"
mkdir -p "$stage/suite/node_modules"
for p in node_modules/*; do
  case "$(basename "$p")" in deno | @deno | @napi-rs | @types | .bin | .deno) continue ;; esac
  cp -r "$p" "$stage/suite/node_modules/"
done

echo "== nats-server"
if command -v nats-server >/dev/null; then cp "$(command -v nats-server)" "$stage/"; else echo "   not installed here: left out"; fi

echo "== Vulkan loader, GL dispatch libraries and Mesa device-select layer (.deb)"
mkdir -p "$stage/debs/mesa"
if (cd "$stage/debs" && apt-get download -qq libvulkan1 libglvnd0 libglx0 libgl1 libegl1 libopengl0 2>/dev/null) &&
  (cd "$stage/debs/mesa" && apt-get download -qq mesa-vulkan-drivers 2>/dev/null); then
  ls "$stage/debs"
else
  echo "   apt-get download failed (no package index?): left out; bring libvulkan1, libglvnd0, libglx0, libgl1, libegl1 and mesa-vulkan-drivers yourself"
fi

echo "== tar.xz"
tar -cf - -C "$stage" . | xz -T0 -9 > "$out"
size=$(stat -c %s "$out")
echo "pack: $out, $((size / 1024 / 1024)) MiB of 64 MiB"
if [ "$size" -gt "$limit" ]; then
  echo "error: the pack is over 64 MiB" >&2
  exit 1
fi

if [ "$dry" -eq 1 ]; then
  echo "== dry run: unpack in a temp folder and run gpu:check --software there"
  there=$(mktemp -d)
  tar -xJf "$out" -C "$there"
  (cd "$there/suite" && ../deno run -A bench/gpu/check.ts --software --out "$there/check")
  status=$?
  rm -rf "$there"
  exit $status
fi
