"""A throwaway PostgreSQL cluster on a loopback port, for tests, benchmarks and trying things out.

`initdb` into a fresh temp folder, start `postgres` on 127.0.0.1 with its unix socket in that
folder, hand out `postgresql://` URLs, and on `stop()` kill it and delete everything. The
superuser gets a real password (scram over TCP) so a URL with a password is exercised the way
a site server uses it. PostgreSQL refuses to run as root, so when this process is root the
binaries run as the `postgres` system user (via `runuser`) and the folder is handed to it.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from edgetwin.core.errors import StoreError

log = logging.getLogger(__name__)

USER = "edgetwin"


def find_bindir() -> Path | None:
    """The folder holding initdb/pg_ctl: Debian's newest /usr/lib/postgresql/*/bin, else PATH."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def missing_reason() -> str | None:
    """Why a local cluster cannot start here (for a test skip), or None when it can."""
    bindir = find_bindir()
    if bindir is None or not (bindir / "pg_ctl").exists():
        return (
            "PostgreSQL server binaries (initdb, pg_ctl) not found; "
            "install them with scripts/setup-system.sh (apt package postgresql)"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and no 'postgres' system user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root and `runuser` is missing (util-linux)"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalCluster:
    """One private PostgreSQL server; use as a context manager or call start()/stop()."""

    def __init__(self, *, durable: bool = False, port: int | None = None) -> None:
        """`durable=False` turns fsync and synchronous commit off: fine for data thrown away."""
        self.durable = durable
        self.port = port
        self.password = secrets.token_hex(8)
        self.root: Path | None = None
        self._bindir = find_bindir()
        self._as_postgres = os.geteuid() == 0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> LocalCluster:
        reason = missing_reason()
        if reason:
            raise StoreError(f"cannot start a local PostgreSQL cluster: {reason}")
        # not under pytest's tmp_path: its 0700 parents would stop the postgres user
        self.root = Path(tempfile.mkdtemp(prefix="edgetwin-pg-"))
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as_postgres:
            pg = pwd.getpwnam("postgres")
            os.chown(self.root, pg.pw_uid, pg.pw_gid)
            os.chown(pwfile, pg.pw_uid, pg.pw_gid)
        self.port = self.port or _free_port()
        try:
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                USER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            )
            pwfile.unlink()
            options = [
                "-c listen_addresses=127.0.0.1",
                f"-c port={self.port}",
                f"-c unix_socket_directories={self.root}",
                "-c max_connections=50",
            ]
            if not self.durable:
                options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
            self._run(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.root / "server.log"),
                "-w",
                "-t",
                "60",
                "-o",
                " ".join(options),
                "start",
            )
        except BaseException:
            self.stop()
            raise
        log.info("local PostgreSQL cluster on 127.0.0.1:%d in %s", self.port, self.root)
        return self

    def stop(self) -> None:
        """Stop the server (immediate: the data is thrown away) and delete its folder."""
        if self.root is None:
            return
        root, self.root = self.root, None
        if (root / "data" / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(root / "data"), "-m", "immediate", "-w", "stop")
            except StoreError as exc:
                log.warning("stopping the local PostgreSQL cluster: %s", exc)
        shutil.rmtree(root, ignore_errors=True)

    def restart(self) -> None:
        """Stop (fast: sessions are cut) and start again on the same port, data kept."""
        log_file = str(self.data_dir.parent / "server.log")  # else the server holds our pipe
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            log_file,
            "-m",
            "fast",
            "-w",
            "-t",
            "60",
            "restart",
        )

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        if self.root is None:
            raise StoreError("the local cluster is not started; call start() first")
        return self.root / "data"

    def url(self, dbname: str = "postgres") -> str:
        """A TCP URL with the password in it, as a user would give `--db`."""
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    # -- helpers -----------------------------------------------------------------------------
    def _run(self, tool: str, *args: str) -> None:
        assert self._bindir is not None
        cmd = [str(self._bindir / tool), *args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip()[-2000:]
            if self.root is not None and (self.root / "server.log").exists():
                tail += "\n" + (self.root / "server.log").read_text()[-2000:]
            raise StoreError(f"{tool} failed (exit {done.returncode}): {tail}")
