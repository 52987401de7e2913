#!/bin/sh
# Serves / (ok) and /cgi-bin/report: the API's visit count, fetched by name (api:8080), and
# proof that the report_token secret is readable at /run/secrets (its length, never its value).
set -eu
mkdir -p /www/cgi-bin
echo ok > /www/index.html
cat > /www/cgi-bin/report <<'CGI'
#!/bin/sh
token=$(cat /run/secrets/report_token)
echo "Content-Type: text/plain"
echo
echo "secret report_token: ${#token} characters, read from /run/secrets"
echo "api says: $(wget -q -O - http://api:8080/stats)"
CGI
chmod 755 /www/cgi-bin/report
echo "report: serving on port $PORT"
exec httpd -f -p "127.0.0.1:$PORT" -h /www
