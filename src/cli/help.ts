/**
 * lvm's help texts, rendered from the command table: `ulvm help` (the command
 * list, on stderr like lvm's), `ulvm CMD --help|--longhelp` and `ulvm help CMD`
 * (usage on stdout), and the one-variant usage lvm prints after "No command with
 * matching syntax recognised". Layout follows lvm 2.03's print_usage so the
 * output can be compared with the real lvm's.
 */
import { EXIT, type ExitCode } from "../core/errors.ts";
import {
  COMMON_OPTIONS,
  POSITION_TYPES,
  VALUE_USAGE,
  OPTIONS,
  commandNames,
  getCommand,
  type CommandDef,
  type OptionDef,
  type OptionUse,
  type PositionDef,
  type ValueType,
  type Variant,
} from "./command-table.ts";
import type { ParsedCommand } from "./args.ts";

const valueOrder = Object.keys(VALUE_USAGE);
const commonIds = new Set(COMMON_OPTIONS.map((u) => u.option.id));

/** lvm's hint after a command-line error found once the command is known. */
export function shortUsage(command: string): string {
  return `Run \`${command} --help' for more information.`;
}

function typeText(cmd: CommandDef, type: ValueType): string {
  return VALUE_USAGE[cmd.usageTypes[type] ?? type];
}

function optionText(cmd: CommandDef, use: OptionUse, longPad: string): string {
  const { option, value } = use;
  const name = option.short ? `-${option.short}|--${option.long}` : `${longPad}--${option.long}`;
  if (!value) return name;
  if (value.constant !== undefined) return `${name} ${value.constant}`;
  const types = [...value.types].sort((a, b) => valueOrder.indexOf(a) - valueOrder.indexOf(b));
  return `${name} ${types.map((t) => typeText(cmd, t) + (value.newName ? "_new" : "")).join("|")}`;
}

function positionText(pos: PositionDef): string {
  const types = [...pos.types].sort((a, b) => POSITION_TYPES.indexOf(a.type) - POSITION_TYPES.indexOf(b.type));
  return types.map((t) => t.type + (t.newName ? "_new" : "")).join("|") + (pos.repeat ? " ..." : "");
}

function descText(desc: string[]): string {
  return desc.map((line, i) => `  ${line}${i < desc.length - 1 ? " " : ""}\n`).join("");
}

/** Options every variant of a command accepts; --help lists them once. */
function commonToVariants(cmd: CommandDef): Set<string> {
  const [first, ...rest] = cmd.variants;
  return new Set(
    (first?.optional ?? [])
      .map((u) => u.option.id)
      .filter((id) => rest.every((v) => v.optional.some((u) => u.option.id === id))),
  );
}

const withShortFirst = (uses: OptionUse[]) => [
  ...uses.filter((u) => u.option.short),
  ...uses.filter((u) => !u.option.short),
];

/** One variant's usage: its syntax line, and with `longhelp` its optional arguments. */
export function variantUsage(v: Variant, longhelp: boolean, descFirst: boolean): string {
  const cmd = getCommand(v.command)!;
  const extentsToo = cmd.extentsForSize && v.required.some((u) => u.option.id === "size");
  let s = descFirst ? descText(v.desc) : "";
  s += `  ${cmd.name}`;
  for (const u of v.required) s += ` ${optionText(cmd, u, "")}`;
  if (v.anyOf.length) {
    s += withShortFirst(v.anyOf)
      .map((u, i) => `${i ? ",\n\t " : "\n\t("} ${optionText(cmd, u, "   ")}`)
      .join("");
    s += " )\n";
    if (v.positional.length) s += "\t";
  }
  for (const p of v.positional) s += ` ${positionText(p)}`;
  if (longhelp) {
    const common = cmd.variants.length > 1 ? commonToVariants(cmd) : new Set<string>();
    const [type, type2] = v.autotype;
    if (type) s += `\n\t[ --type ${type2 ? `${type}|${type2}` : type} ] (implied)`;
    if (extentsToo) s += `\n\t[ -l|--extents ${typeText(cmd, cmd.valueTypes.extents ?? "Extents")} ]`;
    for (const u of withShortFirst(v.optional)) {
      if (!commonIds.has(u.option.id) && !common.has(u.option.id)) s += `\n\t[ ${optionText(cmd, u, "   ")} ]`;
    }
    s += "\n\t[ COMMON_OPTIONS ]";
    if (v.optionalPositional.length) s += `\n\t[ ${v.optionalPositional.map(positionText).join(" ")} ]`;
  }
  return `${s}\n${descFirst ? "" : descText(v.desc)}\n`;
}

function optionsSection(title: string, cmd: CommandDef, uses: OptionUse[]): string {
  return `  ${title}:${withShortFirst(uses)
    .map((u) => `\n\t[ ${optionText(cmd, u, "   ")} ]`)
    .join("")}\n\n`;
}

/** `CMD --help` (`longhelp`: with the secondary syntaxes). Undefined for an unknown command. */
export function commandUsage(name: string, longhelp: boolean): string | undefined {
  const cmd = getCommand(name);
  if (!cmd) return undefined;
  const showAll = longhelp || cmd.variants.length < 3;
  const shown = cmd.variants.filter((v) => !v.previous && (showAll || !v.secondary));
  let s = `  ${name} - ${cmd.desc}\n\n` + shown.map((v) => variantUsage(v, true, true)).join("");
  const last = shown[shown.length - 1]!;
  if (cmd.variants.length > 1) {
    const common = commonToVariants(cmd);
    const uses = OPTIONS.filter((o: OptionDef) => common.has(o.id) && !commonIds.has(o.id)).map((o) =>
      last.optional.find((u) => u.option === o)!,
    );
    if (uses.length) s += optionsSection("Common options for command", cmd, uses);
  }
  s += optionsSection("Common options for lvm", cmd, [...COMMON_OPTIONS]);
  return longhelp ? s : `${s}  Use --longhelp to show all options and advanced commands.\n`;
}

/** `ulvm help`: lines for stderr (lvm prints its command list there). */
export function commandList(): string[] {
  return [
    "Available lvm commands:",
    "Use 'lvm help <command>' for more information",
    " ",
    ...commandNames().map((n) => `${n.padEnd(16).slice(0, 16)}${getCommand(n)!.desc}`),
  ];
}

export interface HelpOutput {
  stdout: string;
  /** Lines for stderr, printed with lvm's two-space prefix. */
  stderr: string[];
  exitCode: ExitCode;
}

/**
 * What `ulvm help [CMD...|all]` and `ulvm CMD --help|-h|--longhelp` print;
 * undefined when the command line asks for no help.
 */
export function helpFor(parsed: ParsedCommand): HelpOutput | undefined {
  if (parsed.command === "help") {
    const names = parsed.positional;
    if (!names.length) return { stdout: "", stderr: commandList(), exitCode: EXIT.OK };
    if (names.length === 1 && names[0] === "all") {
      return {
        stdout: commandNames()
          .map((n) => commandUsage(n, true))
          .join(""),
        stderr: [],
        exitCode: EXIT.OK,
      };
    }
    const texts = names.map((n) => commandUsage(n, false) ?? `  ${n}: no such command.\n`);
    const unknown = names.some((n) => !getCommand(n));
    return {
      stdout: texts.join(""),
      stderr: unknown ? [shortUsage("help")] : [],
      exitCode: unknown ? EXIT.INVALID_CMD_LINE : EXIT.OK,
    };
  }
  const longhelp = parsed.options.has("longhelp");
  if (!longhelp && !parsed.options.has("help")) return undefined;
  return { stdout: commandUsage(parsed.command, longhelp)!, stderr: [], exitCode: EXIT.OK };
}
