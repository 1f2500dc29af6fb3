import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { compileConfig, InvalidConfigError } from "../../../components/core/mod.ts";
import {
  credentialsDir,
  ensureTokenFile,
  generatedTokenFile,
  generateToken,
  readTokenFile,
} from "../../../components/security/mod.ts";

const GENERATED = /^[A-Za-z0-9_-]{43}$/;

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-tokens-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const modeOf = (path: string) => statSync(path).mode & 0o777;

/**
 * `read()` throws an InvalidConfigError for `key` whose message names `path` and holds none of
 * `secrets`.
 */
function refuses(
  t: Test,
  read: () => unknown,
  { key, path, secrets = [] }: { key: string; path: string; secrets?: string[] },
  message?: RegExp,
): void {
  let thrown: unknown;
  try {
    read();
  } catch (err) {
    thrown = err;
  }
  t.type(thrown, InvalidConfigError, "an InvalidConfigError");
  if (!(thrown instanceof InvalidConfigError)) return;
  t.equal(thrown.key, key, "names the config key");
  t.ok(thrown.message.includes(path), `names the file: ${thrown.message}`);
  for (const secret of secrets)
    t.notOk(thrown.message.includes(secret), "does not repeat the file's content");
  if (message) t.match(thrown.message, message);
}

t.test("generateToken gives distinct 43-character base64url tokens a token file takes", (t) => {
  const dir = tempDir(t);
  const tokens = Array.from({ length: 200 }, generateToken);
  t.equal(new Set(tokens).size, tokens.length, "no two alike");
  t.ok(
    tokens.every((token) => GENERATED.test(token)),
    "each 43 characters of base64url",
  );
  const path = join(dir, "tokens");
  writeFileSync(path, `${tokens.join("\n")}\n`);
  t.same(readTokenFile(path, "rest.token-file"), tokens);
  t.end();
});

t.test("readTokenFile reads one token a line, skipping blanks and # comments, CRLF too", (t) => {
  const dir = tempDir(t);
  const [a, b, c] = [generateToken(), generateToken(), generateToken()];
  const path = join(dir, "tokens");
  writeFileSync(path, `# rotated on Monday\r\n\r\n${a}\r\n   \r\n  ${b}  \r\n# old one:\n${c}`);
  t.same(readTokenFile(path, "rest.token-file"), [a, b, c]);
  // Bearer tokens may carry the whole token68 alphabet and trailing padding.
  writeFileSync(path, "Ab.c_d~e+f/g-h0123456789==\n");
  t.same(readTokenFile(path, "rest.token-file"), ["Ab.c_d~e+f/g-h0123456789=="]);
  t.end();
});

t.test("readTokenFile refuses bad files without repeating their content", (t) => {
  const dir = tempDir(t);
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  const missing = join(dir, "does-not-exist");
  refuses(t, () => readTokenFile(missing, "rest.token-file"), {
    key: "rest.token-file",
    path: missing,
  });

  const empty = write("empty", "");
  refuses(
    t,
    () => readTokenFile(empty, "rest.read-token-file"),
    { key: "rest.read-token-file", path: empty },
    /holds no token/,
  );

  const onlyComments = write("comments", "# SecretInAComment0123456789\n\n  \r\n");
  refuses(
    t,
    () => readTokenFile(onlyComments, "rest.token-file"),
    { key: "rest.token-file", path: onlyComments, secrets: ["SecretInAComment0123456789"] },
    /holds no token/,
  );

  const short = "Sh0rtSecret15ch"; // 15 characters: one too few
  const shortPath = write("short", `${short}\n`);
  refuses(
    t,
    () => readTokenFile(shortPath, "rest.token-file"),
    { key: "rest.token-file", path: shortPath, secrets: [short] },
    /token 1 .* is not a bearer token/,
  );
  t.same(readTokenFile(write("sixteen", `${short}X\n`), "k"), [`${short}X`], "16 is enough");

  const spaced = "correct horse battery staple secret";
  const spacedPath = write("spaced", `${spaced}\n`);
  refuses(t, () => readTokenFile(spacedPath, "rest.token-file"), {
    key: "rest.token-file",
    path: spacedPath,
    secrets: [spaced, "horse battery"],
  });

  const quotedSecret = "QuotedSecretValue0123456789";
  const quotedPath = write("quoted", `"${quotedSecret}"\n`);
  refuses(t, () => readTokenFile(quotedPath, "rest.token-file"), {
    key: "rest.token-file",
    path: quotedPath,
    secrets: [quotedSecret],
  });

  // A good first line does not excuse a bad second one, and neither is shown.
  const good = generateToken();
  const secondBad = "second'Token0123456789";
  const mixed = write("mixed", `${good}\n${secondBad}\n`);
  refuses(
    t,
    () => readTokenFile(mixed, "rest.token-file"),
    { key: "rest.token-file", path: mixed, secrets: [good, secondBad] },
    /token 2 /,
  );

  refuses(t, () => readTokenFile(dir, "rest.token-file"), { key: "rest.token-file", path: dir });
  t.end();
});

t.test("readTokenFile takes 64 KiB of tokens and refuses one byte more", (t) => {
  const dir = tempDir(t);
  // 128 lines of 511 characters and a newline: exactly 65536 bytes.
  const lines = Array.from({ length: 128 }, (_, i) =>
    `${String(i).padStart(3, "0")}`.padEnd(511, "T"),
  );
  const path = join(dir, "big");
  writeFileSync(path, lines.map((line) => `${line}\n`).join(""));
  t.equal(statSync(path).size, 64 * 1024);
  t.same(readTokenFile(path, "rest.token-file"), lines, "exactly 64 KiB is read");

  writeFileSync(path, `${lines.map((line) => `${line}\n`).join("")}x`);
  refuses(
    t,
    () => readTokenFile(path, "rest.token-file"),
    { key: "rest.token-file", path, secrets: [lines[0]!, "TTTTTTTT"] },
    /larger than 65536 bytes/,
  );

  // Secrets are often mounted as symlinks (Kubernetes, compose): the bound holds through one.
  const link = join(dir, "link");
  symlinkSync(path, link);
  refuses(
    t,
    () => readTokenFile(link, "rest.token-file"),
    { key: "rest.token-file", path: link, secrets: [lines[0]!] },
    /larger than 65536 bytes/,
  );
  t.end();
});

t.test("ensureTokenFile makes a private dir and file, then reuses the token", (t) => {
  const base = tempDir(t);
  const dir = join(base, "home", ".flotilla", "c1");
  const path = join(dir, "rest-token");

  const first = ensureTokenFile(path);
  t.equal(first.generated, true);
  t.match(first.token, GENERATED);
  t.equal(modeOf(dir), 0o700, "dir 0700");
  t.equal(modeOf(path), 0o600, "file 0600");
  t.equal(readFileSync(path, "utf8"), `${first.token}\n`);
  t.same(readTokenFile(path, "rest.token-file"), [first.token]);

  const second = ensureTokenFile(path);
  t.same(second, { token: first.token, generated: false });
  t.equal(readFileSync(path, "utf8"), `${first.token}\n`, "the file is left as it was");
  t.end();
});

t.test("ensureTokenFile reuses a file someone wrote and honours mode and configKey", (t) => {
  const dir = join(tempDir(t), "creds");
  mkdirSync(dir, { mode: 0o700 });
  const path = join(dir, "rest-token");
  const [a, b] = [generateToken(), generateToken()];
  writeFileSync(path, `# rotation\n${a}\n${b}\n`);
  t.same(ensureTokenFile(path), { token: a, generated: false }, "the first token of the file");

  const other = join(dir, "other-token");
  ensureTokenFile(other, { mode: 0o640 });
  t.equal(modeOf(other), 0o640);

  const bad = join(dir, "bad-token");
  writeFileSync(bad, "not a token at all\n");
  refuses(t, () => ensureTokenFile(bad, { configKey: "nats.token-file" }), {
    key: "nats.token-file",
    path: bad,
    secrets: ["not a token"],
  });
  t.end();
});

t.test("ensureTokenFile tightens a 0755 dir to 0700", (t) => {
  const dir = join(tempDir(t), "open");
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  t.equal(modeOf(dir), 0o755);
  t.equal(ensureTokenFile(join(dir, "rest-token")).generated, true);
  t.equal(modeOf(dir), 0o700);
  t.end();
});

t.test("ensureTokenFile refuses a dir of another user", (t) => {
  const uid = process.getuid?.();
  let dir: string;
  if (uid === 0) {
    dir = join(tempDir(t), "not-mine");
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, 4242, 4242);
    t.equal(statSync(dir).uid, 4242);
  } else {
    // Not root: "/" belongs to root, which is someone else.
    dir = "/";
    t.not(statSync(dir).uid, uid);
  }
  const path = join(dir, "rest-token");
  refuses(
    t,
    () => ensureTokenFile(path),
    { key: "credentials.dir", path: dir },
    /not a directory of this user/,
  );
  t.notOk(existsSync(path), "no token written there");
  t.end();
});

t.test("ensureTokenFile refuses a symlink in place of the dir", (t) => {
  const base = tempDir(t);
  const real = join(base, "real");
  mkdirSync(real, { mode: 0o700 });
  const link = join(base, "link");
  symlinkSync(real, link);
  refuses(t, () => ensureTokenFile(join(link, "rest-token")), {
    key: "credentials.dir",
    path: link,
  });
  t.notOk(existsSync(join(real, "rest-token")));
  t.end();
});

t.test("credentialsDir and generatedTokenFile: credentials.dir, else ~/.flotilla/<id>", (t) => {
  const byDefault = compileConfig({ env: {}, flags: { "cluster.id": "c7" } });
  t.equal(credentialsDir(byDefault), join(homedir(), ".flotilla", "c7"));
  t.equal(generatedTokenFile(byDefault), join(homedir(), ".flotilla", "c7", "rest-token"));

  const dir = join(tmpdir(), "some-creds");
  const set = compileConfig({ env: {}, flags: { "cluster.id": "c7", "credentials.dir": dir } });
  t.equal(credentialsDir(set), dir);
  t.equal(generatedTokenFile(set), join(dir, "rest-token"));

  const fromEnv = compileConfig({ env: { FLOTILLA_CREDENTIALS_DIR: dir } });
  t.equal(credentialsDir(fromEnv), dir, "also from FLOTILLA_CREDENTIALS_DIR");
  t.end();
});
