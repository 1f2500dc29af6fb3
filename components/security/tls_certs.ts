/**
 * Test-grade certificates for a cluster's TLS, made with the machine's `openssl` (every Debian
 * has it) by `flotilla cluster secrets --tls`: a CA of the cluster, a server certificate for NATS
 * and one for the REST API (named for the compose services, localhost and 127.0.0.1), and a client
 * certificate per NATS user for mutual TLS. Files sit beside the other secrets, in the private
 * credentials directory; existing ones are kept unless rotated.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ErrorCode, FlotillaError } from "../core/mod.ts";
import { NATS_USERS } from "./nats_users.ts";
import { privateDir } from "./tokens.ts";

/** The certificate files of a cluster, by name in the credentials directory. */
export const TLS_FILES = {
  ca: "tls-ca.crt",
  caKey: "tls-ca.key",
  natsCert: "tls-nats.crt",
  natsKey: "tls-nats.key",
  restCert: "tls-rest.crt",
  restKey: "tls-rest.key",
} as const;
export const clientCertOf = (user: string): string => `tls-${user}.crt`;
export const clientKeyOf = (user: string): string => `tls-${user}.key`;

/** The names servers answer to: the compose services, and this machine. */
const SERVER_NAMES = {
  nats: ["nats", "localhost"],
  rest: ["master", "dispatcher", "master-standby", "node", "localhost"],
};
const DAYS = "825";

function openssl(args: string[], what: string): void {
  const run = spawnSync("openssl", args, { encoding: "utf8" });
  if (run.error || run.status !== 0)
    throw new FlotillaError(
      ErrorCode.UNAVAILABLE,
      `openssl could not ${what}: ${run.error?.message ?? run.stderr.trim()} (is openssl installed?)`,
    );
}

/** A key and a certificate for `subject`, signed by the CA in `dir`; `names` become its SANs. */
function issue(
  dir: string,
  key: string,
  cert: string,
  subject: string,
  names: string[],
  client = false,
) {
  const ext = join(dir, `${cert}.ext`);
  const san = names.length
    ? `subjectAltName=${[...names.map((n) => `DNS:${n}`), "IP:127.0.0.1"].join(",")}\n`
    : "";
  writeFileSync(
    ext,
    `${san}extendedKeyUsage=${client ? "clientAuth" : "serverAuth"}\nbasicConstraints=CA:FALSE\n`,
  );
  const csr = join(dir, `${cert}.csr`);
  openssl(
    ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
      "-keyout",
      join(dir, key),
      "-out",
      csr,
      "-subj",
      `/CN=${subject}`,
    ]),
    `make a key for ${subject}`,
  );
  openssl(
    [
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      join(dir, TLS_FILES.ca),
      "-CAkey",
      join(dir, TLS_FILES.caKey),
    ].concat(["-CAcreateserial", "-days", DAYS, "-out", join(dir, cert), "-extfile", ext]),
    `sign the certificate of ${subject}`,
  );
  for (const f of [csr, ext]) rmSync(f, { force: true });
}

/**
 * Makes the certificates `dir` lacks (all with `rotate`): the CA, the NATS and REST server
 * certificates, a client certificate per NATS user. Returns the names made now.
 */
export function ensureTlsFiles(dir: string, { rotate = false } = {}): string[] {
  privateDir(dir);
  const made: string[] = [];
  const missing = (name: string) => rotate || !existsSync(join(dir, name));
  const fresh = missing(TLS_FILES.ca);
  if (fresh) {
    openssl(
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        .concat(["-keyout", join(dir, TLS_FILES.caKey), "-out", join(dir, TLS_FILES.ca)])
        .concat(["-days", DAYS, "-subj", "/CN=flotilla cluster CA"]),
      "make the cluster's CA",
    );
    made.push(TLS_FILES.ca);
  }
  // A new CA signs everything again.
  const need = (name: string) => fresh || missing(name);
  if (need(TLS_FILES.natsCert)) {
    issue(dir, TLS_FILES.natsKey, TLS_FILES.natsCert, "nats", SERVER_NAMES.nats);
    made.push(TLS_FILES.natsCert);
  }
  if (need(TLS_FILES.restCert)) {
    issue(dir, TLS_FILES.restKey, TLS_FILES.restCert, "flotilla REST", SERVER_NAMES.rest);
    made.push(TLS_FILES.restCert);
  }
  for (const user of NATS_USERS) {
    if (!need(clientCertOf(user))) continue;
    issue(dir, clientKeyOf(user), clientCertOf(user), user, [], true);
    made.push(clientCertOf(user));
  }
  // As the other secrets: readable by the containers' user through their bind mounts only.
  for (const name of made.flatMap((n) => [n, n.replace(/\.crt$/, ".key")]))
    if (existsSync(join(dir, name))) chmodSync(join(dir, name), 0o644);
  // The CA's key is mounted nowhere: its user's only.
  if (existsSync(join(dir, TLS_FILES.caKey))) chmodSync(join(dir, TLS_FILES.caKey), 0o600);
  rmSync(join(dir, "tls-ca.srl"), { force: true });
  return made;
}
