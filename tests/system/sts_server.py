"""An HTTPS server for the MTA-STS tests: serves
/.well-known/mta-sts.txt as text/plain from DIR/<Host header>, and 404
for anything else; takes a POST to /report (a TLS-RPT report) into
DIR/posted-<Host header>-<n> with its Content-Type in a .type file
beside it; one thread a request.

    sts_server.py ADDRESS PORT CERT KEY DIR

Prints "listening" once it accepts connections."""
import http.server
import os
import ssl
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        path = os.path.join(sys.argv[5], os.path.basename(host))
        if self.path != "/.well-known/mta-sts.txt" or not os.path.isfile(path):
            self.send_error(404)
            return
        body = open(path, "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        host = os.path.basename((self.headers.get("Host") or "").split(":")[0].lower())
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/report":
            self.send_error(404)
            return
        n = len([f for f in os.listdir(sys.argv[5]) if f.startswith(f"posted-{host}-") and f.endswith(".gz")])
        path = os.path.join(sys.argv[5], f"posted-{host}-{n}.gz")
        with open(path + ".type", "w") as f:
            f.write(self.headers.get("Content-Type") or "")
        with open(path, "wb") as f:
            f.write(body)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.headers.get("Host"), fmt % args))
        sys.stderr.flush()


server = http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[3], sys.argv[4])
server.socket = context.wrap_socket(server.socket, server_side=True)
print("listening", flush=True)
server.serve_forever()
