/**
 * The daemon process itself: one per run dir, answers the control protocol,
 * serves TCP when asked, and leaves nothing behind on SIGINT.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import * as net from "node:net";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { makeEnv, repoRoot } from "../helpers/env.ts";
import { request } from "../../src/cli/daemon-client.ts";

const env = makeEnv();
after(() => env.cleanup());
const run = env.vars.ULVM_RUN_DIR!;
const environment = { systemDir: env.vars.ULVM_SYSTEM_DIR!, runDir: run, devDir: env.vars.ULVM_DEV_DIR! };

test("one daemon per run dir; status, TCP listener, SIGINT shutdown", async () => {
  assert.equal(await request(environment, { op: "status" }), undefined, "no daemon yet");
  const daemon = spawn(join(repoRoot, "bin", "ulvm"), ["daemon", "--listen", "127.0.0.1:0"], { env: { ...process.env, ...env.vars }, stdio: ["ignore", "ignore", "pipe"] });
  const log: string[] = [];
  daemon.stderr.on("data", (d) => log.push(String(d)));
  const exited = new Promise<number | null>((r) => daemon.once("exit", (code) => r(code)));
  try {
    let status;
    for (let i = 0; i < 200 && !(status = await request(environment, { op: "status" })); i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(status, { ok: true, active: [], pid: daemon.pid });
    assert.equal(Number(readFileSync(join(run, "ulvmd.pid"), "utf8")), daemon.pid);

    const second = env.ulvm(["daemon"]);
    assert.deepEqual([second.code, second.stderr], [5, `  ulvm daemon is already running (pid ${daemon.pid}).\n`]);

    const ready = log.join("").split("\n").map((l) => (l ? JSON.parse(l) : {})).find((l) => l.msg === "ulvm daemon ready");
    assert.equal(ready?.tcp?.address, "127.0.0.1");
    const list = execFileSync("nbdinfo", ["--list", `nbd://127.0.0.1:${ready.tcp.port}`], { encoding: "utf8" });
    assert.doesNotMatch(list, /export=/, "nothing active, nothing exported");
    const bad = await new Promise<string>((resolve) => {
      const s = net.createConnection(join(run, "ulvmd.sock"));
      s.setEncoding("utf8");
      s.on("data", (d: string) => (resolve(d), s.destroy()));
      s.write("not json\n");
    });
    assert.deepEqual(JSON.parse(bad), { ok: false, error: ["Invalid request to the ulvm daemon."] });
  } finally {
    daemon.kill("SIGINT");
  }
  assert.equal(await exited, 0);
  for (const f of ["ulvmd.pid", "ulvmd.sock", "nbd.sock", "nbd-node.sock"]) assert.equal(existsSync(join(run, f)), false, f);
});
