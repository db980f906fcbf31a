#!/usr/bin/env bash
# Adds vad-review to the desktop's application menu (Linux, per user; no root needed): the .desktop
# file goes to ~/.local/share/applications with Exec pointing at the bundle, the icons to
# ~/.local/share/icons/hicolor.
#   packaging/install_desktop_entry.sh [BUNDLE_DIR]     (default: dist/vad-review)
#   packaging/install_desktop_entry.sh --uninstall
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
if [[ ${1:-} == --uninstall ]]; then
  rm -f "$data/applications/vad-review.desktop"
  find "$data/icons/hicolor" -name 'vad-review.*' -delete 2>/dev/null || true
  echo "removed the vad-review menu entry"
  exit 0
fi
bundle=$(cd "${1:-$here/../dist/vad-review}" 2>/dev/null && pwd) || {
  echo "no bundle at ${1:-dist/vad-review}: build it with packaging/build_bundle.sh" >&2; exit 2; }
[[ -x $bundle/vad-review ]] || { echo "$bundle/vad-review is not an executable bundle" >&2; exit 2; }
mkdir -p "$data/applications" "$data/icons"
sed -e "s|^Exec=vad-review|Exec=\"$bundle/vad-review\"|" -e "s|^TryExec=vad-review|TryExec=$bundle/vad-review|" \
  "$here/vad-review.desktop" > "$data/applications/vad-review.desktop"
cp -r "$bundle/share/icons/hicolor" "$data/icons/"
if command -v update-desktop-database > /dev/null; then update-desktop-database "$data/applications" || true; fi
if command -v gtk-update-icon-cache > /dev/null; then gtk-update-icon-cache -q "$data/icons/hicolor" || true; fi
echo "installed $data/applications/vad-review.desktop (Exec: $bundle/vad-review)"
