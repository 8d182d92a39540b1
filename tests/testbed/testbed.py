#!/usr/bin/env python3
"""A real SLURM 22.05 testbed on one Debian 12 host (stdlib only).

One MariaDB + one slurmdbd holding two clusters, ``hammer`` and ``negishi``,
each with its own slurmctld and two slurmd (nodes), all started in the
background without systemd, with every config, socket, spool, log and pid
file under one base directory.  See tests/testbed/README.md.

    from testbed import Testbed, available
    ok, why = available()
    tb = Testbed("/tmp/sb-testbed")
    tb.install(); tb.start()
    info = tb.run_workload()
    tb.as_user("sbcollector", ["sacct", "-a", ...], "hammer")
    tb.stop()

CLI: python3 tests/testbed/testbed.py [--base DIR] {install,start,workload,stop,status,env CLUSTER,destroy}
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import time

DEFAULT_BASE = os.environ.get("SB_TESTBED_DIR", "/tmp/sb-testbed")
PACKAGES = ("slurmctld", "slurmd", "slurmdbd", "slurm-client", "munge", "mariadb-server")
BINARIES = ("/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/slurmdbd", "/usr/bin/sacct",
            "/usr/bin/sbatch", "/usr/bin/sacctmgr", "/usr/sbin/munged", "/usr/sbin/mariadbd",
            "/usr/bin/mariadb-install-db", "/usr/bin/mariadb")
CLUSTERS = ("hammer", "negishi")
JOB_USERS = ("sbalice", "sbbob", "sbcarol", "sbdave", "sberin", "sbfrank")
NEW_USER = "sbgina"          # Unix user + association, but no jobs until a test submits some
COLLECTOR = "sbcollector"    # runs the collector; association only
ALL_USERS = JOB_USERS + (NEW_USER, COLLECTOR)
# account -> users (sbcarol is in both; her default account is physics)
ACCOUNTS = {
    "physics": ("sbalice", "sbbob", "sbcarol", COLLECTOR),
    "chem": ("sbcarol", "sbdave", "sberin", "sbfrank", NEW_USER),
}
MARKER = "SB_TESTBED_BASE"   # env var set on every daemon/job we start; used to find our processes
PORT_NAMES = ("mysql", "slurmdbd", "hammer_ctld", "hammer_a", "hammer_b",
              "negishi_ctld", "negishi_a", "negishi_b")
SACCT_FIELDS = ("JobIDRaw,User,State,ElapsedRaw,AllocCPUS,NNodes,ReqMem,ReqTRES,AllocTRES,"
                "MaxRSS,AveRSS,Submit,Start,End,TRESUsageInMax,TRESUsageInAve")
SACCT_STATES = "CA,CD,F,NF,OOM,PR,TO,BF,DL,RQ"
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL",
            "PREEMPTED", "BOOT_FAIL", "DEADLINE", "REVOKED"}
USER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DB_PASS = "sbtestbed"
PORT_LOCK = "/tmp/.sb-testbed-ports.lock"

# Per-cluster shape.  Node CPUs/memory are fictional (SlurmdParameters=config_overrides).
CLUSTER_SPEC = {
    "hammer": {  # cgroup v1 task plugin (real OOM kills), typed GPUs, two partitions
        "nodes": {"hammer-a": {"gres": "gpu:a100:4", "gpus": 4, "type": "a100"},
                  "hammer-b": {}},
        # het job components must land on disjoint nodes (small=hammer-b, gpu=hammer-a), see README
        "partitions": [("cpu", "hammer-a,hammer-b", True), ("gpu", "hammer-a", False),
                       ("small", "hammer-b", False)],
        "cgroup": True,
    },
    "negishi": {  # no cgroups: linuxproc + OverMemoryKill, untyped GPUs
        "nodes": {"negishi-a": {"gres": "gpu:2", "gpus": 2},
                  "negishi-b": {"gres": "gpu:2", "gpus": 2}},
        "partitions": [("batch", "negishi-a,negishi-b", True), ("debug", "negishi-b", False)],
        "cgroup": False,
    },
}
NODE_CPUS = 16
NODE_MEM_MB = 64000


def available() -> tuple[bool, str]:
    """(True, "") when this host can run the testbed, else (False, reason) for pytest.skip."""
    if os.environ.get("SB_TESTBED", "1") == "0":
        return False, "SB_TESTBED=0 in the environment"
    if not sys.platform.startswith("linux"):
        return False, "the SLURM testbed needs Linux"
    if os.geteuid() != 0:
        return False, "the SLURM testbed needs root (daemons, useradd, runuser)"
    if not shutil.which("runuser"):
        return False, "runuser not found"
    missing = [b for b in BINARIES if not os.path.exists(b)]
    if missing:
        if not os.path.exists("/etc/debian_version") or not shutil.which("apt-get"):
            return False, "SLURM/munge/MariaDB not installed and apt-get unavailable: missing " + ", ".join(missing)
    return True, ""


def _now() -> float:
    return time.monotonic()


def _run(argv, check=True, env=None, timeout=120, input=None, cwd=None):
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                       input=input, cwd=cwd)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} -> rc={p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _environ_of(pid: int) -> dict:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return {}
    out = {}
    for item in raw.split(b"\0"):
        k, sep, v = item.partition(b"=")
        if sep:
            out[k.decode(errors="replace")] = v.decode(errors="replace")
    return out


def _port_free(port: int) -> bool:
    for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET, "127.0.0.1")):
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            s.bind((addr, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def _ancestors() -> set:
    out, pid = set(), os.getpid()
    while pid > 1:
        out.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


class Testbed:
    """A two-cluster SLURM installation rooted at ``base`` (default /tmp/sb-testbed)."""

    def __init__(self, base: str = DEFAULT_BASE, verbose: bool = False, first_job_id: int | None = None):
        self.base = os.path.realpath(base)
        # hammer's cgroup v1 paths (/sys/fs/cgroup/<ctrl>/slurm_<node>/uid_<u>/job_<id>) are host-wide:
        # a second testbed gets its own job-id range so two running testbeds never share a cgroup.
        if first_job_id is None:
            first_job_id = 1 if self.base == os.path.realpath(DEFAULT_BASE) else \
                1000 * (10 + int(hashlib.sha1(self.base.encode()).hexdigest(), 16) % 990)
        self.first_job_id = first_job_id
        if len(self.base) > 60:
            # unix socket paths (munge, mysqld, slurmstepd <spool>/<node>_<job>.<step>) max 107 bytes
            raise ValueError(f"testbed base dir too long ({len(self.base)} > 60 chars): {self.base}")
        self.verbose = verbose
        self.timings: dict[str, float] = {}
        self._procs: dict[str, subprocess.Popen] = {}
        self.hostname = socket.gethostname().split(".")[0]

    # ------------------------------------------------------------------ paths
    def p(self, *parts) -> str:
        return os.path.join(self.base, *parts)

    @property
    def munge_socket(self) -> str:
        return self.p("munge", "munge.sock")

    @property
    def mysql_socket(self) -> str:
        return self.p("mysql", "mysqld.sock")

    def conf(self, cluster: str) -> str:
        return self.p(cluster, "etc", "slurm.conf")

    def _log(self, msg):
        if self.verbose:
            print(f"[testbed {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    # ------------------------------------------------------------------ state
    def _state(self) -> dict:
        try:
            with open(self.p("state.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def _save_state(self, st: dict):
        tmp = self.p("state.json.tmp")
        with open(tmp, "w") as f:
            json.dump(st, f, indent=1, sort_keys=True)
        os.replace(tmp, self.p("state.json"))

    @property
    def ports(self) -> dict:
        return self._state().get("ports", {})

    def _pidfile(self, name):
        return self.p("pids", name + ".pid")

    def _read_pid(self, name) -> int | None:
        try:
            with open(self._pidfile(name)) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def _ours(self, pid) -> bool:
        return _alive(pid) and _environ_of(pid).get(MARKER) == self.base

    def daemons(self) -> list[str]:
        names = ["munged", "mariadbd", "slurmdbd"]
        for c in CLUSTERS:
            names.append(f"slurmctld-{c}")
            names += [f"slurmd-{n}" for n in CLUSTER_SPEC[c]["nodes"]]
        return names

    def pid(self, name) -> int | None:
        pid = self._read_pid(name)
        return pid if self._ours(pid) else None

    # ------------------------------------------------------------------ install
    def install(self) -> dict:
        """apt-get install whichever of PACKAGES is missing; create the Unix users."""
        t0 = _now()
        missing = []
        for pkg in PACKAGES:
            q = _run(["dpkg-query", "-W", "-f=${Status}", pkg], check=False)
            if "install ok installed" not in q.stdout:
                missing.append(pkg)
        if missing:
            self._log(f"apt-get install {' '.join(missing)}")
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            policy = "/usr/sbin/policy-rc.d"
            made_policy = False
            if not os.path.exists(policy):  # keep maintainer scripts from starting services
                with open(policy, "w") as f:
                    f.write("#!/bin/sh\nexit 101\n")
                os.chmod(policy, 0o755)
                made_policy = True
            try:
                cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends"] + missing
                p = _run(cmd, check=False, env=env, timeout=900)
                if p.returncode != 0:
                    _run(["apt-get", "update", "-q"], env=env, timeout=600)
                    _run(cmd, env=env, timeout=900)
            finally:
                if made_policy:
                    os.unlink(policy)
        self.timings["install_packages"] = round(_now() - t0, 1)
        t1 = _now()
        self.ensure_users()
        self.timings["install_users"] = round(_now() - t1, 1)
        self.timings["install"] = round(_now() - t0, 1)
        return {"installed": missing, "timings": dict(self.timings)}

    def ensure_users(self):
        for u in ALL_USERS:
            try:
                pwd.getpwnam(u)
            except KeyError:
                _run(["useradd", "-m", "-s", "/bin/bash", "-c", "SLURM testbed user", u])

    # ------------------------------------------------------------------ config
    def _pick_ports(self):
        st = self._state()
        ports = st.get("ports", {})
        used = set()
        rnd = random.Random()
        for name in PORT_NAMES:
            port = ports.get(name)
            if not port or port in used or not _port_free(port):
                for _ in range(500):
                    cand = rnd.randrange(20000, 32000)
                    if cand not in used and _port_free(cand):
                        port = cand
                        break
                else:
                    raise RuntimeError("no free TCP port found in 20000-32000")
            ports[name] = port
            used.add(port)
        st["ports"] = ports
        st.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%S"))
        self._save_state(st)
        return ports

    def _write(self, path, text, mode=0o644):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)

    def _write_configs(self, ports, private_data=None):
        st = self._state()
        if private_data is None:
            private_data = st.get("private_data", False)
        st["private_data"] = private_data
        self._save_state(st)
        auth = f"AuthType=auth/munge\nAuthInfo=socket={self.munge_socket}\n"
        # cred_expire also sets how long a requeued job waits before it may start again (default 120 s)
        ctld_auth = f"AuthType=auth/munge\nAuthInfo=socket={self.munge_socket},cred_expire=20\n"
        # slurmdbd reads slurmdbd.conf from dirname($SLURM_CONF)
        self._write(self.p("dbd", "slurmdbd.conf"), f"""# generated by tests/testbed/testbed.py
{auth}DbdHost={self.hostname}
DbdAddr=127.0.0.1
DbdPort={ports['slurmdbd']}
SlurmUser=root
DebugLevel=info
LogFile={self.p('dbd', 'slurmdbd.log')}
PidFile={self.p('dbd', 'slurmdbd.pid')}
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={ports['mysql']}
StorageUser=slurm
StoragePass={DB_PASS}
StorageLoc=slurm_acct_db
{'PrivateData=jobs' if private_data else '#PrivateData=jobs'}
""", 0o600)
        for c in CLUSTERS:
            spec = CLUSTER_SPEC[c]
            d = self.p(c)
            for sub in ("etc", "state", "spool", "log", "run"):
                os.makedirs(os.path.join(d, sub), exist_ok=True)
            if spec["cgroup"]:
                plugins = ("ProctrackType=proctrack/cgroup\nTaskPlugin=task/cgroup\n"
                           "JobAcctGatherParams=NoOverMemoryKill\n")
            else:
                plugins = ("ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
                           "JobAcctGatherParams=OverMemoryKill\n")
            nodes = []
            gres = []
            for i, (n, ns) in enumerate(spec["nodes"].items()):
                line = (f"NodeName={n} NodeHostname={self.hostname} NodeAddr=127.0.0.1 "
                        f"Port={ports[c + '_' + n.split('-')[1]]} CPUs={NODE_CPUS} "
                        f"Boards=1 SocketsPerBoard=1 CoresPerSocket={NODE_CPUS} ThreadsPerCore=1 "
                        f"RealMemory={NODE_MEM_MB} State=UNKNOWN")
                if ns.get("gres"):
                    line += f" Gres={ns['gres']}"
                    devs = []
                    for g in range(ns["gpus"]):
                        dev = self.p("dev", f"{n}-gpu{g}")
                        if not os.path.exists(dev):
                            os.makedirs(os.path.dirname(dev), exist_ok=True)
                            os.mknod(dev, 0o666 | 0o020000, os.makedev(195, 100 + i * 8 + g))
                        devs.append(dev)
                    t = f" Type={ns['type']}" if ns.get("type") else ""
                    gres.append(f"NodeName={n} Name=gpu{t} File={self.p('dev', n + '-gpu')}[0-{ns['gpus'] - 1}]")
                nodes.append(line)
            parts = [f"PartitionName={pn} Nodes={pnodes} Default={'YES' if dflt else 'NO'} "
                     f"DefaultTime=01:00:00 MaxTime=7-00:00:00 State=UP" for pn, pnodes, dflt in spec["partitions"]]
            self._write(os.path.join(d, "etc", "slurm.conf"), f"""# generated by tests/testbed/testbed.py
ClusterName={c}
FirstJobId={self.first_job_id}
SlurmctldHost={self.hostname}(127.0.0.1)
SlurmctldPort={ports[c + '_ctld']}
SlurmUser=root
SlurmdUser=root
{ctld_auth}CredType=cred/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool/%n
SlurmctldPidFile={d}/run/slurmctld.pid
SlurmdPidFile={d}/run/slurmd-%n.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmdParameters=config_overrides
MpiDefault=none
{plugins}ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=5,bf_hetjob_immediate,sched_min_interval=100000
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=200
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={ports['slurmdbd']}
AccountingStoragePass={self.munge_socket}
AccountingStorageTRES=gres/gpu,gres/gpu:a100
AccountingStorageEnforce=associations
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobCompType=jobcomp/none
KillWait=5
MinJobAge=600
InactiveLimit=0
MessageTimeout=20
SlurmdTimeout=300
Waittime=0
TmpFS={d}/spool
{chr(10).join(nodes)}
{chr(10).join(parts)}
""")
            self._write(os.path.join(d, "etc", "gres.conf"), "\n".join(gres) + "\n")
            self._write(os.path.join(d, "etc", "cgroup.conf"),
                        "CgroupPlugin=cgroup/v1\nCgroupAutomount=yes\nConstrainCores=no\n"
                        "ConstrainRAMSpace=yes\nConstrainSwapSpace=no\nConstrainDevices=no\n")

    # ------------------------------------------------------------------ env
    def env(self, cluster: str = "hammer", base_env: dict | None = None) -> dict:
        """Environment under which sacct/squeue/scancel/sbatch talk to `cluster`."""
        if cluster not in CLUSTERS:
            raise ValueError(f"unknown cluster {cluster!r}; have {CLUSTERS}")
        e = {k: v for k, v in (os.environ if base_env is None else base_env).items()
             if not k.startswith(("SLURM_", "SBATCH_", "SALLOC_", "SRUN_", "SQUEUE_", "SACCT_"))}
        e["SLURM_CONF"] = self.conf(cluster)
        e[MARKER] = self.base
        return e

    def _daemon_env(self, cluster=None, conf=None):
        e = {"PATH": USER_PATH, "LANG": "C.UTF-8", MARKER: self.base, "HOME": "/root"}
        if cluster:
            e["SLURM_CONF"] = self.conf(cluster)
        if conf:
            e["SLURM_CONF"] = conf
        return e

    def user_env(self, user: str, cluster: str = "hammer", extra: dict | None = None) -> dict:
        pw = pwd.getpwnam(user)
        e = {"PATH": USER_PATH, "LANG": "C.UTF-8", "HOME": pw.pw_dir, "USER": user,
             "LOGNAME": user, "SHELL": "/bin/bash", "SLURM_CONF": self.conf(cluster), MARKER: self.base}
        if extra:
            e.update(extra)
        return e

    def workdir(self, user: str) -> str:
        d = self.p("jobs", user)
        if not os.path.isdir(d):
            os.makedirs(d, exist_ok=True)
            pw = pwd.getpwnam(user)
            os.chown(d, pw.pw_uid, pw.pw_gid)
        return d

    def as_user(self, user: str, argv, cluster: str = "hammer", *, extra_env=None, input=None,
                timeout=120, check=False, cwd=None) -> subprocess.CompletedProcess:
        """Run argv as Unix `user` (runuser) with a clean env pointing at `cluster`."""
        return subprocess.run(["runuser", "-u", user, "--"] + list(argv),
                              env=self.user_env(user, cluster, extra_env), input=input,
                              capture_output=True, text=True, timeout=timeout, check=check,
                              cwd=cwd or self.workdir(user))

    def slurm(self, argv, cluster="hammer", check=True, timeout=60) -> subprocess.CompletedProcess:
        """Run a SLURM client command as root against `cluster`."""
        return _run(list(argv), env=self._daemon_env(cluster), check=check, timeout=timeout)

    # ------------------------------------------------------------------ daemons
    def _spawn(self, name, argv, env, log):
        os.makedirs(self.p("pids"), exist_ok=True)
        os.makedirs(os.path.dirname(log), exist_ok=True)
        with open(log, "ab") as lf:
            lf.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} start {' '.join(argv)}\n".encode())
            lf.flush()
            proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=lf,
                                    stderr=subprocess.STDOUT, start_new_session=True, cwd=self.base)
        self._procs[name] = proc
        with open(self._pidfile(name), "w") as f:
            f.write(f"{proc.pid}\n")
        self._log(f"started {name} pid {proc.pid}")
        return proc.pid

    def _wait(self, what, fn, timeout, name=None, interval=0.2):
        t_end = _now() + timeout
        last = None
        while _now() < t_end:
            try:
                if fn():
                    return
            except Exception as e:  # noqa: BLE001 - keep polling
                last = e
            if name and not self.pid(name):
                raise RuntimeError(f"{name} died while waiting for {what}; see logs under {self.base}: "
                                   f"{self._tail_log(name)}")
            time.sleep(interval)
        raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last error: {last}); "
                           f"logs under {self.base}")

    def _logfile(self, name):
        if name == "munged":
            return self.p("munge", "munged.out")
        if name == "mariadbd":
            return self.p("mysql", "mysqld.err")
        if name == "slurmdbd":
            return self.p("dbd", "slurmdbd.log")
        if name.startswith("slurmctld-"):
            return self.p(name.split("-", 1)[1], "log", "slurmctld.log")
        node = name.split("-", 1)[1]
        return self.p(node.split("-")[0], "log", f"slurmd-{node}.log")

    def _tail_log(self, name, n=15):
        try:
            with open(self._logfile(name), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def _kill(self, name, timeout=15.0):
        pid = self._read_pid(name)
        if pid and self._ours(pid):
            self._log(f"stopping {name} pid {pid}")
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            t_end = _now() + timeout
            while _now() < t_end and _alive(pid):
                self._reap(name)
                time.sleep(0.1)
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                time.sleep(0.2)
        self._reap(name)
        try:
            os.unlink(self._pidfile(name))
        except OSError:
            pass

    def _reap(self, name):
        proc = self._procs.get(name)
        if proc is not None and proc.poll() is not None:
            self._procs.pop(name, None)

    def _start_munged(self):
        if self.pid("munged"):
            return
        d = self.p("munge")
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        key = os.path.join(d, "munge.key")
        if not os.path.exists(key):
            with open(key, "wb") as f:
                f.write(os.urandom(1024))
            os.chmod(key, 0o400)
        for stale in (self.munge_socket, self.munge_socket + ".lock", os.path.join(d, "munged.pid")):
            if os.path.exists(stale):
                os.unlink(stale)
        self._spawn("munged", ["/usr/sbin/munged", "-F", "--force", "-S", self.munge_socket,
                               f"--key-file={key}", f"--log-file={d}/munged.log",
                               f"--pid-file={d}/munged.pid", f"--seed-file={d}/munged.seed",
                               "--num-threads=4"], self._daemon_env(), self._logfile("munged"))
        self._wait("munge socket", lambda: _run(["munge", "-S", self.munge_socket, "-n"],
                                                 check=False).returncode == 0, 20, "munged")

    def _mysql(self, sql, check=True):
        return _run(["/usr/bin/mariadb", "--no-defaults", "-S", self.mysql_socket, "-u", "root",
                     "-N", "-B", "-e", sql], check=check, timeout=60)

    def _start_mariadb(self, ports):
        if self.pid("mariadbd"):
            return
        d = self.p("mysql")
        data = os.path.join(d, "data")
        os.makedirs(d, exist_ok=True)
        fresh = not os.path.isdir(os.path.join(data, "mysql"))
        if fresh:
            shutil.rmtree(data, ignore_errors=True)
            t = _now()
            _run(["/usr/bin/mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
                  "--auth-root-authentication-method=socket", "--skip-test-db"], timeout=300)
            self.timings["mariadb_install_db"] = round(_now() - t, 1)
        for stale in (self.mysql_socket, self.mysql_socket + ".lock", os.path.join(d, "mysqld.pid")):
            if os.path.exists(stale):
                os.unlink(stale)
        self._spawn("mariadbd", ["/usr/sbin/mariadbd", "--no-defaults", f"--datadir={data}",
                                 f"--socket={self.mysql_socket}", f"--port={ports['mysql']}",
                                 "--bind-address=127.0.0.1", f"--pid-file={d}/mysqld.pid",
                                 "--user=root", f"--log-error={d}/mysqld.err", "--skip-name-resolve",
                                 "--innodb-buffer-pool-size=256M", "--innodb-log-file-size=64M",
                                 "--innodb-lock-wait-timeout=900", "--max-connections=200"],
                    self._daemon_env(), self.p("mysql", "mysqld.out"))
        self._wait("mariadb socket", lambda: self._mysql("SELECT 1", check=False).returncode == 0,
                   60, "mariadbd")
        self._mysql(f"CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '{DB_PASS}'; "
                    f"CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '{DB_PASS}'; "
                    "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; "
                    "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;")

    def _dbd_up(self) -> bool:
        p = _run(["sacctmgr", "-n", "-P", "show", "cluster", "format=cluster"],
                 env=self._daemon_env("hammer"), check=False, timeout=30)
        return p.returncode == 0

    def start_slurmdbd(self, timeout=90):
        """Start slurmdbd (no-op if running) and wait until it answers sacctmgr."""
        if not self.pid("slurmdbd"):
            for stale in (self.p("dbd", "slurmdbd.pid"),):
                if os.path.exists(stale):
                    os.unlink(stale)
            self._spawn("slurmdbd", ["/usr/sbin/slurmdbd", "-D"],
                        self._daemon_env(conf=self.p("dbd", "slurm.conf")), self.p("dbd", "slurmdbd.out"))
        self._wait("slurmdbd answering sacctmgr", self._dbd_up, timeout, "slurmdbd", interval=0.5)

    def stop_slurmdbd(self):
        """Stop slurmdbd only (MariaDB and the controllers keep running)."""
        self._kill("slurmdbd")

    def set_private_data(self, on: bool = True):
        """Set/unset PrivateData=jobs in slurmdbd.conf and restart slurmdbd."""
        self._write_configs(self.ports, private_data=bool(on))
        self.stop_slurmdbd()
        self.start_slurmdbd()

    def _setup_accounts(self):
        env = self._daemon_env("hammer")
        have = _run(["sacctmgr", "-n", "-P", "show", "assoc", "format=cluster,account,user"], env=env).stdout
        rows = {tuple(line.split("|")) for line in have.splitlines() if line}
        clusters = {r[0] for r in rows}
        for c in CLUSTERS:
            if c not in clusters:
                _run(["sacctmgr", "-i", "add", "cluster", c], env=env)
        for acct, users in ACCOUNTS.items():
            if not any(r[1] == acct and r[2] == "" for r in rows):
                _run(["sacctmgr", "-i", "add", "account", acct, f"Cluster={','.join(CLUSTERS)}",
                      f"Description={acct}", f"Organization={acct}"], env=env, check=False)
            need = [u for u in users if not all((c, acct, u) in rows for c in CLUSTERS)]
            if need:
                _run(["sacctmgr", "-i", "add", "user", ",".join(need), f"Account={acct}",
                      f"Cluster={','.join(CLUSTERS)}"], env=env, check=False)
        _run(["sacctmgr", "-i", "modify", "user", "sbcarol", "set", "DefaultAccount=physics"],
             env=env, check=False)

    def _start_cluster(self, c):
        d = self.p(c)
        name = f"slurmctld-{c}"
        if not self.pid(name):
            for f in os.listdir(os.path.join(d, "run")):
                os.unlink(os.path.join(d, "run", f))
            self._spawn(name, ["/usr/sbin/slurmctld", "-D", "-i", "-f", self.conf(c)],
                        self._daemon_env(c), self.p(c, "log", "slurmctld.out"))
        for n in CLUSTER_SPEC[c]["nodes"]:
            nm = f"slurmd-{n}"
            if not self.pid(nm):
                os.makedirs(os.path.join(d, "spool", n), exist_ok=True)
                self._spawn(nm, ["/usr/sbin/slurmd", "-D", "-N", n, "-f", self.conf(c)],
                            self._daemon_env(c), self.p(c, "log", f"slurmd-{n}.out"))

    def _nodes_ready(self, c) -> bool:
        p = self.slurm(["sinfo", "-h", "-N", "-o", "%N %t"], c, check=False, timeout=20)
        if p.returncode != 0:
            return False
        states = dict(line.split() for line in p.stdout.splitlines() if line.strip())
        if any(s.rstrip("*~#") in ("down", "drain", "drng", "fail", "inval") for s in states.values()):
            self._log(f"{c} node states {states}; resuming")
            self.slurm(["scontrol", "update", f"NodeName={','.join(states)}", "State=RESUME"], c, check=False)
        return len(states) == len(CLUSTER_SPEC[c]["nodes"]) and all(
            s.rstrip("*~#") in ("idle", "mix", "alloc", "comp") for s in states.values())

    def _registered(self, c) -> bool:
        p = _run(["sacctmgr", "-n", "-P", "show", "cluster", c, "format=cluster,controlport"],
                 env=self._daemon_env(c), check=False, timeout=20)
        parts = p.stdout.strip().split("|")
        return p.returncode == 0 and len(parts) == 2 and parts[1] not in ("", "0")

    def healthy(self) -> bool:
        return all(self.pid(n) for n in self.daemons())

    def start(self) -> dict:
        """Start everything (reusing a fully running testbed in base). Returns timings."""
        ok, why = available()
        if not ok:
            raise RuntimeError(f"testbed unavailable: {why}")
        t0 = _now()
        os.makedirs(self.base, exist_ok=True)
        os.chmod(self.base, 0o755)
        if self.healthy():
            self.timings["start"] = round(_now() - t0, 1)
            self.timings["reused"] = 1
            return dict(self.timings)
        if any(self.pid(n) for n in self.daemons()):
            self._log("partially running testbed: stopping it first")
            self.stop()
        self.ensure_users()
        st = self._state()
        unclean = bool(st) and not st.get("clean_stop", True)
        st["clean_stop"] = False
        if st:
            self._save_state(st)
        lockf = open(PORT_LOCK, "a")
        try:
            fcntl.flock(lockf, fcntl.LOCK_EX)
            self._sweep()  # leftover slurmstepd/job processes from an unclean stop
            ports = self._pick_ports()
            self._write_configs(ports)
            self._start_munged()
            self._start_mariadb(ports)
            t = _now()
            self.start_slurmdbd(timeout=180)
            self.timings["slurmdbd_up"] = round(_now() - t, 1)
            self._setup_accounts()
            for c in CLUSTERS:
                self._start_cluster(c)
            for c in CLUSTERS:
                self._wait(f"{c} slurmctld", lambda c=c: self.slurm(["scontrol", "ping"], c, check=False,
                                                                     timeout=20).returncode == 0,
                           60, f"slurmctld-{c}")
            for c in CLUSTERS:
                self._wait(f"{c} nodes idle", lambda c=c: self._nodes_ready(c), 90, f"slurmctld-{c}", 0.5)
            for c in CLUSTERS:
                self._wait(f"{c} registered with slurmdbd", lambda c=c: self._registered(c), 60, interval=0.5)
        finally:
            fcntl.flock(lockf, fcntl.LOCK_UN)
            lockf.close()
        st = self._state()
        st["clean_stop"] = False
        self._save_state(st)
        if unclean:
            # the previous run died without stop(): its job processes are gone (swept) but
            # slurmctld recovered them from StateSaveLocation as RUNNING/PENDING ghosts
            for c in CLUSTERS:
                ids = self.active_jobs(c)
                if ids:
                    self._log(f"cancelling {len(ids)} jobs recovered from an unclean stop on {c}")
                    self.slurm(["scancel"] + ids, c, check=False)
        for u in ALL_USERS:
            self.workdir(u)
        self.timings["start"] = round(_now() - t0, 1)
        return dict(self.timings)

    def _sweep(self, sig=signal.SIGKILL) -> list[int]:
        """Kill every leftover process carrying our marker (slurmstepd, job processes)."""
        mine = _ancestors()
        killed = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            if pid in mine or not _alive(pid):
                continue
            env = _environ_of(pid)
            # job processes inherit our marker from as_user(); slurmstepd gets a scrubbed
            # environment that still holds SLURM_CONF
            if env.get(MARKER) == self.base or env.get("SLURM_CONF", "").startswith(self.base + "/"):
                try:
                    os.kill(pid, sig)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
        return killed

    def active_jobs(self, cluster) -> list[str]:
        """Job ids squeue still shows on `cluster` (pending, running, completing...)."""
        p = self.slurm(["squeue", "-h", "-o", "%A"], cluster, check=False, timeout=20)
        return p.stdout.split() if p.returncode == 0 else []

    def stop(self, cancel_jobs: bool = True) -> dict:
        """Stop every daemon by its recorded PID, then kill leftover job/stepd processes.
        With cancel_jobs (default) still-active jobs are scancel'ed first (they end as CANCELLED
        in accounting) so that a later start() does not recover ghost RUNNING jobs whose
        processes are gone."""
        t0 = _now()
        if cancel_jobs:
            for c in CLUSTERS:
                if self.pid(f"slurmctld-{c}"):
                    ids = self.active_jobs(c)
                    if ids:
                        self._log(f"cancelling {len(ids)} active jobs on {c}")
                        self.slurm(["scancel"] + ids, c, check=False)
            for c in CLUSTERS:
                if self.pid(f"slurmctld-{c}") and self.pid("slurmdbd"):
                    try:
                        self._wait(f"{c} jobs drained", lambda c=c: not self.active_jobs(c), 30)
                    except (TimeoutError, RuntimeError) as e:
                        self._log(str(e))
        order = []
        for c in CLUSTERS:
            order += [f"slurmd-{n}" for n in CLUSTER_SPEC[c]["nodes"]]
        order += [f"slurmctld-{c}" for c in CLUSTERS] + ["slurmdbd", "mariadbd", "munged"]
        for name in order:
            self._kill(name, timeout=30 if name == "mariadbd" else 15)
        self._sweep()
        for proc in list(self._procs.values()):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._procs.clear()
        st = self._state()
        if st:
            st["clean_stop"] = True
            self._save_state(st)
        self.timings["stop"] = round(_now() - t0, 1)
        return dict(self.timings)

    def destroy(self):
        """stop() and delete the base directory (next start() is from scratch)."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def status(self) -> dict:
        st = {"base": self.base, "ports": self.ports, "private_data": self._state().get("private_data", False),
              "daemons": {n: self.pid(n) for n in self.daemons()}}
        st["healthy"] = all(st["daemons"].values())
        if self.pid("slurmctld-hammer") or self.pid("slurmctld-negishi"):
            st["nodes"] = {}
            for c in CLUSTERS:
                if self.pid(f"slurmctld-{c}"):
                    p = self.slurm(["sinfo", "-h", "-N", "-o", "%N %t %G"], c, check=False, timeout=20)
                    st["nodes"][c] = (sorted(set(p.stdout.splitlines())) if p.returncode == 0
                                      else p.stderr.strip())
        return st

    # ------------------------------------------------------------------ jobs
    def sbatch(self, user, cluster, args, script, check=True) -> int:
        """Submit `script` (text) as `user` on `cluster`; returns the job id."""
        p = self.as_user(user, ["sbatch", "--parsable"] + list(args), cluster, input=script)
        if p.returncode != 0:
            if check:
                raise RuntimeError(f"sbatch {args} as {user} on {cluster}: rc={p.returncode} {p.stderr}")
            return 0
        return int(p.stdout.strip().split(";")[0])

    def squeue_state(self, job_id, cluster) -> str:
        p = self.slurm(["squeue", "-h", "-j", str(job_id), "-o", "%T"], cluster, check=False)
        return p.stdout.strip().splitlines()[0] if p.stdout.strip() else ""

    def wait_state(self, job_id, cluster, states=("RUNNING",), timeout=120):
        self._wait(f"job {job_id} on {cluster} in {states}",
                   lambda: self.squeue_state(job_id, cluster) in states, timeout, interval=0.5)

    def sacct(self, args, cluster="hammer", user=None) -> subprocess.CompletedProcess:
        """sacct with the collector's flags (-P -n --noconvert, SLURM_TIME_FORMAT=%s, TZ=UTC)."""
        argv = ["sacct", "-P", "-n", "--noconvert", "-M", cluster] + list(args)
        extra = {"TZ": "UTC", "SLURM_TIME_FORMAT": "%s"}
        if user:
            return self.as_user(user, argv, cluster, extra_env=extra)
        return _run(argv, env=dict(self._daemon_env(cluster), **extra), check=False)

    def collector_sacct(self, cluster, user=COLLECTOR, start="now-1days", end="now",
                        extra_args=()) -> subprocess.CompletedProcess:
        """The collector's exact sacct invocation, run as `user` (default sbcollector)."""
        argv = ["sacct", "-a", "-D", "-P", "-n", "--noconvert", "--delimiter=#|#", "-M", cluster,
                "-S", start, "-E", end, "-s", SACCT_STATES, "-o", SACCT_FIELDS] + list(extra_args)
        return self.as_user(user, argv, cluster, extra_env={"TZ": "UTC", "SLURM_TIME_FORMAT": "%s"})

    def wait_accounted(self, job_ids, cluster, timeout=300) -> dict:
        """Wait until sacct (i.e. slurmdbd) shows every job in job_ids, and all their
        steps/array tasks/het components, in a terminal state. Returns {jobid: state}."""
        ids = [str(j) for j in job_ids]
        if not ids:
            return {}
        result = {}
        waiting = []

        def done():
            waiting.clear()
            p = self.sacct(["-j", ",".join(ids), "-o", "JobID,JobIDRaw,State,End"], cluster)
            if p.returncode != 0:
                return False
            seen = set()
            result.clear()
            for line in p.stdout.splitlines():
                jid, raw, state, end = line.split("|")
                state = state.split()[0]
                if state not in TERMINAL or end in ("", "Unknown", "0"):
                    waiting.append(f"{jid}={state}")
                top = jid.split(".")[0]
                base = top.split("_")[0].split("+")[0]
                seen.add(base)
                if "." not in jid:
                    result[top] = state
            waiting.extend(f"{i}=not-in-sacct" for i in ids if i not in seen)
            return not waiting

        try:
            self._wait(f"{len(ids)} jobs accounted on {cluster}", done, timeout, interval=1.0)
        except TimeoutError as e:
            raise TimeoutError(f"{e}; not finished: {' '.join(waiting[:20])}") from None
        return dict(result)

    def run_workload(self, timeout=420) -> dict:
        """Submit the standard workload on both clusters and wait until everything except the
        running and the pending job is finished and visible in sacct. Returns what was submitted:
        {"hammer": {"jobs": {label: id}, "running": id, "pending": id, "states": {...}}, "negishi": {...},
         "running": {cluster: id}, "pending": {cluster: id}, "timings": {...}}"""
        t0 = _now()
        py = "/usr/bin/python3"

        def mem_py(mb, secs):
            # b"x" * n writes every byte, so RSS really grows by ~mb MiB
            return f"{py} -c 'import time; b = b\"x\" * ({mb} << 20); time.sleep({secs})'"

        sh = "#!/bin/bash\n"
        W = {c: {} for c in CLUSTERS}

        def cpu_py(secs):
            # a busy loop: TotalCPU really grows by ~secs CPU-seconds
            return f"{py} -c 'import time; t = time.time() + {secs}\nwhile time.time() < t: pass'"

        def sub(c, label, user, args, body):
            # an explicit limit (minutes) on every job that sets none, so TimelimitRaw is a real number;
            # a het job keeps its components' own (the partitions')
            if not any(a.startswith(("--time", "-t")) for a in args) and ":" not in args:
                args = ["--time=10"] + args
            W[c][label] = self.sbatch(user, c, ["-J", label] + args, sh + body + "\n")

        # --- hammer: cgroup v1, typed GPUs (gpu:a100:4 on hammer-a), partitions cpu,gpu
        c = "hammer"
        sub(c, "multicpu", "sbalice", ["-n", "4", "--mem-per-cpu=100M"], "srun sleep 3")
        sub(c, "multistep", "sbbob", ["-n", "2", "--mem-per-cpu=500M"],
            f"srun -n2 sleep 2\nsrun -n1 {mem_py(150, 5)}\nsrun -n1 hostname")
        sub(c, "array", "sbcarol", ["--array=1-4", "--mem=100M"], "sleep 2")
        sub(c, "gpu_typed", "sbdave", ["-p", "gpu", "--gres=gpu:a100:2", "-c", "2"], "srun sleep 3")
        sub(c, "gpu_untyped", "sberin", ["-p", "gpu", "--gpus=1"], "sleep 3")
        sub(c, "failed", "sbfrank", ["--mem=50M"], "sleep 1\nexit 1")
        sub(c, "timeout", "sbalice", ["--time=1"], "sleep 600")
        # OOM in the batch step itself -> job OUT_OF_MEMORY; OOM in an srun step -> step
        # OUT_OF_MEMORY, job FAILED (the script's srun returns non-zero)
        sub(c, "oom", "sbbob", ["--mem=100M"], mem_py(400, 5))
        sub(c, "oom_step", "sbcarol", ["--mem=100M"], f"srun {mem_py(400, 5)}")
        sub(c, "cancelled", "sbcarol", [], "sleep 300")
        sub(c, "requeued", "sbdave", ["--requeue"], "sleep 8")
        sub(c, "multinode", "sberin", ["-N", "2", "-n", "2"], "srun -N2 -n2 sleep 3")
        sub(c, "het", "sbfrank", ["-p", "small", "-n", "1", ":", "-p", "gpu", "--gres=gpu:1", "-n", "1"],
            "srun --het-group=0,1 sleep 2")
        sub(c, "bigmem", "sbcarol", ["--mem=1G", "-A", "chem"], mem_py(300, 6))
        sub(c, "cpuburn", "sbalice", ["-n", "1", "--mem=100M", "-A", "physics", "--time=5"], f"srun {cpu_py(4)}")
        # --- negishi: no cgroups (linuxproc, OverMemoryKill), untyped GPUs gpu:2 per node
        c = "negishi"
        sub(c, "multicpu", "sbdave", ["-c", "4", "--mem=1G"], "srun sleep 3")
        sub(c, "multistep", "sbalice", ["-n", "2", "--mem-per-cpu=400M"],
            f"srun -n1 {mem_py(200, 5)}\nsrun -n2 sleep 1")
        sub(c, "array", "sberin", ["--array=0-2", "--mem-per-cpu=64M"], "sleep 2")
        sub(c, "gpu_gres", "sbfrank", ["--gres=gpu:1"], "srun sleep 3")
        sub(c, "gpu_gpus", "sbbob", ["-p", "debug", "--gpus=2", "-n", "2"], "srun sleep 2")
        sub(c, "failed", "sbcarol", [], "srun false\nexit 3")
        sub(c, "timeout", "sbfrank", ["--time=1", "-c", "2"], "srun sleep 600")
        # no cgroups: JobAcctGatherParams=OverMemoryKill cancels the step ("CANCELLED by 0"), job FAILED
        sub(c, "overmem", "sbdave", ["--mem=100M"], f"srun {mem_py(400, 8)}")
        sub(c, "cancelled", "sberin", ["-c", "2"], "sleep 300")
        sub(c, "multinode", "sbalice", ["-N", "2", "--ntasks-per-node=2"], "srun sleep 2")
        sub(c, "cpuburn", "sbcarol", ["-c", "1", "--mem=200M", "-A", "chem", "--time=5"],
            f"{cpu_py(3)}\nsrun {mem_py(120, 3)}")
        # pending forever (held) and still running, on both clusters
        for c, pu, ru in (("hammer", "sbalice", "sbbob"), ("negishi", "sbcarol", "sbdave")):
            W[c]["pending"] = self.sbatch(pu, c, ["-J", "pending", "--hold"], sh + "sleep 5\n")
            W[c]["running"] = self.sbatch(ru, c, ["-J", "running", "--mem=100M", "--time=1-00:00:00"],
                                          sh + "sleep 86400\n")
        self.timings["workload_submit"] = round(_now() - t0, 1)

        # cancel / requeue once running
        for c in CLUSTERS:
            self.wait_state(W[c]["cancelled"], c, timeout=120)
        time.sleep(3)
        for c in CLUSTERS:
            self.as_user(self.job_user(W[c]["cancelled"], c), ["scancel", str(W[c]["cancelled"])], c, check=True)
        self.wait_state(W["hammer"]["requeued"], "hammer", timeout=120)
        time.sleep(3)
        self.slurm(["scontrol", "requeue", str(W["hammer"]["requeued"])], "hammer")
        self.timings["workload_actions"] = round(_now() - t0, 1)

        out = {"running": {}, "pending": {}}
        for c in CLUSTERS:
            finite = [j for label, j in W[c].items() if label not in ("running", "pending")]
            states = self.wait_accounted(finite, c, timeout=max(60, timeout - (_now() - t0)))
            out[c] = {"jobs": dict(W[c]), "running": W[c]["running"], "pending": W[c]["pending"],
                      "states": states}
            out["running"][c] = W[c]["running"]
            out["pending"][c] = W[c]["pending"]
        self.wait_state(W["hammer"]["running"], "hammer", timeout=60)
        self.wait_state(W["negishi"]["running"], "negishi", timeout=60)
        self.timings["workload"] = round(_now() - t0, 1)
        out["timings"] = dict(self.timings)
        with open(self.p("workload.json"), "w") as f:
            json.dump(out, f, indent=1, sort_keys=True)
        return out

    def scancel(self, job_id, cluster, user=None) -> subprocess.CompletedProcess:
        """scancel as root (state "CANCELLED by 0") or as `user` ("CANCELLED by <uid>")."""
        if user:
            return self.as_user(user, ["scancel", str(job_id)], cluster)
        return self.slurm(["scancel", str(job_id)], cluster, check=False)

    def release(self, job_id, cluster) -> subprocess.CompletedProcess:
        """Release a held job (the workload's pending one) so that it runs (sleep 5)."""
        return self.slurm(["scontrol", "release", str(job_id)], cluster, check=False)

    def job_user(self, job_id, cluster) -> str:
        p = self.slurm(["squeue", "-h", "-j", str(job_id), "-o", "%u"], cluster, check=False)
        return p.stdout.strip().splitlines()[0]

    def last_workload(self) -> dict:
        with open(self.p("workload.json")) as f:
            return json.load(f)


# ---------------------------------------------------------------------- CLI
def main(argv=None):
    ap = argparse.ArgumentParser(description="real two-cluster SLURM testbed")
    ap.add_argument("--base", default=DEFAULT_BASE)
    ap.add_argument("-q", "--quiet", action="store_true")
    sp = ap.add_subparsers(dest="cmd", required=True)
    for name in ("install", "start", "workload", "stop", "status", "destroy", "up"):
        sp.add_parser(name)
    e = sp.add_parser("env")
    e.add_argument("cluster", choices=CLUSTERS)
    a = ap.parse_args(argv)
    ok, why = available()
    if not ok and a.cmd not in ("env", "status"):
        print(f"testbed unavailable: {why}", file=sys.stderr)
        return 2
    tb = Testbed(a.base, verbose=not a.quiet)
    t0 = _now()
    if a.cmd == "install":
        r = tb.install()
        print(json.dumps(r, indent=1))
    elif a.cmd in ("start", "up"):
        if a.cmd == "up":
            tb.install()
        print(json.dumps(tb.start(), indent=1))
    elif a.cmd == "workload":
        tb.start()
        r = tb.run_workload()
        print(json.dumps(r, indent=1, sort_keys=True))
    elif a.cmd == "stop":
        print(json.dumps(tb.stop(), indent=1))
    elif a.cmd == "destroy":
        tb.destroy()
    elif a.cmd == "status":
        print(json.dumps(tb.status(), indent=1))
    elif a.cmd == "env":
        for k in ("SLURM_CONF", MARKER):
            print(f"export {k}={tb.env(a.cluster)[k]}")
        return 0
    print(f"{a.cmd}: {_now() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
