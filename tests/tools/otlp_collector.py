#!/usr/bin/env python3
"""A small OTLP/HTTP trace collector for tests.

Usage: otlp_collector.py PORT OUT.jsonl

Decodes every POST /v1/traces (application/x-protobuf) with the official
opentelemetry-proto messages and appends one JSON object per span to OUT.jsonl:
trace_id, span_id, parent_span_id (hex), name, kind, service (resource
service.name), attributes (strings), status_code, status_message. Answers 200
with an empty ExportTraceServiceResponse; a body it cannot decode gets 400.
"""
import http.server
import json
import sys
import threading

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from google.protobuf.message import DecodeError

PORT = int(sys.argv[1])
OUT = sys.argv[2]
LOCK = threading.Lock()


def value(v):
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    x = getattr(v, kind)
    return x if isinstance(x, (str, bool, int, float)) else str(x)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, code, body=b"", ctype="application/x-protobuf"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/v1/traces":
            return self.answer(404, b"no such path", "text/plain")
        if not self.headers.get("Content-Type", "").startswith("application/x-protobuf"):
            return self.answer(415, b"protobuf only", "text/plain")
        req = trace_service_pb2.ExportTraceServiceRequest()
        try:
            req.ParseFromString(body)
        except DecodeError as e:
            return self.answer(400, str(e).encode(), "text/plain")
        lines = []
        for rs in req.resource_spans:
            res = {kv.key: value(kv.value) for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    lines.append(json.dumps({
                        "trace_id": s.trace_id.hex(),
                        "span_id": s.span_id.hex(),
                        "parent_span_id": s.parent_span_id.hex(),
                        "name": s.name,
                        "kind": s.kind,
                        "service": res.get("service.name", ""),
                        "attributes": {kv.key: value(kv.value) for kv in s.attributes},
                        "status_code": s.status.code,
                        "status_message": s.status.message,
                        "start": s.start_time_unix_nano,
                        "end": s.end_time_unix_nano,
                        "scope": ss.scope.name,
                    }))
        with LOCK, open(OUT, "a") as f:
            for line in lines:
                f.write(line + "\n")
        self.answer(200, trace_service_pb2.ExportTraceServiceResponse().SerializeToString())

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
