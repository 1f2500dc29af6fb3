/**
 * The ustar writer the docker driver hands files to containers with, read back by the real GNU
 * tar: listing (types, modes, owners, sizes), extraction (bytes, modes), and its refusals.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { ErrorCode } from "../../../components/core/mod.ts";
import { archiveOfFiles, tarArchive } from "../../../components/resourcemanager/drivers/tar.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

/** `tar -tv` of the archive, one line per entry, owners as numbers, times as given. */
function list(archive: Uint8Array): string[] {
  const out = execFileSync("tar", ["-tvf", "-", "--numeric-owner", "--full-time"], {
    input: archive,
    encoding: "utf8",
  });
  return out.trim().split("\n");
}

/** The archive extracted (modes kept) into a new directory, removed at teardown. */
function extract(t: Test, archive: Uint8Array): string {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-tar-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync("tar", ["-xpf", "-", "-C", dir], { input: archive });
  return dir;
}

const modeOf = (path: string) => statSync(path).mode & 0o7777;

t.test("GNU tar lists and extracts what was written: dirs, files, modes, owners", async (t) => {
  const seed = bytes("SUAKEXAMPLESEEDNOTAREALONE\n");
  // Sizes around the block boundary: padding must put the next header at the right place.
  const block = new Uint8Array(512).fill(0x61);
  const longer = new Uint8Array(700).map((_, i) => i % 251);
  const archive = tarArchive([
    { path: "run", mode: 0o755 },
    { path: "run/secrets/", mode: 0o750, uid: 0, gid: 0 },
    { path: "run/secrets/seed.nk", mode: 0o400, uid: 1000, gid: 1000, content: seed },
    { path: "run/secrets/empty", mode: 0o644, uid: 7, gid: 8, content: new Uint8Array(0) },
    { path: "run/secrets/block", mode: 0o600, content: block, mtime: 1_700_000_000 },
    { path: "run/secrets/longer", mode: 0o640, uid: 2_000_000, gid: 1, content: longer },
  ]);
  t.equal(archive.length % 512, 0, "whole blocks");
  // Six headers; contents of 27, 0, 512 and 700 bytes; two zero blocks.
  const blocks = 6 + (1 + 0 + 1 + 2) + 2;
  t.equal(archive.length, blocks * 512, "headers, padded contents and two zero blocks");
  t.ok(
    archive.subarray(-1024).every((b) => b === 0),
    "ends with two zero blocks",
  );

  const lines = list(archive);
  t.equal(lines.length, 6);
  t.match(lines[0], /^drwxr-xr-x 0\/0 +0 1970-01-01 00:00:00 run\/$/, "a dir gets its slash");
  t.match(lines[1], /^drwxr-x--- 0\/0 +0 .* run\/secrets\/$/);
  t.match(lines[2], /^-r-------- 1000\/1000 +27 .* run\/secrets\/seed\.nk$/);
  t.match(lines[3], /^-rw-r--r-- 7\/8 +0 .* run\/secrets\/empty$/);
  t.match(lines[4], /^-rw------- 0\/0 +512 2023-11-14 22:13:20 run\/secrets\/block$/);
  t.match(lines[5], /^-rw-r----- 2000000\/1 +700 .* run\/secrets\/longer$/);

  const dir = extract(t, archive);
  t.same(readFileSync(join(dir, "run/secrets/seed.nk")), Buffer.from(seed));
  t.same(readFileSync(join(dir, "run/secrets/block")), Buffer.from(block));
  t.same(readFileSync(join(dir, "run/secrets/longer")), Buffer.from(longer));
  t.equal(readFileSync(join(dir, "run/secrets/empty")).length, 0);
  t.equal(modeOf(join(dir, "run/secrets/seed.nk")), 0o400);
  t.equal(modeOf(join(dir, "run/secrets/longer")), 0o640);
  t.equal(modeOf(join(dir, "run/secrets")), 0o750);
});

t.test(
  "the checksum is what tar checks: one flipped byte makes the header unreadable",
  async (t) => {
    const archive = tarArchive([{ path: "x", mode: 0o644, content: bytes("x") }]);
    t.equal(list(archive).length, 1);
    const broken = archive.slice();
    broken[0] = "y".charCodeAt(0);
    const out = spawnSync("tar", ["-tf", "-"], { input: broken, encoding: "utf8" });
    t.not(out.status, 0, "tar refuses it");
    t.match(out.stderr, /checksum|header/i);
  },
);

t.test("paths up to 100 bytes; a longer one is refused, naming it", async (t) => {
  const at100 = `${"d".repeat(49)}/${"f".repeat(50)}`;
  t.equal(at100.length, 100);
  const dir = extract(t, tarArchive([{ path: at100, mode: 0o600, content: bytes("ok") }]));
  t.equal(readFileSync(join(dir, at100), "utf8"), "ok");

  const at101 = `${at100}g`;
  t.throws(() => tarArchive([{ path: at101, mode: 0o600, content: bytes("no") }]), {
    code: ErrorCode.INVALID_ARGUMENT,
    message: new RegExp(`path "${at101}" is 101 bytes; this writer takes at most 100`),
  });
  // A directory's slash counts: 100 characters plus "/" is 101 bytes.
  t.throws(() => tarArchive([{ path: at100, mode: 0o755 }]), { message: /is 101 bytes/ });
  // Bytes, not characters: 50 two-byte letters are 100 bytes, 51 are 102.
  t.doesNotThrow(() => tarArchive([{ path: "é".repeat(50), mode: 0o600, content: bytes("") }]));
  t.throws(() => tarArchive([{ path: "é".repeat(51), mode: 0o600, content: bytes("") }]), {
    message: /is 102 bytes/,
  });
  t.throws(() => tarArchive([{ path: "", mode: 0o600, content: bytes("") }]), {
    code: ErrorCode.INVALID_ARGUMENT,
    message: "tar: an entry has an empty path",
  });
  t.throws(() => tarArchive([{ path: "", mode: 0o755 }]), { message: /empty path/ });
  t.throws(() => tarArchive([{ path: "x", mode: 0o600, uid: 0o10000000, content: bytes("") }]), {
    code: ErrorCode.INVALID_ARGUMENT,
    message: /uid of x 2097152 does not fit/,
  });
  t.throws(() => tarArchive([{ path: "x", mode: -1, content: bytes("") }]), {
    message: /mode of x -1 does not fit/,
  });
});

t.test(
  "archiveOfFiles: parent dirs first (root's, 0755), then each file with its owner",
  async (t) => {
    const archive = archiveOfFiles(
      [
        { path: "/run/secrets/nats-taskmanager.nk", content: bytes("SUSEED") },
        { path: "/run/secrets/other", content: bytes("2"), mode: 0o440 },
        { path: "/etc/flotilla/ca.pem", content: bytes("CA"), mode: 0o444 },
      ],
      { uid: 1000, gid: 1000 },
    );
    t.same(
      list(archive).map((line) => line.replace(/ +\d+ 1970-01-01 00:00:00 /, " ")),
      [
        "drwxr-xr-x 0/0 run/",
        "drwxr-xr-x 0/0 run/secrets/",
        "-r-------- 1000/1000 run/secrets/nats-taskmanager.nk",
        "-r--r----- 1000/1000 run/secrets/other",
        "drwxr-xr-x 0/0 etc/",
        "drwxr-xr-x 0/0 etc/flotilla/",
        "-r--r--r-- 1000/1000 etc/flotilla/ca.pem",
      ],
      "mode 0400 unless given",
    );
    const owned = list(archiveOfFiles([{ path: "/k", content: bytes("k") }], { uid: 5, gid: 6 }));
    t.match(owned, [/^-r-------- 5\/6 .* k$/], "another owner; no parent dir for a file at /");
    t.match(
      list(archiveOfFiles([{ path: "/k", content: bytes("k") }])),
      [/ 1000\/1000 /],
      "default",
    );

    for (const bad of ["run/secrets/x", "/run/../etc/x", "/run//x", "/run/x/", "/"]) {
      t.throws(() => archiveOfFiles([{ path: bad, content: bytes("") }]), {
        code: ErrorCode.INVALID_ARGUMENT,
        message: `a container file's path must be absolute and normal (like /run/secrets/x), not "${bad}"`,
      });
    }
    t.throws(
      () =>
        archiveOfFiles([
          { path: "/run/x", content: bytes("1") },
          { path: "/run/x", content: bytes("2") },
        ]),
      { message: "the container file /run/x is given twice" },
    );
  },
);
