/**
 * $ULVM_DEV_DIR/VG/LV for an active LV. With the nbd kernel module and
 * nbd-client, the link goes to a kernel NBD device; without it (FUSE only), to
 * a loop device over an nbdfuse file of the export. Where neither works the LV
 * is still served over NBD and the caller prints the reason as a warning.
 */
import { nodeChildProcess } from "../io/lazy-builtins.ts";
import { existsSync, openSync, closeSync, constants } from "node:fs";
import { mkdir, readdir, readFile, readlink, rm, rmdir, stat, symlink, unlink } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { splitDevT } from "../io/file-device.ts";

let execFileAsync: ((file: string, args: string[]) => Promise<{ stdout: string; stderr: string }>) | undefined;
const run = (file: string, args: string[]) => (execFileAsync ??= promisify(nodeChildProcess().execFile))(file, args);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface NodePlaces {
  devDir: string;
  runDir: string;
  /** The NBD socket device nodes connect to. */
  socket: string;
}

export interface DeviceNode {
  link: string;
  /** The block device the link points to. */
  device: string;
  kind: "nbd" | "loop";
  /** nbdfuse's mount point (loop kind). */
  mount?: string;
}

export type NodeResult = { node: DeviceNode } | { warning: string };

const linkPath = (p: NodePlaces, vg: string, lv: string) => join(p.devDir, vg, lv);
const mountPath = (p: NodePlaces, vg: string, lv: string) => join(p.runDir, "fuse", vg, lv);

async function has(program: string): Promise<boolean> {
  return run("sh", ["-c", `command -v ${program}`]).then(
    () => true,
    () => false,
  );
}

async function nbdModule(): Promise<boolean> {
  if (existsSync("/sys/module/nbd")) return true;
  return run("modprobe", ["nbd"]).then(
    () => true,
    () => false,
  );
}

export async function createNode(p: NodePlaces, vg: string, lv: string): Promise<NodeResult> {
  await removeStaleNode(p, vg, lv);
  let device: DeviceNode;
  try {
    if ((await nbdModule()) && (await has("nbd-client"))) device = await kernelNbd(p, vg, lv);
    else if (existsSync("/dev/fuse") && (await has("nbdfuse")) && (await has("losetup"))) device = await loopOverFuse(p, vg, lv);
    else return { warning: `WARNING: No device node for ${vg}/${lv} (neither the nbd module with nbd-client nor nbdfuse with FUSE is available); it is served over NBD as ${vg}/${lv}.` };
  } catch (e) {
    return { warning: `WARNING: No device node for ${vg}/${lv}: ${(e as Error).message.split("\n")[0]}; it is served over NBD as ${vg}/${lv}.` };
  }
  try {
    await mkdir(join(p.devDir, vg), { recursive: true });
    await symlink(device.device, device.link);
  } catch (e) {
    await removeNode(device);
    return { warning: `WARNING: Cannot create ${device.link}: ${(e as Error).message}` };
  }
  return { node: device };
}

async function kernelNbd(p: NodePlaces, vg: string, lv: string): Promise<DeviceNode> {
  // A device with no pid file has no client attached.
  const free = (await readdir("/sys/block").catch(() => [] as string[])).filter((d) => /^nbd\d+$/.test(d) && !existsSync(`/sys/block/${d}/pid`));
  for (const name of free) {
    const device = `/dev/${name}`;
    const ok = await run("nbd-client", ["-unix", p.socket, "-N", `${vg}/${lv}`, device]).then(
      () => true,
      () => false,
    );
    if (ok) return { link: linkPath(p, vg, lv), device, kind: "nbd" };
  }
  throw new Error("no free /dev/nbdN device");
}

async function loopOverFuse(p: NodePlaces, vg: string, lv: string): Promise<DeviceNode> {
  const mount = mountPath(p, vg, lv);
  await mkdir(mount, { recursive: true });
  const pidPath = `${mount}.pid`;
  await rm(pidPath, { force: true });
  const uri = `nbd+unix:///${encodeURI(`${vg}/${lv}`)}?socket=${encodeURIComponent(p.socket)}`;
  // Detached: nbdfuse lives until its mount is unmounted, not as long as the daemon.
  const child = nodeChildProcess().spawn("nbdfuse", ["-P", pidPath, join(mount, "nbd"), uri], { detached: true, stdio: "ignore" });
  child.unref();
  let exited = false;
  child.once("exit", () => (exited = true));
  for (let waited = 0; !existsSync(pidPath) || (await readFile(pidPath, "utf8")).trim() === ""; waited += 50) {
    if (exited || waited > 10_000) {
      child.kill();
      throw new Error("nbdfuse did not start");
    }
    await sleep(50);
  }
  const file = join(mount, "nbd");
  try {
    const { stdout } = await run("losetup", ["-f", "--show", "--direct-io=off", file]);
    return { link: linkPath(p, vg, lv), device: stdout.trim(), kind: "loop", mount };
  } catch (e) {
    await unmountFuse(mount);
    throw e;
  }
}

async function unmountFuse(mount: string): Promise<void> {
  const pidPath = `${mount}.pid`;
  const pid = Number((await readFile(pidPath, "utf8").catch(() => "")).trim());
  await run("umount", [mount]).catch(() => run("umount", ["-l", mount]).catch(() => {}));
  // nbdfuse exits on its own once unmounted; wait so its connection is gone when we return.
  for (let i = 0; pid > 0 && i < 100 && alive(pid); i++) await sleep(50);
  await rm(pidPath, { force: true });
  await rmdir(mount).catch(() => {});
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function removeNode(node: DeviceNode): Promise<void> {
  if ((await readlink(node.link).catch(() => undefined)) === node.device) await unlink(node.link);
  if (node.kind === "nbd") await run("nbd-client", ["-d", node.device]).catch(() => {});
  else {
    await run("losetup", ["-d", node.device]).catch(() => {});
    if (node.mount) await unmountFuse(node.mount);
  }
}

/** A node left by a daemon that was killed: its loop device and mount are dead weight. */
async function removeStaleNode(p: NodePlaces, vg: string, lv: string): Promise<void> {
  const link = linkPath(p, vg, lv);
  const device = await readlink(link).catch(() => undefined);
  const mount = mountPath(p, vg, lv);
  if (device !== undefined) await removeNode({ link, device, kind: device.startsWith("/dev/nbd") ? "nbd" : "loop", mount });
  else if (existsSync(`${mount}.pid`)) await unmountFuse(mount);
}

/**
 * Why the node's device cannot go away: lvm's lv_check_not_in_use tells a
 * mounted filesystem from any other holder.
 */
export async function nodeHolder(node: DeviceNode): Promise<"filesystem" | "open" | undefined> {
  try {
    // O_EXCL on a block device fails with EBUSY while a mount or another exclusive opener holds it.
    closeSync(openSync(node.device, constants.O_RDONLY | constants.O_EXCL));
    return undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EBUSY") return undefined;
  }
  const { major, minor } = splitDevT((await stat(node.device, { bigint: true })).rdev);
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
  const mounted = mountinfo.split("\n").some((line) => line.split(" ")[2] === `${major}:${minor}`);
  return mounted ? "filesystem" : "open";
}

/** Bytes of the node's block device as the kernel sees it. */
export async function nodeSize(node: DeviceNode): Promise<number> {
  const name = node.device.split("/").pop()!;
  return Number((await readFile(`/sys/class/block/${name}/size`, "utf8")).trim()) * 512;
}
