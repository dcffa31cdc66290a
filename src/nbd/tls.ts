/**
 * TLS for the NBD server, configured the way nbdkit is: a mode (off, on,
 * require), and either a certificate directory (ca-cert.pem, server-cert.pem,
 * server-key.pem) or a psktool key file ("username:hexkey" lines). The upgrade
 * itself happens in the connection after NBD_OPT_STARTTLS is acknowledged.
 */
import { nodeTls } from "../io/lazy-builtins.ts";
import type { Socket } from "node:net";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { TLSSocket, TLSSocketOptions, TlsOptions } from "node:tls";
import type { TlsMode } from "./negotiate.ts";

export type { TlsMode };

export const TLS_MODES: readonly TlsMode[] = ["off", "on", "require"];

/** What the server needs to offer STARTTLS. */
export interface NbdTls {
  mode: Exclude<TlsMode, "off">;
  /** Built once; every connection's TLSSocket shares the secure context. */
  options: TLSSocketOptions & Pick<TlsOptions, "pskCallback">;
}

export interface TlsConfig {
  mode?: TlsMode;
  /** A directory as nbdkit's --tls-certificates. */
  certificates?: string;
  /** A psktool file as nbdkit's --tls-psk. */
  psk?: string;
  /** Demand a client certificate signed by ca-cert.pem (x509 only). */
  verifyPeer?: boolean;
}

/**
 * GnuTLS clients (libnbd, qemu) offer these for PSK; TLS 1.2 needs them named,
 * since OpenSSL enables no PSK suite by default. TLS 1.3 uses its own suites.
 */
const PSK_CIPHERS = [
  "ECDHE-PSK-AES256-CBC-SHA384",
  "ECDHE-PSK-AES128-CBC-SHA256",
  "ECDHE-PSK-CHACHA20-POLY1305",
  "DHE-PSK-AES256-GCM-SHA384",
  "DHE-PSK-AES128-GCM-SHA256",
  "PSK-AES256-GCM-SHA384",
  "PSK-AES128-GCM-SHA256",
].join(":");

/** Parses psktool's key file: one "username:hexkey" per line; blank lines are skipped. */
export function parsePskFile(text: string, source = "PSK file"): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "") return;
    const colon = line.indexOf(":");
    const user = line.slice(0, colon);
    const hex = line.slice(colon + 1);
    if (colon <= 0 || !/^(?:[0-9a-fA-F]{2})+$/.test(hex))
      throw new Error(`${source}: line ${i + 1} is not "username:hexkey".`);
    if (keys.has(user)) throw new Error(`${source}: user "${user}" appears twice.`);
    keys.set(user, Buffer.from(hex, "hex"));
  });
  if (keys.size === 0) throw new Error(`${source}: no keys.`);
  return keys;
}

/** Reads the credentials for `config`; undefined when TLS is off. */
export async function loadTls(config: TlsConfig): Promise<NbdTls | undefined> {
  const { certificates, psk, verifyPeer = false } = config;
  // Credentials without a mode mean TLS is wanted; anything less would be a silent downgrade.
  const mode = config.mode ?? (certificates !== undefined || psk !== undefined ? "require" : "off");
  if (mode === "off") return undefined;
  if ((certificates === undefined) === (psk === undefined))
    throw new Error("TLS needs exactly one of --tls-certificates and --tls-psk.");
  if (psk !== undefined) {
    if (verifyPeer) throw new Error("--tls-verify-peer needs --tls-certificates.");
    const keys = parsePskFile(await readFile(psk, "utf8"), psk);
    return {
      mode,
      options: {
        secureContext: nodeTls().createSecureContext({ ciphers: PSK_CIPHERS, minVersion: "TLSv1.2" }),
        pskCallback: (_socket, identity) => keys.get(identity) ?? null,
      },
    };
  }
  const read = (name: string) => readFile(join(certificates!, name));
  const [cert, key, ca] = await Promise.all([
    read("server-cert.pem"),
    read("server-key.pem"),
    // Only needed to check clients; nbdkit treats it the same way.
    verifyPeer ? read("ca-cert.pem") : undefined,
  ]);
  return {
    mode,
    options: {
      secureContext: nodeTls().createSecureContext({ cert, key, ca, minVersion: "TLSv1.2" }),
      requestCert: verifyPeer,
      rejectUnauthorized: verifyPeer,
    },
  };
}

/** Wraps a socket whose STARTTLS was just acknowledged; the client speaks first. */
export function startTls(socket: Socket, tls: NbdTls): TLSSocket {
  return new (nodeTls().TLSSocket)(socket, { ...tls.options, isServer: true });
}
