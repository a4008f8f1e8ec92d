#!/usr/bin/env bash
# Install (or with --uninstall, remove) FaceForge's desktop entry, icon and project-file MIME
# type for the current user, under $XDG_DATA_HOME (default ~/.local/share). No root needed.
#
#   packaging/install-desktop.sh               # install
#   packaging/install-desktop.sh --uninstall   # remove
#
# Run it from a source checkout after `faceforge` is on PATH (e.g. after packaging/install.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
desktop_file="$data/applications/faceforge.desktop"
icon_file="$data/icons/hicolor/scalable/apps/faceforge.svg"
mime_file="$data/mime/packages/faceforge.xml"

# Project files (*.ffproj) have no system MIME type; PLY has none in shared-mime-info 2.2.
write_mime() {
    mkdir -p "$(dirname "$mime_file")"
    cat > "$mime_file" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">
  <mime-type type="application/x-faceforge-project">
    <comment>FaceForge project</comment>
    <icon name="faceforge"/>
    <glob pattern="*.ffproj"/>
  </mime-type>
  <mime-type type="model/x-ply">
    <comment>PLY 3D model</comment>
    <magic><match type="string" value="ply" offset="0"/></magic>
    <glob pattern="*.ply"/>
  </mime-type>
</mime-info>
XML
}

refresh_caches() {
    if [ -d "$data/mime/packages" ] && command -v update-mime-database >/dev/null; then
        update-mime-database "$data/mime"
    fi
    if [ -d "$data/applications" ] && command -v update-desktop-database >/dev/null; then
        update-desktop-database "$data/applications"
    fi
    if [ -d "$data/icons/hicolor" ] && command -v gtk-update-icon-cache >/dev/null; then
        gtk-update-icon-cache --force --ignore-theme-index --quiet "$data/icons/hicolor" || true
    fi
}

install_files() {
    install -D -m 644 "$here/faceforge.desktop" "$desktop_file"
    install -D -m 644 "$here/../resources/icons/faceforge.svg" "$icon_file"
    write_mime
    refresh_caches
    echo "Installed FaceForge desktop entry, icon and MIME type under $data"
    if ! command -v faceforge >/dev/null; then
        echo "warning: 'faceforge' is not on PATH, so the menu entry cannot start it yet." >&2
    fi
}

uninstall_files() {
    rm -f "$desktop_file" "$icon_file" "$mime_file"
    refresh_caches
    echo "Removed FaceForge desktop entry, icon and MIME type from $data"
}

case "${1:-}" in
    "") install_files ;;
    --uninstall) uninstall_files ;;
    *) echo "usage: $0 [--uninstall]" >&2; exit 2 ;;
esac
