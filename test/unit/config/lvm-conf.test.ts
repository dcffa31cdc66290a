import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readLvmConf } from "../../../src/config/lvm-conf.ts";
import { LvmError } from "../../../src/core/errors.ts";

test("lvm.conf settings are read by their path, with the default when the file or the key is absent", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lvmconf-"));
  try {
    assert.equal((await readLvmConf(dir)).string("activation/raid_fault_policy", "warn"), "warn");
    writeFileSync(join(dir, "lvm.conf"), 'global { units = "h" }\nactivation {\n\traid_fault_policy = "allocate"\n}\n');
    const conf = await readLvmConf(dir);
    assert.equal(conf.string("activation/raid_fault_policy", "warn"), "allocate");
    assert.equal(conf.string("activation/mirror_image_fault_policy", "remove"), "remove");
    assert.equal(conf.string("nosuch/raid_fault_policy", "warn"), "warn");
    writeFileSync(join(dir, "lvm.conf"), "activation {\n");
    await assert.rejects(readLvmConf(dir), (e: unknown) => e instanceof LvmError && /Failed to load config file .*lvm\.conf/.test(String(e.lines)));
  } finally {
    rmSync(dir, { recursive: true });
  }
});
