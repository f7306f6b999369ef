"""The one PostgreSQL server behind every Aurora endpoint of an emulator.

Started lazily, when the first client connects to an Aurora endpoint (most
emulators of the test suite never do, and pay nothing), from a data
directory copied from a template that `initdb` made once per emulator venv
(`<venv>/pg-template-<major>`, made under a lock, ~1 s once; a copy and a
start then take ~0.25 s). The server listens on a Unix socket only; clients
reach it through the endpoint proxies (pg_proxy.py).

PostgreSQL refuses to run as root: as root the server runs as the `postgres`
user that Debian's package creates, in a runtime directory that user can
reach (`/tmp/standby-pg-*`, with `<instance dir>/pg` a symbolic link to it,
since test instance directories are often private to root); otherwise in
`<instance dir>/pg` itself. The postmaster is started from one long-lived
thread with a parent-death signal (SIGKILL when the emulator process dies,
even by SIGKILL; its backends then exit on their own), and its pid is kept in
`<instance dir>/postgres.pid` so `scripts/emulator stop` can check none is
left. A normal exit (SIGTERM, reset) stops it at once (immediate shutdown:
the data is thrown away anyway).

Settings: durability off (fsync, full_page_writes, synchronous_commit),
`track_commit_timestamp = on` (the data-loss window of a failover is found
by commit time), SCRAM passwords, `local all standby_admin trust` for the
emulator's own connections and `local all all scram-sha-256` for everyone
else. `standby_admin` is the bootstrap superuser; clients can never log in as
it (the proxy maps only the names of a volume's own roles).
"""

import atexit
import ctypes
import glob
import os
import pwd
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ADMIN = "standby_admin"
_PR_SET_PDEATHSIG = 1

# Installed in template1 (so in every database made later): write
# forwarding sessions refuse DDL, which Aurora does not forward
# (aurora-global-database-write-forwarding-apg: "Data definition language
# (DDL) statements" are not supported); the statement then runs on the
# read-only replica and fails there.
_TEMPLATE_SQL = """
CREATE SCHEMA standby_emulator;
REVOKE ALL ON SCHEMA standby_emulator FROM PUBLIC;
CREATE FUNCTION standby_emulator.forwarding_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('standby_emulator.session', true) = 'forwarding' THEN
    RAISE EXCEPTION 'cannot execute % in a read-only transaction', tg_tag USING ERRCODE = '25006';
  END IF;
END $$;
CREATE EVENT TRIGGER standby_emulator_forwarding_ddl ON ddl_command_start
  EXECUTE FUNCTION standby_emulator.forwarding_ddl();
"""

_SETTINGS = {
    "listen_addresses": "",
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "track_commit_timestamp": "on",
    "password_encryption": "scram-sha-256",
    "shared_buffers": "16MB",
    "max_connections": "300",
    "max_wal_senders": "0",
    "wal_level": "minimal",
    "logging_collector": "off",
    "log_min_messages": "warning",
    "huge_pages": "off",
}


def bin_dir() -> Path | None:
    """PostgreSQL's programs: STANDBY_EMULATOR_PG_BIN, else Debian's newest /usr/lib/postgresql/N/bin."""
    env = os.environ.get("STANDBY_EMULATOR_PG_BIN")
    if env:
        return Path(env)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(p.split("/")[-3]) if p.split("/")[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    which = shutil.which("postgres")
    return Path(which).parent if which else None


def _major(bindir: Path) -> str:
    out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True)
    return out.stdout.split()[-1].split(".")[0]


def _copy(src: Path, dst: Path) -> None:
    """cp -a: modes and ownership kept, faster than shutil for ~1000 files."""
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


class _Demote:
    """Runs in the child before exec: dies with the emulator (after the uid change, which clears it)."""

    def __init__(self) -> None:
        self.parent = os.getpid()
        self.prctl = ctypes.CDLL(None, use_errno=True).prctl

    def __call__(self) -> None:
        self.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != self.parent:  # the emulator died before the signal was armed
            os._exit(1)


class Server:
    def __init__(self, instance_dir: Path) -> None:
        self.instance_dir = instance_dir
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.runtime: Path | None = None
        self.socket_dir: Path | None = None
        self.port = 5432
        self.startup_ms: float | None = None
        self._spawns: queue.Queue = queue.Queue()
        self._spawner: threading.Thread | None = None
        atexit.register(self.stop)

    # ------------------------------------------------------------ public ---

    def ensure(self) -> None:
        """Starts the server unless it runs."""
        with self.lock:
            if self.proc is not None and self.proc.poll() is None:
                return
            t0 = time.monotonic()
            self._start()
            self.startup_ms = (time.monotonic() - t0) * 1000

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pid(self) -> int | None:
        return self.proc.pid if self.running() else None

    def connect(self, dbname: str = "template1", autocommit: bool = True):
        """An admin connection (superuser) over the Unix socket."""
        import psycopg

        self.ensure()
        return psycopg.connect(host=str(self.socket_dir), port=self.port, user=ADMIN, dbname=dbname,
                               autocommit=autocommit, connect_timeout=10)

    def socket_path(self) -> str:
        self.ensure()
        return str(self.socket_dir / f".s.PGSQL.{self.port}")

    def stop(self) -> None:
        """Immediate shutdown; the data directory goes too (nothing is kept between runs)."""
        with self.lock:
            proc, self.proc = self.proc, None
            if proc is not None and proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGQUIT)
                    proc.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    proc.kill()
                    proc.wait()
            self._remove_runtime()

    # ----------------------------------------------------------- private ---

    def _as_postgres(self) -> tuple[int, int] | None:
        if os.geteuid() != 0:
            return None
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root needs the `postgres` user (Debian's postgresql package)") from None
        return pw.pw_uid, pw.pw_gid

    def _run_as(self, ids, args: list[str], **kw) -> subprocess.CompletedProcess:
        if ids is not None:
            kw.update(user=ids[0], group=ids[1], extra_groups=[])
        return subprocess.run(args, capture_output=True, text=True, **kw)

    def _template(self, bindir: Path, ids) -> Path:
        """<venv>/pg-template-<major>: initdb once, with the settings and the template1 objects."""
        import sys

        import fcntl

        major = _major(bindir)
        cache = Path(sys.prefix) / f"pg-template-{major}"
        if (cache / "PG_VERSION").exists():
            return cache
        with open(Path(sys.prefix) / f".pg-template-{major}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (cache / "PG_VERSION").exists():
                return cache
            work = Path(tempfile.mkdtemp(prefix="standby-pg-init-", dir="/tmp"))
            try:
                if ids is not None:
                    os.chown(work, *ids)
                data = work / "data"
                out = self._run_as(ids, [str(bindir / "initdb"), "-D", str(data), "-U", ADMIN, "-A", "trust",
                                         "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"])
                if out.returncode != 0:
                    raise RuntimeError(f"initdb failed: {out.stderr.strip()}")
                (data / "pg_hba.conf").write_text(
                    f"local all {ADMIN} trust\nlocal all all scram-sha-256\n")
                with open(data / "postgresql.conf", "a") as conf:
                    for k, v in _SETTINGS.items():
                        conf.write(f"{k} = '{v}'\n")
                # Once running, install what every database inherits from template1.
                proc = subprocess.Popen([str(bindir / "postgres"), "-D", str(data), "-k", str(work)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        **({"user": ids[0], "group": ids[1], "extra_groups": []} if ids else {}))
                try:
                    self._wait_ready(work, proc)
                    import psycopg

                    for db in ("template1", "postgres"):
                        with psycopg.connect(host=str(work), user=ADMIN, dbname=db, autocommit=True) as c:
                            c.execute(_TEMPLATE_SQL)
                finally:
                    proc.send_signal(signal.SIGINT)  # fast shutdown: a clean checkpoint for copying
                    proc.wait(timeout=30)
                tmp = Path(str(cache) + f".tmp{os.getpid()}")
                shutil.rmtree(tmp, ignore_errors=True)
                _copy(data, tmp)
                os.replace(tmp, cache)
            finally:
                shutil.rmtree(work, ignore_errors=True)
        return cache

    def _wait_ready(self, socket_dir: Path, proc: subprocess.Popen) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else ""
                raise RuntimeError(f"postgres exited during start-up: {str(err).strip()[-500:]}")
            try:
                psycopg.connect(host=str(socket_dir), port=self.port, user=ADMIN, dbname="template1",
                                connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError("postgres did not accept connections within 30 s") from None
                time.sleep(0.02)

    def _start(self) -> None:
        bindir = bin_dir()
        if bindir is None or not (bindir / "postgres").exists():
            raise RuntimeError("PostgreSQL is not installed (scripts/test-tools installs Debian's postgresql)")
        ids = self._as_postgres()
        template = self._template(bindir, ids)
        self._remove_runtime()
        link = self.instance_dir / "pg"
        # The socket path must stay under 108 bytes, and as root the server's
        # user must reach it: otherwise a private directory in /tmp.
        if ids is None and len(str(link / ".s.PGSQL.5432")) < 100:
            link.mkdir(mode=0o700)
            runtime = link
        else:
            runtime = Path(tempfile.mkdtemp(prefix="standby-pg-", dir="/tmp"))
            link.symlink_to(runtime)
        self.runtime = runtime
        data = runtime / "data"
        _copy(template, data)  # the template belongs to the server's user already
        if ids is not None:
            os.chown(runtime, *ids)
        self.socket_dir = runtime
        args = [str(bindir / "postgres"), "-D", str(data), "-k", str(runtime), "-p", str(self.port)]
        log = open(runtime / "postgres.log", "ab")
        self._spawn(args, ids, log)
        self._wait_ready(runtime, self.proc)
        (self.instance_dir / "postgres.pid").write_text(f"{self.proc.pid}\n{data}\n")

    def _spawn(self, args: list[str], ids, log) -> None:
        """Popen from one thread that lives as long as the emulator: the parent-death
        signal fires when the thread that forked exits, not only the process."""
        if self._spawner is None:
            self._spawner = threading.Thread(target=self._spawn_loop, name="pg-spawner", daemon=True)
            self._spawner.start()
        done: queue.Queue = queue.Queue()
        self._spawns.put((args, ids, log, done))
        result = done.get()
        if isinstance(result, BaseException):
            raise result
        self.proc = result

    def _spawn_loop(self) -> None:
        while True:
            args, ids, log, done = self._spawns.get()
            try:
                kw = {"user": ids[0], "group": ids[1], "extra_groups": []} if ids else {}
                done.put(subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                          preexec_fn=_Demote(), **kw))
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                done.put(e)

    def _remove_runtime(self) -> None:
        link = self.instance_dir / "pg"
        target = None
        if link.is_symlink():
            target = Path(os.readlink(link))
            link.unlink()
        elif link.exists():
            shutil.rmtree(link, ignore_errors=True)
        if target is not None and target.name.startswith("standby-pg-"):
            shutil.rmtree(target, ignore_errors=True)
        try:
            (self.instance_dir / "postgres.pid").unlink()
        except FileNotFoundError:
            pass
        self.runtime = None
