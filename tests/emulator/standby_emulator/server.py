"""The WSGI application: moto's server app, wrapped.

Routing, in order:
1. Host header (port stripped) = an OpenSearch domain's endpoint -> the
   domain REST fake (opensearch_rest).
2. Host header that looks like a domain endpoint but names no existing
   domain -> 502 (in AWS the name would not resolve).
3. /_emulator/... -> test-only control API (health, settings, replication
   state); only on the emulator's own address, never on domain hosts.
4. S3 Control batch jobs (/v20180820/jobs...) -> s3_batch (moto has none);
   S3 itself replicates through s3_replication's hooks in moto.
5. CloudWatch in Smithy RPC v2 CBOR -> cloudwatch_cbor (moto via JSON).
6. Everything else -> moto, noted in the call log (calls.py) when it is a
   signed AWS request. POST /moto-api/reset also clears the extensions and
   the call log.
"""

import json
import os
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from . import (
    apply_all,
    aurora_db,
    calls,
    cloudwatch_cbor,
    ec2,
    forward_proxy,
    network,
    opensearch,
    opensearch_changes,
    opensearch_rest,
    propagation,
    opensearch_security,
    rds_backups,
    rds_global_ops,
    rds_modify,
    rds_snapshots,
    regions,
    route53,
    s3_batch,
    s3_replication,
    world,
)


def _json_response(start_response, status: int, payload: Any) -> list[bytes]:
    body = json.dumps(payload).encode("utf-8")
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 502: "Bad Gateway"}.get(status, "Error")
    start_response(f"{status} {reason}", [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(body)))])
    return [body]


def _read_json(environ: dict) -> dict:
    raw = opensearch_rest.read_body(environ)
    return json.loads(raw) if raw.strip() else {}


def _host(environ: dict) -> str:
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or ""
    if host.startswith("["):  # [::1]:port
        return host.split("]")[0].strip("[").lower()
    return host.rsplit(":", 1)[0].lower() if ":" in host else host.lower()


def _looks_like_domain_endpoint(host: str) -> bool:
    return host.endswith(".es.amazonaws.com") and host.startswith(("search-", "vpc-"))


class EmulatorApp:
    def __init__(self) -> None:
        apply_all()
        self.moto = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ: dict, start_response) -> Any:
        host = _host(environ)
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET").upper()

        with opensearch.LOCK:
            ctx = opensearch_rest.find_domain(host) if host.endswith(".amazonaws.com") else None
        if ctx is not None:
            if regions.is_down(getattr(ctx, "region", None)):
                return regions.drop(environ, start_response)
            return opensearch_rest.handle(ctx, environ, start_response)
        if _looks_like_domain_endpoint(host):
            return _json_response(start_response, 502, {
                "message": f"emulator: no OpenSearch domain has the endpoint {host}"})

        if path.startswith("/_emulator/"):
            return self.control(method, path, environ, start_response)

        dropped = regions.refuse(environ, start_response)
        if dropped is not None:
            return dropped

        if method == "GET" and path.rstrip("/") == "/2013-04-01/testdnsanswer":
            from urllib.parse import parse_qsl

            from . import dns

            status, xml = dns.test_dns_answer(dict(parse_qsl(environ.get("QUERY_STRING", ""))))
            body = xml.encode()
            calls.record(environ, start_response)(f"{status} {'OK' if status == 200 else 'Error'}",
                                                  [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
            return [body]

        if s3_batch.handles(path):
            body = opensearch_rest.read_body(environ)
            return s3_batch.handle(environ, calls.record(environ, start_response), body)

        if method == "POST" and path.rstrip("/") == "/moto-api/reset":
            world.reset()
            s3_batch.reset()
            s3_replication.reset()
            route53.reset()
            regions.reset()
            ec2.reset()
            propagation.reset()
            opensearch.reset()
            opensearch_changes.reset()
            opensearch_rest.reset()
            rds_modify.reset()
            aurora_db.reset()
            network.reset()
            rds_global_ops.reset()
            forward_proxy.reset()
            calls.reset()
        if cloudwatch_cbor.operation(environ):
            return cloudwatch_cbor.handle(self.moto, environ, calls.record(environ, start_response))
        return self.moto(environ, calls.record(environ, start_response))

    # ------------------------------------------------------ control API ---

    def control(self, method: str, path: str, environ: dict, start_response) -> list[bytes]:
        """Test-only endpoints. Not AWS APIs; never reachable on a domain host."""
        try:
            if path == "/_emulator/health" and method == "GET":
                return _json_response(start_response, 200, {"status": "ok", "pid": os.getpid()})
            if path == "/_emulator/calls" and method == "GET":
                # The AWS API calls received, in order: service, region, operation, status.
                return _json_response(start_response, 200, calls.snapshot())
            if path == "/_emulator/calls" and method == "DELETE":
                calls.reset()
                return _json_response(start_response, 200, [])
            if path == "/_emulator/dns" and method == "GET":
                # Every name the emulated network resolves (network.py).
                return _json_response(start_response, 200, network.names())
            if path == "/_emulator/dns" and method == "POST":
                # {"name", "address"}: a name of the test's own (a database it
                # runs, say) in the emulated network; {"name"} alone forgets it.
                body = _read_json(environ)
                if body.get("address"):
                    network.register(str(body["name"]), str(body["address"]))
                else:
                    network.unregister(str(body["name"]))
                return _json_response(start_response, 200, network.names())
            if path == "/_emulator/dns/resolve" and method == "GET":
                from urllib.parse import parse_qs

                from . import dns

                name = (parse_qs(environ.get("QUERY_STRING", "")).get("name") or [""])[0]
                # Route 53's data plane for names in its public zones (it keeps
                # answering with any region down), the emulated network otherwise.
                addr = dns.resolve(name)
                if addr is None:
                    return _json_response(start_response, 404, {"message": f"NXDOMAIN: {name}"})
                return _json_response(start_response, 200, {"name": name, "address": addr})
            if path == "/_emulator/proxy" and method == "GET":
                # The game-day world's forward proxy (forward_proxy.py), started
                # on first use: its URL and the requests it forwarded.
                return _json_response(start_response, 200, forward_proxy.describe())
            if path == "/_emulator/regions" and method == "GET":
                return _json_response(start_response, 200, {"down": sorted(regions.DOWN)})
            if path == "/_emulator/regions" and method == "POST":
                body = _read_json(environ)
                regions.set_down(str(body["region"]), bool(body.get("down", True)))
                return _json_response(start_response, 200, {"down": sorted(regions.DOWN)})
            if path == "/_emulator/settings" and method == "GET":
                return _json_response(start_response, 200, opensearch_rest.SETTINGS)
            if path == "/_emulator/settings" and method == "POST":
                # Knobs (integers), see settings.py.
                body = _read_json(environ)
                for key, value in body.items():
                    if key not in opensearch_rest.DEFAULT_SETTINGS:
                        return _json_response(start_response, 400, {"message": f"unknown setting {key}"})
                    kind = type(opensearch_rest.DEFAULT_SETTINGS[key])
                    opensearch_rest.SETTINGS[key] = kind(value)
                world.kick_if_resources()
                return _json_response(start_response, 200, opensearch_rest.SETTINGS)
            if path == "/_emulator/opensearch/domains" and method == "GET":
                # Where each domain answers, and what it holds (no secrets).
                with opensearch.LOCK:
                    out = []
                    for account, region, domain in opensearch.all_domains():
                        dd = opensearch_rest.data(domain)
                        out.append({
                            "account": account,
                            "region": region,
                            "domain": domain.domain_name,
                            "endpoints": opensearch.domain_hosts(domain),
                            "basic_auth": opensearch.master_user(domain) is not None,
                            "indices": {n: len(i.ids) for n, i in sorted(dd.indices.items())},
                            "replications": {
                                n: i.replication.status for n, i in sorted(dd.indices.items()) if i.replication
                            },
                            # Who started each replication, with which roles.
                            "replication_users": {
                                n: {"user": i.replication.user, "roles": i.replication.roles}
                                for n, i in sorted(dd.indices.items()) if i.replication
                            },
                            "internal_users": sorted(opensearch_security.store(domain)["internalusers"]),
                            "role_mappings": {
                                role: m.get("users", [])
                                for role, m in sorted(opensearch_security.store(domain)["rolesmapping"].items())
                            },
                            "autofollow_rules": [
                                {"leader_alias": r.leader_alias, "name": r.name, "pattern": r.pattern}
                                for r in dd.rules.values()
                            ],
                        })
                return _json_response(start_response, 200, out)
            if path == "/_emulator/opensearch/deployments" and method == "GET":
                # Each domain update's deployment type (Blue/Green, DynamicUpdate) and why.
                with opensearch_changes.LOCK:
                    return _json_response(start_response, 200, list(opensearch_changes.DEPLOYMENTS))
            if path == "/_emulator/rds/instance-changes" and method == "GET":
                # Each DB instance class change: held for the maintenance window, or applied (an outage).
                return _json_response(start_response, 200, rds_modify.changes())
            if path == "/_emulator/rds/maintenance" and method == "POST":
                # The maintenance window comes: held changes are applied.
                return _json_response(start_response, 200, rds_modify.maintenance())
            if path == "/_emulator/opensearch/connections" and method == "GET":
                # Each connection's id, status and domain infos as the caller sent them.
                with opensearch.LOCK:
                    out = [{"id": c.connection_id, "status": c.status, "requested": c.requested}
                           for c in opensearch.CONNECTIONS.values()]
                return _json_response(start_response, 200, out)
            if path in ("/_emulator/opensearch/replication", "/_emulator/opensearch/replication/lag") \
                    and method == "POST":
                # {"endpoint": host | "region"+"domain" [+"account"], "index", then
                #  .../replication: "status": SYNCING|BOOTSTRAPPING|PAUSED|FAILED, "reason";
                #  .../replication/lag: "ops" behind, "polls" (_status calls until caught up; null: until reset)}
                body = _read_json(environ)
                with opensearch.LOCK:
                    ctx = None
                    if body.get("endpoint"):
                        ctx = opensearch_rest.find_domain(body["endpoint"])
                    elif body.get("region") and body.get("domain"):
                        account = body.get("account", "123456789012")
                        domain = opensearch.get_domain(account, body["region"], body["domain"])
                        ctx = opensearch_rest.Ctx(account, body["region"], domain) if domain else None
                    if ctx is None:
                        return _json_response(start_response, 404, {"message": "no such domain"})
                    opensearch_rest.tick()
                    if path.endswith("/lag"):
                        result = opensearch_rest.set_lag(
                            ctx, body.get("index", ""), int(body.get("ops", 0)), body.get("polls"))
                    else:
                        result = opensearch_rest.set_replication_state(
                            ctx, body.get("index", ""), str(body.get("status", "")).upper(), body.get("reason"))
                return _json_response(start_response, 200, result)
            if path == "/_emulator/s3/replication" and method == "GET":
                return _json_response(start_response, 200, s3_replication.status())
            if path == "/_emulator/s3/replication" and method == "POST":
                # {"bucket", "mode": running|paused|failing}: the bucket's replication, as a source.
                body = _read_json(environ)
                return _json_response(start_response, 200,
                                      s3_replication.set_mode(str(body["bucket"]), str(body.get("mode", "running"))))
            if path == "/_emulator/rest-calls" and method == "GET":
                # Domain REST requests received, in order: region, domain, method, path, status.
                return _json_response(start_response, 200, opensearch_rest.rest_calls())
            if path == "/_emulator/rest-calls" and method == "DELETE":
                opensearch_rest.rest_calls(clear=True)
                return _json_response(start_response, 200, [])
            # Test-only routes of other extension modules.
            from urllib.parse import parse_qsl

            extra = world.control(method, path, lambda: _read_json(environ),
                                  dict(parse_qsl(environ.get("QUERY_STRING", ""))))
            if extra is None:
                extra = rds_backups.control(method, path, lambda: _read_json(environ))
            if extra is None:
                extra = aurora_db.control(method, path, lambda: _read_json(environ))
            if extra is None:
                extra = rds_snapshots.control(method, path, lambda: _read_json(environ))
            if extra is not None:
                return _json_response(start_response, *extra)
        except opensearch_rest.RestError as e:
            return _json_response(start_response, e.status, e.body)
        except (ValueError, TypeError) as e:
            return _json_response(start_response, 400, {"message": str(e)})
        return _json_response(start_response, 404, {"message": f"no emulator endpoint {method} {path}"})
