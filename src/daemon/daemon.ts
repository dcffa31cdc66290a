/**
 * The ulvm daemon: holds the active LVs, serves them over NBD (export names
 * VG/LV) and answers commands on a control socket. It reads metadata but never
 * writes it; commands commit and then tell it what changed. Requests that
 * change state run one at a time.
 */
import { nodeChildProcess, nodeNet, nodeReadline } from "../io/lazy-builtins.ts";
import { readLvmConf } from "../config/lvm-conf.ts";
import type { Server, Socket } from "node:net";
import { mkdir, open, readFile, unlink } from "node:fs/promises";
import { LvmError } from "../core/errors.ts";
import { findLv } from "../core/model/relations.ts";
import type { LvMap } from "../datapath/mapping.ts";
import { LvDevice } from "../datapath/lv-device.ts";
import type { ExtendedDevice } from "../io/discard.ts";
import { openBlockDevice } from "../io/file-device.ts";
import { withSpaceOps } from "../io/space-device.ts";
import { watchBacking } from "../io/watched-device.ts";
import { openSession } from "../metadata/open-session.ts";
import type { LoadedVg } from "../metadata/session.ts";
import { ExportMap } from "../nbd/export.ts";
import { NbdServer } from "../nbd/server.ts";
import type { NbdTls } from "../nbd/tls.ts";
import { createNode, nodeHolder, nodeSize, removeNode, type DeviceNode, type NodePlaces } from "./device-node.ts";
import { LvAccess, lvExport, servableMap } from "./lv-export.ts";
import { openImageTracker, openRaidArrays, pvIdsOf, raidSignature, retuneRaidArrays, splitImageOf } from "./raid-lv.ts";
import type { Raid1Array } from "../raid/raid1.ts";
import type { VolumeGroup } from "../core/model/types.ts";
import { readState, writeState, type ActiveEntry } from "./state.ts";
import {
  controlSocket,
  exportName,
  nbdSocket,
  nodeSocket,
  pidFile,
  stateFile,
  type LvStatus,
  type Reply,
  type Request,
  type ScanScope,
} from "./protocol.ts";

/** The part of pino's logger the daemon uses. */
export interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface DaemonOptions {
  systemDir: string;
  runDir: string;
  devDir: string;
  tcp?: { host: string; port: number };
  /** For the public NBD socket and TCP; the device-node socket stays plain: only the daemon's own nbd-client or nbdfuse use it. */
  tls?: NbdTls;
  log: Log;
}

interface ActiveLv {
  vg: string;
  lv: string;
  /** Follows the LV across lvrename. */
  lvId: string;
  device: LvDevice;
  /** The export's permission, from the LV's metadata. */
  access: LvAccess;
  scope: ScanScope;
  node?: DeviceNode;
  /** The raid engine under each raid1 segment of the LV, by the map's mirror slot. */
  arrays: Raid1Array[];
  /** raidSignature of each, to tell a change of layout from one the map swap alone handles. */
  signatures: string[];
}

/** The PVs of a VG with active LVs, opened once and shared by its LVs. */
interface VgHandle {
  pvs: Map<string, ExtendedDevice>;
  /** The same PVs opened O_DSYNC, for the raid metadata: durable per write without flushing the data. */
  durable: Map<string, ExtendedDevice>;
  lvs: Map<string, ActiveLv>;
}

/** A killed daemon stays a zombie until reaped, which a container's init may take its time over. */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return stat !== "" && !/^\d+ \(.*\) [ZX]/s.test(stat);
}

/** Only one daemon per run dir: the pid file is created exclusively, and taken over only from a dead daemon. */
async function takePidFile(path: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, "wx", 0o644);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw e;
    }
    const pid = Number((await readFile(path, "utf8").catch(() => "")).trim());
    if (pid > 0 && (await alive(pid))) throw new LvmError(`ulvm daemon is already running (pid ${pid}).`);
    await unlink(path).catch(() => {});
  }
}

export class Daemon {
  private readonly exports = new ExportMap();
  private readonly nbd: NbdServer;
  private readonly nodeNbd: NbdServer;
  private readonly control: Server;
  private readonly vgs = new Map<string, VgHandle>();
  private readonly places: NodePlaces;
  private queue: Promise<unknown> = Promise.resolve();
  private stopping?: Promise<void>;
  private readonly clients = new Set<Socket>();
  /** raid LVs (vg/lv) with a repair of raid_fault_policy running. */
  private readonly repairing = new Set<string>();
  readonly stopped: Promise<void>;
  private resolveStopped!: () => void;

  private constructor(private readonly opts: DaemonOptions) {
    const onEvent = (event: object) => opts.log.info(event, "nbd");
    this.nbd = new NbdServer({ registry: this.exports, socketPath: nbdSocket(opts.runDir), tcp: opts.tcp, tls: opts.tls, onEvent });
    this.nodeNbd = new NbdServer({ registry: this.exports, socketPath: nodeSocket(opts.runDir), onEvent });
    this.control = nodeNet().createServer((socket) => this.serve(socket));
    this.places = { devDir: opts.devDir, runDir: opts.runDir, socket: nodeSocket(opts.runDir) };
    this.stopped = new Promise((r) => (this.resolveStopped = r));
  }

  static async start(opts: DaemonOptions): Promise<Daemon> {
    await mkdir(opts.runDir, { recursive: true, mode: 0o700 });
    await takePidFile(pidFile(opts.runDir));
    const d = new Daemon(opts);
    try {
      await d.nbd.listen();
      await d.nodeNbd.listen();
      for (const entry of await readState(stateFile(opts.runDir)).catch((e) => {
        opts.log.error({ err: String(e) }, "state file unreadable; starting with nothing active");
        return [] as ActiveEntry[];
      })) {
        const r = await d.activate(entry.vg, [entry.lv], entry.scope);
        if (!r.ok) opts.log.error({ vg: entry.vg, lv: entry.lv, error: r.error }, "re-activation failed");
      }
      await d.saveState();
      await unlink(controlSocket(opts.runDir)).catch(() => {});
      await new Promise<void>((resolve, reject) => {
        d.control.once("error", reject);
        d.control.listen(controlSocket(opts.runDir), () => resolve());
      });
    } catch (e) {
      await d.stop();
      throw e;
    }
    opts.log.info({ pid: process.pid, runDir: opts.runDir, tcp: d.nbd.tcpAddress, tls: opts.tls?.mode ?? "off" }, "ulvm daemon ready");
    return d;
  }

  /** Stops accepting, drains in-flight I/O, flushes and closes every device. Active LVs stay in the state file. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    const { log, runDir } = this.opts;
    log.info({}, "shutting down");
    this.control.close();
    await this.queue.catch(() => {});
    for (const vg of this.vgs.values())
      for (const a of vg.lvs.values()) {
        if (!a.node) continue;
        // A mounted node is left in place: detaching it under a filesystem would lose its dirty pages.
        if (await nodeHolder(a.node)) log.warn({ node: a.node.link }, "device node in use; left in place");
        else await removeNode(a.node);
      }
    await Promise.all([this.nbd.close(), this.nodeNbd.close()]);
    for (const vg of this.vgs.values()) {
      for (const a of vg.lvs.values()) {
        await a.device.flush().catch((e) => log.error({ lv: `${a.vg}/${a.lv}`, err: String(e) }, "flush failed"));
        await a.device.close();
        await this.closeArrays(a);
      }
      await Promise.all([...vg.pvs.values(), ...vg.durable.values()].map((d) => d.close().catch(() => {})));
    }
    this.vgs.clear();
    for (const c of this.clients) c.destroy();
    await unlink(controlSocket(runDir)).catch(() => {});
    await unlink(pidFile(runDir)).catch(() => {});
    log.info({}, "stopped");
    this.resolveStopped();
  }

  private serve(socket: Socket): void {
    this.clients.add(socket);
    socket.on("close", () => this.clients.delete(socket));
    socket.on("error", () => {});
    const lines = nodeReadline().createInterface({ input: socket });
    lines.on("line", (line) => {
      const reply = this.handle(line);
      // Replies go in request order: each waits for the one before it.
      this.queue = this.queue.then(async () => {
        const r = await reply;
        if (!socket.destroyed) socket.write(`${JSON.stringify(r)}\n`);
      });
    });
  }

  private async handle(line: string): Promise<Reply> {
    let req: Request;
    try {
      req = JSON.parse(line) as Request;
    } catch {
      return { ok: false, error: ["Invalid request to the ulvm daemon."] };
    }
    await this.queue.catch(() => {});
    this.opts.log.info({ req }, "request");
    try {
      switch (req.op) {
        case "activate":
          return await this.activate(req.vg, req.lvs, req.scope).finally(() => this.saveState());
        case "deactivate":
          return await this.deactivate(req.vg, req.lvs).finally(() => this.saveState());
        case "refresh":
          return await this.refresh(req.vg, req.scope);
        case "syncaction":
          return this.raidOf(req.vg, req.lv, (array) => array.requestScrub(req.action));
        case "rebuild":
          return this.rebuild(req.vg, req.lv, req.images);
        case "status":
          return { ok: true, active: await this.status(), pid: process.pid };
        case "shutdown":
          setImmediate(() => void this.stop());
          return { ok: true };
        default:
          return { ok: false, error: [`Unknown request to the ulvm daemon.`] };
      }
    } catch (e) {
      this.opts.log.error({ err: String((e as Error)?.stack ?? e) }, "request failed");
      return { ok: false, error: e instanceof LvmError ? e.lines : [(e as Error).message] };
    }
  }

  private async readVg(vg: string, scope: ScanScope, warnings: string[]): Promise<LoadedVg> {
    const session = await openSession({
      systemDir: this.opts.systemDir,
      runDir: this.opts.runDir,
      devices: scope.devices,
      devicesFile: scope.devicesFile,
      commandLine: "ulvm daemon",
      warn: (w) => warnings.push(w),
    });
    try {
      const loaded = session.readVg(vg);
      if (!loaded) throw new LvmError([`Volume group "${vg}" not found`, `Cannot process volume group ${vg}`]);
      return loaded;
    } finally {
      await session.close();
    }
  }

  /**
   * Opens the PVs a map reaches. A raid1 LV may go on without some (its legs
   * there are failed, as lvm's degraded activation maps them to error targets);
   * anything else needs all of them.
   */
  private async openPvs(handle: VgHandle, loaded: LoadedVg, map: LvMap, lv: string, raid = map.mirrors.length > 0): Promise<void> {
    for (const id of pvIdsOf(map)) {
      const scanned = loaded.devices.get(id);
      if (!scanned) {
        if (raid) continue;
        throw new LvmError(`Refusing activation of partial LV ${loaded.vg.name}/${lv}.  Use '--activationmode partial' to override.`);
      }
      const open = async (durable: boolean) => watchBacking(await openBlockDevice(scanned.device, { writable: true, durable }));
      if (!handle.pvs.has(id)) handle.pvs.set(id, await withSpaceOps(await open(false)));
      if (raid && !handle.durable.has(id)) handle.durable.set(id, await open(true));
    }
  }

  private async openArrays(handle: VgHandle, vg: VolumeGroup, lv: string, map: LvMap): Promise<{ arrays: Raid1Array[]; signatures: string[] }> {
    const arrays = await openRaidArrays(vg, lv, map, handle.pvs, handle.durable, {
      log: this.opts.log,
      onLegFailed: (lvName, image) => void this.applyFaultPolicy(vg.name, lvName, image),
    });
    return { arrays, signatures: map.mirrors.map((m) => raidSignature(vg, m)) };
  }

  /**
   * What dmeventd does for a raid LV whose leg failed, by lvm.conf's activation/raid_fault_policy: "warn" logs
   * it, "allocate" runs `lvconvert --repair` to replace the leg from free space. One repair per LV at a time.
   */
  private async applyFaultPolicy(vg: string, lv: string, image: string): Promise<void> {
    const { log, systemDir, runDir, devDir } = this.opts;
    const policy = await readLvmConf(systemDir).then(
      (conf) => conf.string("activation/raid_fault_policy", "warn"),
      (e) => {
        log.error({ err: String(e) }, "lvm.conf unreadable; raid_fault_policy warn");
        return "warn";
      },
    );
    const name = `${vg}/${lv}`;
    if (policy !== "allocate" || this.repairing.has(name)) {
      log.warn({ lv: name, image, policy }, `Device ${image} of raid1 array ${name} has failed. Use 'lvconvert --repair ${name}' to replace it.`);
      return;
    }
    const scope = this.vgs.get(vg)?.lvs.get(lv)?.scope;
    const args = [...process.execArgv, process.argv[1]!, "lvconvert", "--repair", "-y", name];
    if (scope?.devices.length) args.push("--devices", scope.devices.join(","));
    if (scope?.devicesFile) args.push("--devicesfile", scope.devicesFile);
    this.repairing.add(name);
    log.warn({ lv: name, image, policy }, "raid_fault_policy allocate: repairing");
    const child = nodeChildProcess().spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ULVM_SYSTEM_DIR: systemDir, ULVM_RUN_DIR: runDir, ULVM_DEV_DIR: devDir },
    });
    let output = "";
    child.stdout!.on("data", (d) => (output += String(d)));
    child.stderr!.on("data", (d) => (output += String(d)));
    child.once("exit", (code) => {
      this.repairing.delete(name);
      (code === 0 ? log.info : log.error).call(log, { lv: name, code, output }, "lvconvert --repair finished");
    });
  }

  private async closeArrays(a: ActiveLv): Promise<void> {
    for (const array of a.arrays)
      await array.close().catch((e) => this.opts.log.error({ lv: `${a.vg}/${a.lv}`, err: String(e) }, "raid stop failed"));
    a.arrays = [];
  }

  private raidOf(vg: string, lv: string, fn: (array: Raid1Array) => void): Reply {
    const a = this.vgs.get(vg)?.lvs.get(lv);
    if (!a) return { ok: false, error: [`${vg}/${lv} must be active to perform this operation.`] };
    if (!a.arrays.length) return { ok: false, error: [`${vg}/${lv} is not a RAID logical volume.`] };
    a.arrays.forEach(fn);
    return { ok: true };
  }

  private async rebuild(vg: string, lv: string, images: string[]): Promise<Reply> {
    const a = this.vgs.get(vg)?.lvs.get(lv);
    if (!a?.arrays.length) return this.raidOf(vg, lv, () => {});
    a.device.map.mirrors.forEach((m, slot) => {
      const legs = m.images.flatMap((img, i) => (images.includes(img.name) ? [i] : []));
      void a.arrays[slot]?.rebuild(legs);
    });
    return { ok: true };
  }

  private async activate(vgName: string, lvs: string[], scope: ScanScope): Promise<Reply> {
    const warnings: string[] = [];
    const errors: string[] = [];
    const loaded = await this.readVg(vgName, scope, warnings);
    const handle = this.vgs.get(vgName) ?? { pvs: new Map(), durable: new Map(), lvs: new Map() };
    this.vgs.set(vgName, handle);
    for (const lv of lvs) {
      if (handle.lvs.has(lv)) continue;
      // Arrays of an LV whose activation fails halfway are stopped again.
      let opened: Raid1Array[] = [];
      try {
        const map = servableMap(loaded.vg, lv);
        await this.openPvs(handle, loaded, map, lv);
        const raid = await this.openArrays(handle, loaded.vg, lv, map);
        opened = raid.arrays;
        const split = splitImageOf(loaded.vg, lv);
        if (split) await this.openPvs(handle, loaded, split.meta, lv, true);
        const tracker = split && (await openImageTracker(split, handle.durable, 1));
        // The arrays are replaced when the LV's legs change; the device asks for the current ones.
        let active: ActiveLv | undefined;
        const device = new LvDevice(`${this.opts.devDir}/${vgName}/${lv}`, map, handle.pvs, {
          mirrorDevice: (t) => (active ?? raid).arrays[t.slot],
        });
        const access = new LvAccess(tracker !== undefined);
        const meta = findLv(loaded.vg, lv)!;
        access.follow(meta);
        this.exports.add(lvExport(exportName(vgName, lv), device, access, tracker));
        active = { vg: vgName, lv, lvId: meta.id, device, access, scope, ...raid };
        handle.lvs.set(lv, active);
        const made = await createNode(this.places, vgName, lv);
        if ("node" in made) active.node = made.node;
        else warnings.push(made.warning);
        this.opts.log.info({ lv: `${vgName}/${lv}`, size: map.size, node: active.node?.link }, "activated");
        opened = [];
      } catch (e) {
        await Promise.all(opened.map((array) => array.close()));
        if (!(e instanceof LvmError)) throw e;
        errors.push(...e.lines);
      }
    }
    await this.closeIfIdle(vgName, handle);
    return errors.length ? { ok: false, error: [...warnings, ...errors] } : { ok: true, warnings };
  }

  private async deactivate(vgName: string, lvs: string[]): Promise<Reply> {
    const handle = this.vgs.get(vgName);
    const errors: string[] = [];
    for (const lv of lvs) {
      const a = handle?.lvs.get(lv);
      if (!handle || !a) continue;
      const holder = a.node && (await nodeHolder(a.node));
      if (holder === "filesystem") errors.push(`Logical volume ${vgName}/${lv} contains a filesystem in use.`);
      else if (holder || this.nbd.openCount(exportName(vgName, lv)) > 0) errors.push(`Logical volume ${vgName}/${lv} in use.`);
      else await this.teardown(handle, a);
    }
    if (handle) await this.closeIfIdle(vgName, handle);
    return errors.length ? { ok: false, error: errors } : { ok: true };
  }

  private async teardown(handle: VgHandle, a: ActiveLv): Promise<void> {
    if (a.node) await removeNode(a.node);
    this.exports.remove(exportName(a.vg, a.lv));
    handle.lvs.delete(a.lv);
    await a.device.flush();
    await a.device.close();
    await this.closeArrays(a);
    this.opts.log.info({ lv: `${a.vg}/${a.lv}` }, "deactivated");
  }

  private async closeIfIdle(vgName: string, handle: VgHandle): Promise<void> {
    if (handle.lvs.size) return;
    this.vgs.delete(vgName);
    await Promise.all([...handle.pvs.values(), ...handle.durable.values()].map((d) => d.close()));
  }

  /** New metadata for a VG's active LVs, swapped in live: connected clients and in-flight I/O carry on. */
  private async refresh(vgName: string, scope: ScanScope): Promise<Reply> {
    const handle = this.vgs.get(vgName);
    if (!handle) return { ok: true };
    const warnings: string[] = [];
    const loaded = await this.readVg(vgName, scope, warnings);
    for (const a of [...handle.lvs.values()]) {
      const lv = loaded.vg.lvs.find((l) => l.id === a.lvId);
      if (!lv) {
        warnings.push(`WARNING: Active logical volume ${vgName}/${a.lv} is no longer in the metadata; it keeps its old mapping.`);
        continue;
      }
      const map = servableMap(loaded.vg, lv.name);
      await this.openPvs(handle, loaded, map, lv.name);
      const signatures = map.mirrors.map((m) => raidSignature(loaded.vg, m));
      const relayout = signatures.join("\n") !== a.signatures.join("\n") || a.arrays.some((x) => x.degraded);
      if (!relayout) {
        retuneRaidArrays(loaded.vg, lv.name, map, a.arrays);
        await a.device.swapMap(map, handle.pvs);
      }
      else
        // The legs changed (added, removed, replaced, split, merged, grown), or one failed and may work again
        // (lvchange --refresh): stop the array cleanly and assemble it again from its rmetas, which then tells
        // what each leg needs, as a reload of the dm table does.
        await a.device.quiesce(async () => {
          await this.closeArrays(a);
          Object.assign(a, await this.openArrays(handle, loaded.vg, lv.name, map));
          await a.device.swapMap(map, handle.pvs);
        });
      a.access.follow(lv);
      if (lv.name !== a.lv) await this.rename(handle, a, lv.name);
      else if (a.node && (await nodeSize(a.node).catch(() => map.size)) !== map.size) await this.resizeNode(a, warnings);
      this.opts.log.info({ lv: `${vgName}/${a.lv}`, size: map.size }, "refreshed");
    }
    await this.saveState();
    return { ok: true, warnings };
  }

  /**
   * An NBD export cannot announce a new size to a connected client, so a node over one keeps the size it was
   * made with: it is made again when nothing holds it, and otherwise keeps its size until re-activation.
   */
  private async resizeNode(a: ActiveLv, warnings: string[]): Promise<void> {
    const node = a.node!;
    if (await nodeHolder(node)) {
      warnings.push(`WARNING: ${node.link} is in use and keeps its old size until ${a.vg}/${a.lv} is deactivated and activated again.`);
      return;
    }
    await removeNode(node);
    a.node = undefined;
    const made = await createNode(this.places, a.vg, a.lv);
    if ("node" in made) a.node = made.node;
    else warnings.push(made.warning);
  }

  /** lvrename of an active LV: the export and the node follow the new name, as lvm renames the dm device. */
  private async rename(handle: VgHandle, a: ActiveLv, name: string): Promise<void> {
    this.exports.remove(exportName(a.vg, a.lv));
    this.exports.add(lvExport(exportName(a.vg, name), a.device, a.access));
    handle.lvs.delete(a.lv);
    if (a.node) await removeNode(a.node);
    a.lv = name;
    a.node = undefined;
    handle.lvs.set(name, a);
    const made = await createNode(this.places, a.vg, name);
    if ("node" in made) a.node = made.node;
  }

  private async status(): Promise<LvStatus[]> {
    const out: LvStatus[] = [];
    for (const handle of this.vgs.values())
      for (const a of handle.lvs.values()) {
        const held = a.node && (await nodeHolder(a.node)) ? 1 : 0;
        const openCount = this.nbd.openCount(exportName(a.vg, a.lv)) + held;
        const raid = a.arrays[0]?.status();
        out.push({ vg: a.vg, lv: a.lv, size: a.device.size, openCount, node: a.node?.link, ...(raid && { raid }) });
      }
    return out;
  }

  private saveState(): Promise<void> {
    const entries: ActiveEntry[] = [];
    for (const handle of this.vgs.values()) for (const a of handle.lvs.values()) entries.push({ vg: a.vg, lv: a.lv, scope: a.scope });
    return writeState(stateFile(this.opts.runDir), entries);
  }
}
