#!/usr/bin/env python3
"""A tiny Kubernetes API server for bench/agent.sh: just what `plumber agent` asks for, nothing checked.

usage: fake_apiserver.py --port P --node NAME --label K=V [--label ...] --templates DIR --log FILE
                         [--bookmark-secs S]

Serves (python3 stdlib only, HTTP/1.1, keep-alive):
  GET   /api/v1/nodes                                         the one Node NAME with the labels (list, or
                                                              ?watch: a stream)
  GET   /apis/plumber.k8s.pf9.io/v1/hostnetworktemplates      every DIR/*.json (list, or ?watch)
  GET   /apis/plumber.k8s.pf9.io/v1/hostnetworks/NAME         404 until created, then the object
  PATCH /apis/plumber.k8s.pf9.io/v1/hostnetworks/NAME         (server-side apply) creates/updates it
  PATCH /apis/plumber.k8s.pf9.io/v1/hostnetworks/NAME/status  sets its status (404 if it does not exist)
  POST  /apis/events.k8s.io/v1/namespaces/NS/events           201, the event back
  PATCH /apis/events.k8s.io/v1/namespaces/NS/events/E         200, the event back
anything else: 404. A watch is a chunked stream that sends nothing (or a BOOKMARK every
--bookmark-secs) and ends after the request's timeoutSeconds: nothing ever changes here.

Every request is logged to FILE as one JSON line when it arrives:
  {"t": unix time, "method": ..., "path": ..., "query": {...}, "status": code}
"""
import argparse
import glob
import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

GROUP = "/apis/plumber.k8s.pf9.io/v1"


class World:
    """The objects, with one resourceVersion counter, behind one lock."""

    def __init__(self, node, labels, templates):
        self.lock = threading.Lock()
        self.rv = 1
        self.node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": node, "uid": str(uuid.uuid4()), "resourceVersion": "1",
                         "labels": labels},
        }
        self.templates = templates
        for t in templates:
            m = t.setdefault("metadata", {})
            m.setdefault("generation", 1)
            m["uid"] = str(uuid.uuid4())
            m["resourceVersion"] = "1"
        self.hostnetwork = None

    def bump(self):
        self.rv += 1
        return str(self.rv)


def status_404(path):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f"{path} not found", "reason": "NotFound", "code": 404}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    world = None
    log_file = None
    log_lock = threading.Lock()
    bookmark_secs = 0

    def log_message(self, *args):  # no stderr chatter
        pass

    def log_request_line(self, status):
        u = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        line = json.dumps({"t": round(time.time(), 3), "method": self.command, "path": u.path,
                           "query": q, "status": status})
        with self.log_lock:
            self.log_file.write(line + "\n")
            self.log_file.flush()

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        # Server-side apply bodies are sent as JSON (valid YAML) by kube-rs.
        return json.loads(raw) if raw.strip() else {}

    def reply(self, code, obj):
        data = json.dumps(obj).encode()
        self.log_request_line(code)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def list_or_watch(self, kind, items, query):
        if query.get("watch") in ("1", "true"):
            return self.watch(query)
        with self.world.lock:
            rv = str(self.world.rv)
        self.reply(200, {"apiVersion": items[0]["apiVersion"] if items else "v1",
                         "kind": kind + "List", "metadata": {"resourceVersion": rv},
                         "items": items})

    def watch(self, query):
        """Nothing changes: keep the stream open until timeoutSeconds, maybe with bookmarks."""
        self.log_request_line(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        end = time.time() + int(query.get("timeoutSeconds") or 290)
        try:
            while time.time() < end:
                step = min(end - time.time(), self.bookmark_secs or 3600)
                time.sleep(max(step, 0))
                if self.bookmark_secs and time.time() < end:
                    with self.world.lock:
                        rv = str(self.world.rv)
                    ev = json.dumps({"type": "BOOKMARK", "object": {
                        "kind": "Bookmark", "apiVersion": "v1",
                        "metadata": {"resourceVersion": rv}}}).encode() + b"\n"
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self):
        u = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        w = self.world
        node = w.node["metadata"]["name"]
        if u.path == "/api/v1/nodes":
            sel = q.get("fieldSelector", "")
            items = [w.node] if sel in ("", f"metadata.name={node}") else []
            return self.list_or_watch("Node", items, q)
        if u.path == f"{GROUP}/hostnetworktemplates":
            return self.list_or_watch("HostNetworkTemplate", w.templates, q)
        if u.path == f"{GROUP}/hostnetworks/{node}":
            with w.lock:
                hn = w.hostnetwork
            return self.reply(200, hn) if hn else self.reply(404, status_404(u.path))
        self.reply(404, status_404(u.path))

    def do_PATCH(self):
        u = urlsplit(self.path)
        body = self.body()
        w = self.world
        hn_path = f"{GROUP}/hostnetworks/{w.node['metadata']['name']}"
        with w.lock:
            if u.path == hn_path:
                if w.hostnetwork is None:
                    w.hostnetwork = {"apiVersion": body.get("apiVersion"), "kind": "HostNetwork",
                                     "metadata": {"name": body["metadata"]["name"],
                                                  "uid": str(uuid.uuid4()), "generation": 1},
                                     "spec": {}}
                w.hostnetwork["spec"] = body.get("spec", w.hostnetwork["spec"])
                w.hostnetwork["metadata"]["resourceVersion"] = w.bump()
                return self.reply(200, w.hostnetwork)
            if u.path == hn_path + "/status":
                if w.hostnetwork is None:
                    return self.reply(404, status_404(u.path))
                w.hostnetwork["status"] = body.get("status", {})
                w.hostnetwork["metadata"]["resourceVersion"] = w.bump()
                return self.reply(200, w.hostnetwork)
            if "/events/" in u.path and u.path.startswith("/apis/events.k8s.io/v1/namespaces/"):
                body.setdefault("metadata", {})["resourceVersion"] = w.bump()
                return self.reply(200, body)
        self.reply(404, status_404(u.path))

    def do_POST(self):
        u = urlsplit(self.path)
        body = self.body()
        if u.path.startswith("/apis/events.k8s.io/v1/namespaces/") and u.path.endswith("/events"):
            m = body.setdefault("metadata", {})
            if "name" not in m:
                m["name"] = m.get("generateName", "event-") + uuid.uuid4().hex[:5]
            m["uid"] = str(uuid.uuid4())
            with self.world.lock:
                m["resourceVersion"] = self.world.bump()
            return self.reply(201, body)
        self.reply(404, status_404(u.path))

    def do_PUT(self):
        self.body()
        self.reply(404, status_404(urlsplit(self.path).path))

    def do_DELETE(self):
        self.body()
        self.reply(404, status_404(urlsplit(self.path).path))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--node", required=True)
    ap.add_argument("--label", action="append", default=[], help="K=V, the Node's labels")
    ap.add_argument("--templates", required=True, help="a directory of HostNetworkTemplate *.json")
    ap.add_argument("--log", required=True)
    ap.add_argument("--bookmark-secs", type=float, default=0)
    a = ap.parse_args()
    labels = dict(kv.split("=", 1) for kv in a.label)
    templates = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(a.templates, "*.json")))]
    Handler.world = World(a.node, labels, templates)
    Handler.log_file = open(a.log, "a")
    Handler.bookmark_secs = a.bookmark_secs
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    print(f"fake apiserver on 127.0.0.1:{a.port}: node {a.node}, {len(templates)} templates",
          flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
