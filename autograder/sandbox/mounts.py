"""Namespaces and the student's file system: an allow-list, built from nothing.

The student's process gets private mount, network, IPC, PID and UTS namespaces. Its file
system is a fresh tmpfs onto which only what it needs is bound back, read-only, at the same
paths: the system's libraries, the Python runtime and its packages, the course's student-side
runtime (`assignments/`) and the release folder, the data directories. `/tmp` (its scratch and
working directory) and `/dev/shm` are small private tmpfs mounts, `/dev` holds the five
harmless devices, `/proc` is the new PID namespace's own. Then `pivot_root` makes that the
whole world: no other host path survives, and everything vanishes with the last process.

As root this needs no more than root's own rights, and the student's code then runs under an
unprivileged uid of its grading slot. As a normal user the same is built inside an
unprivileged user namespace (how bubblewrap works without setuid); the process then enters one
more user namespace, which leaves it no capability over the mounts it was given (they cannot
be remounted writable or unmounted). We do this ourselves rather than exec bubblewrap because
the student's process is forked from a warm zygote (torch already imported): bubblewrap can
only start a new program.
"""
from __future__ import annotations

import ctypes
import os
from pathlib import Path

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MNT_DETACH = 2
ALL_NAMESPACES = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWUTS

SYSTEM_PATHS = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin",
                "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/nsswitch.conf",
                "/etc/passwd", "/etc/group", "/etc/localtime", "/etc/hosts", "/etc/mime.types")
DEVICES = ("null", "zero", "full", "random", "urandom")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]


class IsolationError(OSError):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise IsolationError(errno, f"{what}: {os.strerror(errno)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def mount(source, target, fstype=None, flags=0, data=None) -> None:
    enc = (lambda s: None if s is None else str(s).encode())
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def umount(target, flags=MNT_DETACH) -> None:
    _check(_libc.umount2(str(target).encode(), flags), f"umount {target}")


def pivot_root(new_root, put_old) -> None:
    _check(_libc.syscall(155 if os.uname().machine == "x86_64" else 41,
                         str(new_root).encode(), str(put_old).encode()), "pivot_root")


def map_to_self(uid: int, gid: int) -> None:
    """In a user namespace just entered: map our own uid and gid to themselves."""
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")


def enter_namespaces(as_root: bool) -> None:
    """Private mount, network, IPC, PID and UTS namespaces (and a user namespace when not root).
    The PID namespace applies to the children forked after this."""
    if as_root:
        unshare(ALL_NAMESPACES)
    else:
        uid, gid = os.geteuid(), os.getegid()
        unshare(CLONE_NEWUSER | ALL_NAMESPACES)
        map_to_self(uid, gid)
    mount("none", "/", None, MS_REC | MS_PRIVATE)


def drop_capabilities_unprivileged() -> None:
    """Leave every capability over our namespaces behind: enter one more user namespace.
    Its capabilities apply to nothing we were given (the mounts stay read-only, locked)."""
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER)
    map_to_self(uid, gid)


def _statvfs_flags(path: str) -> int:
    """The mount flags a read-only remount must keep (a user namespace may not clear them)."""
    f = os.statvfs(path).f_flag
    flags = 0
    for st, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                   (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME),
                   (os.ST_RELATIME, MS_RELATIME)):
        if f & st:
            flags |= ms
    return flags


def bind(source: Path, root: Path, readonly: bool = True) -> None:
    """Bind `source` at the same path under `root` (a symlink is recreated as a symlink)."""
    source = Path(source)
    target = Path(str(root) + str(source))
    if source.is_symlink():
        if not os.path.lexists(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.readlink(source), target)
        return
    if os.path.lexists(target) and target.is_symlink():
        return  # an earlier symlink already leads there (e.g. /lib -> usr/lib)
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch(exist_ok=True)
    mount(source, target, None, MS_BIND | MS_REC)
    if readonly:
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _statvfs_flags(str(source)))


def _outermost(paths) -> list[Path]:
    paths = sorted({Path(p) for p in paths})
    return [p for p in paths if not any(q in p.parents for q in paths)]


def build_root(root: Path, visible, masked: dict, scratch_mb: int, hidden_files=()) -> None:
    """Make `root` (an empty directory) the student's whole file system and switch to it.

    `visible`: host paths bound read-only at the same place (outermost ones win);
    `masked`: directory -> text of an `__init__.py` mounted over it (a package the assignment
    forbids: importing it raises that text); `hidden_files`: files that read as empty."""
    root = Path(root)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    for place in ("tmp", "dev", "proc", ".old"):
        (root / place).mkdir(exist_ok=True)
    # /tmp first: what is bound below may live under it (a course checked out in /tmp, as CI does)
    mount("tmpfs", root / "tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={scratch_mb}m,mode=1777")
    for path in SYSTEM_PATHS:
        if os.path.lexists(path):
            bind(Path(path), root)
    devices = [p for p in visible if str(p).startswith("/dev/")]
    for path in _outermost(p for p in visible if os.path.exists(p) and p not in devices):
        bind(path, root)
    for directory, text in masked.items():
        target = Path(str(root) + str(directory))
        if target.is_dir():
            mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
            (target / "__init__.py").write_text(text)
            mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    for path in hidden_files:
        target = Path(str(root) + str(path))
        if target.is_file():
            mount("/dev/null", target, None, MS_BIND)
    mount("tmpfs", root / "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=755")
    for name in DEVICES:
        (root / "dev" / name).touch()
        mount(f"/dev/{name}", root / "dev" / name, None, MS_BIND)
    for path in devices:  # a GPU's device files (and folders: /dev/nvidia-caps)
        target, folder = root / "dev" / Path(path).name, os.path.isdir(path)
        target.mkdir() if folder else target.touch()
        mount(path, target, None, MS_BIND | MS_REC)
        if folder:  # read-only like every other bind (its device files still open)
            mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _statvfs_flags(path))
    (root / "dev" / "shm").mkdir()
    mount("tmpfs", root / "dev" / "shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={scratch_mb}m,mode=1777")
    os.symlink("/proc/self/fd", root / "dev" / "fd")
    # The PID namespace's own /proc (this process is its first process), mounted while the
    # host's /proc is still in view: a user namespace may only mount a proc it could see.
    mount("proc", root / "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    pivot_root(root, root / ".old")
    os.chdir("/")
    umount("/.old")
    os.rmdir("/.old")
    mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def probe_support() -> str | None:
    """None when this process could build the sandbox as it is (root, or unprivileged user
    namespaces allowed); otherwise why not. Tried in a throwaway child."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            enter_namespaces(os.geteuid() == 0)
            mount("tmpfs", "/mnt" if os.path.isdir("/mnt") else "/tmp", "tmpfs", 0, "size=4k")
        except OSError as exc:
            code = 10 + min(exc.errno or 0, 200)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    if code == 0:
        return None
    errno = code - 10
    why = os.strerror(errno) if errno > 0 else "the test process died"
    return f"cannot create private namespaces here ({why})"
