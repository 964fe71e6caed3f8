#!/bin/sh
# render-config.sh (bridge pod, init container): writes /config/config.yaml from
# the matrix-bot Secret (passed in as environment variables) and the static
# templating section. Every Secret value becomes a double-quoted YAML string
# with backslashes and quotes escaped, so IDs such as "!room:server" and
# "@bot:server" stay strings whatever characters they hold.
set -eu
config_dir=${CONFIG_DIR:-/config}
templates_dir=${TEMPLATES_DIR:-/templates}
quote() {
	printf '"%s"' "$(printf '%s' "$1" | tr -d '\r\n' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}
umask 077
tmp=$config_dir/config.yaml.tmp
{
	printf 'http:\n  port: 3000\n  alerts-path-prefix: /alerts\n  metrics-enabled: true\n'
	printf 'matrix:\n'
	printf '  homeserver-url: %s\n' "$(quote "$MATRIX_URL")"
	printf '  user-id: %s\n' "$(quote "$MATRIX_USER_ID")"
	printf '  access-token: %s\n' "$(quote "$MATRIX_ACCESS_TOKEN")"
	printf '  room-mapping:\n    default: %s\n' "$(quote "$MATRIX_ROOM_ID")"
	cat "$templates_dir/templating.yaml"
} >"$tmp"
mv "$tmp" "$config_dir/config.yaml"
echo "wrote $config_dir/config.yaml for $MATRIX_USER_ID"
