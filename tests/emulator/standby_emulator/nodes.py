"""Nodes that boot: an EC2 instance of the game-day world (world.py).

A running instance that the world has not seen yet boots:

1. Its address: one of its own in the emulated network (network.py), under
   its private IP and private DNS name (what a VPC resolves), where its
   Mattermost listens on 8065.
2. Its instance metadata service (imds.py) with the instance role's
   credentials and IMDSv2 tokens as the launch template's MetadataOptions
   ask.
3. "Power on": units the AMI enables start (systemd's multi-user.target),
   *before* user data: cloud-init runs user scripts in cloud-final.service,
   `After=multi-user.target` on Ubuntu/Debian (canonical/cloud-init
   systemd/cloud-final.service.tmpl). An AMI whose `mattermost` unit is
   enabled therefore runs Mattermost with the AMI's settings first.
4. User data: a `#!` script runs as root, as cloud-init's scripts-user does
   (/var/lib/cloud/instance/scripts/part-001), in a sandbox of its own: a
   private mount namespace (`unshare --mount`) where /etc, /opt, /var,
   /root, /home and /srv are overlays (lower: the AMI's files over the
   host's; upper: the node's own directory), so what the script writes
   lands in the node's directory and nowhere else. Its PATH starts with the
   node's commands: `aws` (the AWS CLI, pointed at the emulator, with
   credentials from the node's metadata service only) and `systemctl`
   (recorded; start/stop/restart/enable/daemon-reload act on the node's
   units below). Its output is the boot log.
5. Units: a unit's file and drop-ins are read from the node's files at boot
   and at `systemctl daemon-reload` (systemd.unit(5)); `Environment=` and
   `EnvironmentFile=` (systemd's parser, systemd.py) make the process's
   environment; `Restart=`/`RestartSec=` restart it when it exits. A unit
   whose ExecStart is Mattermost's binary runs the Mattermost stand-in
   (mattermost.py) as that node.

Terminated or stopped instances stop their processes. A region down powers
its nodes off; back up, they boot again (units enabled start; user data is
not run again: cloud-init runs scripts once per instance).
"""

import base64
import gzip
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from . import network, world

LOCK = threading.RLock()
NODES: dict[str, "Node"] = {}
_AMIS: dict[str, dict[str, Any]] = {}

# Mattermost's own unit, as its install guide writes it
# (docs.mattermost.com, "Install Mattermost on Linux": "Set up Mattermost as
# a systemd service"), in /lib/systemd/system of the AMI.
MATTERMOST_UNIT = """[Unit]
Description=Mattermost
After=network.target

[Service]
Type=notify
ExecStart=/opt/mattermost/bin/mattermost
TimeoutStartSec=3600
KillMode=mixed
Restart=always
RestartSec=10
WorkingDirectory=/opt/mattermost
User=mattermost
Group=mattermost
LimitNOFILE=49152

[Install]
WantedBy=multi-user.target
"""
# Where an AMI baked as AWS says carries the RDS CA bundle
# (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem; the
# path is the app tier module's `db_ca_bundle` default): here, the
# emulator's RDS CA (rds_ca.py), so `sslmode=verify-full` works on the nodes.
RDS_CA_BUNDLE = "/etc/ssl/certs/rds-global-bundle.pem"
OVERLAID = ("etc", "opt", "var", "root", "home", "srv")
UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")


# ------------------------------------------------------------------ AMIs ---

def set_ami(spec: dict[str, Any]) -> dict[str, Any]:
    """`POST /_emulator/world/amis {"ami": id, "mattermost_enabled": bool,
    "config_json": {...} | null, "rds_ca_bundle": path | null}`: what an AMI
    holds. Unknown AMIs have Mattermost installed (its unit, not enabled), no
    config.json, and the RDS CA bundle at RDS_CA_BUNDLE."""
    ami = str(spec["ami"])
    with LOCK:
        _AMIS[ami] = {"mattermost_enabled": bool(spec.get("mattermost_enabled", False)),
                      "config_json": spec.get("config_json"),
                      "rds_ca_bundle": spec.get("rds_ca_bundle", RDS_CA_BUNDLE)}
        shutil.rmtree(world.directory() / "amis" / ami, ignore_errors=True)
        return {"ami": ami, **_AMIS[ami]}


def amis() -> dict[str, Any]:
    with LOCK:
        return dict(_AMIS)


def ami_dir(ami: str) -> Path:
    """The AMI's own files (the lower layer above the host's)."""
    d = world.directory() / "amis" / (ami or "none")
    with LOCK:
        if d.exists():
            return d
        spec = _AMIS.get(ami, {})
        unit = d / "lib/systemd/system/mattermost.service"
        unit.parent.mkdir(parents=True, exist_ok=True)
        unit.write_text(MATTERMOST_UNIT)
        (d / "etc/systemd/system").mkdir(parents=True, exist_ok=True)
        (d / "opt/mattermost/bin").mkdir(parents=True, exist_ok=True)
        (d / "opt/mattermost/bin/mattermost").write_text("#!/bin/sh\n# Mattermost (the emulator runs its stand-in)\n")
        if spec.get("mattermost_enabled"):
            wants = d / "etc/systemd/system/multi-user.target.wants"
            wants.mkdir(parents=True, exist_ok=True)
            (wants / "mattermost.service").symlink_to("/lib/systemd/system/mattermost.service")
        bundle = spec.get("rds_ca_bundle", RDS_CA_BUNDLE)
        if bundle:
            from . import aurora_db

            path = d / bundle.lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(aurora_db.model().ca.pem)
        if spec.get("config_json") is not None:
            cfg = d / "opt/mattermost/config/config.json"
            cfg.parent.mkdir(parents=True, exist_ok=True)
            cfg.write_text(json.dumps(spec["config_json"], indent=2))
        return d


# ----------------------------------------------------------------- nodes ---

_SPAWNER = None


def _popen(*args: Any, **kwargs: Any) -> subprocess.Popen:
    """Popen from one long-lived thread: PR_SET_PDEATHSIG fires when the
    thread that forked the child ends, and request threads end at once."""
    global _SPAWNER
    from concurrent.futures import ThreadPoolExecutor

    with LOCK:
        if _SPAWNER is None:
            _SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="standby-spawner")
    return _SPAWNER.submit(subprocess.Popen, *args, **kwargs).result()


def _pdeathsig() -> None:
    """Child processes die with the emulator, even when it is killed."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001
        pass


class Unit:
    def __init__(self, name: str) -> None:
        self.name = name
        self.proc: subprocess.Popen | None = None
        self.wanted = False  # started and not stopped since
        self.starts = 0
        self.exits: list[int] = []
        self.generation = 0
        self.config: dict[str, dict[str, list[str]]] | None = None  # as loaded (boot, daemon-reload)


class Node:
    def __init__(self, instance: Any, account: str, region: str) -> None:
        self.id = instance.id
        self.account = account
        self.region = region
        self.private_ip = instance.private_ip
        self.private_dns = f"ip-{instance.private_ip.replace('.', '-')}.{region}.compute.internal" \
            if region != "us-east-1" else f"ip-{instance.private_ip.replace('.', '-')}.ec2.internal"
        self.ami = instance.image_id or ""
        self.launched = time.time()
        self.dir = world.directory() / "nodes" / self.id
        self.upper = self.dir / "upper"
        self.state = "pending"
        self.down = False
        self.units: dict[str, Unit] = {}
        self.systemctl_calls: list[list[str]] = []
        self.user_data, self.profile, self.metadata = _launch_settings(instance, account, region)
        self.addr = network.allocate(8065)
        network.register(self.private_ip, self.addr)
        network.register(self.private_dns, self.addr)
        self.imds = None
        self.imds_url = ""
        self.user_data_exit: int | None = None
        self.booted_at: float | None = None  # cloud-init done (user data run or failed)

    # ------------------------------------------------------------ files ---

    def path(self, p: str, host: bool = True) -> Path | None:
        """Where the node's file `p` is: its own (upper) layer, then the
        AMI's, then (with `host`) the host's; None when missing (or deleted
        on the node). Units and configuration are the AMI's and the node's
        only: the host's systemd is not the node's."""
        rel = p.lstrip("/")
        top = rel.split("/", 1)[0]
        up = self.upper / rel
        try:
            st = os.lstat(up)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return None  # an overlay whiteout: deleted on the node
            return up
        except FileNotFoundError:
            pass
        ami = ami_dir(self.ami) / rel
        if os.path.lexists(ami):
            return ami
        if host and os.path.lexists("/" + rel):
            return Path("/" + rel)
        return None

    def read(self, p: str, host: bool = True) -> str | None:
        f = self.path(p, host)
        if f is None:
            return None
        if f.is_symlink() and os.readlink(f).startswith("/"):
            return self.read(os.readlink(f), host)
        try:
            return f.read_text()
        except (OSError, UnicodeDecodeError):
            return None

    def listdir(self, p: str, host: bool = True) -> list[str]:
        rel = p.lstrip("/")
        names: set[str] = set()
        layers = [ami_dir(self.ami) / rel] + ([Path("/" + rel)] if host else []) + [self.upper / rel]
        for base in layers:
            if base.is_dir():
                for n in os.listdir(base):
                    full = base / n
                    if base.is_relative_to(self.upper):
                        st = os.lstat(full)
                        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                            names.discard(n)
                            continue
                    names.add(n)
        return sorted(names)

    def read_file(self, p: str) -> dict[str, Any]:
        text = self.read(p)
        return {"path": p, "exists": text is not None, "text": redact(text) if text is not None else None}

    # ------------------------------------------------------------- boot ---

    def boot(self, first: bool = True) -> None:
        """Power on: enabled units, then (first boot only) user data."""
        self.state = "booting"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._log(f"--- boot {'(first)' if first else '(again)'} {time.strftime('%H:%M:%S')}")
        for name in self.enabled_units():
            self._log(f"multi-user.target: starting enabled unit {name}")
            self.start_unit(name, why="boot")
        if first:
            self.run_user_data()
        self.booted_at = time.time()
        if not self.down:
            self.state = "running"

    def enabled_units(self) -> list[str]:
        return [n[: -len(".service")] for n in self.listdir("/etc/systemd/system/multi-user.target.wants", host=False)
                if n.endswith(".service")]

    def run_user_data(self) -> None:
        data = self.user_data
        if not data:
            self._log("cloud-init: no user data")
            return
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        if not data.startswith(b"#!"):
            self._log("cloud-init: user data is not a script (#!); the emulator runs scripts only")
            return
        script = self.upper / "var/lib/cloud/instance/scripts/part-001"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_bytes(data)
        script.chmod(0o700)
        self._write_commands()
        sandbox = self._sandbox_script()
        root = os.geteuid() == 0
        cmd = ["unshare", "--mount", "--propagation", "private"] if root else \
            ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"]
        env = {"PATH": f"{self.dir / 'bin'}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "HOME": "/root", "LANG": "C.UTF-8", "TMPDIR": str(self.dir / "tmp")}
        self._log("cloud-final: running /var/lib/cloud/instance/scripts/part-001")
        with open(self.dir / "boot.log", "ab") as out:
            try:
                p = subprocess.run(cmd + ["/bin/bash", str(sandbox)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, timeout=600, preexec_fn=_pdeathsig)
                self.user_data_exit = p.returncode
            except (OSError, subprocess.TimeoutExpired) as e:
                self.user_data_exit = -1
                out.write(f"sandbox failed: {e}\n".encode())
        if self.user_data_exit == 0:
            self._log("cloud-final: user data finished")
        else:
            # cloud-init logs the failure and the instance keeps running.
            self._log(f"cloud-final: user data failed (exit {self.user_data_exit}); "
                      "util.py[WARNING]: Failed running /var/lib/cloud/instance/scripts/part-001")

    def _sandbox_script(self) -> Path:
        (self.dir / "tmp").mkdir(parents=True, exist_ok=True)
        keep = [world.directory().resolve(), Path(sys.prefix).resolve(), Path(__file__).resolve().parent]
        ami = ami_dir(self.ami)
        lines = ["set -e"]
        for top in OVERLAID:
            host = Path("/" + top)
            if not host.is_dir() or any(k.is_relative_to(host) for k in keep):
                continue  # not on this host, or holding the world itself: left as the host's
            upper, work = self.upper / top, self.dir / "work" / top
            upper.mkdir(parents=True, exist_ok=True)
            work.mkdir(parents=True, exist_ok=True)
            lower = f"{ami / top}:/{top}" if (ami / top).is_dir() else f"/{top}"
            lines.append(f"mount -t overlay overlay -o lowerdir={lower},upperdir={upper},workdir={work} /{top}")
        lines.append("cd /")
        lines.append("exec /var/lib/cloud/instance/scripts/part-001")
        f = self.dir / "sandbox.sh"
        f.write_text("\n".join(lines) + "\n")
        return f

    def _write_commands(self) -> None:
        """The node's `aws` and `systemctl`."""
        b = self.dir / "bin"
        b.mkdir(parents=True, exist_ok=True)
        aws = b / "aws"
        aws.write_text(
            "#!/bin/sh\n"
            "# The AWS CLI, pointed at the emulator; credentials only from this node's metadata service.\n"
            "unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE\n"
            f"export AWS_ENDPOINT_URL={world.emulator_url()}\n"
            f"export AWS_EC2_METADATA_SERVICE_ENDPOINT={self.imds_url}\n"
            f"export AWS_CONFIG_FILE={self.dir / 'no-aws-config'} AWS_SHARED_CREDENTIALS_FILE={self.dir / 'no-aws-credentials'}\n"
            # AWS's metadata service answers in milliseconds; this one shares the
            # emulator's busy process, so the CLI waits 5 s (default 1) twice.
            "export AWS_METADATA_SERVICE_TIMEOUT=5 AWS_METADATA_SERVICE_NUM_ATTEMPTS=2\n"
            f"export PYTHONPATH= PYTHONNOUSERSITE=1\n"
            f"exec {sys.executable} -m awscli \"$@\"\n")
        aws.chmod(0o755)
        ctl = b / "systemctl"
        ctl.write_text(
            "#!/usr/bin/env python3\n"
            "# systemctl of an emulated node: the emulator's world carries it out.\n"
            "import json, sys, urllib.request\n"
            f"url = {world.emulator_url() + '/_emulator/world/nodes/' + self.id + '/systemctl'!r}\n"
            "req = urllib.request.Request(url, data=json.dumps({'args': sys.argv[1:]}).encode(), method='POST',\n"
            "                             headers={'Content-Type': 'application/json'})\n"
            "out = json.load(urllib.request.urlopen(req, timeout=120))\n"
            "sys.stdout.write(out.get('stdout', '')); sys.stderr.write(out.get('stderr', ''))\n"
            "sys.exit(out.get('code', 0))\n")
        ctl.chmod(0o755)

    # ------------------------------------------------------------ units ---

    def unit_config(self, name: str) -> dict[str, dict[str, list[str]]] | None:
        from . import systemd

        texts = []
        for d in UNIT_DIRS:
            t = self.read(f"{d}/{name}.service", host=False)
            if t is not None:
                texts.append(t)
                break
        if not texts:
            return None
        for d in UNIT_DIRS:
            for f in self.listdir(f"{d}/{name}.service.d", host=False):
                if f.endswith(".conf"):
                    t = self.read(f"{d}/{name}.service.d/{f}", host=False)
                    if t is not None:
                        texts.append(t)
        return systemd.merged(texts)

    def systemctl(self, args: list[str]) -> dict[str, Any]:
        from . import systemd  # noqa: F401

        with LOCK:
            self.systemctl_calls.append(list(args))
        words = [a for a in args if not a.startswith("-")]
        self._log("systemctl " + " ".join(args))
        if not words:
            return {"code": 0}
        verb, names = words[0], [w[: -len(".service")] if w.endswith(".service") else w for w in words[1:]]
        if verb == "daemon-reload":
            for u in list(self.units.values()):
                u.config = self.unit_config(u.name)
            return {"code": 0}
        for name in names:
            if self.unit_config(name) is None:
                return {"code": 5, "stderr": f"Failed to {verb} {name}.service: Unit {name}.service not found.\n"}
        if verb == "enable":
            for name in names:
                link = self.upper / f"etc/systemd/system/multi-user.target.wants/{name}.service"
                link.parent.mkdir(parents=True, exist_ok=True)
                if not os.path.lexists(link):
                    link.symlink_to(f"/lib/systemd/system/{name}.service")
                    return {"code": 0, "stderr": f"Created symlink /etc/systemd/system/multi-user.target.wants/"
                                                 f"{name}.service → /lib/systemd/system/{name}.service.\n"}
            return {"code": 0}
        if verb == "disable":
            for name in names:
                link = self.upper / f"etc/systemd/system/multi-user.target.wants/{name}.service"
                if os.path.lexists(link):
                    link.unlink()
            return {"code": 0}
        if verb in ("start", "restart", "reload-or-restart", "try-restart"):
            for name in names:
                if verb == "try-restart" and not self._active(name):
                    continue
                ok, msg = self.start_unit(name, why=verb, restart=verb != "start")
                if not ok:
                    return {"code": 1, "stderr": msg}
            return {"code": 0}
        if verb == "stop":
            for name in names:
                self.stop_unit(name)
            return {"code": 0}
        if verb == "is-active":
            active = all(self._active(n) for n in names)
            return {"code": 0 if active else 3, "stdout": ("active" if active else "inactive") + "\n"}
        if verb == "is-enabled":
            on = all(n in self.enabled_units() for n in names)
            return {"code": 0 if on else 1, "stdout": ("enabled" if on else "disabled") + "\n"}
        if verb == "status":
            return {"code": 0 if all(self._active(n) for n in names) else 3,
                    "stdout": "".join(f"{n}.service: {'active (running)' if self._active(n) else 'inactive'}\n"
                                      for n in names)}
        return {"code": 0}

    def _active(self, name: str) -> bool:
        u = self.units.get(name)
        return bool(u and u.proc and u.proc.poll() is None)

    def start_unit(self, name: str, why: str, restart: bool = False) -> tuple[bool, str]:
        from . import systemd

        with LOCK:
            u = self.units.setdefault(name, Unit(name))
            if u.config is None:
                u.config = self.unit_config(name)
            cfg = u.config
            if cfg is None:
                return False, f"Unit {name}.service not found.\n"
            if self._active(name):
                if not restart:
                    return True, ""
                self._kill(u)
            service = cfg.get("Service", {})
            env: dict[str, str] = {}
            for v in service.get("Environment", []):
                env.update(systemd.environment_assignments(v))
            for f in service.get("EnvironmentFile", []):
                optional = f.startswith("-")
                path = f.lstrip("-")
                text = self.read(path)
                if text is None:
                    if optional:
                        continue
                    self._log(f"{name}.service: Failed to load environment files: No such file or directory")
                    return False, (f"Job for {name}.service failed because of unavailable resources or another "
                                   "system error.\n")
                env.update(systemd.parse_env_file(text))
            exec_start = (service.get("ExecStart") or [""])[-1]
            if not exec_start.split(" ")[0].lstrip("-@+!").endswith("/mattermost"):
                self._log(f"{name}.service: ExecStart {exec_start!r} is not Mattermost's; not run by the emulator")
                return False, f"{name}.service: not runnable here\n"
            u.wanted = True
            u.generation += 1
            self._spawn(u, env, service)
            self._log(f"{name}.service: started ({why})")
            return True, ""

    def _spawn(self, u: Unit, unit_env: dict[str, str], service: dict[str, list[str]]) -> None:
        cfg_json = self.path("/opt/mattermost/config/config.json", host=False)
        env = dict(unit_env)
        env.update({
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
            "LANG": "C.UTF-8",
            "STANDBY_WORLD_URL": world.emulator_url(),
            "STANDBY_NODE_ID": self.id,
            "STANDBY_NODE_ADDRESS": self.addr,
            "STANDBY_NODE_DIR": str(self.dir),
            "STANDBY_WORLD_MS_PER_S": str(world.aws_seconds(1) * 1000),
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.imds_url,
            "AWS_METADATA_SERVICE_TIMEOUT": "5",
            "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "2",
            "AWS_CONFIG_FILE": str(self.dir / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.dir / "no-aws-credentials"),
            "PGPASSFILE": str(self.dir / "no-pgpass"),
        })
        if cfg_json is not None:
            env["STANDBY_CONFIG_JSON"] = str(cfg_json)
        log = open(self.dir / f"{u.name}.log", "ab")
        u.proc = _popen([sys.executable, "-m", "standby_emulator.mattermost"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.dir,
                                  preexec_fn=_pdeathsig)
        log.close()
        u.starts += 1
        gen = u.generation
        restart = (service.get("Restart") or ["no"])[-1]
        from . import systemd

        delay = systemd.seconds((service.get("RestartSec") or ["0.1"])[-1], 0.1)
        threading.Thread(target=self._supervise, args=(u, u.proc, gen, restart, delay), daemon=True,
                         name=f"unit-{self.id}-{u.name}").start()

    def _supervise(self, u: Unit, proc: subprocess.Popen, gen: int, restart: str, delay: float) -> None:
        """systemd's Restart= (systemd.service(5)): always, on-failure,
        on-abnormal; the start rate limit is not emulated."""
        code = proc.wait()
        with LOCK:
            if u.proc is proc:
                u.exits.append(code)
            if u.generation != gen or not u.wanted or self.state == "terminated" or self.down:
                return
        self._log(f"{u.name}.service: main process exited, code={code}")
        again = restart == "always" or (restart == "on-failure" and code != 0) or \
            (restart == "on-abnormal" and code < 0)
        if not again:
            return
        time.sleep(world.aws_seconds(delay))
        with LOCK:
            if u.generation != gen or not u.wanted or self.state == "terminated" or self.down:
                return
            self._log(f"{u.name}.service: scheduled restart job (Restart={restart})")
            self.start_unit(u.name, why="Restart=", restart=True)

    def stop_unit(self, name: str) -> None:
        with LOCK:
            u = self.units.get(name)
            if u is None:
                return
            u.wanted = False
            u.generation += 1
            self._kill(u)

    def _kill(self, u: Unit, sig: int = signal.SIGTERM) -> None:
        p = u.proc
        if p is None or p.poll() is not None:
            return
        try:
            p.send_signal(sig)
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
        except OSError:
            pass

    def power_off(self, sig: int = signal.SIGKILL) -> None:
        with LOCK:
            for u in self.units.values():
                u.generation += 1
                self._kill(u, sig)

    # ------------------------------------------------------------ views ---

    def _log(self, line: str) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "boot.log", "a") as f:
            f.write(line + "\n")

    def boot_log(self) -> str:
        try:
            return redact((self.dir / "boot.log").read_text(errors="replace"))
        except FileNotFoundError:
            return ""

    def unit_log(self, name: str) -> str:
        try:
            return redact((self.dir / f"{name}.log").read_text(errors="replace"))
        except FileNotFoundError:
            return ""

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id, "region": self.region, "state": self.state, "down": self.down,
            "private_ip": self.private_ip, "address": self.addr, "ami": self.ami, "imds_url": self.imds_url,
            "metadata": self.metadata, "instance_profile": self.profile,
            "user_data_exit": self.user_data_exit, "systemctl": self.systemctl_calls,
            "booted_at": self.booted_at,
            "enabled": self.enabled_units(),
            "units": {n: {"active": self._active(n), "starts": u.starts, "exits": list(u.exits),
                          "pid": u.proc.pid if u.proc and u.proc.poll() is None else None}
                      for n, u in self.units.items()},
        }


def _launch_settings(instance: Any, account: str, region: str) -> tuple[bytes, dict | None, dict]:
    """User data, instance profile and metadata options the instance was
    launched with: its launch template version's (moto keeps neither the
    profile nor the metadata options of a template on the instance)."""
    data: dict[str, Any] = {}
    tags = {t["key"]: t["value"] for t in instance.get_tags()} if hasattr(instance, "get_tags") else {}
    tid, version = tags.get("aws:ec2launchtemplate:id"), tags.get("aws:ec2launchtemplate:version")
    if tid:
        try:
            template = instance.ec2_backend.launch_templates[tid]
            data = dict(template.get_version(version or template.default_version_number).data)
        except Exception:  # noqa: BLE001
            data = {}
    ud = instance.user_data
    raw = data.get("UserData") or (ud[0] if isinstance(ud, list) and ud else ud)
    user_data = b""
    if raw:
        try:
            user_data = base64.b64decode(raw if isinstance(raw, (str, bytes)) else str(raw))
        except Exception:  # noqa: BLE001
            user_data = raw.encode() if isinstance(raw, str) else bytes(raw)
    profile = data.get("IamInstanceProfile") or getattr(instance, "iam_instance_profile", None)
    metadata = dict(data.get("MetadataOptions") or {})
    mo = getattr(instance, "metadata_options", None)
    if not metadata and mo is not None and hasattr(mo, "to_dict"):
        metadata = dict(mo.to_dict())
    metadata.setdefault("HttpTokens", "optional")
    metadata.setdefault("HttpEndpoint", "enabled")
    return user_data, profile, metadata


# -------------------------------------------------------------- reconcile ---

def _instances():
    from moto.ec2.models import ec2_backends

    for account, regions in list(ec2_backends.items()):
        for region, backend in list(regions.items()):
            for reservation in list(backend.reservations.values()):
                for instance in list(reservation.instances):
                    yield account, region, instance


def reconcile() -> None:
    from . import imds, regions

    for account, region, instance in _instances():
        state = instance.state
        with LOCK:
            node = NODES.get(instance.id)
        if node is None:
            if state != "running":
                continue
            node = Node(instance, account, region)
            with LOCK:
                NODES[instance.id] = node
            imds.serve(node)
            if regions.is_down(region):
                node.down = True
                node.state = "down"
                continue
            threading.Thread(target=node.boot, name=f"boot-{node.id}", daemon=True).start()
        elif state in ("terminated", "shutting-down", "stopped", "stopping") and node.state not in ("terminated",
                                                                                                     "stopped"):
            _stop(node, terminated=state in ("terminated", "shutting-down"))


def _stop(node: Node, terminated: bool) -> None:
    from . import imds

    node.state = "terminated" if terminated else "stopped"
    node.power_off(signal.SIGTERM)
    imds.close(node)
    # Private addresses repeat between VPCs (every region's default VPC is
    # 172.31.0.0/16): forget only what is still this node's.
    network.unregister(node.private_ip, node.addr)
    network.unregister(node.private_dns, node.addr)
    network.release(node.addr)
    node._log(f"--- {'terminated' if terminated else 'stopped'}")


def region_changed(region: str, down: bool) -> None:
    with LOCK:
        nodes = [n for n in NODES.values() if n.region == region and n.state not in ("terminated", "stopped")]
    for n in nodes:
        if down and not n.down:
            n.down = True
            n.state = "down"
            n._log("--- power lost (region down)")
            n.power_off()
        elif not down and n.down:
            n.down = False
            first = n.user_data_exit is None
            threading.Thread(target=n.boot, kwargs={"first": first}, name=f"boot-{n.id}", daemon=True).start()


def stop_all(wait: bool = True) -> None:
    with LOCK:
        nodes = list(NODES.values())
        NODES.clear()
        _AMIS.clear()
    for n in nodes:
        try:
            n.power_off(signal.SIGKILL)
            if wait:
                from . import imds

                imds.close(n)
        except Exception:  # noqa: BLE001
            pass


def get(instance_id: str) -> Node | None:
    with LOCK:
        return NODES.get(instance_id)


def summary() -> list[dict[str, Any]]:
    with LOCK:
        return [n.describe() for n in NODES.values()]


# ---------------------------------------------------------------- secrets ---

def redact(text: str) -> str:
    """Secrets Manager values (and their URL-encoded forms) never leave in a log."""
    from urllib.parse import quote

    try:
        from moto.secretsmanager.models import secretsmanager_backends
    except Exception:  # noqa: BLE001
        return text
    values: set[str] = set()
    for regions_ in list(secretsmanager_backends.values()):
        for backend in list(regions_.values()):
            for secret in list(backend.secrets.values()):
                for v in list(getattr(secret, "versions", {}).values()):
                    s = v.get("secret_string") if isinstance(v, dict) else None
                    if s and len(s) >= 4:
                        values.add(s)
                        values.add(quote(s, safe=""))
    for v in sorted(values, key=len, reverse=True):
        text = text.replace(v, "(sensitive)")
    return text

