/**
 * Command lines with what lvm 2.03.16 makes of them: the unit tests check ulvm's
 * parse against the expectations, the compatibility tests run the same lines
 * through the real lvm.
 */
import { parseCommandLine, CommandLineError } from "../../../src/cli/args.ts";

/** ulvm's verdict on a command line as lvm reports one: exit code (0: accepted), stderr with prefixes, stdout. */
export function parseOutcome(
  argv: string[],
  env: Record<string, string> = {},
): { code: number; stderr: string; stdout: string } {
  try {
    parseCommandLine(argv, env);
    return { code: 0, stderr: "", stdout: "" };
  } catch (e) {
    if (!(e instanceof CommandLineError)) throw e;
    return { code: e.exitCode, stderr: [...e.rawLines, ...e.lines.map((l) => `  ${l}`)].join("\n"), stdout: e.stdout };
  }
}

export const words = (line: string) => line.split(" ").filter(Boolean);

const size = (sectors: number, sign = "") => ({ sign, sectors });
const sectors = { k: 2, m: 2048, g: 2048 * 1024, t: 2048 * 1024 ** 2 };

/** [command line, variant, options, positional] */
export const ACCEPTED: [string, string, Record<string, unknown[]>, string[]][] = [
  // The guide's commands and the spellings lvm accepts for them.
  [
    "lvcreate -L 10G -n lv_mirror -m1 vg_data /dev/sdb /dev/sdc1",
    "lvcreate_mirror_or_raid1",
    { size: [size(10 * sectors.g)], name: ["lv_mirror"], mirrors: [{ sign: "", value: 1 }] },
    ["vg_data", "/dev/sdb", "/dev/sdc1"],
  ],
  [
    "lvcreate -L10G -nlv -m1 vg",
    "lvcreate_mirror_or_raid1",
    { size: [size(10 * sectors.g)], name: ["lv"], mirrors: [{ sign: "", value: 1 }] },
    ["vg"],
  ],
  [
    "lvconvert --splitmirrors 1 --trackchanges /dev/vg_data/lv_mirror",
    "lvconvert_split_and_track",
    { splitmirrors: [1], trackchanges: [true] },
    ["/dev/vg_data/lv_mirror"],
  ],
  [
    "lvconvert --splitmirror 1 --trackchanges vg/lv",
    "lvconvert_split_and_track",
    { splitmirrors: [1], trackchanges: [true] },
    ["vg/lv"],
  ],
  [
    "lvconvert --splitmir 1 --trackch vg/lv",
    "lvconvert_split_and_track",
    { splitmirrors: [1], trackchanges: [true] },
    ["vg/lv"],
  ],
  [
    "lvconvert --split-mirrors 1 --track-changes vg/lv",
    "lvconvert_split_and_track",
    { splitmirrors: [1], trackchanges: [true] },
    ["vg/lv"],
  ],
  [
    "lvconvert --splitmirrors=1 --trackchanges vg/lv /dev/sdc1",
    "lvconvert_split_and_track",
    { splitmirrors: [1], trackchanges: [true] },
    ["vg/lv", "/dev/sdc1"],
  ],
  [
    "lvconvert --splitmirrors 1 --name lv_backup vg/lv",
    "lvconvert_split_and_keep",
    { splitmirrors: [1], name: ["lv_backup"] },
    ["vg/lv"],
  ],
  [
    "lvconvert --merge /dev/vg_data/lv_mirror_rimage_1",
    "lvconvert_merge",
    { merge: [true] },
    ["/dev/vg_data/lv_mirror_rimage_1"],
  ],
  [
    "lvconvert --merge-mirrors vg/lv_rimage_1",
    "lvconvert_merge_mirror_images",
    { mergemirrors: [true] },
    ["vg/lv_rimage_1"],
  ],
  ["lvconvert --repair -y vg/lv /dev/sdd", "lvconvert_repair", { repair: [true], yes: [true] }, ["vg/lv", "/dev/sdd"]],
  [
    "lvconvert --ty raid1 -m 1 vg/lv",
    "lvconvert_raid_types",
    { type: ["raid1"], mirrors: [{ sign: "", value: 1 }] },
    ["vg/lv"],
  ],
  ["lvconvert -m+1 vg/lv", "lvconvert_raid_types", { mirrors: [{ sign: "+", value: 1 }] }, ["vg/lv"]],
  ["lvconvert vg/lv", "lvconvert_plain", {}, ["vg/lv"]],
  ["lvconvert --split vg/lv", "lvconvert_split_and_keep_cache", { split: [true] }, ["vg/lv"]],
  [
    "vgreduce --removemissing --mirrorsonly --force /dev/vg_data",
    "vgreduce_missing",
    { removemissing: [true], mirrorsonly: [true], force: [true] },
    ["/dev/vg_data"],
  ],
  ["vgreduce --remove-missing -ff vg", "vgreduce_missing", { removemissing: [true], force: [true, true] }, ["vg"]],
  ["vgextend /dev/vg_data /dev/sdb", "vgextend_general", {}, ["/dev/vg_data", "/dev/sdb"]],
  // Values of each kind.
  [
    "lvcreate -l 100%FREE -an vg",
    "lvcreate_linear",
    { extents: [{ sign: "", count: 100, percent: "FREE" }], activate: ["n"] },
    ["vg"],
  ],
  [
    "lvcreate -l 50%vg -a ey vg",
    "lvcreate_linear",
    { extents: [{ sign: "", count: 50, percent: "VG" }], activate: ["ey"] },
    ["vg"],
  ],
  [
    "lvcreate -l +10%ORIGIN -s vg/origin",
    "lvcreate_cow_snapshot",
    { extents: [{ sign: "+", count: 10, percent: "ORIGIN" }], snapshot: [true] },
    ["vg/origin"],
  ],
  [
    "lvextend -l +100%PVS vg/lv",
    "lvextend_by_size",
    { extents: [{ sign: "+", count: 100, percent: "PVS" }] },
    ["vg/lv"],
  ],
  ["lvresize -l -10%LV vg/lv", "lvresize_by_size", { extents: [{ sign: "-", count: 10, percent: "LV" }] }, ["vg/lv"]],
  ["lvextend -L +1G vg/lv", "lvextend_by_size", { size: [size(sectors.g, "+")] }, ["vg/lv"]],
  ["lvreduce -L -512m vg/lv", "lvreduce_general", { size: [size(512 * sectors.m, "-")] }, ["vg/lv"]],
  ["lvresize --size=-1.5t vg/lv", "lvresize_by_size", { size: [size(1.5 * sectors.t, "-")] }, ["vg/lv"]],
  ["lvcreate -L 1 -n x vg", "lvcreate_linear", { size: [size(sectors.m)], name: ["x"] }, ["vg"]],
  ["lvcreate -L +1 vg", "lvcreate_linear", { size: [size(sectors.m, "+")] }, ["vg"]],
  ["lvcreate -L 1024b vg", "lvcreate_linear", { size: [size(2)] }, ["vg"]],
  ["lvcreate -L 8s vg", "lvcreate_linear", { size: [size(8)] }, ["vg"]],
  ["lvcreate -L .5 vg", "lvcreate_linear", { size: [size(1024)] }, ["vg"]],
  ["lvcreate -L 10Gfoo vg", "lvcreate_linear", { size: [size(10 * sectors.g)] }, ["vg"]],
  [
    "lvcreate -i2 -I64 -L1G vg",
    "lvcreate_striped",
    { stripes: [2], stripesize: [size(128)], size: [size(sectors.g)] },
    ["vg"],
  ],
  [
    "lvcreate --type raid1 -m 1 -R 2m -L 1g vg",
    "lvcreate_raid_any",
    { type: ["raid1"], mirrors: [{ sign: "", value: 1 }], regionsize: [size(4096)], size: [size(sectors.g)] },
    ["vg"],
  ],
  ["lvcreate --type raid5_ls -L1 vg", "lvcreate_raid_any", { type: ["raid5_ls"], size: [size(sectors.m)] }, ["vg"]],
  ["lvcreate --type linear -L1 vg", "lvcreate_linear", { type: ["linear"], size: [size(sectors.m)] }, ["vg"]],
  ["lvcreate -L1 -n vg/lv", "lvcreate_linear", { size: [size(sectors.m)], name: ["vg/lv"] }, []],
  ["lvcreate --alloc cling_by_tags -L1 vg", "lvcreate_linear", { alloc: ["cling"], size: [size(sectors.m)] }, ["vg"]],
  ["lvcreate --alloc=anywhere -L1 vg", "lvcreate_linear", { alloc: ["anywhere"], size: [size(sectors.m)] }, ["vg"]],
  [
    "lvchange -r auto -p wr -C n vg/lv",
    "lvchange_properties",
    { readahead: ["auto"], permission: ["rw"], contiguous: [false] },
    ["vg/lv"],
  ],
  ["lvchange -r 256 vg/lv", "lvchange_properties", { readahead: [size(256)] }, ["vg/lv"]],
  [
    "lvchange --addtag a --addtag @b --deltag c vg/lv",
    "lvchange_properties",
    { addtag: ["a", "b"], deltag: ["c"] },
    ["vg/lv"],
  ],
  ["lvchange --persistent n vg/lv", "lvchange_properties", { persistent: [false] }, ["vg/lv"]],
  ["lvchange --persistent y --minor 253 vg/lv", "lvchange_persistent", { persistent: [true], minor: [253] }, ["vg/lv"]],
  ["lvchange --syncaction check vg/lv", "lvchange_syncaction", { syncaction: ["check"] }, ["vg/lv"]],
  ["lvchange --raidsyncaction repair vg/lv", "lvchange_syncaction", { syncaction: ["repair"] }, ["vg/lv"]],
  ["vgchange -ay", "vgchange_activate", { activate: ["y"] }, []],
  ["vgchange -a ay", "vgchange_activate", { activate: ["ay"] }, []],
  ["vgchange --available y vg", "vgchange_activate", { activate: ["y"] }, ["vg"]],
  ["vgchange --resizable n vg", "vgchange_properties", { resizeable: [false] }, ["vg"]],
  ["pvchange --allocation n /dev/x", "pvchange_properties_some", { allocatable: [false] }, ["/dev/x"]],
  ["pvchange -a -x y", "pvchange_properties_all", { all: [true], allocatable: [true] }, []],
  [
    "pvcreate --metadatacopies 2 --uuid 0lHs8n-oNFj-Ae0d-0Q8p-sAjH-JWmX-Fbb5vW --norestorefile /dev/x",
    "pvcreate_general",
    { pvmetadatacopies: [2], uuid: ["0lHs8n-oNFj-Ae0d-0Q8p-sAjH-JWmX-Fbb5vW"], norestorefile: [true] },
    ["/dev/x"],
  ],
  [
    "vgcreate -s 4m --vgmetadatacopies all vg /dev/x",
    "vgcreate_general",
    { physicalextentsize: [size(8192)], vgmetadatacopies: ["all"] },
    ["vg", "/dev/x"],
  ],
  ["vgcfgrestore -f /tmp/b --force vg", "vgcfgrestore_by_file", { file: ["/tmp/b"], force: [true] }, ["vg"]],
  ["pvscan --cache --activate ay /dev/x", "pvscan_cache", { cache: [true], activate: ["ay"] }, ["/dev/x"]],
  ["lvmdevices --adddev /dev/x", "lvmdevices_edit", { adddev: ["/dev/x"] }, []],
  ["lvmdevices", "lvmdevices_list", {}, []],
  // Reports.
  ["lvs -a -o +devices", "lvs_general", { all: [true], options: ["+devices"] }, []],
  [
    "vgs --units 3k --nosuffix -S vg_name=x",
    "vgs_general",
    { units: ["3k"], nosuffix: [true], select: ["vg_name=x"] },
    [],
  ],
  ["pvs -o pv_name -o +pv_size -O pv_name", "pvs_general", { options: ["pv_name", "+pv_size"], sort: ["pv_name"] }, []],
  ["lvs --reportformat json vg", "lvs_general", { reportformat: ["json"] }, ["vg"]],
  ["lvs --partial vg", "lvs_general", {}, ["vg"]],
  ["lvs -vvv -d -q", "lvs_general", { verbose: [true, true, true], debug: [true], quiet: [true] }, []],
  // Flag clusters, separators, permutation.
  ["lvremove -ff vg/lv", "lvremove_general", { force: [true, true] }, ["vg/lv"]],
  ["lvremove -yf vg/lv", "lvremove_general", { yes: [true], force: [true] }, ["vg/lv"]],
  ["lvremove vg/a -f vg/b", "lvremove_general", { force: [true] }, ["vg/a", "vg/b"]],
  ["lvs vg1 -a -- --not-an-option -b", "lvs_general", { all: [true] }, ["vg1", "--not-an-option", "-b"]],
  ["lvs -a - vg", "lvs_general", { all: [true] }, ["-", "vg"]],
  ["lvs --a-l-l", "lvs_general", { all: [true] }, []],
  ["lvs --sort=lv-name", "lvs_general", { sort: ["lv-name"] }, []],
  ["lvcreate -n --odd-name -L1 vg", "lvcreate_linear", { name: ["--oddname"], size: [size(sectors.m)] }, ["vg"]],
  // Help and version are left for the caller.
  ["lvcreate --help", "lvcreate_error_vol", { help: [true] }, []],
  ["lvs -?", "lvs_general", { help: [true] }, []],
  ["lvs --longhelp", "lvs_general", { longhelp: [true] }, []],
  ["help lvs vgs", "help_general", {}, ["lvs", "vgs"]],
  ["--help", "help_general", {}, []],
  ["-h", "help_general", {}, []],
  ["version --anything goes", "version_general", {}, []],
  ["daemon --listen 127.0.0.1:10809", "daemon_general", { listen: ["127.0.0.1:10809"] }, []],
  ["daemon --listen [::1]:8080", "daemon_general", { listen: ["[::1]:8080"] }, []],
];

/** [command line, exit code, stderr with lvm's prefixes, stdout] */
export const REFUSED: [string, number, string, string?][] = [
  ["lvcreate --bogusopt", 3, "lvcreate: unrecognized option '--bogusopt'\n  Error during parsing of command line."],
  ["lvcreate --bogus=3", 3, "lvcreate: unrecognized option '--bogus=3'\n  Error during parsing of command line."],
  [
    "lvconvert --spl 1 vg/lv",
    3,
    "lvconvert: option '--spl' is ambiguous; possibilities: '--splitcache' '--split' '--splitmirrors' '--splitsnapshot'\n" +
      "  Error during parsing of command line.",
  ],
  [
    "lvconvert --spl-i 1 vg/lv",
    3,
    "lvconvert: option '--spli' is ambiguous; possibilities: '--splitcache' '--split' '--splitmirrors' '--splitsnapshot'\n" +
      "  Error during parsing of command line.",
  ],
  [
    "pvchange --alloca y /dev/x",
    3,
    "pvchange: option '--alloca' is ambiguous; possibilities: '--allocatable' '--allocation' '--allocation'\n" +
      "  Error during parsing of command line.",
  ],
  [
    "lvs ---a",
    3,
    "lvs: option '--a' is ambiguous; possibilities: '--aligned' '--all'\n  Error during parsing of command line.",
  ],
  ["lvcreate --size", 3, "lvcreate: option '--size' requires an argument\n  Error during parsing of command line."],
  [
    "lvcreate --nosy=1 -L1 vg",
    3,
    "lvcreate: option '--nosync' doesn't allow an argument\n  Error during parsing of command line.",
  ],
  ["lvcreate -L", 3, "lvcreate: option requires an argument -- 'L'\n  Error during parsing of command line."],
  ["lvs -L 1", 3, "lvs: invalid option -- 'L'\n  Error during parsing of command line."],
  ["lvs -a -?", 3, "lvs: invalid option -- '?'\n  Error during parsing of command line."],
  ["lvcreate -ff -L1 vg", 3, "lvcreate: invalid option -- 'f'\n  Error during parsing of command line."],
  ["lvremove -yy vg", 3, "  Option -y/--yes may not be repeated.\n  Error during parsing of command line."],
  ["lvcreate -L1G -L2G vg", 3, "  Option -L/--size may not be repeated.\n  Error during parsing of command line."],
  [
    "lvcreate --nosync --nosync -L1 vg",
    3,
    "  Option --nosync may not be repeated.\n  Error during parsing of command line.",
  ],
  [
    "lvcreate -L abc -n x vg",
    3,
    "  Size requires number argument.\n  Invalid argument for --size: abc\n  Error during parsing of command line.",
  ],
  [
    "lvcreate -L -1 vg",
    3,
    "  Size may not be negative.\n  Invalid argument for --size: -1\n  Error during parsing of command line.",
  ],
  [
    "lvreduce -L +1 vg/lv",
    3,
    "  Size may not be positive.\n  Invalid argument for --size: +1\n  Error during parsing of command line.",
  ],
  [
    "vgcreate -s +4m vg /dev/x",
    3,
    "  Size may not be relative/signed.\n  Invalid argument for --physicalextentsize: +4m\n  Error during parsing of command line.",
  ],
  [
    "lvcreate -L ++1 vg",
    3,
    "  Multiple sign symbols detected.\n  Invalid argument for --size: ++1\n  Error during parsing of command line.",
  ],
  [
    "lvcreate -L 1x vg",
    3,
    "  Can't parse size argument.\n  Invalid argument for --size: 1x\n  Error during parsing of command line.",
  ],
  [
    "lvcreate -L . vg",
    3,
    "  Can't parse size argument at '.'.\n  Invalid argument for --size: .\n  Error during parsing of command line.",
  ],
  [
    "lvcreate -L 1000b vg",
    3,
    "  Size is not a multiple of 512. Try using 512 or 1024.\n  Invalid argument for --size: 1000b\n  Error during parsing of command line.",
  ],
  [
    "lvcreate -L 32e vg",
    3,
    "  Size is too big (>=16EiB).\n  Invalid argument for --size: 32e\n  Error during parsing of command line.",
  ],
  [
    "lvcreate -l 10%FOO vg",
    3,
    "  Specified %FOO is unknown.\n  Invalid argument for --extents: 10%FOO\n  Error during parsing of command line.",
  ],
  [
    "lvcreate -l -10 vg",
    3,
    "  Extents may not be negative.\n  Invalid argument for --extents: -10\n  Error during parsing of command line.",
  ],
  [
    "lvreduce -l +10 vg/lv",
    3,
    "  Extents may not be positive.\n  Invalid argument for --extents: +10\n  Error during parsing of command line.",
  ],
  [
    "lvextend -l -10 vg/lv",
    3,
    "  Extents may not be negative.\n  Invalid argument for --extents: -10\n  Error during parsing of command line.",
  ],
  ["lvs --sort", 3, "lvs: option '--sort' requires an argument\n  Error during parsing of command line."],
  [
    "lvcreate -R 3m -m1 -L1 vg",
    3,
    "  Region size must be a power of 2.\n  Invalid argument for --regionsize: 3m\n  Error during parsing of command line.",
  ],
  ["lvcreate -a q -L1 vg", 3, "  Invalid argument for --activate: q\n  Error during parsing of command line."],
  [
    "lvcreate -m -1 -L1 vg",
    3,
    "  Number may not be negative.\n  Invalid argument for --mirrors: -1\n  Error during parsing of command line.",
  ],
  [
    "lvcreate --type foo -L1 vg",
    3,
    "  WARNING: Unrecognised segment type foo\n  Invalid argument for --type: foo\n  Error during parsing of command line.",
  ],
  [
    "lvcreate --alloc foo -L1 vg",
    3,
    "  Unrecognised allocation policy foo\n  Invalid argument for --alloc: foo\n  Error during parsing of command line.",
  ],
  [
    "lvs --reportformat json_std",
    3,
    "  Invalid argument for --reportformat: json_std\n  Error during parsing of command line.",
  ],
  [
    "daemon --listen localhost",
    3,
    "  Invalid argument for --listen: localhost\n  Error during parsing of command line.",
  ],
  ["vgs --units q", 3, "  Invalid units specification\n  Run `vgs --help' for more information."],
  ["pvs --units 10", 3, "  Invalid units specification\n  Run `pvs --help' for more information."],
  ["lvs --units 0k", 3, "  Invalid units specification\n  Run `lvs --help' for more information."],
  ["lvs --devicesfile a/b", 3, "  Invalid devices file name.\n  Run `lvs --help' for more information."],
  [
    "lvchange --available y --activate n vg/lv",
    3,
    "  --available and --activate are synonyms.  Please only supply one.\n  Run `lvchange --help' for more information.",
  ],
  [
    "pvcreate --metadatacopies 1 --pvmetadatacopies 2 /dev/x",
    3,
    "  --metadatacopies and --pvmetadatacopies are synonyms.  Please only supply one.\n" +
      "  Run `pvcreate --help' for more information.",
  ],
  [
    "lvchange -ay --partial --activationmode degraded vg/lv",
    3,
    "  --partial and --activationmode are mutually exclusive arguments\n  Run `lvchange --help' for more information.",
  ],
  [
    "lvconvert --splitmirrors 1 vg/lv",
    3,
    "  No command with matching syntax recognised.  Run 'lvconvert --help' for more information.\n" +
      "  Nearest similar command has syntax:",
    "  lvconvert --splitmirrors Number -n|--name LV_new LV\n" +
      "  Split images from a raid1 or mirror LV and use them to create a new LV.\n\n",
  ],
  [
    "lvconvert --trackchanges vg/lv",
    3,
    "  No command with matching syntax recognised.  Run 'lvconvert --help' for more information.\n" +
      "  Nearest similar command has syntax:",
    "  lvconvert --splitmirrors Number --trackchanges LV\n" +
      "  Split images from a raid1 LV and track changes to origin for later merge.\n\n",
  ],
  ["lvconvert --splitmirrors 1 --trackchanges --name x vg/lv", 3, "  Command does not accept option: --trackchanges."],
  ["lvconvert --splitmirrors 1 --name x --trackchanges vg/lv", 3, "  Command does not accept option: --trackchanges."],
  [
    "lvcreate -L1 --nosuffix vg",
    3,
    "lvcreate: unrecognized option '--nosuffix'\n  Error during parsing of command line.",
  ],
  [
    "lvconvert --background vg/lv",
    3,
    "  No command with matching syntax recognised.  Run 'lvconvert --help' for more information.",
  ],
  [
    "lvcreate --thinpool vg/pool --poolmetadata x --readahead 8",
    3,
    "lvcreate: option '--poolmetadata' is ambiguous; possibilities: '--poolmetadatasize' '--poolmetadataspare'\n" +
      "  Error during parsing of command line.",
  ],
  [
    "lvconvert --thinpool vg/lv --poolmetadata x --readahead 8",
    3,
    "  Command does not accept option combination: --poolmetadata  with --readahead --stripesize --stripes ",
  ],
  [
    "lvchange --contiguous y --alloc normal vg/lv",
    3,
    "  Command does not accept option combination: --contiguous  with --alloc ",
  ],
  ["lvrename vg a b c", 3, "  Command does not accept argument: c."],
  [
    "vgcreate",
    3,
    "  No command with matching syntax recognised.  Run 'vgcreate --help' for more information.\n" +
      "  Correct command syntax is:",
    "  vgcreate VG_new PV ...\n\n",
  ],
  [
    "lvcreate -L1 -n lv",
    3,
    "  No command with matching syntax recognised.  Run 'lvcreate --help' for more information.\n" +
      "  Nearest similar command has syntax:",
    "  lvcreate --type error -L|--size Size[m|UNIT] VG\n  Create an LV that returns errors when used.\n\n",
  ],
  [
    "lvconvert --merge",
    3,
    "  No command with matching syntax recognised.  Run 'lvconvert --help' for more information.\n" +
      "  Nearest similar command has syntax:",
    "  lvconvert --merge VG|LV|Tag ...\n" +
      "  Merge LV that was split from a mirror (variant, use --mergemirrors). \n" +
      "  Merge thin LV into its origin LV (variant, use --mergethin). \n" +
      "  Merge COW snapshot LV into its origin (variant, use --mergesnapshot).\n\n",
  ],
  ["bogus", 2, "  No such command.  Try 'lvm help'."],
  ["pvmove /dev/x", 2, "  No such command.  Try 'lvm help'."],
  ["-x", 3, "  Specify options after a command: lvm [command] [options]."],
];
