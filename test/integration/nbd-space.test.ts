/**
 * TRIM and WRITE_ZEROES from a real NBD client (libnbd's nbdsh) through an LV
 * export down to PV files wrapped with withSpaceOps: a trim punches a hole in
 * the PV file, a zeroing keeps it allocated, and FAST_ZERO is refused where the
 * filesystem cannot zero without writing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileLv } from "../../src/datapath/mapping.ts";
import { LvDevice } from "../../src/datapath/lv-device.ts";
import { lvExport } from "../../src/daemon/lv-export.ts";
import { openBlockDevice } from "../../src/io/file-device.ts";
import { withSpaceOps } from "../../src/io/space-device.ts";
import { linearSegment, makeLv, makePv, makeVg } from "../helpers/model-builders.ts";
import { readBytes } from "../helpers/device-bytes.ts";
import { runAsync } from "../helpers/runs.ts";
import { startServer } from "../unit/nbd/helpers.ts";
import { NBDSH_EXPECT } from "../helpers/nbdsh.ts";

const MiB = 1 << 20;
const EXTENTS = 16;
/** pe_start and the extent size are both 1 MiB. */
const PV_SIZE = (EXTENTS + 1) * MiB;
const FILL = 0xa5;

// nbdsh runs "python3", which must be the system one that has the nbd module.
const clientEnv = { ...process.env, PATH: `/usr/bin:${process.env.PATH}` };

/** An LV of the whole of one PV file, served over NBD as `name`. */
async function served(dir: string, name: string) {
  const path = join(dir, `${name.replace("/", "-")}.img`);
  writeFileSync(path, Buffer.alloc(PV_SIZE, FILL));
  const vg = makeVg({ extentSize: 2048, pvs: [makePv("pv0", EXTENTS)], lvs: [makeLv("lv", [linearSegment(0, EXTENTS, "pv0", 0)])] });
  const pv = await withSpaceOps(await openBlockDevice(path, { writable: true }));
  const lv = new LvDevice(name, compileLv(vg, "lv"), new Map([["pv0", pv]]));
  return { path, pv, lv, exp: lvExport(name, lv) };
}

const allocated = (path: string) => statSync(path).blocks * 512;
const uniform = (path: string, from: number, to: number, byte: number) => readBytes(path, from, to - from).equals(Buffer.alloc(to - from, byte));

async function nbdsh(uri: string, script: string): Promise<void> {
  const r = await runAsync("nbdsh", ["-u", uri, "-c", script], clientEnv);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /all passed/);
}


test("a trim from nbdsh punches a hole in the PV file; a FAST_ZERO zeroing reads back zeroes and keeps the file allocated", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ulvm-nbd-space-"));
  const fast = await served(dir, "vg0/fast");
  const t = await startServer([fast.exp]);
  try {
    assert.equal(fast.lv.canZeroFast, true);
    const before = allocated(fast.path);
    await nbdsh(
      t.uri("vg0/fast"),
      `
assert h.can_trim() and h.can_zero() and h.can_fast_zero()
h.trim(${4 * MiB}, 0, nbd.CMD_FLAG_FUA)
h.zero(${8 * MiB}, ${4 * MiB + 100}, nbd.CMD_FLAG_FAST_ZERO | nbd.CMD_FLAG_NO_HOLE)
assert h.pread(${8 * MiB}, ${4 * MiB + 100}) == bytes(${8 * MiB})
assert h.pread(100, ${4 * MiB}) == b"\\xa5" * 100
print("all passed")
`,
    );
    const freed = before - allocated(fast.path);
    // LV byte x is PV byte x + 1 MiB. The filesystem may take a block or so for the extents the hole splits.
    assert.ok(freed > 4 * MiB - 64 * 1024 && freed < 5 * MiB, `the trim freed ${freed} bytes; the zeroing must free none`);
    assert.ok(uniform(fast.path, 0, MiB, FILL));
    assert.ok(uniform(fast.path, 5 * MiB, 5 * MiB + 100, FILL));
    assert.ok(uniform(fast.path, 5 * MiB + 100, 13 * MiB + 100, 0));
    assert.ok(uniform(fast.path, 13 * MiB + 100, PV_SIZE, FILL));
  } finally {
    await t.stop();
    await fast.lv.close();
    await fast.pv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("on tmpfs (no zero-range) FAST_ZERO is refused untouched, a plain zeroing writes zeroes, and a trim still punches", async () => {
  const dir = mkdtempSync(join("/dev/shm", "ulvm-nbd-space-"));
  const shm = await served(dir, "vg1/shm");
  const t = await startServer([shm.exp]);
  try {
    assert.equal(shm.lv.canZeroFast, false);
    const before = allocated(shm.path);
    await nbdsh(
      t.uri("vg1/shm"),
      `${NBDSH_EXPECT}
expect("ENOTSUP", h.zero, ${4 * MiB}, 0, nbd.CMD_FLAG_FAST_ZERO)
assert h.pread(${MiB}, 0) == b"\\xa5" * ${MiB}
h.zero(${MiB}, ${3 * MiB})
h.trim(${8 * MiB}, ${4 * MiB})
print("all passed")
`,
    );
    assert.ok(uniform(shm.path, MiB, 2 * MiB, FILL), "the refused FAST_ZERO changed nothing");
    assert.ok(uniform(shm.path, 4 * MiB, 5 * MiB, 0));
    assert.ok(before - allocated(shm.path) >= 8 * MiB, "tmpfs punched the trimmed range");
  } finally {
    await t.stop();
    await shm.lv.close();
    await shm.pv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
