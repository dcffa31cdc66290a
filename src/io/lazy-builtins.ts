/**
 * Node built-ins that only the daemon, the NBD server and daemon clients use,
 * loaded on first use: every CLI command runs from one bundle, and loading net,
 * tls, child_process and readline up front cost a report command ~10 ms.
 */
import { createRequire } from "node:module";

const load = createRequire(import.meta.url);

export const nodeNet = (): typeof import("node:net") => load("node:net") as typeof import("node:net");
export const nodeTls = (): typeof import("node:tls") => load("node:tls") as typeof import("node:tls");
export const nodeReadline = (): typeof import("node:readline") => load("node:readline") as typeof import("node:readline");
export const nodeChildProcess = (): typeof import("node:child_process") =>
  load("node:child_process") as typeof import("node:child_process");
