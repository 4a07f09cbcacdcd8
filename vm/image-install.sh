#!/bin/sh
# vm/image-install.sh BASE_IMAGE IMAGE DIR
# Copies the systemd VM's root disk BASE_IMAGE (rootfs.ext4 from vm/build.sh) to IMAGE and installs the
# tree DIR into it as if DIR were / (as `plumber-render --out DIR` writes it): directories, regular files
# with their modes, symbolic links. Existing files are replaced. Nothing is mounted: debugfs (e2fsprogs)
# writes the ext4 image directly. Then `e2fsck -fn` checks the result.
set -eu
base=${1:?usage: vm/image-install.sh BASE_IMAGE IMAGE DIR}
img=${2:?usage}
dir=$(cd "${3:?usage}" && pwd)
die() { echo "vm/image-install: error: $*" >&2; exit 1; }
for tool in debugfs e2fsck; do
    command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool (apt-get install e2fsprogs)"
done
[ -f "$base" ] || die "$base missing; run vm/build.sh"
cp --sparse=always "$base" "$img.tmp"
cmds="$img.debugfs"
: >"$cmds"
# Paths with blanks or quotes would need debugfs quoting; the rendered trees have none.
(cd "$dir" && find . -mindepth 1 | LC_ALL=C sort) | while read -r rel; do
    p=${rel#.}
    case $p in *[!A-Za-z0-9_./@+:-]*) die "unsupported path: $p" ;; esac
    if [ -L "$dir$p" ]; then
        echo "rm $p"
        echo "symlink $p $(readlink "$dir$p")"
    elif [ -d "$dir$p" ]; then
        echo "mkdir $p"
    elif [ -f "$dir$p" ]; then
        echo "rm $p"
        echo "write $dir$p $p"
        echo "sif $p uid 0"
        echo "sif $p gid 0"
    else
        die "not a file, directory or link: $p"
    fi
done >>"$cmds"
# debugfs reports a failed request but exits 0: "rm" of a missing file and "mkdir" of an existing
# directory are expected; anything else fails the install.
debugfs -w -f "$cmds" "$img.tmp" >"$img.debugfs.log" 2>&1 || die "debugfs failed: $(cat "$img.debugfs.log")"
bad=$(grep -v -e '^debugfs ' -e 'File not found by ext2_lookup' -e 'Ext2 directory already exists' \
    -e ': Ext2 file already exists' "$img.debugfs.log" | grep -iE 'error|not found|cannot|failed|exists' || true)
[ -z "$bad" ] || die "debugfs: $bad"
e2fsck -fn "$img.tmp" >"$img.e2fsck.log" 2>&1 || die "e2fsck after the install: $(cat "$img.e2fsck.log")"
mv "$img.tmp" "$img"
