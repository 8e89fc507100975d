"""fastmock.cgroup on fake cgroup trees (issue 12, bug 7): v1 and v2, "max", nested
cgroups whose parent holds the limit, a container's view of its own cgroup, and the
hybrid layout where v1 controllers sit beside a v2 mount."""
from __future__ import annotations

import pytest

from fastmock.cgroup import Cgroup
from support.fake_cgroups import Tree


# -- cgroup v2 -----------------------------------------------------------------------------

def v2(tree: Tree, path: str = "/kubepods/pod1/ctr") -> Tree:
    tree.mount("cgroup2", "/sys/fs/cgroup")
    tree.member("", path, number=0)
    return tree


def test_v2_quota_of_the_process_cgroup(tree):
    v2(tree).write("/sys/fs/cgroup", "/kubepods/pod1/ctr", "cpu.max", "10000 100000")
    assert tree.read().cpu_limit() == pytest.approx(0.1)


def test_v2_max_is_no_limit(tree):
    v2(tree)
    for level in ("/", "/kubepods", "/kubepods/pod1", "/kubepods/pod1/ctr"):
        tree.write("/sys/fs/cgroup", level, "cpu.max", "max 100000")
        tree.write("/sys/fs/cgroup", level, "memory.max", "max")
    cgroup = tree.read()
    assert cgroup.cpu_limit() is None and cgroup.memory_limit() is None


def test_v2_the_tightest_limit_on_the_way_up_binds(tree):
    v2(tree)
    tree.write("/sys/fs/cgroup", "/kubepods", "cpu.max", "150000 100000")
    tree.write("/sys/fs/cgroup", "/kubepods/pod1", "cpu.max", "50000 100000")
    tree.write("/sys/fs/cgroup", "/kubepods/pod1/ctr", "cpu.max", "max 100000")
    tree.write("/sys/fs/cgroup", "/kubepods/pod1", "memory.max", str(20 << 20))
    tree.write("/sys/fs/cgroup", "/kubepods/pod1/ctr", "memory.max", "max")
    cgroup = tree.read()
    assert cgroup.cpu_limit() == pytest.approx(0.5)
    assert cgroup.memory_limit() == 20 << 20


def test_v2_memory_usage_is_the_process_cgroups_own_and_read_afresh(tree):
    v2(tree)
    tree.write("/sys/fs/cgroup", "/kubepods/pod1", "memory.current", "999999999")
    tree.write("/sys/fs/cgroup", "/kubepods/pod1/ctr", "memory.current", "12345")
    cgroup = tree.read()
    assert cgroup.memory_usage() == 12345
    tree.write("/sys/fs/cgroup", "/kubepods/pod1/ctr", "memory.current", "23456")
    assert cgroup.memory_usage() == 23456


def test_v2_in_a_cgroup_namespace_the_process_sits_at_the_mount_root(tree):
    tree.mount("cgroup2", "/sys/fs/cgroup", root="/")
    tree.member("", "/", number=0)
    tree.write("/sys/fs/cgroup", "/", "cpu.max", "200000 100000")
    assert tree.read().cpu_limit() == pytest.approx(2.0)


# -- cgroup v1 -----------------------------------------------------------------------------

def v1(tree: Tree, path: str = "/docker/abc", root: str = "/") -> Tree:
    tree.mount("cgroup", "/sys/fs/cgroup/cpu,cpuacct", root=root, options="rw,cpu,cpuacct")
    tree.mount("cgroup", "/sys/fs/cgroup/memory", root=root, options="rw,memory")
    tree.mount("cgroup", "/sys/fs/cgroup/pids", root=root, options="rw,pids")
    tree.member("cpu,cpuacct", path, number=3)
    tree.member("memory", path, number=4)
    tree.member("pids", path, number=5)
    tree.member("name=systemd", "/system.slice", number=1)
    return tree


def quota(tree: Tree, cgroup: str, quota_us: int, period_us: int = 100000) -> None:
    tree.write("/sys/fs/cgroup/cpu,cpuacct", cgroup, "cpu.cfs_quota_us", str(quota_us))
    tree.write("/sys/fs/cgroup/cpu,cpuacct", cgroup, "cpu.cfs_period_us", str(period_us))


def test_v1_quota_of_the_process_cgroup(tree):
    v1(tree)
    quota(tree, "/", -1)
    quota(tree, "/docker/abc", 10000)
    assert tree.read().cpu_limit() == pytest.approx(0.1)


def test_v1_minus_one_is_no_limit(tree):
    v1(tree)
    for level in ("/", "/docker", "/docker/abc"):
        quota(tree, level, -1)
        tree.write("/sys/fs/cgroup/memory", level, "memory.limit_in_bytes", "9223372036854771712")
    cgroup = tree.read()
    assert cgroup.cpu_limit() is None and cgroup.memory_limit() is None


def test_v1_a_parents_quota_binds_a_child_without_one(tree):
    v1(tree, path="/limits/parent/child")
    quota(tree, "/limits/parent", 20000, 200000)
    quota(tree, "/limits/parent/child", -1)
    tree.write("/sys/fs/cgroup/memory", "/limits/parent", "memory.limit_in_bytes", str(64 << 20))
    tree.write("/sys/fs/cgroup/memory", "/limits/parent/child", "memory.limit_in_bytes", str(20 << 20))
    cgroup = tree.read()
    assert cgroup.cpu_limit() == pytest.approx(0.1)
    assert cgroup.memory_limit() == 20 << 20


def test_v1_a_containers_mount_shows_its_own_cgroup_as_the_root(tree):
    """Docker without a cgroup namespace: /proc/self/cgroup says /docker/abc, and the mount's
    root is /docker/abc too, so the files are at the mount point itself."""
    v1(tree, path="/docker/abc", root="/docker/abc")
    quota(tree, "/", 50000)
    tree.write("/sys/fs/cgroup/memory", "/", "memory.limit_in_bytes", str(20 << 20))
    tree.write("/sys/fs/cgroup/memory", "/", "memory.usage_in_bytes", str(7 << 20))
    cgroup = tree.read()
    assert cgroup.cpu_limit() == pytest.approx(0.5)
    assert cgroup.memory_limit() == 20 << 20 and cgroup.memory_usage() == 7 << 20


def test_v1_a_cgroup_outside_the_mount_falls_back_to_the_mount_point(tree):
    v1(tree, path="/elsewhere/xyz", root="/docker/abc")
    quota(tree, "/", 30000)
    assert tree.read().cpu_limit() == pytest.approx(0.3)


def test_v1_controllers_win_over_a_v2_mount_beside_them(tree):
    """The hybrid layout (systemd's default for years): v1 controllers, and an empty v2 tree."""
    v1(tree, path="/")
    tree.mount("cgroup2", "/sys/fs/cgroup/unified")
    tree.member("", "/", number=0)
    quota(tree, "/", 40000)
    tree.write("/sys/fs/cgroup/unified", "/", "cpu.max", "max 100000")
    assert tree.read().cpu_limit() == pytest.approx(0.4)


def test_a_mount_point_with_a_space(tree):
    tree.mount("cgroup2", "/cgroup fs")
    tree.member("", "/a", number=0)
    tree.write("/cgroup fs", "/a", "cpu.max", "25000 100000")
    assert tree.read().cpu_limit() == pytest.approx(0.25)


# -- nothing to read -----------------------------------------------------------------------

def test_no_cgroup_files_means_no_limits(tmp_path):
    cgroup = Cgroup(str(tmp_path / "no-such-proc"))
    assert (cgroup.cpu_limit(), cgroup.memory_limit(), cgroup.memory_usage()) == (None, None, None)


def test_mounted_but_without_the_files_means_no_limits(tree):
    v2(tree)
    v1(tree)
    cgroup = tree.read()
    assert (cgroup.cpu_limit(), cgroup.memory_limit(), cgroup.memory_usage()) == (None, None, None)


def test_garbage_in_the_files_means_no_limit(tree):
    v2(tree)
    tree.write("/sys/fs/cgroup", "/kubepods/pod1/ctr", "cpu.max", "lots 100000")
    tree.write("/sys/fs/cgroup", "/kubepods/pod1/ctr", "memory.max", "\xff\xfe")
    cgroup = tree.read()
    assert cgroup.cpu_limit() is None and cgroup.memory_limit() is None


def test_this_process(tmp_path):
    """Whatever this machine is, reading its own cgroup does not fail."""
    from fastmock import cgroup

    assert cgroup.this() is cgroup.this()
    limit = cgroup.cpu_limit()
    assert limit is None or limit > 0


# -- the charge (fastmock.admission, /metrics) ------------------------------------------------

MIB = 1 << 20
V1_STAT = ("cache 3145728\nrss 12582912\nshmem 16384\nactive_file 1048576\ninactive_file 2097152\n"
           "total_cache 3145728\ntotal_rss 12582912\ntotal_active_file 1048576\n"
           "total_inactive_file 2097152\n")
V2_STAT = "anon 12582912\nfile 3145728\nshmem 16384\nactive_file 1048576\ninactive_file 2097152\n"


def test_v1_charge_is_usage_less_the_file_pages_read_from_open_files(tree):
    v1(tree)
    tree.write("/sys/fs/cgroup/memory", "/docker/abc", "memory.limit_in_bytes", str(20 * MIB))
    tree.write("/sys/fs/cgroup/memory", "/docker/abc", "memory.usage_in_bytes", str(16 * MIB))
    tree.write("/sys/fs/cgroup/memory", "/docker/abc", "memory.stat", V1_STAT)
    charge = tree.read().memory_charge()
    assert charge.limit == 20 * MIB
    assert charge.charge() == 16 * MIB - 3 * MIB        # usage - active_file - inactive_file
    tree.write("/sys/fs/cgroup/memory", "/docker/abc", "memory.usage_in_bytes", str(18 * MIB))
    assert charge.charge() == 15 * MIB                   # read again, from the same open files
    charge.close()


def test_v2_charge_with_the_tightest_limit_on_the_way_up(tree):
    v2(tree)
    tree.write("/sys/fs/cgroup", "/kubepods/pod1", "memory.max", str(32 * MIB))
    tree.write("/sys/fs/cgroup", "/kubepods/pod1/ctr", "memory.max", "max")
    tree.write("/sys/fs/cgroup", "/kubepods/pod1/ctr", "memory.current", str(16 * MIB))
    tree.write("/sys/fs/cgroup", "/kubepods/pod1/ctr", "memory.stat", V2_STAT)
    charge = tree.read().memory_charge()
    assert (charge.limit, charge.charge()) == (32 * MIB, 13 * MIB)
    charge.close()


def test_no_limit_means_no_charge_to_watch(tree):
    v2(tree)
    tree.write("/sys/fs/cgroup", "/kubepods/pod1/ctr", "memory.max", "max")
    tree.write("/sys/fs/cgroup", "/kubepods/pod1/ctr", "memory.current", str(16 * MIB))
    assert tree.read().memory_charge() is None


def test_a_limit_above_the_machine_is_no_limit(tree):
    import os
    machine = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    v2(tree).write("/sys/fs/cgroup", "/kubepods/pod1/ctr", "memory.max", str(machine + 4096))
    assert tree.read().memory_limit() is None
