"""Volumes: each cluster's (or global database's) roles and databases on the one PostgreSQL server.

See aurora_db.py for what a volume holds and why. Materialized on the first
connection to one of its endpoints; names are the client's when free on the
server, else `v<N>__<name>`; roles and databases a session creates with SQL
are attributed to its volume (`attribute`) as soon as its statement commits.
"""

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .aurora_lock import LOCK

_RESERVED_ROLES = {"standby_admin"}
_RESERVED_DBS = {"template0", "template1"}


@dataclass(eq=False)
class Volume:
    n: int
    master_user: str | None
    master_password: str | None
    database_name: str | None
    materialized: bool = False
    # oid -> name the client uses (the server's name may carry a v<N>__ prefix)
    roles: dict[int, str] = field(default_factory=dict)
    dbs: dict[int, str] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"v{self.n}__"


class Names:
    """The server's names for a session's user and database, and the way back."""

    def __init__(self, user: str, database: str, back: dict[str, str]) -> None:
        self.user, self.database, self._back = user, database, back

    def restore(self, body: bytes) -> bytes:
        for server, client in self._back.items():
            if server != client:
                body = body.replace(server.encode(), client.encode())
        return body


class Volumes:
    def __init__(self, server) -> None:
        self.server = server
        self.all: list[Volume] = []
        self._next = 1

    def reset(self) -> None:
        self.all.clear()
        self._next = 1

    def new(self, user: str | None, password: str | None, dbname: str | None) -> Volume:
        with LOCK:
            v = Volume(self._next, user, password, dbname)
            self._next += 1
            self.all.append(v)
            return v

    def _claim(self, conn, kind: str, name: str, v: Volume) -> str:
        """`name` on the server if no object has it, else the volume's prefixed name."""
        table, col = ("pg_roles", "rolname") if kind == "role" else ("pg_database", "datname")
        taken = conn.execute(f"SELECT 1 FROM {table} WHERE {col} = %s", (name,)).fetchone()
        return v.prefix + name if taken or name in _RESERVED_ROLES | _RESERVED_DBS else name

    def _materialize(self, v: Volume) -> None:
        from psycopg import sql

        if v.materialized:
            return
        with self.server.connect() as c:
            group = self._claim(c, "role", "rds_superuser", v)
            c.execute(sql.SQL("CREATE ROLE {} NOLOGIN CREATEROLE CREATEDB").format(sql.Identifier(group)))
            c.execute(sql.SQL("GRANT pg_monitor, pg_signal_backend TO {}").format(sql.Identifier(group)))
            v.roles[self._oid(c, "role", group)] = "rds_superuser"
            owner = None
            if v.master_user:
                owner = self._claim(c, "role", v.master_user, v)
                c.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE CREATEDB INHERIT PASSWORD {}").format(
                    sql.Identifier(owner), sql.Literal(v.master_password or None)))
                c.execute(sql.SQL("GRANT {} TO {} WITH ADMIN OPTION").format(
                    sql.Identifier(group), sql.Identifier(owner)))
                v.roles[self._oid(c, "role", owner)] = v.master_user
            extra = [v.database_name] if v.database_name and v.database_name != "postgres" else []
            for db in ["postgres"] + extra:
                if db == "postgres" and not self._owned_db(c, "postgres"):
                    # The server's own `postgres` database goes to the first volume.
                    if owner:
                        c.execute(sql.SQL("ALTER DATABASE postgres OWNER TO {}").format(sql.Identifier(owner)))
                    v.dbs[self._oid(c, "db", "postgres")] = "postgres"
                    continue
                claimed = self._claim(c, "db", db, v)
                c.execute(sql.SQL("CREATE DATABASE {}{}").format(
                    sql.Identifier(claimed),
                    sql.SQL(" OWNER {}").format(sql.Identifier(owner)) if owner else sql.SQL("")))
                v.dbs[self._oid(c, "db", claimed)] = db
        v.materialized = True

    def _owned_db(self, conn, name: str) -> bool:
        oid = self._oid(conn, "db", name)
        return any(oid in v.dbs for v in self.all)

    def _oid(self, conn, kind: str, name: str) -> int | None:
        table, col = ("pg_roles", "rolname") if kind == "role" else ("pg_database", "datname")
        row = conn.execute(f"SELECT oid FROM {table} WHERE {col} = %s", (name,)).fetchone()
        return int(row[0]) if row else None

    def backend_names(self, v: Volume, user: str, database: str) -> Names:
        with LOCK:
            self._materialize(v)
            with self.server.connect() as c:
                roles = dict(c.execute("SELECT oid, rolname FROM pg_roles").fetchall())
                dbs = dict(c.execute("SELECT oid, datname FROM pg_database").fetchall())
            v.roles = {o: n for o, n in v.roles.items() if o in roles}
            v.dbs = {o: n for o, n in v.dbs.items() if o in dbs}
            back = {}

            def find(own: dict[int, str], server: dict[int, str], name: str) -> str:
                for oid, client in own.items():
                    # A SQL rename changes the server's name; the prefixed ones keep their client name.
                    shown = client if server[oid].startswith(v.prefix) and server[oid] != client else server[oid]
                    if shown == name:
                        back[server[oid]] = name
                        return server[oid]
                back[v.prefix + name] = name
                return v.prefix + name  # exists nowhere: PostgreSQL answers as for an unknown name

            return Names(find(v.roles, roles, user), find(v.dbs, dbs, database), back)

    def attribute(self, v: Volume) -> None:
        """Roles and databases a session of `v` created with SQL become `v`'s."""
        with LOCK:
            known_roles = set().union(*(x.roles for x in self.all))
            known_dbs = set().union(*(x.dbs for x in self.all))
            with self.server.connect() as c:
                for oid, name in c.execute("SELECT oid, rolname FROM pg_roles WHERE rolname !~ '^pg_'"):
                    if oid not in known_roles and name not in _RESERVED_ROLES:
                        v.roles[int(oid)] = name
                for oid, name in c.execute("SELECT oid, datname FROM pg_database"):
                    if oid not in known_dbs and name not in _RESERVED_DBS and name != "postgres":
                        v.dbs[int(oid)] = name

    def set_master_password(self, v: Volume, password: str) -> None:
        from psycopg import sql

        with LOCK:
            v.master_password = password
            if not v.materialized or not v.master_user:
                return
            oid = next((o for o, n in v.roles.items() if n == v.master_user), None)
            with self.server.connect() as c:
                row = c.execute("SELECT rolname FROM pg_roles WHERE oid = %s", (oid,)).fetchone()
                if row:
                    c.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(row[0]),
                                                                          sql.Literal(password)))

    def clone(self, v: Volume) -> Volume:
        """A new volume with a copy of `v`'s master user and databases (RemoveFromGlobalCluster)."""
        from psycopg import sql

        with LOCK:
            new = self.new(v.master_user, v.master_password, v.database_name)
            if not v.materialized:
                return new
            self._materialize(new)
            bindir = self.server_bin()
            with self.server.connect() as c:
                names = dict(c.execute("SELECT oid, datname FROM pg_database").fetchall())
                roles = dict(c.execute("SELECT oid, rolname FROM pg_roles").fetchall())
                master = next((roles[o] for o, n in new.roles.items() if n == new.master_user and o in roles), None)
                new_names = {client: names[o] for o, client in new.dbs.items()}
                for oid, client in list(v.dbs.items()):
                    src = names.get(oid)
                    if src is None:
                        continue
                    dst = new_names.get(client)
                    if dst is None:
                        dst = self._claim(c, "db", client, new)
                        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dst)))
                        new.dbs[self._oid(c, "db", dst)] = client
                    with tempfile.TemporaryDirectory() as d:
                        dump = Path(d) / "dump"
                        sock = str(self.server.socket_dir)
                        subprocess.run([str(bindir / "pg_dump"), "-h", sock, "-U", "standby_admin", "-Fc",
                                        "--no-owner", "--no-acl", "-f", str(dump), src], check=True,
                                       capture_output=True)
                        # The copy's objects belong to its master user (the roles made with SQL are not copied).
                        role = ["--role", master] if master else []
                        subprocess.run([str(bindir / "pg_restore"), "-h", sock, "-U", "standby_admin",
                                        "--no-owner", "--no-acl", *role, "-d", dst, str(dump)],
                                       capture_output=True)
            return new

    def copy(self, v: Volume) -> Volume:
        """A new volume holding all of `v`, as an Aurora clone or point-in-time restore holds it.

        Aurora copies the cluster volume, and PostgreSQL keeps its roles
        (pg_authid) there: the copy has every role of `v`, with its password
        (the SCRAM verifier, independent of the role's name), login and
        creation rights and memberships, and every database with its objects,
        owners and grants. Names already taken on the one server get the
        copy's `v<N>__` prefix, mapped back by the proxy as for any volume.
        """
        from psycopg import sql

        with LOCK:
            new = self.new(v.master_user, v.master_password, v.database_name)
            if not v.materialized:
                return new
            self._materialize(new)
            with self.server.connect() as c:
                server = dict(c.execute("SELECT oid, rolname FROM pg_roles").fetchall())
                made = {client: server[o] for o, client in new.roles.items() if o in server}
                roles: dict[str, str] = {}  # the source's server name -> the copy's
                for oid, client in list(v.roles.items()):
                    src = server.get(oid)
                    if src is None:
                        continue
                    dst = made.get(client)
                    if dst is None:
                        login, createrole, createdb, inherit, verifier = c.execute(
                            "SELECT rolcanlogin, rolcreaterole, rolcreatedb, rolinherit, rolpassword "
                            "FROM pg_authid WHERE oid = %s", (oid,)).fetchone()
                        dst = self._claim(c, "role", client, new)
                        c.execute(sql.SQL("CREATE ROLE {} {} {} {} {}").format(
                            sql.Identifier(dst), sql.SQL("LOGIN" if login else "NOLOGIN"),
                            sql.SQL("CREATEROLE" if createrole else "NOCREATEROLE"),
                            sql.SQL("CREATEDB" if createdb else "NOCREATEDB"),
                            sql.SQL("INHERIT" if inherit else "NOINHERIT")))
                        if verifier:
                            c.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(dst),
                                                                                 sql.Literal(verifier)))
                        new.roles[self._oid(c, "role", dst)] = client
                    roles[src] = dst
                for member, role, admin in c.execute(
                        "SELECT m.rolname, r.rolname, a.admin_option FROM pg_auth_members a "
                        "JOIN pg_roles m ON m.oid = a.member JOIN pg_roles r ON r.oid = a.roleid").fetchall():
                    if member in roles and role in roles:
                        try:
                            c.execute(sql.SQL("GRANT {} TO {}{}").format(
                                sql.Identifier(roles[role]), sql.Identifier(roles[member]),
                                sql.SQL(" WITH ADMIN OPTION" if admin else "")))
                        except Exception:  # noqa: BLE001 - granted already (the master user's group)
                            pass
                names = dict(c.execute("SELECT oid, datname FROM pg_database").fetchall())
                new_names = {client: names[o] for o, client in new.dbs.items() if o in names}
                for oid, client in list(v.dbs.items()):
                    src = names.get(oid)
                    if src is None:
                        continue
                    dst = new_names.get(client)
                    if dst is None:
                        dst = self._claim(c, "db", client, new)
                        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dst)))
                        new.dbs[self._oid(c, "db", dst)] = client
                    owner, acl = c.execute(
                        "SELECT pg_get_userbyid(datdba), (SELECT coalesce(json_agg(json_build_array("
                        "pg_get_userbyid(x.grantee), x.privilege_type)), '[]') FROM aclexplode(datacl) x "
                        "WHERE x.grantee <> 0) FROM pg_database WHERE oid = %s", (oid,)).fetchone()
                    self._copy_database(src, dst, roles)
                    if owner in roles:
                        c.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                            sql.Identifier(dst), sql.Identifier(roles[owner])))
                    for grantee, privilege in acl:
                        if grantee in roles:
                            c.execute(sql.SQL("GRANT {} ON DATABASE {} TO {}").format(
                                sql.SQL(privilege), sql.Identifier(dst), sql.Identifier(roles[grantee])))
            return new

    def _copy_database(self, src: str, dst: str, roles: dict[str, str]) -> None:
        """`src`'s objects, rows, owners and grants into `dst`, role names mapped (`roles`)."""
        bindir = self.server_bin()
        sock = str(self.server.socket_dir)
        dump = subprocess.run([str(bindir / "pg_dump"), "-h", sock, "-p", str(self.server.port), "-U",
                               "standby_admin", "--quote-all-identifiers", src],
                              check=True, capture_output=True, text=True).stdout
        out, in_copy = [], False
        for line in dump.splitlines(keepends=True):
            if in_copy:
                in_copy = line != "\\.\n"
            elif line.startswith("COPY "):
                in_copy = True
            elif line.startswith(("ALTER ", "GRANT ", "REVOKE ", "CREATE SCHEMA ")):
                for a, b in roles.items():
                    line = line.replace(f'"{a}"', f'"{b}"')
            out.append(line)
        subprocess.run([str(bindir / "psql"), "-h", sock, "-p", str(self.server.port), "-U", "standby_admin",
                        "-q", "-d", dst], input="".join(out), capture_output=True, text=True)

    def server_bin(self) -> Path:
        from .pg_server import bin_dir

        return bin_dir()

    def drop(self, v: Volume) -> None:
        from psycopg import sql

        with LOCK:
            if v in self.all:
                self.all.remove(v)
            if not v.materialized or not self.server.running():
                return
            with self.server.connect() as c:
                dbs = dict(c.execute("SELECT oid, datname FROM pg_database").fetchall())
                for oid in v.dbs:
                    name = dbs.get(oid)
                    if name == "postgres":
                        continue
                    if name:
                        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                roles = dict(c.execute("SELECT oid, rolname FROM pg_roles").fetchall())
                for oid in v.roles:
                    name = roles.get(oid)
                    if name:
                        try:
                            c.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
                            c.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
                        except Exception:  # noqa: BLE001 - still owns objects elsewhere: keep it
                            pass

    def lose_writes_since(self, v: Volume, cutoff: float) -> int:
        """Deletes the rows committed at or after `cutoff` (epoch seconds) in every
        database of `v`: the writes a data-loss failover did not carry over. A row
        updated in the window goes entirely (its older version is not restored),
        and rows deleted in the window do not come back."""
        from psycopg import sql

        with LOCK:
            if not v.materialized or not self.server.running():
                return 0
            lost = 0
            with self.server.connect() as c:
                dbs = dict(c.execute("SELECT oid, datname FROM pg_database").fetchall())
            for oid in list(v.dbs):
                name = dbs.get(oid)
                if not name:
                    continue
                with self.server.connect(name) as c:
                    c.execute("SET session_replication_role = replica")  # no FK triggers: rows go as they are
                    tables = c.execute(
                        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                        "AND n.nspname NOT LIKE 'pg_toast%%'").fetchall()
                    for schema, table in tables:
                        cur = c.execute(sql.SQL(
                            "DELETE FROM {}.{} WHERE pg_xact_commit_timestamp(xmin) >= to_timestamp(%s)").format(
                            sql.Identifier(schema), sql.Identifier(table)), (cutoff,))
                        lost += cur.rowcount
            return lost
