"""The stack example's API: counts visits in PostgreSQL.

DATABASE_URL names the database as db:5432 (a service name, resolved in the API's own
/etc/hosts); the password comes from the db_password secret ($SLIPWAY_SECRETS_DIR, which is
/run/secrets when slipway runs as root). GET / counts a visit, GET /stats reads the count,
GET /health answers once the database does.
"""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

SECRETS = os.environ.get("SLIPWAY_SECRETS_DIR", "/run/secrets")


def connect():
    with open(os.path.join(SECRETS, "db_password")) as f:
        password = f.read().strip()
    return psycopg2.connect(os.environ["DATABASE_URL"], password=password, connect_timeout=3)


def query(sql):
    conn = connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS visits (n bigint NOT NULL)")
            cur.execute("INSERT INTO visits SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM visits)")
            cur.execute(sql)
            return cur.fetchone()[0]
    finally:
        conn.close()


class Handler(BaseHTTPRequestHandler):
    def answer(self, code, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        try:
            if self.path == "/health":
                self.answer(200, {"ok": query("SELECT 1") == 1})
            elif self.path == "/":
                self.answer(200, {"visits": query("UPDATE visits SET n = n + 1 RETURNING n")})
            elif self.path == "/stats":
                self.answer(200, {"visits": query("SELECT n FROM visits")})
            else:
                self.answer(404, {"error": "not found"})
        except psycopg2.Error as e:
            self.answer(503, {"error": str(e).strip().splitlines()[0]})

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    print(f"api: listening on 127.0.0.1:{port}, database {os.environ['DATABASE_URL']}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
