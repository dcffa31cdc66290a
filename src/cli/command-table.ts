/**
 * Every command and option ulvm accepts, declared once.
 *
 * The declarations follow lvm2 2.03.16 (tools/args.h, tools/command-lines.in,
 * tools/commands.h) so that argv parsing, variant matching and `--help` give
 * lvm's results: the option order is lvm's option enum order (getopt's error
 * messages list candidates in it), and each command's variants are in lvm's
 * definition order (ties in variant matching go to the first). Options ulvm does
 * not implement are declared anyway: the parser accepts what lvm accepts and the
 * commands decide what to do with it.
 *
 * Variant syntax uses lvm's notation: `--opt Type` or `--opt constant` for an
 * option, `VG|LV_raid1|Tag ...` for a positional (LV_<types> narrows the LV type,
 * `_new` marks a name that must not exist yet, `...` repeats), `--foo_long` for the
 * long-only twin of an option that also has a short letter.
 */

/** lvm's value types (vals.h); `Listen` is ulvm's own (`daemon --listen`). */
export type ValueType =
  | "Bool"
  | "Number"
  | "SNumber"
  | "PNumber"
  | "Uint32"
  | "String"
  | "VG"
  | "LV"
  | "PV"
  | "Tag"
  | "ActivationMode"
  | "Active"
  | "CacheMetadataFormat"
  | "CacheMode"
  | "Discards"
  | "MirrorLog"
  | "SizeKB"
  | "SizeMB"
  | "SSizeMB"
  | "PSizeMB"
  | "NSizeMB"
  | "RegionSize"
  | "Extents"
  | "SExtents"
  | "PExtents"
  | "NExtents"
  | "Permission"
  | "MetadataType"
  | "Units"
  | "SegType"
  | "Alloc"
  | "LockType"
  | "Readahead"
  | "MetadataCopiesVG"
  | "MetadataCopiesPV"
  | "MetadataCopies"
  | "WriteMostlyPV"
  | "SyncAction"
  | "ReportFmt"
  | "ConfigReport"
  | "RepairType"
  | "DumpType"
  | "Listen";

/** How `--help` shows each value type; in lvm's order of value types, which alternatives are listed in. */
export const VALUE_USAGE: Record<ValueType, string> = {
  Bool: "y|n",
  Number: "Number",
  SNumber: "[+|-]Number",
  PNumber: "[+]Number",
  Uint32: "Number",
  String: "String",
  VG: "VG",
  LV: "LV",
  PV: "PV",
  Tag: "Tag",
  ActivationMode: "partial|degraded|complete",
  Active: "y|n|ay",
  CacheMetadataFormat: "auto|1|2",
  CacheMode: "writethrough|writeback|passthrough",
  Discards: "passdown|nopassdown|ignore",
  MirrorLog: "core|disk",
  SizeKB: "Size[k|UNIT]",
  SizeMB: "Size[m|UNIT]",
  SSizeMB: "[+|-]Size[m|UNIT]",
  PSizeMB: "[+]Size[m|UNIT]",
  NSizeMB: "[-]Size[m|UNIT]",
  RegionSize: "Size[m|UNIT]",
  Extents: "Number[PERCENT]",
  SExtents: "[+|-]Number[PERCENT]",
  PExtents: "[+]Number[PERCENT]",
  NExtents: "[-]Number[PERCENT]",
  Permission: "rw|r",
  MetadataType: "lvm2",
  Units: "[Number]r|R|h|H|b|B|s|S|k|K|m|M|g|G|t|T|p|P|e|E",
  SegType: "linear|striped|snapshot|raid|mirror|thin|thin-pool|vdo|vdo-pool|cache|cache-pool|writecache",
  Alloc: "contiguous|cling|cling_by_tags|normal|anywhere|inherit",
  LockType: "sanlock|dlm|none",
  Readahead: "auto|none|Number",
  MetadataCopiesVG: "all|unmanaged|Number",
  MetadataCopiesPV: "0|1|2",
  MetadataCopies: "Number",
  WriteMostlyPV: "PV[:t|n|y]",
  SyncAction: "check|repair",
  ReportFmt: "basic|json",
  ConfigReport: "log|vg|lv|pv|pvseg|seg",
  RepairType: "pv_header|metadata|label_header",
  DumpType: "headers|metadata|metadata_all|metadata_search",
  Listen: "ADDR:PORT",
};

/** What a positional argument may name; listed in this order by `--help`. */
export const POSITION_TYPES = ["String", "VG", "LV", "PV", "Tag", "Select"] as const;
export type PositionType = (typeof POSITION_TYPES)[number];

interface OptionSpec {
  /** lvm's name for the option (args.h without `_ARG`); `--foo_long` in a syntax refers to `foo_long`. */
  id: string;
  /** Without the dashes; defaults to `id`. */
  long?: string;
  short?: string;
  value?: ValueType;
  /** May be repeated to count (-vvv, -ff). */
  countable?: true;
  /** May be repeated to give several values (--addtag a --addtag b). */
  groupable?: true;
  /** An old name: the standard options it stands for (the first is the one lvm reports). */
  synonymOf?: string[];
  /** Stands for the standard option sharing the command's prefix (pv* or vg*). */
  prefixBound?: true;
  /** lvm keeps the values apart from the standard option's (a different value shape). */
  unmerged?: true;
  /** getopt also accepts this option wherever one of these is valid. */
  getoptAfter?: string[];
}

export interface OptionDef extends OptionSpec {
  long: string;
}

/** In lvm's option enum order. */
const OPTION_SPECS: OptionSpec[] = [
  { id: "activationmode", value: "ActivationMode" },
  { id: "addtag", value: "Tag", groupable: true },
  { id: "adddev", value: "PV" },
  { id: "deldev", value: "String" },
  { id: "addpvid", value: "String" },
  { id: "delpvid", value: "String" },
  { id: "aligned" },
  { id: "alloc", value: "Alloc" },
  { id: "autoactivation", value: "String" },
  { id: "setautoactivation", value: "Bool" },
  { id: "binary" },
  { id: "bootloaderareasize", value: "SizeMB" },
  { id: "cache_long", long: "cache" },
  { id: "cachemetadataformat", value: "CacheMetadataFormat" },
  { id: "cachemode", value: "CacheMode" },
  { id: "cachepool", value: "LV" },
  { id: "cachevol", value: "LV" },
  { id: "cachedevice", value: "PV", groupable: true },
  { id: "cachesize", value: "SizeMB" },
  { id: "check" },
  { id: "commandprofile", value: "String" },
  { id: "compression", value: "Bool" },
  { id: "config", value: "String" },
  { id: "configreport", value: "ConfigReport", groupable: true },
  { id: "dataalignment", value: "SizeKB" },
  { id: "dataalignmentoffset", value: "SizeKB" },
  { id: "deduplication", value: "Bool" },
  { id: "deltag", value: "Tag", groupable: true },
  { id: "detachprofile" },
  { id: "deviceidtype", value: "String" },
  { id: "devices", value: "PV", groupable: true },
  { id: "devicesfile", value: "String" },
  { id: "discards", value: "Discards" },
  { id: "driverloaded", value: "Bool" },
  { id: "dump", value: "DumpType" },
  { id: "errorwhenfull", value: "Bool" },
  { id: "force_long", long: "force", countable: true },
  { id: "foreign" },
  { id: "ignorelockingfailure" },
  { id: "ignoremonitoring" },
  { id: "ignoreskippedcluster" },
  { id: "journal", value: "String" },
  { id: "labelsector", value: "Number" },
  { id: "listlvs" },
  { id: "listvg" },
  { id: "checkcomplete" },
  { id: "lockopt", value: "String" },
  { id: "lockstart" },
  { id: "lockstop" },
  { id: "locktype", value: "LockType" },
  { id: "logonly" },
  { id: "longhelp" },
  { id: "maxrecoveryrate", value: "SizeKB" },
  { id: "merge" },
  { id: "mergemirrors" },
  { id: "mergesnapshot" },
  { id: "mergethin" },
  { id: "metadataignore", value: "Bool" },
  { id: "metadataprofile", value: "String" },
  { id: "metadatasize", value: "SizeMB" },
  { id: "minor", value: "Number", groupable: true },
  { id: "minrecoveryrate", value: "SizeKB" },
  { id: "mirrorlog", value: "MirrorLog" },
  { id: "mirrorsonly" },
  { id: "mknodes" },
  { id: "monitor", value: "Bool" },
  { id: "nameprefixes" },
  { id: "noheadings" },
  { id: "nohints" },
  { id: "nohistory" },
  { id: "nolocking" },
  { id: "norestorefile" },
  { id: "nosuffix" },
  { id: "nosync" },
  { id: "notifydbus" },
  { id: "noudevsync" },
  { id: "originname", value: "LV" },
  { id: "setphysicalvolumesize", value: "SizeMB" },
  { id: "settings", value: "String", groupable: true },
  { id: "poll", value: "Bool" },
  { id: "poolmetadata", value: "LV" },
  { id: "poolmetadatasize", value: "SizeMB" },
  { id: "poolmetadataspare", value: "Bool" },
  { id: "profile", value: "String" },
  { id: "pvmetadatacopies", value: "MetadataCopiesPV" },
  { id: "raidintegrity", value: "Bool" },
  { id: "raidintegrityblocksize", value: "Number" },
  { id: "raidintegritymode", value: "String" },
  { id: "readonly" },
  { id: "refresh" },
  { id: "removemissing" },
  { id: "rebuild", value: "PV", groupable: true },
  { id: "repair" },
  { id: "repairtype", value: "RepairType" },
  { id: "replace", value: "PV", groupable: true },
  { id: "reportformat", value: "ReportFmt" },
  { id: "restorefile", value: "String" },
  { id: "restoremissing" },
  { id: "resync" },
  { id: "rows" },
  { id: "segments" },
  { id: "separator", value: "String" },
  { id: "shared" },
  { id: "splitcache" },
  { id: "splitmirrors", value: "Number" },
  { id: "splitsnapshot" },
  { id: "startpoll" },
  { id: "stripes_long", long: "stripes", value: "Number" },
  { id: "swapmetadata" },
  { id: "syncaction", value: "SyncAction" },
  { id: "sysinit" },
  { id: "systemid", value: "String" },
  { id: "thinpool", value: "LV" },
  { id: "trackchanges" },
  { id: "trustcache" },
  { id: "type", value: "SegType" },
  { id: "udevoutput" },
  { id: "unbuffered" },
  { id: "uncache" },
  { id: "update" },
  { id: "cachepolicy", value: "String" },
  { id: "cachesettings", value: "String", groupable: true },
  { id: "units", value: "Units" },
  { id: "unquoted" },
  { id: "usepolicies" },
  { id: "vdo" },
  { id: "vdopool", value: "LV" },
  { id: "vdosettings", value: "String", groupable: true },
  { id: "version" },
  { id: "vgmetadatacopies", value: "MetadataCopiesVG" },
  { id: "vgonline" },
  { id: "writebehind", value: "Number" },
  { id: "writemostly", value: "WriteMostlyPV", groupable: true },
  { id: "corelog", synonymOf: ["mirrorlog"], unmerged: true },
  { id: "resizable", value: "Bool", synonymOf: ["resizeable"] },
  {
    id: "allocation",
    value: "Bool",
    synonymOf: ["allocatable", "resizeable"],
    getoptAfter: ["allocatable", "resizeable"],
  },
  { id: "available", value: "Active", synonymOf: ["activate"] },
  { id: "raidrebuild", value: "PV", groupable: true, synonymOf: ["rebuild"] },
  { id: "raidsyncaction", value: "SyncAction", synonymOf: ["syncaction"] },
  { id: "raidwritemostly", value: "WriteMostlyPV", groupable: true, synonymOf: ["writemostly"] },
  { id: "raidminrecoveryrate", value: "SizeKB", synonymOf: ["minrecoveryrate"] },
  { id: "raidmaxrecoveryrate", value: "SizeKB", synonymOf: ["maxrecoveryrate"] },
  { id: "raidwritebehind", value: "Number", synonymOf: ["writebehind"] },
  { id: "virtualoriginsize", value: "SizeMB", synonymOf: ["virtualsize"] },
  { id: "split", synonymOf: ["splitcache"], unmerged: true },
  {
    id: "metadatacopies",
    value: "MetadataCopies",
    synonymOf: ["pvmetadatacopies", "vgmetadatacopies"],
    prefixBound: true,
  },
  { id: "activate", short: "a", value: "Active" },
  { id: "all", short: "a" },
  { id: "autobackup", short: "A", value: "Bool" },
  { id: "activevolumegroups", short: "A" },
  { id: "background", short: "b" },
  { id: "blockdevice", short: "b" },
  { id: "chunksize", short: "c", value: "SizeKB" },
  { id: "clustered", short: "c", value: "Bool" },
  { id: "colon", short: "c" },
  { id: "columns", short: "C" },
  { id: "contiguous", short: "C", value: "Bool" },
  { id: "debug", short: "d", countable: true },
  { id: "exported", short: "e" },
  { id: "file", short: "f", value: "String" },
  { id: "force", short: "f", countable: true },
  { id: "help", short: "h" },
  { id: "cache", short: "H" },
  { id: "history", short: "H" },
  { id: "interval", short: "i", value: "Number" },
  { id: "stripes", short: "i", value: "Number" },
  { id: "stripesize", short: "I", value: "SizeKB" },
  { id: "logicalvolume", short: "l", value: "Uint32" },
  { id: "maxlogicalvolumes", short: "l", value: "Uint32" },
  { id: "extents", short: "l", value: "Extents", getoptAfter: ["size"] },
  { id: "list", short: "l" },
  { id: "size", short: "L", value: "SizeMB" },
  { id: "persistent", short: "M", value: "Bool" },
  { id: "major", short: "j", value: "Number", groupable: true },
  { id: "setactivationskip", short: "k", value: "Bool" },
  { id: "ignoreactivationskip", short: "K" },
  { id: "maps", short: "m" },
  { id: "mirrors", short: "m", value: "Number" },
  { id: "metadatatype", short: "M", value: "MetadataType" },
  { id: "name", short: "n", value: "String" },
  { id: "nofsck", short: "n" },
  { id: "novolumegroup", short: "n" },
  { id: "options", short: "o", value: "String", groupable: true },
  { id: "sort", short: "O", value: "String", groupable: true },
  { id: "maxphysicalvolumes", short: "p", value: "Uint32" },
  { id: "permission", short: "p", value: "Permission" },
  { id: "partial", short: "P" },
  { id: "quiet", short: "q", countable: true },
  { id: "readahead", short: "r", value: "Readahead" },
  { id: "resizefs", short: "r" },
  { id: "regionsize", short: "R", value: "RegionSize" },
  { id: "physicalextentsize", short: "s", value: "SizeMB" },
  { id: "snapshot", short: "s" },
  { id: "short", short: "s" },
  { id: "select", short: "S", value: "String", groupable: true },
  { id: "test", short: "t" },
  { id: "thin", short: "T" },
  { id: "updatemetadata" },
  { id: "uuid", short: "u" },
  { id: "uuidstr", long: "uuid", short: "u", value: "String" },
  { id: "verbose", short: "v", countable: true },
  { id: "virtualsize", short: "V", value: "SizeMB" },
  { id: "wipesignatures", short: "W", value: "Bool" },
  { id: "allocatable", short: "x", value: "Bool" },
  { id: "resizeable", short: "x", value: "Bool" },
  { id: "yes", short: "y" },
  { id: "zero", short: "Z", value: "Bool" },
  { id: "listen", value: "Listen" },
  // nbdkit's TLS options; lvm drops the hyphens, so --tls-certificates reaches these.
  { id: "tls", value: "String" },
  { id: "tlscertificates", value: "String" },
  { id: "tlspsk", value: "String" },
  { id: "tlsverifypeer" },
];

export const OPTIONS: readonly OptionDef[] = OPTION_SPECS.map((o) => ({ ...o, long: o.long ?? o.id }));
const optionIndex = new Map(OPTIONS.map((o) => [o.id, o]));

export function optionById(id: string): OptionDef {
  const option = optionIndex.get(id);
  if (!option) throw new Error(`command table: unknown option --${id}`);
  return option;
}

// Option sets shared by several variants (lvm's OO_ lines). OO_ALL is part of every variant.
const OO_ALL = `
  --commandprofile String, --config String, --debug, --driverloaded Bool, --help, --nolocking, --lockopt String,
  --longhelp, --profile String, --quiet, --verbose, --version, --yes, --test, --devicesfile String, --devices PV,
  --nohints, --journal String
`;
const OO_LVCHANGE = `
  --autobackup Bool, --force, --ignoremonitoring, --noudevsync, --reportformat ReportFmt, --select String
`;
const OO_LVCHANGE_META = `
  --addtag Tag, --deltag Tag, --alloc Alloc, --contiguous Bool, --compression Bool, --deduplication Bool,
  --detachprofile, --metadataprofile String, --profile String, --permission Permission, --readahead Readahead,
  --setactivationskip Bool, --setautoactivation Bool, --errorwhenfull Bool, --discards Discards, --zero Bool,
  --cachemode CacheMode, --cachepolicy String, --cachesettings String, --minrecoveryrate SizeKB,
  --maxrecoveryrate SizeKB, --vdosettings String, --writebehind Number, --writemostly WriteMostlyPV, --persistent n
`;
const OO_LVCONVERT = `--alloc Alloc, --background, --force, --noudevsync`;
const OO_LVCONVERT_CACHE = `
  --cachemetadataformat CacheMetadataFormat, --cachemode CacheMode, --cachepolicy String, --cachesettings String,
  --zero Bool
`;
const OO_LVCONVERT_POOL = `
  --poolmetadata LV, --poolmetadatasize SizeMB, --poolmetadataspare Bool, --readahead Readahead, --chunksize SizeKB,
  --zero Bool, --metadataprofile String
`;
const OO_LVCONVERT_THINPOOL = `--discards Discards, --errorwhenfull Bool`;
const OO_LVCONVERT_VDO = `
  --metadataprofile String, --readahead Readahead, --compression Bool, --deduplication Bool, --vdosettings String,
  --zero Bool
`;
const OO_LVCREATE = `
  --addtag Tag, --alloc Alloc, --autobackup Bool, --activate Active, --contiguous Bool, --ignoreactivationskip,
  --ignoremonitoring, --major Number, --metadataprofile String, --minor Number, --monitor Bool, --name String,
  --nosync, --noudevsync, --permission Permission, --persistent Bool, --readahead Readahead, --reportformat ReportFmt,
  --setactivationskip Bool, --wipesignatures Bool, --zero Bool, --setautoactivation Bool
`;
const OO_LVCREATE_CACHE = `
  --cachemode CacheMode, --cachepolicy String, --cachesettings String, --chunksize SizeKB,
  --cachemetadataformat CacheMetadataFormat
`;
const OO_LVCREATE_POOL = `--poolmetadatasize SizeMB, --poolmetadataspare Bool, --chunksize SizeKB`;
const OO_LVCREATE_THINPOOL = `--discards Discards, --errorwhenfull Bool`;
const OO_LVCREATE_VDO = `--compression Bool, --deduplication Bool, --vdosettings String`;
const OO_PVCHANGE = `--autobackup Bool, --force, --reportformat ReportFmt, --uuid`;
const OO_PVCHANGE_META = `--allocatable Bool, --addtag Tag, --deltag Tag, --uuid, --metadataignore Bool`;
const OO_REPORT = `
  --aligned, --all, --binary, --configreport ConfigReport, --foreign, --ignorelockingfailure, --logonly,
  --nameprefixes, --noheadings, --nosuffix, --options String, --readonly, --reportformat ReportFmt, --rows,
  --select String, --separator String, --shared, --sort String, --unbuffered, --units Units, --unquoted
`;
const OO_VGCFGRESTORE = `--force_long, --metadatatype MetadataType`;
const OO_VGCHANGE = `
  --autobackup Bool, --ignoremonitoring, --noudevsync, --reportformat ReportFmt, --select String, --force
`;
const OO_VGCHANGE_META = `
  --addtag Tag, --deltag Tag, --logicalvolume Uint32, --maxphysicalvolumes Uint32, --alloc Alloc, --uuid,
  --pvmetadatacopies MetadataCopiesPV, --vgmetadatacopies MetadataCopiesVG, --physicalextentsize SizeMB,
  --resizeable Bool, --profile String, --detachprofile, --metadataprofile String, --setautoactivation Bool
`;
const OO_VGREDUCE = `--autobackup Bool, --force, --reportformat ReportFmt`;

interface VariantSpec {
  id: string;
  /** Required options and positionals. */
  syntax: string;
  /** Options of which at least one is required. */
  anyOf?: string;
  /** Optional options (OO_ALL is added). */
  oo?: string;
  /** Optional positionals. */
  op?: string;
  /** Options accepted and then dropped. */
  io?: string;
  /** Shown by --longhelp only. */
  secondary?: true;
  /** An old syntax, never shown. */
  previous?: true;
  /** The segment type(s) this syntax implies; an explicit --type must agree. */
  autotype?: string[];
  /** `--a [--b...] not|and --c [--d...]`: option combinations refused (not) or required (and). */
  rules?: string[];
  desc?: string[];
}

interface CommandSpec {
  desc: string;
  /** Value types this command gives some options instead of their usual ones. */
  valueTypes?: Record<string, ValueType>;
  /** Value types `--help` shows as others (lvcreate accepts a `+` it does not advertise). */
  usageTypes?: Partial<Record<ValueType, ValueType>>;
  variants: VariantSpec[];
}

const COMMAND_SPECS: Record<string, CommandSpec> = {
  daemon: {
    desc: "Run the ulvm daemon",
    variants: [
      {
        id: "daemon_general",
        syntax: "",
        oo: "--listen Listen, --tls String, --tlscertificates String, --tlspsk String, --tlsverifypeer",
        desc: ["Run the ulvm daemon."],
      },
    ],
  },
  help: {
    desc: "Display help for commands",
    variants: [{ id: "help_general", syntax: "", op: "String ..." }],
  },
  lvchange: {
    desc: "Change the attributes of logical volume(s)",
    variants: [
      {
        id: "lvchange_properties",
        syntax: "VG|LV|Tag|Select ...",
        anyOf: OO_LVCHANGE_META,
        oo: `--activate Active, --poll Bool, --monitor Bool, ${OO_LVCHANGE}`,
        io: "--ignoreskippedcluster",
        rules: ["--contiguous not --alloc", "--profile not --detachprofile", "--metadataprofile not --detachprofile"],
        desc: [
          "Change a general LV attribute.",
          "For options listed in parentheses, any one is",
          "required, after which the others are optional.",
        ],
      },
      {
        id: "lvchange_resync",
        syntax: "--resync VG|LV_raid_mirror|Tag|Select ...",
        oo: `--activate Active, ${OO_LVCHANGE}`,
        io: "--ignoreskippedcluster",
        desc: ["Resyncronize a mirror or raid LV.", "Use to reset 'R' attribute on a not initially synchronized LV."],
      },
      {
        id: "lvchange_syncaction",
        syntax: "--syncaction SyncAction VG|LV_raid|Tag|Select ...",
        oo: OO_LVCHANGE,
        io: "--ignoreskippedcluster",
        desc: ["Resynchronize or check a raid LV."],
      },
      {
        id: "lvchange_rebuild",
        syntax: "--rebuild PV VG|LV_raid|Tag|Select ...",
        oo: OO_LVCHANGE,
        io: "--ignoreskippedcluster",
        desc: ["Reconstruct data on specific PVs of a raid LV."],
      },
      {
        id: "lvchange_activate",
        syntax: "--activate Active VG|LV|Tag|Select ...",
        oo: `
          --activationmode ActivationMode, --partial, --poll Bool, --monitor Bool, --ignoreactivationskip,
          --ignorelockingfailure, --sysinit, --readonly, ${OO_LVCHANGE}
        `,
        io: "--ignoreskippedcluster",
        desc: ["Activate or deactivate an LV."],
      },
      {
        id: "lvchange_refresh",
        syntax: "--refresh VG|LV|Tag|Select ...",
        oo: `--activationmode ActivationMode, --partial, --poll Bool, --monitor Bool, ${OO_LVCHANGE}`,
        io: "--ignoreskippedcluster",
        desc: ["Reactivate an LV using the latest metadata."],
      },
      {
        id: "lvchange_monitor",
        syntax: "--monitor Bool VG|LV|Tag|Select ...",
        oo: OO_LVCHANGE,
        io: "--ignoreskippedcluster",
        desc: ["Start or stop monitoring an LV from dmeventd."],
      },
      {
        id: "lvchange_poll",
        syntax: "--poll Bool VG|LV|Tag|Select ...",
        oo: `--monitor Bool, ${OO_LVCHANGE}`,
        io: "--ignoreskippedcluster",
        desc: ["Start or stop processing an LV conversion."],
      },
      {
        id: "lvchange_persistent",
        syntax: "--persistent y --minor Number LV",
        oo: `--major Number, --activate Active, --poll Bool, --monitor Bool, ${OO_LVCHANGE}`,
        io: "--ignoreskippedcluster",
        desc: ["Make the minor device number persistent for an LV."],
      },
    ],
  },
  lvconvert: {
    desc: "Change logical volume layout",
    valueTypes: { mirrors: "SNumber" },
    variants: [
      {
        id: "lvconvert_raid_types",
        syntax: "--type linear LV",
        oo: OO_LVCONVERT,
        op: "PV ...",
        desc: ["Convert LV to linear."],
      },
      {
        id: "lvconvert_raid_types",
        syntax: "--type striped LV",
        oo: `--stripes_long Number, --stripesize SizeKB, --regionsize RegionSize, --interval Number, ${OO_LVCONVERT}`,
        op: "PV ...",
        desc: ["Convert LV to striped."],
      },
      {
        id: "lvconvert_raid_types",
        syntax: "--type mirror LV",
        oo: `
          --mirrors SNumber, --stripes_long Number, --stripesize SizeKB, --regionsize RegionSize, --interval Number,
          --mirrorlog MirrorLog, ${OO_LVCONVERT}
        `,
        op: "PV ...",
        desc: ["Convert LV to type mirror (also see type raid1),"],
      },
      {
        id: "lvconvert_raid_types",
        syntax: "--type raid LV",
        oo: `
          --mirrors SNumber, --stripes_long Number, --stripesize SizeKB, --regionsize RegionSize, --interval Number,
          ${OO_LVCONVERT}
        `,
        op: "PV ...",
        desc: ["Convert LV to raid or change raid layout", "(a specific raid level must be used, e.g. raid1)."],
      },
      {
        id: "lvconvert_raid_types",
        syntax: "--mirrors SNumber LV",
        oo: `--regionsize RegionSize, --interval Number, --mirrorlog MirrorLog, ${OO_LVCONVERT}`,
        op: "PV ...",
        desc: ["Convert LV to raid1 or mirror, or change number of mirror images."],
      },
      {
        id: "lvconvert_raid_types",
        syntax: "--stripes_long Number LV_raid",
        oo: `${OO_LVCONVERT}, --interval Number, --regionsize RegionSize, --stripesize SizeKB`,
        op: "PV ...",
        desc: ["Convert raid LV to change number of stripe images."],
      },
      {
        id: "lvconvert_raid_types",
        syntax: "--stripesize SizeKB LV_raid",
        oo: `${OO_LVCONVERT}, --interval Number, --regionsize RegionSize`,
        desc: ["Convert raid LV to change the stripe size."],
      },
      {
        id: "lvconvert_change_region_size",
        syntax: "--regionsize RegionSize LV_raid",
        oo: OO_LVCONVERT,
        secondary: true,
        desc: ["Change the region size of an LV."],
      },
      {
        id: "lvconvert_split_and_keep",
        syntax: "--splitmirrors Number --name LV_new LV_raid1_mirror_cache",
        oo: OO_LVCONVERT,
        op: "PV ...",
        desc: ["Split images from a raid1 or mirror LV and use them to create a new LV."],
      },
      {
        id: "lvconvert_split_and_track",
        syntax: "--splitmirrors Number --trackchanges LV_raid1_cache",
        oo: OO_LVCONVERT,
        op: "PV ...",
        desc: ["Split images from a raid1 LV and track changes to origin for later merge."],
      },
      {
        id: "lvconvert_merge_mirror_images",
        syntax: "--mergemirrors LV_linear_raid|VG|Tag ...",
        oo: OO_LVCONVERT,
        desc: ["Merge LV images that were split from a raid1 LV."],
      },
      {
        id: "lvconvert_change_mirrorlog",
        syntax: "--mirrorlog MirrorLog LV_mirror",
        oo: OO_LVCONVERT,
        op: "PV ...",
        secondary: true,
        desc: ["Change the type of mirror log used by a mirror LV."],
      },
      {
        id: "lvconvert_to_thin_with_external",
        syntax: "--type thin --thinpool LV LV_linear_striped_raid_cache_thin_error_zero",
        oo: `--thin, --originname LV_new, ${OO_LVCONVERT_POOL}, ${OO_LVCONVERT}`,
        rules: ["--poolmetadata not --readahead --stripesize --stripes_long"],
        desc: ["Convert LV to a thin LV, using the original LV as an external origin."],
      },
      {
        id: "lvconvert_to_thin_with_external",
        syntax: "--thin --thinpool LV LV_linear_striped_raid_cache_thin_error_zero",
        oo: `--originname LV_new, ${OO_LVCONVERT_POOL}, ${OO_LVCONVERT}`,
        secondary: true,
        autotype: ["thin"],
        rules: ["--poolmetadata not --readahead --stripesize --stripes_long"],
        desc: ["Convert LV to a thin LV, using the original LV as an external origin."],
      },
      {
        id: "lvconvert_to_cache_with_cachepool",
        syntax: "--type cache --cachepool LV LV_linear_striped_raid_thinpool_vdo_vdopool_vdopooldata",
        oo: `--cache, ${OO_LVCONVERT_CACHE}, ${OO_LVCONVERT_POOL}, ${OO_LVCONVERT}`,
        rules: ["--poolmetadata not --readahead --stripesize --stripes_long"],
        desc: ["Attach a cache pool to an LV, converts the LV to type cache."],
      },
      {
        id: "lvconvert_to_cache_with_cachepool",
        syntax: "--cache --cachepool LV LV_linear_striped_raid_thinpool_vdo_vdopool_vdopooldata",
        oo: `${OO_LVCONVERT_CACHE}, ${OO_LVCONVERT_POOL}, ${OO_LVCONVERT}`,
        secondary: true,
        autotype: ["cache"],
        rules: ["--poolmetadata not --readahead --stripesize --stripes_long"],
        desc: ["Attach a cache pool to an LV."],
      },
      {
        id: "lvconvert_to_writecache",
        syntax: "--type writecache --cachevol LV LV_linear_striped_raid_thinpool",
        oo: `${OO_LVCONVERT}, --cachesettings String`,
        desc: ["Attach a writecache to an LV, converts the LV to type writecache."],
      },
      {
        id: "lvconvert_to_cache_with_cachevol",
        syntax: "--type cache --cachevol LV LV_linear_striped_raid_thinpool",
        oo: `--cache, ${OO_LVCONVERT_CACHE}, ${OO_LVCONVERT}, --poolmetadatasize SizeMB, --chunksize SizeKB`,
        desc: ["Attach a cache to an LV, converts the LV to type cache."],
      },
      {
        id: "lvconvert_to_cache_with_cachevol",
        syntax: "--cache --cachevol LV LV_linear_striped_raid_thinpool",
        oo: `${OO_LVCONVERT_CACHE}, ${OO_LVCONVERT}, --poolmetadatasize SizeMB, --chunksize SizeKB`,
        secondary: true,
        desc: ["Attach a cache to an LV, converts the LV to type cache."],
      },
      {
        id: "lvconvert_to_writecache_with_device",
        syntax: "--type writecache --cachedevice PV LV_linear_striped_raid_thinpool",
        oo: `${OO_LVCONVERT}, --cachesize SizeMB, --cachesettings String`,
        desc: ["Add a writecache to an LV, using a specified cache device."],
      },
      {
        id: "lvconvert_to_cache_with_device",
        syntax: "--type cache --cachedevice PV LV_linear_striped_raid_thinpool",
        oo: `${OO_LVCONVERT}, --cachesize SizeMB, --cachesettings String, --chunksize SizeKB`,
        desc: ["Add a cache to an LV, using a specified cache device."],
      },
      {
        id: "lvconvert_to_thinpool",
        syntax: "--type thin-pool LV_linear_striped_raid_cache_writecache_error_zero",
        oo: `
          --stripes_long Number, --stripesize SizeKB, ${OO_LVCONVERT_THINPOOL}, ${OO_LVCONVERT_POOL}, ${OO_LVCONVERT}
        `,
        op: "PV ...",
        rules: ["--poolmetadata not --readahead --stripesize --stripes_long"],
        desc: ["Convert LV to type thin-pool."],
      },
      {
        id: "lvconvert_to_thinpool_or_swap_metadata",
        syntax: "--thinpool LV_linear_striped_raid_cache_writecache_thinpool",
        oo: `
          --stripes_long Number, --stripesize SizeKB, ${OO_LVCONVERT_THINPOOL}, ${OO_LVCONVERT_POOL}, ${OO_LVCONVERT}
        `,
        op: "PV ...",
        previous: true,
        autotype: ["thin-pool"],
        rules: ["--poolmetadata not --readahead --stripesize --stripes_long"],
        desc: [
          "Convert LV to type thin-pool (variant, use --type thin-pool).",
          "Swap metadata LV in a thin pool (variant, use --swapmetadata).",
        ],
      },
      {
        id: "lvconvert_to_cachepool",
        syntax: "--type cache-pool LV_linear_striped_raid",
        oo: `${OO_LVCONVERT_CACHE}, ${OO_LVCONVERT_POOL}, ${OO_LVCONVERT}`,
        op: "PV ...",
        rules: ["--poolmetadata not --readahead --stripesize --stripes_long"],
        desc: ["Convert LV to type cache-pool."],
      },
      {
        id: "lvconvert_to_cachepool_or_swap_metadata",
        syntax: "--cachepool LV_linear_striped_raid_cachepool_error_zero",
        oo: `--type cache-pool, ${OO_LVCONVERT_CACHE}, ${OO_LVCONVERT_POOL}, ${OO_LVCONVERT}`,
        op: "PV ...",
        previous: true,
        rules: ["--poolmetadata not --readahead --stripesize --stripes_long"],
        desc: [
          "Convert LV to type cache-pool (variant, use --type cache-pool).",
          "Swap metadata LV in a cache pool (variant, use --swapmetadata).",
        ],
      },
      {
        id: "lvconvert_to_vdopool",
        syntax: "--type vdo-pool LV_linear_striped_raid_cache",
        oo: `--name LV_new, --virtualsize SizeMB, ${OO_LVCONVERT_VDO}, ${OO_LVCONVERT}`,
        desc: ["Convert LV to type vdopool."],
      },
      {
        id: "lvconvert_to_vdopool_param",
        syntax: "--vdopool LV_linear_striped_raid_cache",
        oo: `${OO_LVCONVERT_VDO}, ${OO_LVCONVERT}, --name LV_new, --virtualsize SizeMB`,
        secondary: true,
        autotype: ["vdo-pool"],
        desc: ["Convert LV to type vdopool."],
      },
      {
        id: "lvconvert_split_and_keep_cache",
        syntax: "--splitcache LV_cachepool_cache_thinpool_vdopool_writecache",
        oo: `${OO_LVCONVERT}, --cachesettings String`,
        desc: ["Detach a cache from an LV."],
      },
      {
        id: "lvconvert_split_and_remove_cache",
        syntax: "--uncache LV_cache_thinpool_vdopool_writecache",
        oo: `${OO_LVCONVERT}, --cachesettings String`,
        secondary: true,
        desc: ["Detach and delete a cache from an LV."],
      },
      {
        id: "lvconvert_swap_pool_metadata",
        syntax: "--swapmetadata --poolmetadata LV LV_thinpool_cachepool",
        oo: `--chunksize SizeKB, ${OO_LVCONVERT}`,
        secondary: true,
        desc: ["Swap metadata LV in a thin pool or cache pool (for repair only)."],
      },
      {
        id: "lvconvert_merge",
        syntax: "--merge LV_linear_striped_raid_thin_snapshot|VG|Tag ...",
        oo: `--background, --interval Number, ${OO_LVCONVERT}`,
        secondary: true,
        desc: [
          "Merge LV that was split from a mirror (variant, use --mergemirrors).",
          "Merge thin LV into its origin LV (variant, use --mergethin).",
          "Merge COW snapshot LV into its origin (variant, use --mergesnapshot).",
        ],
      },
      {
        id: "lvconvert_merge_thin",
        syntax: "--mergethin LV_thin ...",
        oo: OO_LVCONVERT,
        desc: ["Merge thin LV into its origin LV."],
      },
      {
        id: "lvconvert_merge_snapshot",
        syntax: "--mergesnapshot LV_snapshot ...",
        oo: `--background, --interval Number, ${OO_LVCONVERT}`,
        desc: ["Merge COW snapshot LV into its origin."],
      },
      {
        id: "lvconvert_split_cow_snapshot",
        syntax: "--splitsnapshot LV_snapshot",
        oo: OO_LVCONVERT,
        secondary: true,
        desc: ["Separate a COW snapshot from its origin LV."],
      },
      {
        id: "lvconvert_combine_split_snapshot",
        syntax: "--type snapshot LV LV_linear_striped",
        oo: `--snapshot, --chunksize SizeKB, --zero Bool, ${OO_LVCONVERT}`,
        desc: [
          "Combine a former COW snapshot (second arg) with a former",
          "origin LV (first arg) to reverse a splitsnapshot command.",
        ],
      },
      {
        id: "lvconvert_combine_split_snapshot",
        syntax: "--snapshot LV LV_linear_striped",
        oo: `--chunksize SizeKB, --zero Bool, ${OO_LVCONVERT}`,
        secondary: true,
        autotype: ["snapshot"],
        desc: [
          "Combine a former COW snapshot (second arg) with a former",
          "origin LV (first arg) to reverse a splitsnapshot command.",
        ],
      },
      {
        id: "lvconvert_repair",
        syntax: "--repair LV_cache_cachepool_mirror_raid_thinpool",
        oo: `--usepolicies, --interval Number, --poolmetadataspare Bool, ${OO_LVCONVERT}`,
        op: "PV ...",
        desc: ["Replace failed PVs in a raid or mirror LV.", "Repair a thin pool.", "Repair a cache pool."],
      },
      {
        id: "lvconvert_replace_pv",
        syntax: "--replace PV LV_raid",
        oo: OO_LVCONVERT,
        op: "PV ...",
        desc: ["Replace specific PV(s) in a raid LV with another PV."],
      },
      {
        id: "lvconvert_start_poll",
        syntax: "--startpoll LV_mirror_raid",
        oo: OO_LVCONVERT,
        desc: ["Poll LV to continue conversion."],
      },
      {
        id: "lvconvert_plain",
        syntax: "LV_mirror_raid",
        oo: OO_LVCONVERT,
        secondary: true,
        desc: [
          "Poll LV to continue conversion (also see --startpoll)",
          "or waits till conversion/mirror syncing is finished",
        ],
      },
      {
        id: "lvconvert_integrity",
        syntax: "--raidintegrity Bool LV_raid",
        oo: `--raidintegritymode String, --raidintegrityblocksize Number, ${OO_LVCONVERT}`,
        op: "PV ...",
        desc: ["Add or remove data integrity checksums to raid images."],
      },
    ],
  },
  lvcreate: {
    desc: "Create a logical volume",
    valueTypes: { size: "PSizeMB", extents: "PExtents", poolmetadatasize: "PSizeMB", mirrors: "PNumber" },
    usageTypes: { PSizeMB: "SizeMB", PExtents: "Extents", PNumber: "Number" },
    variants: [
      {
        id: "lvcreate_error_vol",
        syntax: "--type error --size SizeMB VG",
        oo: OO_LVCREATE,
        secondary: true,
        desc: ["Create an LV that returns errors when used."],
      },
      {
        id: "lvcreate_zero_vol",
        syntax: "--type zero --size SizeMB VG",
        oo: OO_LVCREATE,
        secondary: true,
        desc: ["Create an LV that returns zeros when read."],
      },
      {
        id: "lvcreate_linear",
        syntax: "--type linear --size SizeMB VG",
        oo: OO_LVCREATE,
        op: "PV ...",
        io: "--mirrors 0, --stripes 1",
        secondary: true,
        desc: ["Create a linear LV."],
      },
      {
        id: "lvcreate_linear",
        syntax: "--size SizeMB VG",
        oo: OO_LVCREATE,
        op: "PV ...",
        io: "--mirrors 0, --stripes 1",
        autotype: ["linear"],
        desc: ["Create a linear LV."],
      },
      {
        id: "lvcreate_striped",
        syntax: "--type striped --size SizeMB VG",
        oo: `--stripes Number, --stripesize SizeKB, ${OO_LVCREATE}`,
        op: "PV ...",
        secondary: true,
        desc: ["Create a striped LV (also see lvcreate --stripes)."],
      },
      {
        id: "lvcreate_striped",
        syntax: "--stripes Number --size SizeMB VG",
        oo: `--stripesize SizeKB, ${OO_LVCREATE}`,
        op: "PV ...",
        autotype: ["striped"],
        desc: ["Create a striped LV."],
      },
      {
        id: "lvcreate_mirror",
        syntax: "--type mirror --size SizeMB VG",
        oo: `
          --stripes Number, --stripesize SizeKB, --mirrors PNumber, --mirrorlog MirrorLog, --regionsize RegionSize,
          ${OO_LVCREATE}
        `,
        op: "PV ...",
        secondary: true,
        desc: ["Create a mirror LV (also see --type raid1)."],
      },
      {
        id: "lvcreate_mirror_or_raid1",
        syntax: "--mirrors PNumber --size SizeMB VG",
        oo: `
          --stripesize SizeKB, --mirrorlog MirrorLog, --regionsize RegionSize, --minrecoveryrate SizeKB,
          --maxrecoveryrate SizeKB, ${OO_LVCREATE}
        `,
        op: "PV ...",
        io: "--stripes 1",
        autotype: ["raid1", "mirror"],
        desc: ["Create a raid1 or mirror LV."],
      },
      {
        id: "lvcreate_raid_any",
        syntax: "--type raid --size SizeMB VG",
        oo: `
          --stripes Number, --stripesize SizeKB, --mirrors PNumber, --regionsize RegionSize, --minrecoveryrate SizeKB,
          --maxrecoveryrate SizeKB, --raidintegrity Bool, --raidintegritymode String, --raidintegrityblocksize Number,
          ${OO_LVCREATE}
        `,
        op: "PV ...",
        desc: ["Create a raid LV (a specific raid level must be used, e.g. raid1)."],
      },
      {
        id: "lvcreate_raid_any",
        syntax: "--mirrors PNumber --stripes Number --size SizeMB VG",
        oo: `
          --stripesize SizeKB, --regionsize RegionSize, --minrecoveryrate SizeKB, --maxrecoveryrate SizeKB,
          ${OO_LVCREATE}
        `,
        op: "PV ...",
        autotype: ["raid10"],
        desc: ["Create a raid10 LV."],
      },
      {
        id: "lvcreate_cow_snapshot",
        syntax: "--type snapshot --size SizeMB LV",
        oo: `--snapshot, --stripes Number, --stripesize SizeKB, --chunksize SizeKB, ${OO_LVCREATE}`,
        op: "PV ...",
        secondary: true,
        desc: ["Create a COW snapshot LV of an origin LV", "(also see --snapshot)."],
      },
      {
        id: "lvcreate_cow_snapshot",
        syntax: "--snapshot --size SizeMB LV",
        oo: `--stripes Number, --stripesize SizeKB, --chunksize SizeKB, ${OO_LVCREATE}`,
        op: "PV ...",
        autotype: ["snapshot"],
        desc: ["Create a COW snapshot LV of an origin LV."],
      },
      {
        id: "lvcreate_cow_snapshot_with_virtual_origin",
        syntax: "--type snapshot --size SizeMB --virtualsize SizeMB VG",
        oo: `--snapshot, --chunksize SizeKB, ${OO_LVCREATE}`,
        op: "PV ...",
        secondary: true,
        desc: ["Create a sparse COW snapshot LV of a virtual origin LV", "(also see --snapshot)."],
      },
      {
        id: "lvcreate_thinpool",
        syntax: "--type thin-pool --size SizeMB VG",
        oo: `
          --thinpool LV_new, --stripes Number, --stripesize SizeKB, --thin, ${OO_LVCREATE_THINPOOL},
          ${OO_LVCREATE_POOL}, ${OO_LVCREATE}
        `,
        op: "PV ...",
        io: "--mirrors 0",
        desc: ["Create a thin pool."],
      },
      {
        id: "lvcreate_thinpool",
        syntax: "--thin --size SizeMB VG",
        oo: `--stripes Number, --stripesize SizeKB, ${OO_LVCREATE_THINPOOL}, ${OO_LVCREATE_POOL}, ${OO_LVCREATE}`,
        op: "PV ...",
        io: "--mirrors 0",
        secondary: true,
        autotype: ["thin-pool"],
        desc: ["Create a thin pool."],
      },
      {
        id: "lvcreate_thinpool",
        syntax: "--size SizeMB --thinpool LV_new VG",
        oo: `
          --stripes Number, --stripesize SizeKB, --thin, ${OO_LVCREATE_THINPOOL}, ${OO_LVCREATE_POOL}, ${OO_LVCREATE}
        `,
        op: "PV ...",
        io: "--mirrors 0",
        secondary: true,
        autotype: ["thin-pool"],
        desc: ["Create a thin pool named in --thinpool."],
      },
      {
        id: "lvcreate_cachepool",
        syntax: "--type cache-pool --size SizeMB VG",
        oo: `--stripes Number, --stripesize SizeKB, --cache, ${OO_LVCREATE_CACHE}, ${OO_LVCREATE_POOL}, ${OO_LVCREATE}`,
        op: "PV ...",
        desc: ["Create a cache pool."],
      },
      {
        id: "lvcreate_cachepool",
        syntax: "--type cache-pool --size SizeMB --cachepool LV_new VG",
        oo: `--stripes Number, --stripesize SizeKB, --cache, ${OO_LVCREATE_CACHE}, ${OO_LVCREATE_POOL}, ${OO_LVCREATE}`,
        op: "PV ...",
        secondary: true,
        desc: ["Create a cache pool named by the --cachepool arg", "(variant, uses --cachepool in place of --name)."],
      },
      {
        id: "lvcreate_thin_vol",
        syntax: "--type thin --virtualsize SizeMB --thinpool LV_thinpool VG",
        oo: `--thin, ${OO_LVCREATE}`,
        io: "--mirrors 0",
        secondary: true,
        desc: ["Create a thin LV in a thin pool."],
      },
      {
        id: "lvcreate_thin_vol",
        syntax: "--type thin --virtualsize SizeMB LV_thinpool",
        oo: `--thin, ${OO_LVCREATE}`,
        io: "--mirrors 0",
        secondary: true,
        desc: [
          "Create a thin LV in a thin pool named in the first arg",
          "(variant, also see --thinpool for naming pool).",
        ],
      },
      {
        id: "lvcreate_thin_vol",
        syntax: "--virtualsize SizeMB --thinpool LV_thinpool VG",
        oo: `--thin, ${OO_LVCREATE}`,
        io: "--mirrors 0",
        autotype: ["thin"],
        desc: ["Create a thin LV in a thin pool."],
      },
      {
        id: "lvcreate_thin_vol",
        syntax: "--virtualsize SizeMB LV_thinpool",
        oo: `--thin, ${OO_LVCREATE}`,
        io: "--mirrors 0",
        secondary: true,
        autotype: ["thin"],
        desc: ["Create a thin LV in the thin pool named in the first arg", "(also see --thinpool for naming pool.)"],
      },
      {
        id: "lvcreate_thin_snapshot",
        syntax: "--type thin LV_thin",
        oo: `--thin, ${OO_LVCREATE}`,
        io: "--mirrors 0",
        secondary: true,
        desc: ["Create a thin LV that is a snapshot of an existing thin LV."],
      },
      {
        id: "lvcreate_thin_snapshot",
        syntax: "--thin LV_thin",
        oo: OO_LVCREATE,
        io: "--mirrors 0",
        secondary: true,
        autotype: ["thin"],
        desc: ["Create a thin LV that is a snapshot of an existing thin LV."],
      },
      {
        id: "lvcreate_thin_snapshot",
        syntax: "--snapshot LV_thin",
        oo: OO_LVCREATE,
        io: "--mirrors 0",
        autotype: ["thin"],
        desc: ["Create a thin LV that is a snapshot of an existing thin LV."],
      },
      {
        id: "lvcreate_thin_snapshot_of_external",
        syntax: "--type thin --thinpool LV_thinpool LV",
        oo: `--thin, ${OO_LVCREATE}`,
        io: "--mirrors 0",
        desc: ["Create a thin LV that is a snapshot of an external origin LV."],
      },
      {
        id: "lvcreate_thin_snapshot_of_external",
        syntax: "--snapshot --thinpool LV_thinpool LV",
        oo: OO_LVCREATE,
        io: "--mirrors 0",
        secondary: true,
        autotype: ["thin"],
        desc: ["Create a thin LV that is a snapshot of an external origin LV."],
      },
      {
        id: "lvcreate_vdo_vol",
        syntax: "--type vdo --size SizeMB VG",
        oo: `
          --stripes Number, --stripesize SizeKB, --vdo, --virtualsize SizeMB, --vdopool LV_new, ${OO_LVCREATE_VDO},
          ${OO_LVCREATE}
        `,
        op: "PV ...",
        io: "--mirrors 0",
        desc: ["Create a LV that returns VDO when used."],
      },
      {
        id: "lvcreate_vdo_vol",
        syntax: "--vdo --size SizeMB VG",
        oo: `
          --stripes Number, --stripesize SizeKB, --virtualsize SizeMB, --vdopool LV_new, ${OO_LVCREATE_VDO},
          ${OO_LVCREATE}
        `,
        op: "PV ...",
        io: "--mirrors 0",
        secondary: true,
        autotype: ["vdo"],
        desc: ["Create a VDO LV with VDO pool."],
      },
      {
        id: "lvcreate_vdo_vol",
        syntax: "--vdopool LV_new --size SizeMB VG",
        oo: `--stripes Number, --stripesize SizeKB, --virtualsize SizeMB, ${OO_LVCREATE_VDO}, ${OO_LVCREATE}`,
        op: "PV ...",
        io: "--mirrors 0",
        secondary: true,
        autotype: ["vdo"],
        desc: ["Create a VDO LV with VDO pool."],
      },
      {
        id: "lvcreate_thin_vol_and_thinpool",
        syntax: "--type thin --virtualsize SizeMB --size SizeMB --thinpool LV_new VG",
        oo: `
          --stripes Number, --stripesize SizeKB, --thin, ${OO_LVCREATE_THINPOOL}, ${OO_LVCREATE_POOL}, ${OO_LVCREATE}
        `,
        op: "PV ...",
        io: "--mirrors 0",
        secondary: true,
        desc: [
          "Create a thin LV, first creating a thin pool for it,",
          "where the new thin pool is named by the --thinpool arg.",
        ],
      },
      {
        id: "lvcreate_thin_vol_and_thinpool",
        syntax: "--virtualsize SizeMB --size SizeMB --thinpool LV_new VG",
        oo: `
          --stripes Number, --stripesize SizeKB, --thin, ${OO_LVCREATE_THINPOOL}, ${OO_LVCREATE_POOL}, ${OO_LVCREATE}
        `,
        op: "PV ...",
        io: "--mirrors 0",
        secondary: true,
        autotype: ["thin"],
        desc: [
          "Create a thin LV, first creating a thin pool for it,",
          "where the new thin pool is named by --thinpool.",
        ],
      },
      {
        id: "lvcreate_thin_vol_and_thinpool",
        syntax: "--type thin --virtualsize SizeMB --size SizeMB LV_new|VG",
        oo: `
          --stripes Number, --stripesize SizeKB, --thin, ${OO_LVCREATE_THINPOOL}, ${OO_LVCREATE_POOL}, ${OO_LVCREATE}
        `,
        op: "PV ...",
        io: "--mirrors 0",
        secondary: true,
        desc: [
          "Create a thin LV, first creating a thin pool for it,",
          "where the new thin pool is named in the first arg,",
          "or the new thin pool name is generated when the first",
          "arg is a VG name.",
        ],
      },
      {
        id: "lvcreate_thin_vol_and_thinpool",
        syntax: "--thin --virtualsize SizeMB --size SizeMB LV_new|VG",
        oo: `--stripes Number, --stripesize SizeKB, ${OO_LVCREATE_THINPOOL}, ${OO_LVCREATE_POOL}, ${OO_LVCREATE}`,
        op: "PV ...",
        io: "--mirrors 0",
        secondary: true,
        autotype: ["thin"],
        desc: [
          "Create a thin LV, first creating a thin pool for it,",
          "where the new thin pool is named in the first arg,",
          "or the new thin pool name is generated when the first",
          "arg is a VG name.",
        ],
      },
      {
        id: "lvcreate_thin_vol_with_thinpool_or_sparse_snapshot",
        syntax: "--size SizeMB --virtualsize SizeMB VG",
        oo: `
          --stripes Number, --stripesize SizeKB, --snapshot, --thin, ${OO_LVCREATE_THINPOOL}, ${OO_LVCREATE_POOL},
          ${OO_LVCREATE}
        `,
        op: "PV ...",
        io: "--mirrors 0",
        secondary: true,
        autotype: ["thin", "snapshot"],
        desc: [
          "Create a thin LV, first creating a thin pool for it.",
          "Create a sparse snapshot of a virtual origin LV",
          "Chooses type thin or snapshot according to",
          "config setting sparse_segtype_default.",
        ],
      },
      {
        id: "lvcreate_and_attach_cachepool",
        syntax: "--type cache --size SizeMB --cachepool LV_cachepool VG",
        oo: `--stripes Number, --stripesize SizeKB, --cache, ${OO_LVCREATE_CACHE}, ${OO_LVCREATE_POOL}, ${OO_LVCREATE}`,
        op: "PV ...",
        desc: ["Create a new LV, then attach the specified cachepool", "which converts the new LV to type cache."],
      },
      {
        id: "lvcreate_and_attach_cachepool_v2",
        syntax: "--size SizeMB --cachepool LV_cachepool VG",
        oo: `--stripes Number, --stripesize SizeKB, --cache, ${OO_LVCREATE_CACHE}, ${OO_LVCREATE}`,
        op: "PV ...",
        secondary: true,
        autotype: ["cache"],
        desc: ["Create a new LV, then attach the specified cachepool", "which converts the new LV to type cache."],
      },
      {
        id: "lvcreate_and_attach_cachepool_v3",
        syntax: "--type cache --size SizeMB LV_cachepool",
        oo: `--stripes Number, --stripesize SizeKB, --cache, ${OO_LVCREATE_CACHE}, ${OO_LVCREATE_POOL}, ${OO_LVCREATE}`,
        op: "PV ...",
        secondary: true,
        desc: [
          "Create a new LV, then attach the specified cachepool",
          "which converts the new LV to type cache.",
          "(variant, also use --cachepool).",
        ],
      },
      {
        id: "lvcreate_new_plus_old_cachepool_or_lvconvert_old_plus_new_cachepool",
        syntax: "--cache --size SizeMB LV",
        oo: `${OO_LVCREATE_CACHE}, ${OO_LVCREATE_POOL}, ${OO_LVCREATE}, --stripes Number, --stripesize SizeKB`,
        op: "PV ...",
        secondary: true,
        autotype: ["cache"],
        desc: [
          "When the LV arg is a cachepool, then create a new LV and",
          "attach the cachepool arg to it.",
          "(variant, use --type cache and --cachepool.)",
          "When the LV arg is not a cachepool, then create a new cachepool",
          "and attach it to the LV arg (alternative, use lvconvert.)",
        ],
      },
      {
        id: "lvcreate_and_attach_cachevol_for_cache",
        syntax: "--type cache --size SizeMB --cachevol LV VG",
        oo: `--stripes Number, --stripesize SizeKB, ${OO_LVCREATE_CACHE}, ${OO_LVCREATE}`,
        op: "PV ...",
        desc: ["Create a new LV, then attach the specified cachevol", "which converts the new LV to type cache."],
      },
      {
        id: "lvcreate_and_attach_cachedevice_for_cache",
        syntax: "--type cache --size SizeMB --cachedevice PV VG",
        oo: `--stripes Number, --stripesize SizeKB, --cachesize SizeMB, ${OO_LVCREATE_CACHE}, ${OO_LVCREATE}`,
        op: "PV ...",
        desc: [
          "Create a new LV, then attach a cachevol created from",
          "the specified cache device, which converts the",
          "new LV to type cache.",
        ],
      },
      {
        id: "lvcreate_and_attach_cachevol_for_writecache",
        syntax: "--type writecache --size SizeMB --cachevol LV VG",
        oo: `${OO_LVCREATE}, --cachesettings String, --stripes Number, --stripesize SizeKB`,
        op: "PV ...",
        desc: ["Create a new LV, then attach the specified cachevol", "which converts the new LV to type writecache."],
      },
      {
        id: "lvcreate_and_attach_cachedevice_for_writecache",
        syntax: "--type writecache --size SizeMB --cachedevice PV VG",
        oo: `${OO_LVCREATE}, --cachesize SizeMB, --cachesettings String, --stripes Number, --stripesize SizeKB`,
        op: "PV ...",
        desc: [
          "Create a new LV, then attach a cachevol created from",
          "the specified cache device, which converts the",
          "new LV to type writecache.",
        ],
      },
    ],
  },
  lvdisplay: {
    desc: "Display information about a logical volume",
    variants: [
      {
        id: "lvdisplay_general",
        syntax: "",
        oo: `
          --aligned, --all, --binary, --colon, --columns, --configreport ConfigReport, --foreign, --history,
          --ignorelockingfailure, --logonly, --maps, --noheadings, --nosuffix, --options String, --sort String,
          --readonly, --segments, --select String, --separator String, --shared, --unbuffered, --units Units
        `,
        op: "VG|LV|Tag ...",
        io: "--partial, --ignoreskippedcluster, --reportformat ReportFmt",
      },
    ],
  },
  lvextend: {
    desc: "Add space to a logical volume",
    valueTypes: { size: "PSizeMB", extents: "PExtents", poolmetadatasize: "PSizeMB" },
    variants: [
      {
        id: "lvextend_by_size",
        syntax: "--size PSizeMB LV",
        oo: `
          --alloc Alloc, --autobackup Bool, --force, --mirrors Number, --nofsck, --nosync, --noudevsync,
          --reportformat ReportFmt, --resizefs, --stripes Number, --stripesize SizeKB, --poolmetadatasize PSizeMB,
          --type SegType
        `,
        op: "PV ...",
        desc: ["Extend an LV by a specified size."],
      },
      {
        id: "lvextend_by_pv",
        syntax: "LV PV ...",
        oo: `
          --alloc Alloc, --autobackup Bool, --force, --mirrors Number, --nofsck, --nosync, --noudevsync,
          --reportformat ReportFmt, --resizefs, --stripes Number, --stripesize SizeKB, --type SegType
        `,
        desc: ["Extend an LV by specified PV extents."],
      },
      {
        id: "lvextend_pool_metadata_by_size",
        syntax: "--poolmetadatasize PSizeMB LV_thinpool",
        oo: `
          --alloc Alloc, --autobackup Bool, --force, --mirrors Number, --nofsck, --nosync, --noudevsync,
          --reportformat ReportFmt, --stripes Number, --stripesize SizeKB, --type SegType
        `,
        op: "PV ...",
        desc: ["Extend a pool metadata SubLV by a specified size."],
      },
      {
        id: "lvextend_by_policy",
        syntax: "--usepolicies LV_thinpool_snapshot",
        oo: `
          --alloc Alloc, --autobackup Bool, --force, --mirrors Number, --nofsck, --nosync, --noudevsync,
          --reportformat ReportFmt, --resizefs, --type SegType
        `,
        op: "PV ...",
        desc: ["Extend an LV according to a predefined policy."],
      },
    ],
  },
  lvmdevices: {
    desc: "Manage the devices file",
    variants: [
      { id: "lvmdevices_list", syntax: "", desc: ["Print devices in the devices file."] },
      { id: "lvmdevices_check", syntax: "--check", desc: ["Check the devices file and report incorrect values."] },
      { id: "lvmdevices_update", syntax: "--update", desc: ["Update the devices file to fix incorrect values."] },
      {
        id: "lvmdevices_edit",
        syntax: "--adddev PV",
        oo: `--deviceidtype String`,
        desc: ["Add a device to the devices file."],
      },
      {
        id: "lvmdevices_edit",
        syntax: "--deldev PV|String",
        oo: `--deviceidtype String`,
        desc: ["Remove a device from the devices file."],
      },
      {
        id: "lvmdevices_edit",
        syntax: "--addpvid String",
        oo: `--deviceidtype String`,
        desc: ["Find the device with the given PVID and add it to the devices file."],
      },
      {
        id: "lvmdevices_edit",
        syntax: "--delpvid String",
        desc: ["Remove the devices file entry for the given PVID."],
      },
    ],
  },
  lvreduce: {
    desc: "Reduce the size of a logical volume",
    valueTypes: { size: "NSizeMB", extents: "NExtents" },
    variants: [
      {
        id: "lvreduce_general",
        syntax: "--size NSizeMB LV",
        oo: `--autobackup Bool, --force, --nofsck, --noudevsync, --reportformat ReportFmt, --resizefs`,
      },
    ],
  },
  lvremove: {
    desc: "Remove logical volume(s) from the system",
    variants: [
      {
        id: "lvremove_general",
        syntax: "VG|LV|Tag|Select ...",
        oo: `--autobackup Bool, --force, --nohistory, --noudevsync, --reportformat ReportFmt, --select String`,
      },
    ],
  },
  lvrename: {
    desc: "Rename a logical volume",
    variants: [
      {
        id: "lvrename_vg_lv_lv",
        syntax: "VG LV LV_new",
        oo: `--autobackup Bool, --noudevsync, --reportformat ReportFmt`,
      },
      { id: "lvrename_lv_lv", syntax: "LV LV_new", oo: `--autobackup Bool, --noudevsync, --reportformat ReportFmt` },
    ],
  },
  lvresize: {
    desc: "Resize a logical volume",
    valueTypes: { size: "SSizeMB", extents: "SExtents", poolmetadatasize: "PSizeMB" },
    variants: [
      {
        id: "lvresize_by_size",
        syntax: "--size SSizeMB LV",
        oo: `
          --alloc Alloc, --autobackup Bool, --force, --nofsck, --nosync, --noudevsync, --reportformat ReportFmt,
          --resizefs, --stripes Number, --stripesize SizeKB, --poolmetadatasize PSizeMB, --type SegType
        `,
        op: "PV ...",
        desc: ["Resize an LV by a specified size."],
      },
      {
        id: "lvresize_by_pv",
        syntax: "LV PV ...",
        oo: `
          --alloc Alloc, --autobackup Bool, --force, --nofsck, --nosync, --noudevsync, --reportformat ReportFmt,
          --resizefs, --stripes Number, --stripesize SizeKB, --type SegType
        `,
        desc: ["Resize an LV by specified PV extents."],
      },
      {
        id: "lvresize_pool_metadata_by_size",
        syntax: "--poolmetadatasize PSizeMB LV_thinpool",
        oo: `
          --alloc Alloc, --autobackup Bool, --force, --nofsck, --nosync, --noudevsync, --reportformat ReportFmt,
          --stripes Number, --stripesize SizeKB, --type SegType
        `,
        op: "PV ...",
        desc: ["Resize a pool metadata SubLV by a specified size."],
      },
    ],
  },
  lvs: {
    desc: "Display information about logical volumes",
    variants: [
      {
        id: "lvs_general",
        syntax: "",
        oo: `--history, --segments, ${OO_REPORT}`,
        op: "VG|LV|Tag ...",
        io: "--partial, --ignoreskippedcluster, --trustcache",
      },
    ],
  },
  lvscan: {
    desc: "List all logical volumes in all volume groups",
    variants: [
      {
        id: "lvscan_general",
        syntax: "",
        oo: `--all, --blockdevice, --ignorelockingfailure, --readonly, --reportformat ReportFmt`,
        io: "--partial, --cache_long",
      },
    ],
  },
  pvchange: {
    desc: "Change attributes of physical volume(s)",
    variants: [
      {
        id: "pvchange_properties_all",
        syntax: "--all",
        anyOf: OO_PVCHANGE_META,
        oo: OO_PVCHANGE,
        io: "--ignoreskippedcluster",
        desc: ["Change properties of all PVs."],
      },
      {
        id: "pvchange_properties_some",
        syntax: "PV|Select ...",
        anyOf: OO_PVCHANGE_META,
        oo: `--select String, ${OO_PVCHANGE}`,
        io: "--ignoreskippedcluster",
        desc: ["Change properties of specified PVs."],
      },
    ],
  },
  pvck: {
    desc: "Check metadata on physical volumes",
    variants: [
      { id: "pvck_general", syntax: "PV ...", oo: `--labelsector Number`, desc: ["Check for metadata on a device"] },
      {
        id: "pvck_dump",
        syntax: "--dump DumpType PV",
        oo: `--settings String, --file String, --pvmetadatacopies MetadataCopiesPV, --labelsector Number`,
        desc: ["Check and print LVM headers and metadata on a device"],
      },
      {
        id: "pvck_repair_type",
        syntax: "--repairtype RepairType PV",
        oo: `--settings String, --file String, --labelsector Number`,
        desc: ["Repair LVM headers or metadata on a device"],
      },
      {
        id: "pvck_repair",
        syntax: "--repair --file String PV",
        oo: `--settings String, --labelsector Number`,
        desc: ["Repair LVM headers and metadata on a device"],
      },
    ],
  },
  pvcreate: {
    desc: "Initialize physical volume(s) for use by LVM",
    variants: [
      {
        id: "pvcreate_general",
        syntax: "PV ...",
        oo: `
          --dataalignment SizeKB, --dataalignmentoffset SizeKB, --bootloaderareasize SizeMB, --force,
          --labelsector Number, --metadatatype MetadataType, --pvmetadatacopies MetadataCopiesPV,
          --metadatasize SizeMB, --metadataignore Bool, --norestorefile, --setphysicalvolumesize SizeMB,
          --reportformat ReportFmt, --restorefile String, --uuidstr String, --zero Bool
        `,
        rules: ["--norestorefile not --restorefile", "--bootloaderareasize not --restorefile"],
      },
    ],
  },
  pvdisplay: {
    desc: "Display various attributes of physical volume(s)",
    variants: [
      {
        id: "pvdisplay_general",
        syntax: "",
        oo: `
          --aligned, --all, --binary, --colon, --columns, --configreport ConfigReport, --foreign,
          --ignorelockingfailure, --logonly, --maps, --noheadings, --nosuffix, --options String, --readonly,
          --select String, --separator String, --shared, --short, --sort String, --unbuffered, --units Units
        `,
        op: "PV|Tag ...",
        io: "--ignoreskippedcluster, --reportformat ReportFmt",
      },
    ],
  },
  pvremove: {
    desc: "Remove LVM label(s) from physical volume(s)",
    variants: [{ id: "pvremove_general", syntax: "PV ...", oo: `--force, --reportformat ReportFmt` }],
  },
  pvresize: {
    desc: "Resize physical volume(s)",
    variants: [
      { id: "pvresize_general", syntax: "PV ...", oo: `--setphysicalvolumesize SizeMB, --reportformat ReportFmt` },
    ],
  },
  pvs: {
    desc: "Display information about physical volumes",
    variants: [
      {
        id: "pvs_general",
        syntax: "",
        oo: `--segments, ${OO_REPORT}`,
        op: "PV|Tag ...",
        io: "--partial, --ignoreskippedcluster, --trustcache",
      },
    ],
  },
  pvscan: {
    desc: "List all physical volumes",
    variants: [
      {
        id: "pvscan_display",
        syntax: "",
        oo: `--ignorelockingfailure, --reportformat ReportFmt, --exported, --novolumegroup, --short, --uuid`,
        desc: ["Display PV information."],
      },
      {
        id: "pvscan_cache",
        syntax: "--cache_long",
        oo: `--ignorelockingfailure, --reportformat ReportFmt, --major Number, --minor Number, --noudevsync`,
        op: "PV|String ...",
        io: "--background",
        desc: ["Record that a PV is online or offline."],
      },
      {
        id: "pvscan_cache",
        syntax: "--cache_long --activate ay",
        oo: `
          --ignorelockingfailure, --reportformat ReportFmt, --major Number, --minor Number, --noudevsync,
          --autoactivation String
        `,
        op: "PV|String ...",
        io: "--background",
        desc: ["Record that a PV is online and autoactivate the VG if complete."],
      },
      {
        id: "pvscan_cache",
        syntax: "--cache_long --listvg PV",
        oo: `--ignorelockingfailure, --checkcomplete, --vgonline, --udevoutput, --autoactivation String`,
        desc: ["Record that a PV is online and list the VG using the PV."],
      },
      {
        id: "pvscan_cache",
        syntax: "--cache_long --listlvs PV",
        oo: `--ignorelockingfailure, --checkcomplete, --vgonline`,
        desc: ["Record that a PV is online and list LVs using the PV."],
      },
      { id: "pvscan_cache", syntax: "--listlvs PV", desc: ["List LVs using the PV."] },
      { id: "pvscan_cache", syntax: "--listvg PV", desc: ["List the VG using the PV."] },
    ],
  },
  version: {
    desc: "Display software and driver version information",
    variants: [{ id: "version_general", syntax: "" }],
  },
  vgcfgbackup: {
    desc: "Backup volume group configuration(s)",
    variants: [
      {
        id: "vgcfgbackup_general",
        syntax: "",
        oo: `--file String, --foreign, --ignorelockingfailure, --readonly, --reportformat ReportFmt`,
        op: "VG ...",
        io: "--partial",
      },
    ],
  },
  vgcfgrestore: {
    desc: "Restore volume group configuration",
    variants: [
      { id: "vgcfgrestore_by_vg", syntax: "VG", oo: OO_VGCFGRESTORE, desc: ["Restore VG metadata from last backup."] },
      {
        id: "vgcfgrestore_by_file",
        syntax: "--file String VG",
        oo: OO_VGCFGRESTORE,
        desc: ["Restore VG metadata from specified file."],
      },
      {
        id: "vgcfgrestore_list_by_vg",
        syntax: "--list VG",
        oo: OO_VGCFGRESTORE,
        desc: ["List all VG metadata backups."],
      },
      {
        id: "vgcfgrestore_list_by_file",
        syntax: "--list --file String",
        oo: OO_VGCFGRESTORE,
        op: "VG",
        desc: ["List one VG metadata backup file."],
      },
    ],
  },
  vgchange: {
    desc: "Change volume group attributes",
    variants: [
      {
        id: "vgchange_properties",
        syntax: "",
        anyOf: OO_VGCHANGE_META,
        oo: `--poll Bool, ${OO_VGCHANGE}`,
        op: "VG|Tag|Select ...",
        io: "--ignoreskippedcluster",
        desc: [
          "Change a general VG attribute.",
          "For options listed in parentheses, any one is",
          "required, after which the others are optional.",
        ],
      },
      {
        id: "vgchange_monitor",
        syntax: "--monitor Bool",
        oo: `--sysinit, --ignorelockingfailure, --poll Bool, ${OO_VGCHANGE}`,
        op: "VG|Tag|Select ...",
        io: "--ignoreskippedcluster",
        desc: ["Start or stop monitoring LVs from dmeventd."],
      },
      {
        id: "vgchange_poll",
        syntax: "--poll Bool",
        oo: `--ignorelockingfailure, ${OO_VGCHANGE}`,
        op: "VG|Tag|Select ...",
        io: "--ignoreskippedcluster",
        desc: ["Start or stop processing LV conversions."],
      },
      {
        id: "vgchange_activate",
        syntax: "--activate Active",
        oo: `
          --activationmode ActivationMode, --ignoreactivationskip, --partial, --sysinit, --readonly,
          --ignorelockingfailure, --monitor Bool, --poll Bool, --autoactivation String, ${OO_VGCHANGE}
        `,
        op: "VG|Tag|Select ...",
        io: "--ignoreskippedcluster",
        desc: ["Activate or deactivate LVs."],
      },
      {
        id: "vgchange_refresh",
        syntax: "--refresh",
        oo: `--sysinit, --ignorelockingfailure, --poll Bool, ${OO_VGCHANGE}`,
        op: "VG|Tag|Select ...",
        io: "--ignoreskippedcluster",
        desc: ["Reactivate LVs using the latest metadata."],
      },
      { id: "vgchange_systemid", syntax: "--systemid String VG", desc: ["Change the system ID of a VG."] },
      {
        id: "vgchange_lockstart",
        syntax: "--lockstart",
        oo: `--select String`,
        op: "VG|Tag|Select ...",
        desc: ["Start the lockspace of a shared VG in lvmlockd."],
      },
      {
        id: "vgchange_lockstop",
        syntax: "--lockstop",
        oo: `--select String`,
        op: "VG|Tag|Select ...",
        desc: ["Stop the lockspace of a shared VG in lvmlockd."],
      },
      { id: "vgchange_locktype", syntax: "--locktype LockType VG", desc: ["Change the lock type for a shared VG."] },
    ],
  },
  vgck: {
    desc: "Check the consistency of volume group(s)",
    variants: [
      {
        id: "vgck_general",
        syntax: "",
        oo: `--reportformat ReportFmt`,
        op: "VG|Tag ...",
        desc: ["Read and display information about a VG."],
      },
      { id: "vgck_update_metadata", syntax: "--updatemetadata VG", desc: ["Rewrite VG metadata to correct problems."] },
    ],
  },
  vgcreate: {
    desc: "Create a volume group",
    variants: [
      {
        id: "vgcreate_general",
        syntax: "VG_new PV ...",
        oo: `
          --addtag Tag, --alloc Alloc, --autobackup Bool, --clustered Bool, --maxlogicalvolumes Uint32,
          --maxphysicalvolumes Uint32, --metadataprofile String, --metadatatype MetadataType,
          --physicalextentsize SizeMB, --force, --zero Bool, --labelsector Number, --metadatasize SizeMB,
          --pvmetadatacopies MetadataCopiesPV, --vgmetadatacopies MetadataCopiesVG, --reportformat ReportFmt,
          --dataalignment SizeKB, --dataalignmentoffset SizeKB, --shared, --systemid String, --locktype LockType,
          --setautoactivation Bool
        `,
      },
    ],
  },
  vgdisplay: {
    desc: "Display volume group information",
    variants: [
      {
        id: "vgdisplay_general",
        syntax: "",
        oo: `
          --activevolumegroups, --aligned, --binary, --colon, --columns, --configreport ConfigReport, --foreign,
          --ignorelockingfailure, --logonly, --noheadings, --nosuffix, --options String, --readonly, --select String,
          --shared, --short, --separator String, --sort String, --unbuffered, --units Units
        `,
        op: "VG|Tag ...",
        io: "--partial, --ignoreskippedcluster, --reportformat ReportFmt",
      },
    ],
  },
  vgextend: {
    desc: "Add physical volumes to a volume group",
    variants: [
      {
        id: "vgextend_general",
        syntax: "VG PV ...",
        oo: `
          --autobackup Bool, --force, --zero Bool, --labelsector Number, --metadatatype MetadataType,
          --metadatasize SizeMB, --pvmetadatacopies MetadataCopiesPV, --metadataignore Bool, --dataalignment SizeKB,
          --dataalignmentoffset SizeKB, --reportformat ReportFmt, --restoremissing
        `,
      },
    ],
  },
  vgmknodes: {
    desc: "Create the special files for volume group devices in /dev",
    variants: [
      {
        id: "vgmknodes_general",
        syntax: "",
        oo: `--ignorelockingfailure, --refresh, --reportformat ReportFmt`,
        op: "VG|LV|Tag ...",
      },
    ],
  },
  vgreduce: {
    desc: "Remove physical volume(s) from a volume group",
    variants: [
      { id: "vgreduce_by_pv", syntax: "VG PV ...", oo: OO_VGREDUCE, desc: ["Remove a PV from a VG."] },
      { id: "vgreduce_all", syntax: "--all VG", oo: OO_VGREDUCE, desc: ["Remove all unused PVs from a VG."] },
      {
        id: "vgreduce_missing",
        syntax: "--removemissing VG",
        oo: `--mirrorsonly, ${OO_VGREDUCE}`,
        desc: ["Remove all missing PVs from a VG."],
      },
    ],
  },
  vgremove: {
    desc: "Remove volume group(s)",
    variants: [
      {
        id: "vgremove_general",
        syntax: "VG|Tag|Select ...",
        oo: `--force, --noudevsync, --reportformat ReportFmt, --select String`,
      },
    ],
  },
  vgrename: {
    desc: "Rename a volume group",
    variants: [
      {
        id: "vgrename_by_name",
        syntax: "VG VG_new",
        oo: `--autobackup Bool, --force, --reportformat ReportFmt`,
        desc: ["Rename a VG."],
      },
      {
        id: "vgrename_by_uuid",
        syntax: "String VG_new",
        oo: `--autobackup Bool, --force, --reportformat ReportFmt`,
        desc: ["Rename a VG by specifying the VG UUID."],
      },
    ],
  },
  vgs: {
    desc: "Display information about volume groups",
    variants: [
      {
        id: "vgs_general",
        syntax: "",
        oo: OO_REPORT,
        op: "VG|Tag ...",
        io: "--partial, --ignoreskippedcluster, --trustcache",
      },
    ],
  },
  vgscan: {
    desc: "Search for all volume groups",
    variants: [
      {
        id: "vgscan_general",
        syntax: "",
        oo: `--ignorelockingfailure, --mknodes, --notifydbus, --reportformat ReportFmt`,
        io: "--partial, --cache_long",
      },
    ],
  },
};

export interface ValueDef {
  /** The accepted types, for --help; the option's own type parses the value. */
  types: ValueType[];
  /** A literal the option's value must equal for the variant to match. */
  constant?: string | number;
  newName: boolean;
  lvTypes: string[];
}

export interface OptionUse {
  option: OptionDef;
  value?: ValueDef;
}

export interface PositionDef {
  types: { type: PositionType; newName: boolean }[];
  /** For LV: the LV types accepted (empty: any). */
  lvTypes: string[];
  repeat: boolean;
}

export interface OptionRule {
  /** Options that make the rule apply; empty: always. */
  when: OptionDef[];
  kind: "not" | "and";
  check: OptionDef[];
}

export interface Variant {
  command: string;
  id: string;
  required: OptionUse[];
  anyOf: OptionUse[];
  positional: PositionDef[];
  optional: OptionUse[];
  optionalPositional: PositionDef[];
  ignored: OptionUse[];
  desc: string[];
  secondary: boolean;
  previous: boolean;
  autotype: string[];
  rules: OptionRule[];
}

export interface CommandDef {
  name: string;
  desc: string;
  valueTypes: Record<string, ValueType>;
  usageTypes: Partial<Record<ValueType, ValueType>>;
  variants: Variant[];
  /** --extents may stand in for --size (lvm's command_has_alternate_extents: the commands that take a size). */
  extentsForSize: boolean;
}

const isValueType = (s: string): s is ValueType => Object.hasOwn(VALUE_USAGE, s);
const isPositionType = (s: string): s is PositionType => (POSITION_TYPES as readonly string[]).includes(s);
const tokens = (text: string) => text.split(/[\s,]+/).filter(Boolean);

function valueDef(token: string): ValueDef {
  const def: ValueDef = { types: [], newName: false, lvTypes: [] };
  for (const alt of token.split("|")) {
    const [base = "", ...suffix] = alt.split("_");
    if (!isValueType(base)) return { ...def, constant: /^\d/.test(token) ? Number(token) : token };
    def.types.push(base);
    def.newName ||= suffix.includes("new");
    def.lvTypes.push(...suffix.filter((s) => s !== "new"));
  }
  return def;
}

function positionDef(token: string): PositionDef {
  const def: PositionDef = { types: [], lvTypes: [], repeat: false };
  for (const alt of token.split("|")) {
    const [base = "", ...suffix] = alt.split("_");
    if (!isPositionType(base)) throw new Error(`command table: unknown positional ${alt}`);
    const newName = suffix.includes("new");
    def.types.push({ type: base, newName });
    if (base === "LV") def.lvTypes.push(...suffix.filter((s) => s !== "new"));
  }
  return def;
}

/** Options (each with its value when it takes one) and positionals, in lvm's notation. */
function parseSyntax(text: string): { options: OptionUse[]; positions: PositionDef[] } {
  const options: OptionUse[] = [];
  const positions: PositionDef[] = [];
  const toks = tokens(text);
  for (let i = 0; i < toks.length; i++) {
    const tok = toks[i]!;
    if (tok.startsWith("--")) {
      const option = optionById(tok.slice(2));
      options.push(option.value ? { option, value: valueDef(toks[++i] ?? "") } : { option });
    } else if (tok === "...") {
      positions[positions.length - 1]!.repeat = true;
    } else {
      positions.push(positionDef(tok));
    }
  }
  return { options, positions };
}

function optionList(text: string | undefined): OptionUse[] {
  const { options, positions } = parseSyntax(text ?? "");
  if (positions.length) throw new Error(`command table: positional in option list: ${text}`);
  return options;
}

function parseRule(text: string): OptionRule {
  const toks = tokens(text);
  const at = toks.findIndex((t) => t === "not" || t === "and");
  const opts = (list: string[]) => list.filter((t) => t !== "all").map((t) => optionById(t.slice(2)));
  return { when: opts(toks.slice(0, at)), kind: toks[at] as "not" | "and", check: opts(toks.slice(at + 1)) };
}

/** The options common to every lvm command, in declaration order. */
export const COMMON_OPTIONS: readonly OptionUse[] = optionList(OO_ALL);

/** lvm adds an optional option only once; the first declaration wins. */
function dedupe(uses: OptionUse[]): OptionUse[] {
  const seen = new Set<string>();
  return uses.filter((u) => {
    const first = !seen.has(u.option.id);
    seen.add(u.option.id);
    return first;
  });
}

function compileVariant(command: string, spec: VariantSpec): Variant {
  const { options: required, positions: positional } = parseSyntax(spec.syntax);
  return {
    command,
    id: spec.id,
    required,
    anyOf: optionList(spec.anyOf),
    positional,
    optional: dedupe([...COMMON_OPTIONS, ...optionList(spec.oo)]),
    optionalPositional: parseSyntax(spec.op ?? "").positions,
    ignored: optionList(spec.io),
    desc: spec.desc ?? [],
    secondary: spec.secondary ?? false,
    previous: spec.previous ?? false,
    autotype: spec.autotype ?? [],
    rules: (spec.rules ?? []).map(parseRule),
  };
}

/** Compiled on first use: a run needs one command's table, and compiling all of them was a tenth of `ulvm version`. */
const COMMANDS = new Map<string, CommandDef>();

function compileCommand(name: string, spec: CommandSpec): CommandDef {
  const variants = spec.variants.map((v) => compileVariant(name, v));
  const uses = variants.flatMap((v) => [...v.required, ...v.optional]);
  return {
    name,
    desc: spec.desc,
    valueTypes: spec.valueTypes ?? {},
    usageTypes: spec.usageTypes ?? {},
    variants,
    extentsForSize: uses.some((u) => u.option.id === "size"),
  };
}

/** Command names in `help`'s order. */
export function commandNames(): string[] {
  return Object.keys(COMMAND_SPECS);
}

export function getCommand(name: string): CommandDef | undefined {
  if (!Object.hasOwn(COMMAND_SPECS, name)) return undefined;
  let cmd = COMMANDS.get(name);
  if (!cmd) COMMANDS.set(name, (cmd = compileCommand(name, COMMAND_SPECS[name]!)));
  return cmd;
}
