import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  entryMatchesDevice,
  entryNotFoundWarning,
  formatDevicesFile,
  nextVersion,
  parseDevicesFile,
  readDevicesFile,
  resolveEntry,
  writeDevicesFile,
  type DevicesFile,
} from "../../../src/metadata/devices-file.ts";
import type { DeviceAccess } from "../../../src/io/device-access.ts";

/** Written by lvm2 2.03.16's `lvmdevices --adddev` for two loop devices. */
const REAL = `# LVM uses devices listed in this file.
# Created by LVM command lvmdevices pid 29837 at Mon Nov 30 21:00:05 2026
VERSION=1.1.2
IDTYPE=loop_file IDNAME=/tmp/uio/c.img DEVNAME=/dev/loop17 PVID=.
IDTYPE=loop_file IDNAME=/tmp/uio/a.img DEVNAME=/dev/loop15 PVID=PAyrjqEE7yEJoKu9knSwEJ0ZCFd8K62U
`;

const created = { command: "lvmdevices", pid: 29837, ctimeText: "Mon Nov 30 21:00:05 2026" };

test("lvm2's devices file parses and prints back byte for byte", () => {
  const file = parseDevicesFile(REAL);
  assert.equal(file.version, "1.1.2");
  assert.deepEqual(file.entries, [
    { idType: "loop_file", idName: "/tmp/uio/c.img", devName: "/dev/loop17", pvId: undefined },
    { idType: "loop_file", idName: "/tmp/uio/a.img", devName: "/dev/loop15", pvId: "PAyrjqEE7yEJoKu9knSwEJ0ZCFd8K62U" },
  ]);
  assert.equal(formatDevicesFile(file, "1.1.2", created), REAL);
});

test("SYSTEMID, PART and lines without IDTYPE/IDNAME are handled as LVM does", () => {
  const file = parseDevicesFile(
    "SYSTEMID=host1\nVERSION=1.1.9\nIDTYPE=sys_wwid IDNAME=naa.123 DEVNAME=/dev/sda1 PVID=abc PART=1\nDEVNAME=/dev/sdb PVID=x\nIDTYPE=devname DEVNAME=/dev/sdc\n",
  );
  assert.equal(file.systemId, "host1");
  assert.deepEqual(file.entries, [{ idType: "sys_wwid", idName: "naa.123", devName: "/dev/sda1", pvId: "abc", part: 1 }]);
  const text = formatDevicesFile(file, "1.1.10", created);
  assert.match(text, /^SYSTEMID=host1\nVERSION=1\.1\.10\nIDTYPE=sys_wwid IDNAME=naa\.123 DEVNAME=\/dev\/sda1 PVID=abc PART=1\n$/m);
});

test("every write bumps the counter of VERSION=1.1.N; unparsable or newer-major files are left alone", () => {
  assert.deepEqual(nextVersion(undefined), { version: "1.1.1" });
  assert.deepEqual(nextVersion("1.1.41"), { version: "1.1.42" });
  assert.deepEqual(nextVersion("1.0.7"), { version: "1.1.8" });
  assert.deepEqual(nextVersion("junk"), { refuse: "WARNING: not updating devices file with unparsed version." });
  assert.deepEqual(nextVersion("2.0.1"), { refuse: "WARNING: not updating devices file with larger major version." });
});

const idChars = fc.stringMatching(/^[A-Za-z0-9/_.-]{1,20}$/).filter((s) => s !== ".");

test("property: format then parse gives back the entries", () => {
  const entry = fc.record({
    idType: fc.constantFrom("devname", "loop_file", "sys_wwid"),
    idName: idChars,
    devName: idChars.map((s) => `/dev/${s}`),
    pvId: fc.option(fc.stringMatching(/^[A-Za-z0-9]{32}$/), { nil: undefined }),
    part: fc.option(fc.integer({ min: 1, max: 9 }), { nil: undefined }),
  });
  fc.assert(
    fc.property(fc.array(entry, { maxLength: 6 }), (entries) => {
      const file: DevicesFile = { entries: entries.map(({ part, ...e }) => (part ? { ...e, part } : e)) };
      const back = parseDevicesFile(formatDevicesFile(file, "1.1.3", created));
      assert.equal(back.version, "1.1.3");
      assert.deepEqual(back.entries, file.entries);
    }),
  );
});

function fakeAccess(devices: Record<string, { idType: string; idName: string }>, loops: Record<string, string> = {}): DeviceAccess {
  return {
    open: async () => {
      throw new Error("unused");
    },
    canonical: (p) => (p in devices ? p : undefined),
    deviceId: async (p) => devices[p]!,
    loopForBackingFile: async (file) => loops[file],
    listDevices: async () => Object.keys(devices),
  };
}

test("a loop_file entry follows its backing file when the loop device was renumbered", async () => {
  const access = fakeAccess(
    { "/dev/loop3": { idType: "loop_file", idName: "/img/b" }, "/dev/loop7": { idType: "loop_file", idName: "/img/a" } },
    { "/img/a": "/dev/loop7", "/img/b": "/dev/loop3" },
  );
  const entry = { idType: "loop_file", idName: "/img/a", devName: "/dev/loop3" };
  assert.equal(await resolveEntry(access, entry), "/dev/loop7");
  assert.equal(await resolveEntry(access, { ...entry, devName: "/dev/loop7" }), "/dev/loop7");
  assert.equal(await resolveEntry(access, { ...entry, idName: "/img/gone" }), undefined);
  assert.equal(await entryMatchesDevice(access, entry, "/dev/loop7"), true);
  assert.equal(await entryMatchesDevice(access, entry, "/dev/loop3"), true, "by its DEVNAME");
  assert.equal(await entryMatchesDevice(access, { ...entry, devName: undefined }, "/dev/loop3"), false);
});

test("devname entries resolve by name", async () => {
  const access = fakeAccess({ "/img/x": { idType: "devname", idName: "/img/x" } });
  assert.equal(await resolveEntry(access, { idType: "devname", idName: "/img/x", devName: "/img/x" }), "/img/x");
  assert.equal(await resolveEntry(access, { idType: "devname", idName: "/img/x" }), "/img/x");
  assert.equal(await resolveEntry(access, { idType: "devname", idName: "/img/y", devName: "/img/y" }), undefined);
});

test("entries whose device is gone get LVM's warnings", () => {
  assert.equal(
    entryNotFoundWarning({ idType: "devname", idName: "/dev/sdz", devName: "/dev/sdz", pvId: "P" }),
    "Devices file PVID P last seen on /dev/sdz not found.",
  );
  assert.equal(entryNotFoundWarning({ idType: "devname", idName: "/dev/sdz" }), "Devices file PVID none not found.");
  assert.equal(
    entryNotFoundWarning({ idType: "loop_file", idName: "/img/a", devName: "/dev/loop1", pvId: "P" }),
    "Devices file loop_file /img/a PVID P last seen on /dev/loop1 not found.",
  );
  assert.equal(entryNotFoundWarning({ idType: "sys_wwid", idName: "w" }), "Devices file sys_wwid w PVID none not found.");
});

test("the file is replaced whole through <file>_new, and a missing file reads as none", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ulvm-df-"));
  try {
    const path = join(dir, "devices", "system.devices");
    assert.equal(await readDevicesFile(path), undefined);
    await writeDevicesFile(path, REAL);
    assert.equal(readFileSync(path, "utf8"), REAL);
    assert.equal(existsSync(`${path}_new`), false);
    assert.equal((await readDevicesFile(path))?.entries.length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
