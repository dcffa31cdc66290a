import { test } from "node:test";
import assert from "node:assert/strict";
import { skipDevDir, parseLvRef } from "../../../src/cli/resolve.ts";

test("VG and LV names are accepted with /dev/ or ULVM_DEV_DIR in front, as a guide types them", () => {
  assert.equal(skipDevDir("/dev/vg_data", "/tmp/x/dev"), "vg_data");
  assert.equal(skipDevDir("/tmp/x/dev/vg_data/", "/tmp/x/dev"), "vg_data");
  assert.equal(skipDevDir("vg_data", "/tmp/x/dev"), "vg_data");
  assert.equal(skipDevDir("/dev/mapper/vg--a-lv", "/dev"), "vg-a/lv");
  assert.deepEqual(parseLvRef("/dev/vg_data/lv_mirror", "/tmp/x/dev"), { vg: "vg_data", lv: "lv_mirror" });
  assert.deepEqual(parseLvRef("vg_data/lv_mirror_rimage_1"), { vg: "vg_data", lv: "lv_mirror_rimage_1" });
});
