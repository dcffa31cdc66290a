import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { archiveFileName, archiveVg, listArchives, parseArchiveName, removeBackup, writeBackup } from "../../../src/metadata/archive.ts";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "ulvm-archive-"));
}

const NOW = 1796071451;
const DAY = 86400;

test("archive names are <vg>_<5-digit index>-<random>.vg and split at the last underscore", () => {
  assert.equal(archiveFileName("vg0", 7, 1234567), "vg0_00007-1234567.vg");
  assert.deepEqual(parseArchiveName("vg0_00007-1234567.vg"), { vgName: "vg0", index: 7 });
  assert.deepEqual(parseArchiveName("my_vg_00012-5.vg"), { vgName: "my_vg", index: 12 });
  assert.deepEqual(parseArchiveName("vg_123456-1.vg"), { vgName: "vg", index: 123456 });
  assert.equal(parseArchiveName("vg0_00007-1.vg.tmp"), undefined);
  assert.equal(parseArchiveName("vg0-00007.vg"), undefined);
  assert.equal(parseArchiveName("vg0_x.vg"), undefined);
  fc.assert(
    fc.property(fc.stringMatching(/^[A-Za-z0-9+_.-]{1,20}$/), fc.nat(999999), fc.nat(), (vg, index, random) => {
      assert.deepEqual(parseArchiveName(archiveFileName(vg, index, random)), { vgName: vg, index });
    }),
  );
});

test("each archive takes the next index after the VG's highest, other VGs' files aside", async () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, "vg0_00041-9.vg"), "x");
    writeFileSync(join(dir, "vg0x_00090-9.vg"), "x");
    const path = await archiveVg(dir, "vg0", "text one", { nowSeconds: NOW, random: 77 });
    assert.equal(path, join(dir, "vg0_00042-77.vg"));
    assert.equal(readFileSync(path, "utf8"), "text one");
    const other = await archiveVg(dir, "fresh", "t", { nowSeconds: NOW, random: 5 });
    assert.equal(other, join(dir, "fresh_00000-5.vg"));
    assert.deepEqual((await listArchives(dir, "vg0")).map((a) => a.index), [42, 41]);
    assert.deepEqual(await listArchives(join(dir, "none"), "vg0"), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("expiry keeps retain_min archives and everything younger than retain_days, oldest expire first", async () => {
  const dir = tempDir();
  try {
    // 14 archives: the 6 oldest are 40 days old, the rest 1 day.
    for (let i = 0; i < 14; i++) {
      const p = join(dir, archiveFileName("vg", i, 1));
      writeFileSync(p, "x");
      const age = i < 6 ? 40 * DAY : DAY;
      utimesSync(p, NOW - age, NOW - age);
    }
    await archiveVg(dir, "vg", "new", { nowSeconds: NOW, random: 2, retention: { retainMin: 10, retainDays: 30 } });
    const left = readdirSync(dir).map((n) => parseArchiveName(n)!.index).sort((a, b) => a - b);
    // 15 archives, 5 over the minimum: the five oldest old ones go, index 5 (old too) stays at the minimum.
    assert.deepEqual(left, [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);

    await archiveVg(dir, "vg", "newer", { nowSeconds: NOW, random: 3, retention: { retainMin: 10, retainDays: 30 } });
    const after = readdirSync(dir).map((n) => parseArchiveName(n)!.index).sort((a, b) => a - b);
    assert.deepEqual(after, [6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("young archives are never expired, however many there are", async () => {
  const dir = tempDir();
  try {
    for (let i = 0; i < 12; i++) writeFileSync(join(dir, archiveFileName("vg", i, 1)), "x");
    await archiveVg(dir, "vg", "new", { nowSeconds: Math.floor(Date.now() / 1000), random: 2 });
    assert.equal(readdirSync(dir).length, 13);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the backup file is replaced atomically and removed with its VG", async () => {
  const dir = tempDir();
  try {
    const backup = join(dir, "backup");
    await writeBackup(backup, "vg0", "one");
    await writeBackup(backup, "vg0", "two");
    assert.equal(readFileSync(join(backup, "vg0"), "utf8"), "two");
    assert.deepEqual(readdirSync(backup), ["vg0"]);
    await removeBackup(backup, "vg0");
    await removeBackup(backup, "vg0");
    assert.equal(existsSync(join(backup, "vg0")), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
