#!/usr/bin/python3
"""mini_registry.py - a Confluent-compatible Schema Registry for the tests
when Apicurio cannot run here (tests/schemareg/start-registry.sh says why).

It serves the calls Swarm and Confluent's serializers make, with the
registry's semantics: global ids, one id per distinct schema text, versions
per subject, 404 with error_code 40403 for an unknown id, 40401 for an
unknown subject, optional HTTP basic auth (401 otherwise).  It does not
check compatibility.  Prints "url=http://127.0.0.1:PORT" once listening;
GET /_stats returns how many requests each path kind got (the tests assert
caching with it).

usage: mini_registry.py [--user USER:PASSWORD] [--port-file FILE]
"""
import base64, json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

lock = threading.RLock()
schemas = {}       # id -> schema text
ids = {}           # schema text -> id
subjects = {}      # subject -> [id, ...] (versions)
stats = {}
auth = None

args = sys.argv[1:]
port_file = None
while args:
    a = args.pop(0)
    if a == "--user":
        auth = "Basic " + base64.b64encode(args.pop(0).encode()).decode()
    elif a == "--port-file":
        port_file = args.pop(0)


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def count(self, kind):
        with lock:
            stats[kind] = stats.get(kind, 0) + 1

    def authorized(self):
        if auth and self.headers.get("Authorization") != auth:
            self.reply(401, {"error_code": 401, "message": "Unauthorized"})
            return False
        return True

    def do_GET(self):
        p = self.path.split("?")[0].rstrip("/")
        if p == "/_stats":
            with lock:
                return self.reply(200, stats)
        if not self.authorized():
            return
        parts = p.split("/")[1:]
        if parts[:2] == ["schemas", "ids"] and len(parts) == 3:
            self.count("get_id")
            try:
                i = int(parts[2])
            except ValueError:
                return self.reply(404, {"error_code": 40403, "message": "Schema not found"})
            with lock:
                s = schemas.get(i)
            if s is None:
                return self.reply(404, {"error_code": 40403, "message": "Schema %d not found" % i})
            return self.reply(200, {"schema": s})
        if parts == ["subjects"]:
            with lock:
                return self.reply(200, sorted(subjects))
        if len(parts) == 3 and parts[0] == "subjects" and parts[2] == "versions":
            with lock:
                v = subjects.get(unquote(parts[1]))
            if v is None:
                return self.reply(404, {"error_code": 40401, "message": "Subject not found"})
            return self.reply(200, list(range(1, len(v) + 1)))
        if len(parts) == 4 and parts[0] == "subjects" and parts[2] == "versions":
            with lock:
                v = subjects.get(unquote(parts[1]))
            if v is None:
                return self.reply(404, {"error_code": 40401, "message": "Subject not found"})
            n = len(v) if parts[3] == "latest" else int(parts[3])
            return self.reply(200, {"subject": unquote(parts[1]), "version": n,
                                    "id": v[n - 1], "schema": schemas[v[n - 1]]})
        self.reply(404, {"error_code": 404, "message": "no such path"})

    def do_POST(self):
        if not self.authorized():
            return
        n = int(self.headers.get("Content-Length", "0"))
        try:
            s = json.loads(self.rfile.read(n))["schema"]
            json.loads(s)
        except Exception as e:
            return self.reply(422, {"error_code": 42201, "message": "Invalid schema: %s" % e})
        parts = self.path.split("?")[0].rstrip("/").split("/")[1:]
        if len(parts) < 2 or parts[0] != "subjects":
            return self.reply(404, {"error_code": 404, "message": "no such path"})
        subject = unquote(parts[1])
        with lock:
            if len(parts) == 3 and parts[2] == "versions":
                self.count("register")
                i = ids.get(s)
                if i is None:
                    i = ids[s] = len(schemas) + 1
                    schemas[i] = s
                v = subjects.setdefault(subject, [])
                if i not in v:
                    v.append(i)
                return self.reply(200, {"id": i})
            if len(parts) == 2:
                self.count("lookup")
                i = ids.get(s)
                v = subjects.get(subject)
                if v is None:
                    return self.reply(404, {"error_code": 40401, "message": "Subject not found"})
                if i is None or i not in v:
                    return self.reply(404, {"error_code": 40403, "message": "Schema not found"})
                return self.reply(200, {"subject": subject, "id": i,
                                        "version": v.index(i) + 1, "schema": s})
        self.reply(404, {"error_code": 404, "message": "no such path"})


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
url = "http://127.0.0.1:%d" % srv.server_address[1]
if port_file:
    with open(port_file + ".tmp", "w") as f:
        f.write(url + "\n")
    import os
    os.rename(port_file + ".tmp", port_file)
print("url=" + url, flush=True)
srv.serve_forever()
