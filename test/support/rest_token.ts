/**
 * The REST token tests' clusters take: one admin token per test process, in a file only this user
 * can read, handed to role processes and CLI runs as FLOTILLA_REST_TOKEN_FILE (as a user would),
 * and sent by tests' own REST clients.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Transport } from "../../components/rpc/mod.ts";
import { generateToken, withBearer } from "../../components/security/mod.ts";
import { onProcessEnd } from "./nats.ts";

const dir = mkdtempSync(join(tmpdir(), "flotilla-token-"));
onProcessEnd(() => rmSync(dir, { recursive: true, force: true }));

/** The admin token of every cluster this test process starts. */
export const TEST_TOKEN = generateToken();
/** Its file (mode 0600). */
export const TEST_TOKEN_FILE = join(dir, "rest-token");
writeFileSync(TEST_TOKEN_FILE, `${TEST_TOKEN}\n`, { mode: 0o600 });

/** The environment that makes a role serve, and the CLI send, the test token. */
export const TOKEN_ENV = { FLOTILLA_REST_TOKEN_FILE: TEST_TOKEN_FILE } as const;

/** `transport` sending the test token. */
export const authorized = (transport: Transport): Transport => withBearer(transport, TEST_TOKEN);

/** Headers of a plain `fetch` that sends the test token. */
export const AUTH_HEADERS = { authorization: `Bearer ${TEST_TOKEN}` } as const;
