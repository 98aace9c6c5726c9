"""Boot a throw-away Linux guest with several NUMA nodes and run one command in it.

Our machines have one NUMA node; a guest under QEMU has real ACPI SRAT/SLIT tables, so
``mbind``, ``set_mempolicy``, ``move_pages``, ``/proc/PID/numa_maps`` and the sysfs node
tree behave there as on a multi-socket server. Memory *latency* in the guest says nothing
about real remote-memory cost: every node is the same host memory, behind an emulator.

How it works, and why it is quick (a few seconds a boot under software emulation):

- the host's ``/`` is shared read-only into the guest over 9p, so the guest runs the host's
  Python, virtual environment and golat unchanged; one more 9p share (read-write) carries
  the command's output and exit status back;
- a tiny initramfs (busybox and the five 9p/virtio modules, built once and cached) mounts
  that root and hands over to a shell script written for this boot: no udev, no systemd,
  no module probing, so nothing else is loaded under the emulator;
- software emulation (TCG), not KVM: on our VMs /dev/kvm is nested and hangs or crawls.

What it needs (``.ci/numa-guest-setup`` installs it): ``qemu-system-x86_64``, a kernel image
with its modules under /lib/modules (Debian's ``linux-image-amd64``), ``busybox`` (static),
``modprobe`` (kmod), and root (to read the kernel image; 9p passthrough of ``/`` as root).

Run by hand::

    python tests/numa_guest.py --guest 4node -- python -m pytest -m numa_guest \
        tests/test_numa_in_guest.py
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Guest", "GUESTS", "GuestResult", "boot", "cannot_boot"]

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("GOLAT_NUMA_GUEST_CACHE", "/var/tmp/golat-numa-guest"))
# In this order: dependencies first (``modprobe --show-depends`` gives the same order).
MODULES = ("virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev",
           "virtio_pci", "9pnet", "9pnet_virtio", "netfs", "fscache", "9p")  # fmt: skip
ENV_INSIDE = "GOLAT_IN_NUMA_GUEST"  # set in the guest: the name of the guest's shape


@dataclass(frozen=True)
class Guest:
    """A guest's shape: per node its CPU count and memory (MiB), and the distance matrix."""

    name: str
    cpus: tuple[int, ...]
    memory_mib: tuple[int, ...]
    distances: tuple[tuple[int, ...], ...]

    @property
    def nodes(self) -> int:
        return len(self.cpus)

    def qemu_args(self) -> list[str]:
        args = ["-smp", str(sum(self.cpus)), "-m", f"{sum(self.memory_mib)}M"]
        first = 0
        for i, (n, mib) in enumerate(zip(self.cpus, self.memory_mib)):
            args += ["-object", f"memory-backend-ram,id=m{i},size={mib}M"]
            cpus = f"{first}-{first + n - 1}" if n > 1 else str(first)
            args += ["-numa", f"node,nodeid={i},memdev=m{i},cpus={cpus}"]
            first += n
        for i, row in enumerate(self.distances):
            for j, d in enumerate(row):
                if i != j:
                    args += ["-numa", f"dist,src={i},dst={j},val={d}"]
        return args


GUESTS = {
    # The guest: two nodes, one CPU and 1 GiB each, distance 20.
    "2node": Guest("2node", (1, 1), (1024, 1024), ((10, 20), (20, 10))),
    # Four nodes, one CPU and 512 MiB each, at unequal distances: two pairs (0,2) and
    # (1,3) at 20, the rest at 30 or 40, so "nearest first" from node 0 is 0, 2, 1, 3 and
    # differs from node id order.
    "4node": Guest("4node", (1, 1, 1, 1), (512, 512, 512, 512),
                   ((10, 30, 20, 40), (30, 10, 40, 20), (20, 40, 10, 30), (40, 20, 30, 10))),
}  # fmt: skip


@dataclass
class GuestResult:
    returncode: int  # the command's exit status; -1 when the guest never reported one
    output: str  # the command's stdout and stderr, interleaved
    console: str  # the guest's serial console (kernel messages), for boot failures
    boot_s: float  # host time from starting QEMU to the command starting in the guest
    total_s: float  # host time from starting QEMU to its exit
    uptime_s: float  # guest uptime when the command started (-1 if unknown)


# --- what is needed -----------------------------------------------------------------


def _kernel() -> tuple[str, str] | None:
    """(kernel image, release) of an installed kernel whose modules are present."""
    want = os.environ.get("GOLAT_NUMA_GUEST_KERNEL")
    images = [want] if want else sorted(glob.glob("/boot/vmlinuz-*"), reverse=True)
    for img in images:
        release = Path(img).name.removeprefix("vmlinuz-")
        if Path(f"/lib/modules/{release}/modules.dep").exists():
            return img, release
    return None


def _busybox() -> str | None:
    for name in ("busybox-static", "busybox.static", "busybox"):
        found = shutil.which(name, path="/bin:/usr/bin:/sbin:/usr/sbin")
        if found and _is_static(found):
            return found
    return None


def _is_static(path: str) -> bool:
    # A dynamic binary names its loader; a static one has no PT_INTERP (no "ld-linux").
    with open(path, "rb") as f:
        return b"ld-linux" not in f.read(4096)


def cannot_boot() -> str | None:
    """Why a guest cannot be booted here (None: it can)."""
    if sys.platform != "linux" or os.uname().machine != "x86_64":
        return "the NUMA guest needs Linux on x86_64"
    if os.geteuid() != 0:
        return "the NUMA guest needs root (the kernel image is root-only; / is shared as root)"
    if not shutil.which("qemu-system-x86_64"):
        return "no qemu-system-x86_64 (run .ci/numa-guest-setup: apt-get install qemu-system-x86)"
    if _kernel() is None:
        return "no kernel image with modules in /boot and /lib/modules (run .ci/numa-guest-setup)"
    if _busybox() is None:
        return "no static busybox (run .ci/numa-guest-setup, or apt-get install busybox-static)"
    if not shutil.which("modprobe", path="/sbin:/usr/sbin:/bin:/usr/bin"):
        return "no modprobe (apt-get install kmod)"
    return None


# --- the initramfs ------------------------------------------------------------------

_INITRAMFS_INIT = r"""#!/bin/sh
# Load the 9p/virtio modules, mount the host's / and start the boot's script on it.
mount -t proc proc /proc
for m in $(cat /modules/order); do insmod /modules/$m.ko || echo "insmod $m failed"; done
for arg in $(cat /proc/cmdline); do
  case "$arg" in golat.init=*) init="${arg#golat.init=}" ;; esac
done
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,cache=loose golat_root /newroot \
  || { echo "cannot mount the host's root"; sleep 1; poweroff -f; }
umount /proc
exec switch_root /newroot "$init"
"""


def _cpio_newc(entries: list[tuple[str, int, bytes]]) -> bytes:
    """A cpio archive (newc, what the kernel unpacks) of (name, mode, data) entries."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate([*entries, ("TRAILER!!!", 0, b"")], start=1):
        raw = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(raw), 0)
        out += b"070701" + b"".join(b"%08X" % v for v in fields) + raw
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def _initramfs(release: str) -> Path:
    """The cached initramfs for this kernel (built on first use, ~1 s)."""
    path = CACHE / f"initramfs-{release}.cpio"
    if path.exists():
        return path
    modprobe = shutil.which("modprobe", path="/sbin:/usr/sbin:/bin:/usr/bin")
    files: list[str] = []
    for mod in MODULES:  # builtin modules give no insmod line and are skipped
        dep = subprocess.run([modprobe, "--show-depends", "-S", release, mod],
                             capture_output=True, text=True).stdout  # fmt: skip
        for ko in re.findall(r"^insmod (\S+)", dep, re.MULTILINE):
            if ko not in files:
                files.append(ko)
    d, f, link = 0o040755, 0o100755, 0o120777
    entries = [(n, d, b"") for n in ("bin", "dev", "proc", "newroot", "modules")]
    busybox = Path(_busybox()).read_bytes()  # type: ignore[arg-type]
    entries.append(("bin/busybox", f, busybox))
    for tool in ("sh", "mount", "umount", "insmod", "switch_root", "cat", "sleep", "poweroff"):
        entries.append((f"bin/{tool}", link, b"busybox"))
    names = []
    for ko in files:
        data = Path(ko).read_bytes()
        name = Path(ko).name
        if name.endswith(".xz") or name.endswith(".zst"):
            raise RuntimeError(f"compressed kernel module {ko}: not supported here")
        names.append(name.removesuffix(".ko"))
        entries.append((f"modules/{name}", 0o100644, data))
    entries.append(("modules/order", 0o100644, "\n".join(names).encode() + b"\n"))
    entries.append(("init", f, _INITRAMFS_INIT.encode()))
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(_cpio_newc(entries))
    tmp.replace(path)
    return path


# --- one boot -----------------------------------------------------------------------

_GUEST_INIT = r"""#!/bin/sh
# PID 1 in the guest: a few file systems, the command, its status, power off.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/shm /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mkdir -p /run/tmp
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 golat_out {out}
# Automatic NUMA balancing unmaps pages for its hinting faults now and then, and a
# move_pages query reports such a page as absent: placement, not balancing, is tested.
echo 0 > /proc/sys/kernel/numa_balancing 2>/dev/null
read up _ < /proc/uptime
echo "$up" > {out}/uptime
cd {cwd}
env -i {env} /bin/sh {out}/command > {out}/output 2>&1 < /dev/null
echo $? > {out}/rc
sync
echo o > /proc/sysrq-trigger
sleep 10
"""


def boot(
    guest: Guest | str, command: list[str] | str, *, cwd: str | os.PathLike = ROOT,
    env: dict[str, str] | None = None, timeout: float = 600.0,
    stop: threading.Event | None = None,
) -> GuestResult:  # fmt: skip
    """Boot ``guest``, run ``command`` (argv or shell text) in it from ``cwd`` and return
    its exit status and output. ``env``: the command's environment (default: PATH, HOME
    and LANG from here; ``GOLAT_IN_NUMA_GUEST`` is always set to the guest's name).
    ``stop``: set it to end the guest early (QEMU is killed, as after ``timeout``).
    Raises RuntimeError when the guest cannot be booted here (see :func:`cannot_boot`)."""
    if isinstance(guest, str):
        guest = GUESTS[guest]
    why = cannot_boot()
    if why:
        raise RuntimeError(why)
    image, release = _kernel()  # type: ignore[misc]
    initrd = _initramfs(release)
    if env is None:
        env = {k: os.environ[k] for k in ("PATH", "LANG") if k in os.environ}
    # The host's /tmp stays visible (read-only, as all of /): a checkout there, and the
    # virtual environment installed from it, must be found in the guest. Scratch is /run/tmp.
    env = {**env, "HOME": "/run/tmp", "TMPDIR": "/run/tmp", ENV_INSIDE: guest.name}
    text = command if isinstance(command, str) else shlex.join(command)
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="boot-", dir=CACHE) as out:
        print(f"NUMA guest {guest.name}: output in {out}/output while it runs", file=sys.stderr)
        Path(out, "command").write_text(text + "\n")
        init = Path(out, "init")
        env_text = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
        init.write_text(_GUEST_INIT.format(out=shlex.quote(out), cwd=shlex.quote(str(cwd)),
                                           env=env_text))  # fmt: skip
        init.chmod(0o755)
        argv = [
            "qemu-system-x86_64", "-machine", "q35,accel=tcg", "-cpu", "max",
            "-nodefaults", "-no-reboot", "-display", "none", "-net", "none",
            "-serial", f"file:{out}/console",
            *guest.qemu_args(),
            "-kernel", image, "-initrd", str(initrd),
            "-append", f"console=ttyS0 quiet loglevel=3 panic=-1 golat.init={init}",
            "-fsdev", "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap",
            "-device", "virtio-9p-pci,fsdev=root,mount_tag=golat_root",
            "-fsdev", f"local,id=out,path={out},security_model=none",
            "-device", "virtio-9p-pci,fsdev=out,mount_tag=golat_out",
        ]  # fmt: skip
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)  # fmt: skip
        started = None
        timed_out = False
        try:
            while proc.poll() is None and not timed_out:
                if started is None and Path(out, "uptime").exists():
                    started = time.monotonic() - t0
                timed_out = time.monotonic() - t0 > timeout or (stop is not None and stop.is_set())
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.kill()
            qemu_out = proc.communicate()[0].decode(errors="replace")
        if timed_out:
            qemu_out += f"\nthe guest was stopped after {time.monotonic() - t0:.0f} s"
        total = time.monotonic() - t0

        def read(name: str) -> str:
            try:
                return Path(out, name).read_text(errors="replace")
            except OSError:
                return ""

        rc_text, up = read("rc").strip(), read("uptime").strip()
        console = read("console") + (f"\n[qemu] {qemu_out}" if qemu_out.strip() else "")
        return GuestResult(
            returncode=int(rc_text) if rc_text.isdigit() else -1, output=read("output"),
            console=console, boot_s=started if started is not None else -1.0, total_s=total,
            uptime_s=float(up) if up else -1.0,
        )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--guest", choices=sorted(GUESTS), default="2node")
    ap.add_argument("command", nargs="+", help="command to run in the guest (after --)")
    args = ap.parse_args(argv)
    why = cannot_boot()
    if why:
        print(f"cannot boot a NUMA guest here: {why}", file=sys.stderr)
        return 2
    r = boot(args.guest, args.command, cwd=os.getcwd())
    sys.stdout.write(r.output)
    if r.returncode < 0:
        sys.stderr.write(r.console)
    print(f"[{args.guest}: boot {r.boot_s:.1f} s (guest uptime {r.uptime_s:.1f} s), "
          f"total {r.total_s:.1f} s, exit {r.returncode}]", file=sys.stderr)  # fmt: skip
    return r.returncode if r.returncode >= 0 else 1


if __name__ == "__main__":
    sys.exit(main())
