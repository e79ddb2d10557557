#!/bin/sh
# notify.sh: agentmon serve's notifiers against real servers on 127.0.0.1:
# Debian's prometheus-alertmanager (alerts sent to it, routed on), an
# aiosmtpd SMTP server (messages parsed back), and an HTTP receiver that
# checks the Slack, PagerDuty and webhook payloads; retries, silences,
# inhibition, restarts, secrets and bad configurations (notify_check.py
# says what each step checks).
#
#   sh tests/integration/notify.sh [BUILDDIR]        (from the repo root)
#
# Skips (exit 0, saying so) when prometheus-alertmanager or aiosmtpd is
# missing (scripts/deps.sh test installs them).
set -u
B=${1:-build}
[ -x "$B/agentmon" ] || { echo "notify: build agentmon first" >&2; exit 1; }
timeout 300 /usr/bin/python3 "$(dirname "$0")/notify_check.py" "$B/agentmon"
rc=$?
[ $rc = 77 ] && exit 0
exit $rc
