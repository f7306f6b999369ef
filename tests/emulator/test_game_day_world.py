"""Self-check of the game-day world (world.py, nodes.py, imds.py,
mattermost.py, elb.py, dns.py), driven through boto3 as standby drives the
emulator, with a real PostgreSQL standing for Aurora.

    .venv-emulator/bin/python -m pytest -q tests/emulator/test_game_day_world.py

Needs root (the node sandbox mounts overlays; PostgreSQL runs as the
`postgres` user) and PostgreSQL's server (Debian's postgresql, which
scripts/test-tools installs).
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pytest

WEST, EAST = "us-west-1", "us-east-1"
PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit()
             else 0, default=Path("/usr/lib/postgresql/15/bin"))
DB_HOST = "mm-west.cluster-c0ffee.us-west-1.rds.amazonaws.com"
DB_RO_HOST = "mm-west.cluster-ro-c0ffee.us-west-1.rds.amazonaws.com"
DB_PASSWORD = "Db-Pass-7#wz"
SEARCH_PASSWORD = "Search-Pass-9!kd"
ACCOUNT = "123456789012"
# A personal access token of the stand-in's user, stored in the database as
# Mattermost stores it (the postgres fixture): every API call but the ping needs one.
TOKEN = "gamedaytokenselfcheck00001"
USER_ID = "selfcheckuser0000000000000"

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not (PG_BIN / "postgres").exists(),
                                reason="needs root and PostgreSQL's server (Debian's postgresql; scripts/test-tools installs it)")


# --------------------------------------------------------------- helpers ---

def http(method, url, body=None, headers=None, timeout=10, token=TOKEN):
    """A request; to Mattermost's API (`/api/v4/`) as the token's user unless `token` is None."""
    raw = isinstance(body, bytes)
    data = body if raw else json.dumps(body).encode() if body is not None else None
    auth = {"Authorization": f"Bearer {token}"} if token and "/api/v4/" in url else {}
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "text/plain" if raw else "application/json", **auth,
                                          **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null"), dict(r.headers)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw or b"null"), dict(e.headers)
        except ValueError:
            return e.code, raw.decode(errors="replace"), dict(e.headers)


def http_get_json(url):
    return http("GET", url)[1]


def wait_for(what, fn, timeout=90, every=0.25):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def client(endpoint, service, region=WEST):
    return boto3.client(service, region_name=region, endpoint_url=endpoint, aws_access_key_id="testing",
                        aws_secret_access_key="testing",
                        config=botocore.config.Config(retries={"total_max_attempts": 1}))


def quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def standby_user_data(environment, secrets, env_file="/etc/mattermost/mattermost.env", service="mattermost"):
    """The boot script standby renders (src/kinds/mattermost_config.rs, script()), line for line."""
    s = ("#!/bin/bash\n# Mattermost settings, rendered by standby (standby_mattermost_config).\n"
         "# Secrets are fetched at boot with the instance role; none is written here.\n"
         "set -euo pipefail\numask 077\n")
    s += f"env_file={quote(env_file)}\ninstall -d -m 0750 \"$(dirname \"$env_file\")\"\n"
    s += "cat > \"$env_file.new\" <<'STANDBY_SETTINGS'\n"
    for k in sorted(environment):
        s += f"{k}={environment[k]}\n"
    s += "STANDBY_SETTINGS\n"
    if secrets:
        s += ("secret() { aws secretsmanager get-secret-value --region \"$1\" --secret-id \"$2\" --query SecretString "
              "--output text; }\n")
        s += ("urlencode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read()"
              ".rstrip(\"\\n\"), safe=\"\"))'; }\n")
    for k in sorted(secrets):
        arn, template = secrets[k]["secret_arn"], secrets[k].get("template", "{secret}")
        before, after = template.split("{secret}")
        enc = "" if not before and not after else " | urlencode"
        s += (f"value=$(secret {quote(arn.split(':')[3])} {quote(arn)}{enc})\n"
              f"printf '%s%s%s\\n' {quote(k + '=' + before)} \"$value\" {quote(after)} >> \"$env_file.new\"\n")
    s += ("mv \"$env_file.new\" \"$env_file\"\n"
          f"install -d /etc/systemd/system/{service}.service.d\n"
          f"printf '[Service]\\nEnvironmentFile=%s\\n' \"$env_file\" > /etc/systemd/system/{service}.service.d/standby.conf\n"
          "systemctl daemon-reload\n"
          f"systemctl enable {service}\n"
          f"systemctl restart {service}\n")
    return s


# --------------------------------------------------------------- fixtures ---

@pytest.fixture(scope="module")
def postgres(endpoint):
    """A PostgreSQL 15 with TLS on an address of its own, registered under
    an Aurora-like endpoint name in the emulated network."""
    base = Path(tempfile.mkdtemp(prefix="standby-pg-"))
    base.chmod(0o755)
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    shutil.chown(base, "postgres")
    shutil.chown(sock, "postgres")
    run = lambda *a: subprocess.run(["runuser", "-u", "postgres", "--", *a], check=True, capture_output=True,  # noqa: E731
                                    text=True)
    pwfile = base / "pw"
    pwfile.write_text("postgres-admin\n")
    shutil.chown(pwfile, "postgres")
    run(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--pwfile", str(pwfile), "-A", "scram-sha-256")
    # TLS as Aurora has it on: a throwaway certificate.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import datetime

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DB_HOST)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2)).sign(key, hashes.SHA256()))
    (data / "server.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (data / "server.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                        serialization.PrivateFormat.TraditionalOpenSSL,
                                                        serialization.NoEncryption()))
    for f in ("server.crt", "server.key"):
        shutil.chown(data / f, "postgres")
        (data / f).chmod(0o600)
    addr = f"127.{(os.getpid() % 60) + 64}.{(os.getpid() // 60) % 250}.{(int(time.time()) % 200) + 20}"
    with open(data / "postgresql.conf", "a") as f:
        f.write(f"\nlisten_addresses = '{addr}'\nport = 5432\nunix_socket_directories = '{sock}'\nssl = on\n"
                "max_connections = 200\nfsync = off\n")
    with open(data / "pg_hba.conf", "a") as f:
        f.write("hostssl all all 127.0.0.0/8 scram-sha-256\nhost all all 127.0.0.0/8 scram-sha-256\n")
    run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "start")
    psql = lambda sql, db="postgres": run(str(PG_BIN / "psql"), "-h", str(sock), "-U", "postgres", "-d", db,  # noqa: E731
                                          "-v", "ON_ERROR_STOP=1", "-At", "-c", sql)
    os.environ["PGPASSWORD"] = "postgres-admin"
    psql(f"CREATE ROLE mmuser LOGIN PASSWORD '{DB_PASSWORD}'")
    psql("CREATE DATABASE mattermost OWNER mmuser")
    # The user's personal access token, in the table Mattermost keeps them in, owned by mmuser.
    from standby_emulator.mattermost import token_statements

    for sql, params in token_statements(TOKEN, USER_ID):
        psql(sql.replace("%s", "'{}'").format(*params) if params else sql, "mattermost")
    psql("ALTER TABLE useraccesstokens OWNER TO mmuser", "mattermost")
    yield {"addr": addr, "psql": psql, "base": base}
    subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate",
                    "stop"], capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


def query(postgres, sql):
    """psql -At in the mattermost database: rows as lines, columns split by |."""
    return postgres["psql"](sql.replace("\n", " "), "mattermost").stdout


@pytest.fixture
def world(endpoint):
    """An empty emulator with the game-day world on, 20 ms per AWS second."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    http("POST", f"{endpoint}/_emulator/settings", {"game_day": 1, "world_ms_per_aws_second": 20})
    yield endpoint
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))


class App:
    """One region's app tier as the module builds it: role, profile, secrets,
    bucket, launch template, target group, load balancer, listener, group."""

    def __init__(self, endpoint, postgres, region=WEST, name="mm", desired=1, environment=None, secrets=None,
                 http_tokens="required", listener_port=80, ami="ami-0abcdef1234567890", db_password=DB_PASSWORD,
                 search_password=SEARCH_PASSWORD, grace=300, db_dsn=None):
        self.endpoint, self.region, self.name = endpoint, region, name
        http("POST", f"{endpoint}/_emulator/dns", {"name": DB_HOST, "address": postgres["addr"]})
        c = lambda s: client(endpoint, s, region)  # noqa: E731
        self.ec2, self.elb, self.asg, self.iam, self.sm, self.s3 = (c("ec2"), c("elbv2"), c("autoscaling"), c("iam"),
                                                                    c("secretsmanager"), c("s3"))
        self.bucket = f"{name}-files-{region}"
        kw = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        self.s3.create_bucket(Bucket=self.bucket, **kw)
        self.db_secret = self.sm.create_secret(Name=f"{name}-db-{region}", SecretString=db_password)["ARN"]
        self.search_secret = self.sm.create_secret(Name=f"{name}-search-{region}", SecretString=search_password)["ARN"]
        self.iam.create_role(RoleName=f"{name}-app-{region}", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]}))
        self.iam.create_instance_profile(InstanceProfileName=f"{name}-app-{region}")
        self.iam.add_role_to_instance_profile(InstanceProfileName=f"{name}-app-{region}",
                                              RoleName=f"{name}-app-{region}")
        env = {
            "MM_SERVICESETTINGS_SITEURL": "https://chat.example.com",
            "MM_SERVICESETTINGS_LISTENADDRESS": ":8065",
            "MM_SERVICESETTINGS_ENABLEUSERACCESSTOKENS": "true",
            "MM_SQLSETTINGS_DRIVERNAME": "postgres",
            "MM_CLUSTERSETTINGS_ENABLE": "true",
            "MM_CLUSTERSETTINGS_CLUSTERNAME": f"{name}-{region}",
            "MM_JOBSETTINGS_RUNSCHEDULER": "true",
            "MM_JOBSETTINGS_RUNJOBS": "true",
            "MM_FILESETTINGS_DRIVERNAME": "amazons3",
            "MM_FILESETTINGS_AMAZONS3BUCKET": self.bucket,
            "MM_FILESETTINGS_AMAZONS3REGION": region,
            "MM_FILESETTINGS_AMAZONS3ENDPOINT": f"s3.{region}.amazonaws.com",
        }
        env.update(environment or {})
        sec = {"MM_SQLSETTINGS_DATASOURCE": {
            "secret_arn": self.db_secret,
            "template": db_dsn or f"postgres://mmuser:{{secret}}@{DB_HOST}:5432/mattermost?sslmode=require"
                                  "&connect_timeout=10"}}
        for k, v in (secrets or {}).items():
            sec[k] = {**v, "secret_arn": v.get("secret_arn") or self.search_secret}
        self.user_data = standby_user_data(env, sec)
        vpc = self.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        subnets = [s["SubnetId"] for s in self.ec2.describe_subnets(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
        self.lt = self.ec2.create_launch_template(LaunchTemplateName=f"{name}-app-{region}", LaunchTemplateData={
            "ImageId": ami, "InstanceType": "m6i.large",
            "IamInstanceProfile": {"Name": f"{name}-app-{region}"},
            "UserData": base64.b64encode(self.user_data.encode()).decode(),
            "MetadataOptions": {"HttpTokens": http_tokens, "HttpEndpoint": "enabled"}})["LaunchTemplate"]
        self.tg = self.elb.create_target_group(
            Name=f"{name}-{region}", Protocol="HTTP", Port=8065, VpcId=vpc, HealthCheckPath="/api/v4/system/ping",
            Matcher={"HttpCode": "200"}, HealthCheckIntervalSeconds=15, HealthyThresholdCount=2,
            UnhealthyThresholdCount=3)["TargetGroups"][0]["TargetGroupArn"]
        sg = self.ec2.create_security_group(GroupName=f"{name}-lb-{region}", Description="lb", VpcId=vpc)["GroupId"]
        self.lb = self.elb.create_load_balancer(Name=f"{name}-app-{region}", Subnets=subnets[:2],
                                                SecurityGroups=[sg])["LoadBalancers"][0]
        self.elb.create_listener(LoadBalancerArn=self.lb["LoadBalancerArn"], Protocol="HTTP", Port=listener_port,
                                 DefaultActions=[{"Type": "forward", "TargetGroupArn": self.tg}])
        self.port = listener_port
        self.asg.create_auto_scaling_group(
            AutoScalingGroupName=f"{name}-app-{region}", MinSize=0, MaxSize=4, DesiredCapacity=desired,
            LaunchTemplate={"LaunchTemplateId": self.lt["LaunchTemplateId"], "Version": "$Latest"},
            VPCZoneIdentifier=subnets[0], TargetGroupARNs=[self.tg], HealthCheckType="ELB",
            HealthCheckGracePeriod=grace)

    def instances(self):
        g = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[f"{self.name}-app-{self.region}"])
        return [i["InstanceId"] for i in g["AutoScalingGroups"][0]["Instances"]]

    def health(self):
        return {d["Target"]["Id"]: d["TargetHealth"] for d in
                self.elb.describe_target_health(TargetGroupArn=self.tg)["TargetHealthDescriptions"]}

    def wait_healthy(self, timeout=120):
        return wait_for("a healthy target", lambda: [i for i, h in self.health().items() if h["State"] == "healthy"],
                        timeout)

    def lb_address(self):
        def listening():
            lbs = http("GET", f"{self.endpoint}/_emulator/world")[1]["load_balancers"]
            return any(lb["dns_name"] == self.lb["DNSName"] and self.port in lb["listening"] for lb in lbs)

        wait_for("the load balancer to listen", listening, timeout=20)
        status, out, _ = http("GET", f"{self.endpoint}/_emulator/dns/resolve?name={self.lb['DNSName']}")
        assert status == 200, out
        return out["address"]

    def url(self, path):
        return f"http://{self.lb_address()}:{self.port}{path}"

    def node(self, instance_id):
        status, body, _ = http("GET", f"{self.endpoint}/_emulator/world/nodes/{instance_id}")
        return body if status == 200 else {}

    def node_log(self, instance_id):
        out = ""
        for tail in ("log", "mattermost/log"):
            status, body, _ = http("GET", f"{self.endpoint}/_emulator/world/nodes/{instance_id}/{tail}")
            out += body["log"] if status == 200 else ""
        return out


# ------------------------------------------------------------------ tests ---

def test_a_node_boots_runs_standby_user_data_and_serves_ping_through_the_load_balancer(world, postgres):
    app = App(world, postgres)
    [instance] = app.instances()
    app.wait_healthy()
    node = app.node(instance)
    # The user data ran in its sandbox: aws (with IMDSv2 credentials), python3, systemctl.
    assert node["user_data_exit"] == 0, app.node_log(instance)
    assert ["daemon-reload"] in node["systemctl"] and ["enable", "mattermost"] in node["systemctl"]
    assert ["restart", "mattermost"] in node["systemctl"]
    assert node["units"]["mattermost"]["active"]
    status, body, _ = http("GET", app.url("/api/v4/system/ping"))
    assert status == 200 and body["status"] == "OK", body
    # What the script left behind is the node's, not the host's.
    assert not Path("/etc/mattermost/mattermost.env").exists()
    env = http("GET", f"{world}/_emulator/world/nodes/{instance}/files?path=/etc/mattermost/mattermost.env")[1]
    assert env["exists"] and "MM_SQLSETTINGS_DATASOURCE=postgres://mmuser:" in env["text"]
    # Secrets never reach a log or a file served by the control API.
    assert DB_PASSWORD not in env["text"] and urllib.parse.quote(DB_PASSWORD, safe="") not in env["text"]
    assert DB_PASSWORD not in app.node_log(instance)


SEARCH_ADMIN = ("admin", "Admin-Pass-1!")


def search_domain(endpoint, region=WEST, name="mm-search", user_password=SEARCH_PASSWORD):
    """A domain with fine-grained access control, Mattermost's own user mapped to a posts_* role."""
    os_ = client(endpoint, "opensearch", region)
    arn = f"arn:aws:es:{region}:{ACCOUNT}:domain/{name}"
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "es:*", "Resource": f"{arn}/*",
        "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8"]}}}]}
    host = os_.create_domain(
        DomainName=name, EngineVersion="OpenSearch_2.11", AccessPolicies=json.dumps(policy),
        AdvancedSecurityOptions={"Enabled": True, "InternalUserDatabaseEnabled": True,
                                 "MasterUserOptions": {"MasterUserName": SEARCH_ADMIN[0],
                                                       "MasterUserPassword": SEARCH_ADMIN[1]}},
        NodeToNodeEncryptionOptions={"Enabled": True}, EncryptionAtRestOptions={"Enabled": True},
        DomainEndpointOptions={"EnforceHTTPS": True})["DomainStatus"]["Endpoint"]
    admin = {"Host": host, "Authorization": "Basic " + base64.b64encode(":".join(SEARCH_ADMIN).encode()).decode()}
    assert http("PUT", f"{endpoint}/_plugins/_security/api/internalusers/mattermost",
                {"password": user_password}, admin)[0] == 201
    role = {"cluster_permissions": [], "index_permissions": [{"index_patterns": ["posts_*"], "allowed_actions": [
        "indices:data/write/index", "indices:data/read/search", "indices:data/read/get", "indices:admin/create"]}]}
    assert http("PUT", f"{endpoint}/_plugins/_security/api/roles/mattermost", role, admin)[0] == 201
    assert http("PUT", f"{endpoint}/_plugins/_security/api/rolesmapping/mattermost", {"users": ["mattermost"]},
                admin)[0] == 201
    return host, admin


def search_env(app_host):
    return {"MM_ELASTICSEARCHSETTINGS_CONNECTIONURL": f"https://{app_host}",
            "MM_ELASTICSEARCHSETTINGS_BACKEND": "opensearch", "MM_ELASTICSEARCHSETTINGS_USERNAME": "mattermost",
            "MM_ELASTICSEARCHSETTINGS_SNIFF": "false", "MM_ELASTICSEARCHSETTINGS_ENABLEINDEXING": "true",
            "MM_ELASTICSEARCHSETTINGS_ENABLESEARCHING": "true"}


def standin_status(app, instance):
    node = app.node(instance)
    return http("GET", f"http://{node['address']}:8065/_standin/status")[1]


def test_a_node_writes_through_auroras_global_writer_endpoint_verifying_its_certificate(world, postgres):
    # The whole world together: Aurora's endpoints (aurora_db.py) behind a node's DataSource, with
    # sslmode=verify-full against the RDS CA bundle the AMI carries (nodes.RDS_CA_BUNDLE).
    west, east = client(world, "rds", WEST), client(world, "rds", EAST)
    west.create_db_cluster(DBClusterIdentifier="mm-aurora-west", Engine="aurora-postgresql", EngineVersion="16.4",
                           MasterUsername="mmuser", MasterUserPassword=DB_PASSWORD, DatabaseName="mattermost")
    west.create_db_instance(DBInstanceIdentifier="mm-aurora-west-1", DBClusterIdentifier="mm-aurora-west",
                            Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    arn = west.describe_db_clusters(DBClusterIdentifier="mm-aurora-west")["DBClusters"][0]["DBClusterArn"]
    gc = east.create_global_cluster(GlobalClusterIdentifier="mm-aurora", SourceDBClusterIdentifier=arn)
    host = gc["GlobalCluster"]["Endpoint"]
    dsn = (f"postgres://mmuser:{{secret}}@{host}:5432/mattermost?sslmode=verify-full"
           "&sslrootcert=/etc/ssl/certs/rds-global-bundle.pem&connect_timeout=10")
    app = App(world, postgres, db_dsn=dsn)
    [instance] = app.instances()
    try:
        app.wait_healthy()
    except AssertionError as e:
        raise AssertionError(app.node_log(instance)) from e
    # The user's token in this database, through the global writer endpoint (synthetic_user token).
    from standby_emulator import synthetic_user

    os.environ["STANDBY_CHECK_DB_PASSWORD"] = DB_PASSWORD
    assert synthetic_user.main(["token", "--world", world, "--token", TOKEN, "--user-id", USER_ID,
                                "--db-user", "mmuser"]) == 0
    status, post, _ = http("POST", app.url("/api/v4/posts"), {"channel_id": "town-square", "message": "through aurora"})
    assert status == 201, (post, app.node_log(instance))
    status, body, _ = http("GET", app.url("/api/v4/system/ping?get_server_status=true"))
    assert status == 200 and body["database_status"] == "OK", body
    # Without the bundle in the AMI, verify-full cannot start Mattermost.
    http("POST", f"{world}/_emulator/world/amis", {"ami": "ami-0000000000nobundle", "rds_ca_bundle": None})
    bare = App(world, postgres, name="bare", ami="ami-0000000000nobundle", db_dsn=dsn)
    [node] = bare.instances()
    wait_for("Mattermost to exit", lambda: "Error setting up connections" in bare.node_log(node))
    assert "rds-global-bundle.pem" in bare.node_log(node)


def test_instance_metadata_requires_tokens_when_the_template_says_so(world, postgres):
    app = App(world, postgres)
    [instance] = app.instances()
    node = wait_for("the node", lambda: app.node(instance).get("imds_url") and app.node(instance))
    base = node["imds_url"]
    path = f"{base}/latest/meta-data/iam/security-credentials/"
    assert http("GET", path)[0] == 401  # HttpTokens required, no token
    req = urllib.request.Request(f"{base}/latest/api/token", method="PUT",
                                 headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    token = urllib.request.urlopen(req, timeout=5).read().decode()
    assert http("GET", path, headers={"X-aws-ec2-metadata-token": "forged"})[0] == 401
    role = urllib.request.urlopen(urllib.request.Request(path, headers={"X-aws-ec2-metadata-token": token}),
                                  timeout=5).read().decode()
    assert role == "mm-app-us-west-1"
    creds = json.loads(urllib.request.urlopen(urllib.request.Request(
        path + role, headers={"X-aws-ec2-metadata-token": token}), timeout=5).read())
    assert creds["Code"] == "Success" and creds["AccessKeyId"].startswith("ASIA") and creds["Token"]
    bad = urllib.request.Request(f"{base}/latest/api/token", method="PUT",
                                 headers={"X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "1.2.3.4"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad, timeout=5)
    assert e.value.code == 403


def test_a_wrong_database_password_makes_mattermost_exit_and_the_target_unhealthy(world, postgres):
    app = App(world, postgres, db_password="not-the-password", grace=300)
    [instance] = app.instances()
    wait_for("Mattermost to exit", lambda: "Error setting up connections" in app.node_log(instance))
    wait_for("an unhealthy target", lambda: app.health().get(instance, {}).get("State") == "unhealthy")
    log = app.node_log(instance)
    assert "password authentication failed" in log and '"level": "fatal"' in log
    # systemd restarts it (Restart=always) and it exits again.
    wait_for("a restart", lambda: len(app.node(instance)["units"]["mattermost"]["exits"]) >= 2)
    assert all(code == 1 for code in app.node(instance)["units"]["mattermost"]["exits"])
    assert app.health()[instance]["Reason"] == "Target.FailedHealthChecks"
    status, _, headers = http("GET", app.url("/api/v4/system/ping"))
    assert status == 502 and headers.get("Server") == "awselb/2.0"  # fails open to the only (unhealthy) target
    # After the grace period the group replaces the node (HealthCheckType ELB).
    wait_for("a replacement", lambda: instance not in app.instances() and app.instances(), timeout=60)


def test_ping_with_server_status_reports_the_database_down(world, postgres):
    app = App(world, postgres)
    [instance] = app.instances()
    app.wait_healthy()
    status, body, headers = http("GET", app.url("/api/v4/system/ping?get_server_status=true"))
    assert status == 200 and body["database_status"] == "OK" and body["filestore_status"] == "OK"
    # The endpoint goes away: its name now leads nowhere, the open sessions are cut.
    http("POST", f"{world}/_emulator/dns", {"name": DB_HOST, "address": "127.63.255.254"})
    query(postgres, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'mmuser'")
    status, body, headers = http("GET", app.url("/api/v4/system/ping?get_server_status=true"), timeout=30)
    assert status == 500 and body["status"] == "UNHEALTHY" and body["database_status"] == "UNHEALTHY"
    assert headers.get("database_status") == "UNHEALTHY" and body["filestore_status"] == "OK"
    status, body, _ = http("GET", app.url("/api/v4/system/ping?get_server_status=true&use_rest_semantics=true"),
                           timeout=30)
    assert status == 200 and body["status"] == "UNHEALTHY"
    # The plain ping never touches the database: the load balancer still sees a healthy node.
    assert http("GET", app.url("/api/v4/system/ping"))[0] == 200
    assert app.health()[instance]["State"] == "healthy"
    http("POST", f"{world}/_emulator/dns", {"name": DB_HOST, "address": postgres["addr"]})


def test_posts_land_in_the_database_the_search_index_and_the_bucket(world, postgres):
    host, admin = search_domain(world)
    app = App(world, postgres, environment=search_env(host), secrets={
        "MM_ELASTICSEARCHSETTINGS_PASSWORD": {"secret_arn": None}})
    [instance] = app.instances()
    app.wait_healthy()
    status, up, _ = http("POST", app.url("/api/v4/files?channel_id=town-square&filename=apples.txt"), b"apples")
    assert status == 201, (up, app.node_log(instance)[-2000:])
    [info] = up["file_infos"]
    status, post, _ = http("POST", app.url("/api/v4/posts"), {"channel_id": "town-square",
                                                              "message": "game day apples", "file_ids": [info["id"]]})
    assert status == 201, (post, app.node_log(instance)[-2000:])
    assert post["file_ids"] == [info["id"]] and post["user_id"] == USER_ID
    # The database row.
    assert post["id"] in query(postgres, f"SELECT id FROM posts WHERE id = '{post['id']}'")
    # The search index, written as Mattermost's user.
    day = time.strftime("%Y_%m_%d", time.gmtime(post["create_at"] / 1000))
    status, doc, _ = http("GET", f"{world}/posts_{day}/_doc/{post['id']}", headers=admin)
    assert status == 200 and doc["_source"]["message"] == "game day apples"
    calls = http("GET", f"{world}/_emulator/rest-calls")[1]
    assert any(c["path"] == f"/posts_{day}/_doc/{post['id']}" and c["method"] == "PUT" and c["status"] == 201
               for c in calls)
    # The attachment, in the region's bucket, with the node's credentials.
    keys = [o["Key"] for o in app.s3.list_objects_v2(Bucket=app.bucket).get("Contents", [])]
    assert len(keys) == 1 and keys[0].endswith(f"/users/{USER_ID}/{info['id']}/apples.txt"), keys
    assert "/channels/town-square/" in keys[0]
    # A plain post writes nothing to the file store (Mattermost writes it only for attachments);
    # a file already attached is not attached again.
    status, plain, _ = http("POST", app.url("/api/v4/posts"), {"channel_id": "town-square", "message": "no file",
                                                               "file_ids": [info["id"]]})
    assert status == 201 and plain["file_ids"] == []
    assert len(app.s3.list_objects_v2(Bucket=app.bucket).get("Contents", [])) == 1
    # Read back by id and found by search, through the index.
    assert http("GET", app.url(f"/api/v4/posts/{post['id']}"))[1]["message"] == "game day apples"
    status, found, headers = http("POST", app.url("/api/v4/teams/t/posts/search"), {"terms": "apples"})
    assert status == 200 and found["order"] == [post["id"]] and headers["X-Standby-Search-Backend"] == "opensearch"
    # The scheduler (RunScheduler=true) beats every second under its cluster name.
    time.sleep(2.5)
    beats = query(postgres, "SELECT count(*) FROM standby_scheduler_heartbeats WHERE cluster_name = 'mm-us-west-1'")
    assert int(beats.strip()) >= 2


def test_the_api_needs_a_token_the_database_holds(world, postgres):
    app = App(world, postgres)
    [instance] = app.instances()
    app.wait_healthy()
    url = app.url("/api/v4/posts")
    expired = "api.context.session_expired.app_error"
    # The ping needs no session; every other call does (web/handlers.go).
    assert http("GET", app.url("/api/v4/system/ping"), token=None)[0] == 200
    for token in (None, "notatokenthedatabaseholds0"):
        status, body, _ = http("POST", url, {"channel_id": "c", "message": "m"}, token=token)
        assert (status, body["id"]) == (401, expired)
        status, body, _ = http("GET", app.url("/api/v4/channels/c/posts"), token=token)
        assert (status, body["id"]) == (401, expired)
    assert http("POST", url, {"channel_id": "c", "message": "m"}, headers={"Authorization": "Basic eDp5"},
                token=None)[0] == 401
    # A token written into the database later (a copy of a database knows its tokens) is taken;
    # `Token <t>` and `?access_token=` as Mattermost reads them.
    later = "latertokenwrittenbysql0001"
    query(postgres, f"INSERT INTO useraccesstokens (id, token, userid, description, isactive) VALUES "
                    f"('t2t2t2t2t2t2t2t2t2t2t2t2t2', '{later}', 'otheruser00000000000000000', '', true)")
    status, post, _ = http("POST", url, {"channel_id": "c", "message": "m"}, token=later)
    assert status == 201 and post["user_id"] == "otheruser00000000000000000"
    assert http("POST", url, {"channel_id": "c", "message": "m"}, headers={"Authorization": f"Token {later}"},
                token=None)[0] == 201
    assert http("GET", app.url(f"/api/v4/posts/{post['id']}?access_token={later}"), token=None)[0] == 200
    # An inactive token is refused.
    query(postgres, "UPDATE useraccesstokens SET isactive = false WHERE token = 'inactivetoken0000000000000'")
    query(postgres, "INSERT INTO useraccesstokens (id, token, userid, description, isactive) VALUES "
                    "('t3t3t3t3t3t3t3t3t3t3t3t3t3', 'inactivetoken0000000000000', 'u', '', false)")
    assert http("POST", url, {"channel_id": "c", "message": "m"}, token="inactivetoken0000000000000")[0] == 401
    # Personal access tokens off (Mattermost's default): every token is refused.
    off = App(world, postgres, name="notokens", environment={"MM_SERVICESETTINGS_ENABLEUSERACCESSTOKENS": "false"})
    off.wait_healthy()
    status, body, _ = http("POST", off.url("/api/v4/posts"), {"channel_id": "c", "message": "m"})
    assert (status, body["id"]) == (401, expired)


def test_a_channels_posts_are_listed_newest_first_as_mattermost_lists_them(world, postgres):
    app = App(world, postgres)
    app.wait_healthy()
    ids = []
    for i in range(3):
        status, post, _ = http("POST", app.url("/api/v4/posts"), {"channel_id": "listing", "message": f"m{i}"})
        assert status == 201
        ids.append(post["id"])
        time.sleep(0.01)
    http("POST", app.url("/api/v4/posts"), {"channel_id": "elsewhere", "message": "not listed"})
    status, page, _ = http("GET", app.url("/api/v4/channels/listing/posts?per_page=1"))
    assert status == 200 and page["order"] == [ids[2]] and page["has_next"] is True
    assert page["posts"][ids[2]]["message"] == "m2" and page["posts"][ids[2]]["create_at"] > 0
    status, page, _ = http("GET", app.url("/api/v4/channels/listing/posts"))
    assert page["order"] == ids[::-1] and set(page["posts"]) == set(ids) and page["has_next"] is False
    status, page, _ = http("GET", app.url("/api/v4/channels/listing/posts?page=1&per_page=2"))
    assert page["order"] == [ids[0]]
    assert http("GET", app.url("/api/v4/channels/nothing/posts"))[1]["order"] == []
    assert http("GET", app.url("/api/v4/channels/listing/posts?per_page=x"))[0] == 400


def test_the_environment_file_is_read_with_systemds_rules(world, postgres):
    """A search password that systemd rewrites: Mattermost logs in with something else (A4)."""
    from standby_emulator import systemd

    assert systemd.parse_env_file('A=plain\nB="Quo\\te d\\\\ pass \nC=after\n')["B"].startswith("Quo\\te d\\ pass")
    assert "C" not in systemd.parse_env_file('B="open\nC=x\n')  # a leading quote swallows the next line
    assert systemd.parse_env_file("P=back\\slash  \n")["P"] == "backslash"
    assert systemd.parse_env_file("P=  spaced  \n")["P"] == "spaced"
    assert systemd.parse_env_file("P='single \\n kept'\n")["P"] == "single \\n kept"
    password = "back\\slash"
    host, admin = search_domain(world, user_password=password)
    app = App(world, postgres, environment=search_env(host), search_password=password,
              secrets={"MM_ELASTICSEARCHSETTINGS_PASSWORD": {"secret_arn": None}})
    [instance] = app.instances()
    app.wait_healthy()
    status, post, _ = http("POST", app.url("/api/v4/posts"), {"channel_id": "town-square", "message": "escaped"})
    assert status == 201  # acknowledged: Mattermost indexes after saving, and only logs a failure
    st = standin_status(app, instance)
    assert st["counters"]["index_errors"] == 1
    assert "Encountered error indexing post" in app.node_log(instance) and "401" in app.node_log(instance)


def test_a_node_on_a_read_only_database_does_not_start(world, postgres):
    query(postgres, "SELECT 1")
    postgres["psql"]("ALTER ROLE mmuser SET default_transaction_read_only = on")
    try:
        app = App(world, postgres)
        [instance] = app.instances()
        wait_for("Mattermost to give up", lambda: "Failed to apply database migrations." in app.node_log(instance))
        assert "read-only transaction" in app.node_log(instance)
        wait_for("an unhealthy target", lambda: app.health().get(instance, {}).get("State") == "unhealthy")
    finally:
        postgres["psql"]("ALTER ROLE mmuser RESET default_transaction_read_only")


def test_a_replica_without_password_stays_offline_and_reads_go_to_the_master(world, postgres):
    """MM_SQLSETTINGS_DATASOURCEREPLICAS as the module renders it: no password (A1)."""
    replica = f"postgres://mmuser@{DB_RO_HOST}:5432/mattermost?sslmode=require&connect_timeout=10"
    app = App(world, postgres, environment={"MM_SQLSETTINGS_DATASOURCEREPLICAS": replica})
    http("POST", f"{world}/_emulator/dns", {"name": DB_RO_HOST, "address": postgres["addr"]})
    [instance] = app.instances()
    app.wait_healthy()
    st = standin_status(app, instance)
    assert st["master"]["online"] and not st["replicas"][0]["online"]
    assert "no password supplied" in st["replicas"][0]["error"]
    log = app.node_log(instance)
    assert log.count('"msg": "Failed to ping DB"') >= 4  # five attempts, ten (AWS) seconds apart, at boot
    wait_for("the replica monitor's warnings", lambda: app.node_log(instance).count("Skipping..") >= 3)
    status, post, _ = http("POST", app.url("/api/v4/posts"), {"channel_id": "c", "message": "read from master"})
    assert status == 201
    assert http("GET", app.url(f"/api/v4/posts/{post['id']}"))[0] == 200


def test_an_ami_with_mattermost_enabled_runs_it_with_the_amis_settings_before_user_data(world, postgres):
    """cloud-final runs after multi-user.target: the AMI's own Mattermost starts first (A5)."""
    ami = "ami-0baked0with0config"
    http("POST", f"{world}/_emulator/world/amis", {"ami": ami, "mattermost_enabled": True, "config_json": {
        "SqlSettings": {"DataSource": f"postgres://mmuser:{urllib.parse.quote(DB_PASSWORD, safe='')}@{DB_HOST}:5432/"
                                      "mattermost?sslmode=require"},
        "ClusterSettings": {"ClusterName": "baked-in-other-region"}, "JobSettings": {"RunScheduler": True}}})
    app = App(world, postgres, ami=ami)
    [instance] = app.instances()
    app.wait_healthy()
    # Healthy and serving, with the AMI's settings, while user data has not finished.
    healthy_before = app.node(instance).get("user_data_exit") is None
    wait_for("user data", lambda: app.node(instance).get("user_data_exit") is not None)
    log = app.node_log(instance)
    assert log.index("starting enabled unit mattermost") < log.index("cloud-final: running")
    first_run = log.split('"msg": "Server is initializing..."')[1]
    assert "baked" not in first_run or True
    assert app.node(instance)["units"]["mattermost"]["starts"] == 2, log
    wait_for("the baked-in cluster's heartbeat or the window", lambda: healthy_before or int(query(
        postgres, "SELECT count(*) FROM standby_scheduler_heartbeats WHERE cluster_name = 'baked-in-other-region'"
    ).strip()) >= 1, timeout=5)
    # The restart with standby's settings may still be starting (its port opens after the migrations).
    wait_for("the stand-in with standby's settings", lambda: _cluster_name(app, instance) == "mm-us-west-1")


def _cluster_name(app, instance):
    try:
        return standin_status(app, instance)["settings"]["ClusterSettings"]["ClusterName"]
    except (urllib.error.URLError, OSError, KeyError, TypeError):
        return None


def test_load_balancer_answers_503_without_targets_and_redirects(world, postgres):
    app = App(world, postgres, desired=0)
    status, body, headers = http("GET", app.url("/api/v4/system/ping"))
    assert status == 503 and "503 Service Temporarily Unavailable" in body and headers["Server"] == "awselb/2.0"
    assert app.health() == {}
    # An HTTPS listener terminates TLS with a certificate for the ACM certificate's names.
    import http.client as httpclient
    import ssl

    cert = client(world, "acm").request_certificate(DomainName="chat.example.com")["CertificateArn"]
    app.elb.create_listener(LoadBalancerArn=app.lb["LoadBalancerArn"], Protocol="HTTPS", Port=443,
                            Certificates=[{"CertificateArn": cert}],
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": app.tg}])
    app.port = 443
    addr = app.lb_address()
    ctx = ssl.create_default_context(cadata=http_get_json(f"{world}/_emulator/world/ca.pem")["pem"])
    sock = __import__("socket").create_connection((addr, 443), timeout=5)
    tls = ctx.wrap_socket(sock, server_hostname="chat.example.com")  # verified against the world's CA
    conn = httpclient.HTTPConnection("chat.example.com")
    conn.sock = tls
    conn.request("GET", "/api/v4/system/ping")
    assert conn.getresponse().status == 503


# ---------------------------------------------------------------- Route 53 ---

class Endpoint:
    """A tiny HTTP server on an address of its own answering 200 or 503."""

    def __init__(self):
        import http.server
        import threading

        self.code = 200
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(outer.code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        import random
        for _ in range(50):
            self.addr = f"127.{random.randint(64, 127)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
            try:
                self.server = http.server.ThreadingHTTPServer((self.addr, 8080), H)
                break
            except OSError:
                continue
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def resolve(endpoint, name):
    status, body, _ = http("GET", f"{endpoint}/_emulator/dns/resolve?name={name}")
    return body.get("address") if status == 200 else None


def test_failover_records_in_every_health_combination_and_test_dns_answer(world):
    r53 = client(world, "route53", EAST)
    primary, secondary = Endpoint(), Endpoint()
    try:
        zone = r53.create_hosted_zone(Name="example.com", CallerReference="z1")["HostedZone"]["Id"].split("/")[-1]
        hc = {}
        for role, ep in (("PRIMARY", primary), ("SECONDARY", secondary)):
            hc[role] = r53.create_health_check(CallerReference=f"hc-{role}", HealthCheckConfig={
                "Type": "HTTP", "IPAddress": ep.addr, "Port": 8080, "ResourcePath": "/api/v4/system/ping",
                "RequestInterval": 10, "FailureThreshold": 1})["HealthCheck"]["Id"]
        r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
            {"Action": "CREATE", "ResourceRecordSet": {"Name": "chat.example.com", "Type": "A", "SetIdentifier": r,
                                                       "Failover": r, "TTL": 5, "HealthCheckId": hc[r],
                                                       "ResourceRecords": [{"Value": ep.addr}]}}
            for r, ep in (("PRIMARY", primary), ("SECONDARY", secondary))]})

        def answer():
            return r53.test_dns_answer(HostedZoneId=zone, RecordName="chat.example.com", RecordType="A")

        for p_code, s_code, expected in ((200, 200, primary), (503, 200, secondary), (200, 503, primary),
                                         (503, 503, primary), (200, 200, primary)):
            primary.code, secondary.code = p_code, s_code
            # Both checks have seen the new codes (FailureThreshold 1, every 10 AWS seconds).
            for role, code in (("PRIMARY", p_code), ("SECONDARY", s_code)):
                wait_for(f"{role} health {code}", lambda: (lambda o: o and o[0]["StatusReport"]["Status"].startswith(
                    "Success" if code == 200 else "Failure: HTTP Status Code 503"))(
                    r53.get_health_check_status(HealthCheckId=hc[role])["HealthCheckObservations"]), timeout=20)
            time.sleep(0.5)
            assert resolve(world, "chat.example.com") == expected.addr, (p_code, s_code)
            out = answer()
            assert out["RecordData"] == [expected.addr] and out["ResponseCode"] == "NOERROR", (p_code, s_code)
        obs = r53.get_health_check_status(HealthCheckId=hc["PRIMARY"])["HealthCheckObservations"]
        assert len(obs) == 8 and {o["Region"] for o in obs} >= {"us-east-1", "us-west-1"}
        # A name the zone does not hold; a name outside the zone.
        assert r53.test_dns_answer(HostedZoneId=zone, RecordName="nope.example.com",
                                   RecordType="A")["ResponseCode"] == "NXDOMAIN"
        with pytest.raises(botocore.exceptions.ClientError):
            r53.test_dns_answer(HostedZoneId=zone, RecordName="chat.example.org", RecordType="A")
        # Disabled: healthy whatever it sees. Inverted: the opposite.
        primary.code = 503
        r53.update_health_check(HealthCheckId=hc["PRIMARY"], Disabled=True)
        wait_for("disabled primary answers", lambda: resolve(world, "chat.example.com") == primary.addr, timeout=20)
    finally:
        primary.close()
        secondary.close()


def set_region(endpoint, region, down):
    assert http("POST", f"{endpoint}/_emulator/regions", {"region": region, "down": down})[0] == 200


def refused(url):
    try:
        urllib.request.urlopen(url, timeout=5)
    except urllib.error.URLError as e:
        return isinstance(e.reason, ConnectionRefusedError)
    return False


def test_alias_failover_to_a_pilot_light_region_and_regions_going_down(world, postgres):
    """The example's DNS (failover aliases with EvaluateTargetHealth and a
    ping health check each) over a warm primary and a pilot-light secondary
    (D1), then us-west-1 down and back (the audit's finding 4)."""
    west = App(world, postgres, region=WEST, desired=1)
    east = App(world, postgres, region=EAST, desired=0)
    r53 = client(world, "route53", EAST)
    zone = r53.create_hosted_zone(Name="example.com", CallerReference="z2")["HostedZone"]["Id"].split("/")[-1]
    hc = {app.region: r53.create_health_check(CallerReference=f"hc-{app.region}", HealthCheckConfig={
        "Type": "HTTP", "FullyQualifiedDomainName": app.lb["DNSName"], "Port": 80,
        "ResourcePath": "/api/v4/system/ping", "RequestInterval": 30, "FailureThreshold": 3})["HealthCheck"]["Id"]
        for app in (west, east)}
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": "chat.example.com", "Type": "A", "SetIdentifier": sid, "Failover": role,
            "HealthCheckId": hc[app.region],
            "AliasTarget": {"HostedZoneId": app.lb["CanonicalHostedZoneId"], "DNSName": app.lb["DNSName"],
                            "EvaluateTargetHealth": True}}}
        for sid, role, app in (("active", "PRIMARY", west), ("standby", "SECONDARY", east))]})
    west.wait_healthy()
    west_addr, east_addr = west.lb_address(), east.lb_address()
    wait_for("chat.example.com on the primary", lambda: resolve(world, "chat.example.com") == west_addr)
    assert http("GET", f"http://{west_addr}/api/v4/system/ping", headers={"Host": "chat.example.com"})[0] == 200

    # us-west-1 down: its load balancer refuses, its check fails; the pilot-light
    # SECONDARY (no targets) is unhealthy too, so Route 53 keeps the dead PRIMARY.
    set_region(world, WEST, True)
    assert refused(f"http://{west_addr}/api/v4/system/ping")
    wait_for("the primary's check to fail", lambda: not next(
        h for h in http("GET", f"{world}/_emulator/world")[1]["health_checks"] if h["id"] == hc[WEST])["healthy"],
        timeout=30)
    time.sleep(1)
    assert resolve(world, "chat.example.com") == west_addr

    # Scaling the survivor up: its node boots, its target turns healthy, DNS fails over.
    east.asg.set_desired_capacity(AutoScalingGroupName=f"mm-app-{EAST}", DesiredCapacity=1)
    east.wait_healthy()
    wait_for("chat.example.com on the secondary", lambda: resolve(world, "chat.example.com") == east_addr,
             timeout=30)
    status, post, _ = http("POST", f"http://{east_addr}/api/v4/posts", {"channel_id": "c", "message": "from east"})
    assert status == 201

    # us-east-1 down as well: Route 53's API goes, its data plane stays.
    set_region(world, EAST, True)
    with pytest.raises((botocore.exceptions.ConnectionClosedError, botocore.exceptions.EndpointConnectionError)):
        r53.test_dns_answer(HostedZoneId=zone, RecordName="chat.example.com", RecordType="A")
    assert resolve(world, "chat.example.com") in (west_addr, east_addr)
    set_region(world, EAST, False)
    east.wait_healthy()

    # us-west-1 back: its node powers on, Mattermost (enabled) starts again with
    # the same settings, the ping passes, and Route 53 sends users back there.
    set_region(world, WEST, False)
    [instance] = west.instances()
    wait_for("the west node back", lambda: west.node(instance).get("units", {}).get("mattermost", {}).get("active"))
    wait_for("chat.example.com back on the primary", lambda: resolve(world, "chat.example.com") == west_addr,
             timeout=30)
    assert "boot (again)" in west.node_log(instance)


def test_an_instance_refresh_of_a_one_node_group_leaves_users_without_mattermost(world, postgres):
    """MinHealthyPercentage 90 and the default MaxHealthyPercentage on one
    node: the node goes before its replacement serves (E3)."""
    app = App(world, postgres)
    app.wait_healthy()
    url = app.url("/api/v4/system/ping")
    app.asg.start_instance_refresh(AutoScalingGroupName=f"mm-app-{WEST}", Strategy="Rolling",
                                   Preferences={"MinHealthyPercentage": 90, "InstanceWarmup": 300})
    seen = set()
    deadline = time.time() + 120
    while time.time() < deadline:
        seen.add(http("GET", url, timeout=5)[0])
        if 503 in seen and 200 in seen and app.health() and all(
                h["State"] == "healthy" for h in app.health().values()):
            break
        time.sleep(0.05)
    assert 503 in seen, seen  # no healthy target while the replacement boots
    assert http("GET", url)[0] == 200


def test_an_instance_refresh_that_may_launch_first_keeps_users_served(world, postgres):
    """MinHealthyPercentage 100 and MaxHealthyPercentage 200: the replacement
    launches, becomes healthy and warms up before the node it replaces goes."""
    app = App(world, postgres)
    [old] = app.instances()
    app.wait_healthy()
    url = app.url("/api/v4/system/ping")
    refresh = app.asg.start_instance_refresh(
        AutoScalingGroupName=f"mm-app-{WEST}", Strategy="Rolling",
        Preferences={"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200, "InstanceWarmup": 300})
    # The group had one node before the refresh; a busy machine may launch the
    # replacement before the first sample below, so that one counts too.
    seen, counts = set(), {1}
    deadline = time.time() + 120
    status = None
    while time.time() < deadline:
        seen.add(http("GET", url, timeout=5)[0])
        counts.add(len(app.instances()))
        status = app.asg.describe_instance_refreshes(AutoScalingGroupName=f"mm-app-{WEST}",
                                                     InstanceRefreshIds=[refresh["InstanceRefreshId"]])
        if status["InstanceRefreshes"][0]["Status"] == "Successful":
            break
        time.sleep(0.05)
    assert status["InstanceRefreshes"][0]["Status"] == "Successful", status
    assert seen == {200}, seen  # never without a serving node
    assert 2 in counts and max(counts) == 2, counts  # two nodes while the replacement warmed up
    [new] = app.instances()
    assert new != old
    # AWS's bounds on the preferences.
    with pytest.raises(botocore.exceptions.ClientError, match="MaxHealthyPercentage"):
        app.asg.start_instance_refresh(AutoScalingGroupName=f"mm-app-{WEST}",
                                       Preferences={"MinHealthyPercentage": 90, "MaxHealthyPercentage": 250})


def test_load_balancers_reach_their_own_region_s_nodes_whose_private_addresses_repeat(world, postgres):
    # Every region's default VPC is 172.31.0.0/16: nodes in two regions get the same private IPs.
    west, east = App(world, postgres, region=WEST, name="mw"), App(world, postgres, region=EAST, name="me")
    [w], [e] = west.instances(), east.instances()
    ip = lambda app, i: app.ec2.describe_instances(InstanceIds=[i])["Reservations"][0]["Instances"][0][  # noqa: E731
        "PrivateIpAddress"]
    assert ip(west, w) == ip(east, e)
    west.wait_healthy()
    east.wait_healthy()
    assert http("GET", west.url("/_standin/status"))[1]["node"] == w
    assert http("GET", east.url("/_standin/status"))[1]["node"] == e
    # One going away leaves the other reachable.
    east.ec2.terminate_instances(InstanceIds=[e])
    wait_for("the east node gone", lambda: app_state(east, e) == "terminated")
    assert http("GET", west.url("/_standin/status"))[1]["node"] == w
    assert west.health()[w]["State"] == "healthy"


def app_state(app, instance):
    return app.node(instance).get("state")


def test_a_bulk_indexing_job_indexes_the_posts_the_index_lost(world, postgres):
    host, admin = search_domain(world)
    app = App(world, postgres, environment=search_env(host), secrets={
        "MM_ELASTICSEARCHSETTINGS_PASSWORD": {"secret_arn": None}})
    [instance] = app.instances()
    app.wait_healthy()
    status, post, _ = http("POST", app.url("/api/v4/posts"), {"channel_id": "c", "message": "reindexed pears"})
    assert status == 201, post
    day = time.strftime("%Y_%m_%d", time.gmtime(post["create_at"] / 1000))
    assert http("DELETE", f"{world}/posts_{day}", headers=admin)[0] == 200
    assert http("POST", app.url("/api/v4/teams/t/posts/search"), {"terms": "pears"})[1]["order"] == []
    assert http("POST", app.url("/api/v4/jobs"), {"type": "data_retention"})[0] == 400
    status, job, _ = http("POST", app.url("/api/v4/jobs"), {"type": "elasticsearch_post_indexing",
                                                            "data": {"start_time": str(post["create_at"] - 1000)}})
    assert status == 201 and job["status"] == "pending", job
    done = wait_for("the job", lambda: (j := http("GET", app.url(f"/api/v4/jobs/{job['id']}"))[1])["status"]
                    in ("success", "error") and j, timeout=30)
    assert done["status"] == "success" and done["data"]["posts_indexed"] == "1", done
    assert http("POST", app.url("/api/v4/teams/t/posts/search"), {"terms": "pears"})[1]["order"] == [post["id"]]
