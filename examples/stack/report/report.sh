#!/bin/sh
# Serves / (ok) and /report.txt, refreshed every second: the API's visit count, fetched by
# name (api:8080), and proof that the report_token secret is readable at /run/secrets (its
# length, never its value).
set -eu
mkdir -p /www
echo ok > /www/index.html
token=$(cat /run/secrets/report_token)
(
  while true; do
    {
      echo "secret report_token: ${#token} characters, read from /run/secrets"
      echo "api says: $(wget -q -O - http://api:8080/stats 2>/dev/null || echo unreachable)"
    } > /www/report.tmp && mv /www/report.tmp /www/report.txt
    sleep 1
  done
) &
echo "report: serving on port $PORT"
exec httpd -f -p "127.0.0.1:$PORT" -h /www
